//! The deployment profile over the portal's places: what a staged row's new place is written
//! with (its final name, its own place properties, and the values it copies from its parent or a
//! sibling), read from the place cache or from a parent staged in another batch.
//!
//! Built once per index snapshot; each row then costs a hash lookup or two.

use std::collections::{BTreeMap, HashMap};

use portal_deploy_config::{ContactType, DeploymentConfig, DeploymentProfile};
use portal_domain::RowStatus;
use portal_staging::{PlaceIndex, PlaceSource, PlaceValues, Problem, StagedRow, Validator};
use portal_store::staging::{CopiedValue, Dependency, RowPlace, StagedPlace};

/// The places new places may copy values from.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    profile: DeploymentProfile,
    /// Values of the places read as parents or siblings, by id (cached or staged).
    places: HashMap<String, PlaceValues>,
    /// Ids of cached places with values, by their parent's id: the siblings of a new place.
    children: HashMap<String, Vec<String>>,
}

/// A property value as a string (CHT stores codes as strings or numbers).
fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Sources {
    /// Reads the places of the types the profile copies from: cached ones (`cached`: id, type,
    /// properties as JSON text) and those staged by other batches.
    pub fn build(
        config: &DeploymentConfig,
        index: &PlaceIndex,
        cached: &[(String, String, String)],
        staged: &[(StagedPlace, String)],
    ) -> Self {
        let profile = config.profile().clone();
        let wanted: HashMap<String, Vec<String>> =
            config.profile_source_properties().into_iter().collect();
        let mut sources = Self {
            profile,
            ..Self::default()
        };
        if wanted.is_empty() {
            return sources;
        }
        for (id, kind, json) in cached {
            let Some(properties) = wanted.get(kind) else {
                continue;
            };
            let Ok(serde_json::Value::Object(map)) = serde_json::from_str(json) else {
                continue;
            };
            let mut values: BTreeMap<String, String> = properties
                .iter()
                .filter_map(|p| map.get(p).and_then(text).map(|v| (p.clone(), v)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let Some(place) = index.get(id) else {
                continue;
            };
            values.insert("name".to_owned(), place.name().to_owned());
            if let Some(parent) = index.lineage(id).first() {
                sources
                    .children
                    .entry(parent.id().to_owned())
                    .or_default()
                    .push(id.clone());
            }
            sources.places.insert(
                id.clone(),
                PlaceValues {
                    place_type: kind.clone(),
                    label: place.name().to_owned(),
                    values,
                },
            );
        }
        for (place, kind) in staged {
            if place.status == RowStatus::Error || !wanted.contains_key(kind) {
                continue;
            }
            let mut values: BTreeMap<String, String> = place
                .properties
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default();
            values.insert("name".to_owned(), place.name.clone());
            sources.places.insert(
                Dependency::place_id(place.batch, place.idx),
                PlaceValues {
                    place_type: kind.clone(),
                    label: format!("{} (staged, row {})", place.name, place.line),
                    values,
                },
            );
        }
        sources.children.values_mut().for_each(|ids| ids.sort());
        sources
    }

    /// The place a row creates, and the warnings of values the profile could not copy; `None`
    /// for a row that creates no place (a replacement, or no name yet).
    pub fn place_of(
        &self,
        shape: &PlaceShape,
        row: &StagedRow,
    ) -> Option<(RowPlace, Vec<Problem>)> {
        if row.is_replacement() {
            return None;
        }
        let name = shape.name_field.map(|f| row.value(f)).unwrap_or_default();
        if name.is_empty() {
            return None;
        }
        let parent = row.parent();
        let parent_values = parent.map(|p| {
            self.places
                .get(p.id())
                .cloned()
                .unwrap_or_else(|| PlaceValues {
                    place_type: shape.parent_type.clone().unwrap_or_default(),
                    label: p.name().to_owned(),
                    values: BTreeMap::from([("name".to_owned(), p.name().to_owned())]),
                })
        });
        let siblings = parent
            .and_then(|p| self.children.get(p.id()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.places.get(id))
            .filter(|s| s.place_type == shape.place_type)
            .map(|s| s as &dyn PlaceSource);
        let inheritance = portal_staging::inherit(
            &self.profile,
            &shape.place_type,
            name,
            parent_values.as_ref().map(|p| p as &dyn PlaceSource),
            siblings,
        );
        let mut properties: BTreeMap<String, String> = shape
            .place_fields
            .iter()
            .map(|(field, property)| (property.clone(), row.value(*field).to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let mut inherited = Vec::with_capacity(inheritance.values.len());
        for value in inheritance.values {
            properties.insert(value.property.clone(), value.value.clone());
            inherited.push(CopiedValue {
                from: value.origin.to_string(),
                property: value.property,
                value: value.value,
            });
        }
        let problems = inheritance.missing.iter().map(Problem::from).collect();
        Some((
            RowPlace {
                name: inheritance.name,
                parent_id: parent.map(|p| p.id().to_owned()),
                properties,
                inherited,
            },
            problems,
        ))
    }
}

/// Where a user type's rows keep what their new place is written with.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaceShape {
    pub place_type: String,
    pub parent_type: Option<String>,
    pub name_field: Option<usize>,
    /// The place properties other than the name: (field, property).
    pub place_fields: Vec<(usize, String)>,
}

impl PlaceShape {
    pub fn of(validator: &Validator, kind: &ContactType) -> Self {
        Self {
            place_type: kind.name.clone(),
            parent_type: kind
                .hierarchy
                .iter()
                .find(|h| h.level == 1)
                .map(|h| h.contact_type.clone()),
            name_field: validator.place_name_field(),
            place_fields: kind
                .place_properties
                .iter()
                .filter(|p| p.property_name != "name")
                .filter_map(|p| {
                    validator
                        .field(portal_staging::Target::Place, &p.property_name)
                        .map(|f| (f, p.property_name.clone()))
                })
                .collect(),
        }
    }
}
