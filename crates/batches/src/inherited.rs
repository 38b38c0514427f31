//! The deployment profile over the portal's places: what a staged row's new place is written
//! with (its final name, its own place properties, and the values it copies from its parent or a
//! sibling), read from the place cache or from a parent staged in another batch.
//!
//! Built once per index snapshot; each row then costs a hash lookup or two.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use portal_deploy_config::{ContactType, DeploymentConfig, DeploymentProfile};
use portal_domain::RowStatus;
use portal_staging::{PlaceIndex, PlaceSource, PlaceValues, Problem, StagedRow, Validator};
use portal_store::staging::{Dependency, RowPlace, StagedPlace};

/// The places new places may copy values from: the cached ones (shared by every snapshot over
/// the same place cache and config) and those staged by other batches.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    profile: DeploymentProfile,
    cached: Arc<CachedSources>,
    /// Values of the places staged by other batches, by their staged id.
    staged: HashMap<String, PlaceValues>,
}

/// The cached places of the types the profile copies from, built once per place cache and
/// config: a national cache holds some 100,000 of them, so each is kept compact (names of
/// types and properties shared) and one copy serves every snapshot.
#[derive(Debug, Default)]
pub(crate) struct CachedSources {
    places: HashMap<Box<str>, CachedPlace>,
    /// Ids of cached places with values, by their parent's id: the siblings of a new place.
    children: HashMap<Box<str>, Vec<Box<str>>>,
}

#[derive(Debug)]
struct CachedPlace {
    place_type: Arc<str>,
    /// Its name as cached: how messages name it, and its `name` value.
    name: Box<str>,
    /// Its other non-blank values the profile reads.
    values: Box<[(Arc<str>, Box<str>)]>,
}

impl PlaceSource for CachedPlace {
    fn place_type(&self) -> &str {
        &self.place_type
    }

    fn label(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }

    fn property(&self, property: &str) -> Option<Cow<'_, str>> {
        if property == "name" {
            return Some(Cow::Borrowed(&self.name));
        }
        self.values
            .iter()
            .find(|(name, _)| &**name == property)
            .map(|(_, value)| Cow::Borrowed(&**value))
    }
}

/// A property value as a string (CHT stores codes as strings or numbers).
fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl CachedSources {
    /// Reads the cached places of the types the profile copies from (`cached`: id, type,
    /// properties as JSON text), placed by `index`.
    pub fn build(
        config: &DeploymentConfig,
        index: &PlaceIndex,
        cached: &[(String, String, String)],
    ) -> Self {
        let wanted: HashMap<String, (Arc<str>, Vec<Arc<str>>)> = config
            .profile_source_properties()
            .into_iter()
            .map(|(kind, properties)| {
                let shared = (
                    Arc::from(kind.as_str()),
                    properties.iter().map(|p| Arc::from(p.as_str())).collect(),
                );
                (kind, shared)
            })
            .collect();
        let mut sources = Self::default();
        if wanted.is_empty() {
            return sources;
        }
        for (id, kind, json) in cached {
            let Some((place_type, properties)) = wanted.get(kind) else {
                continue;
            };
            let Ok(serde_json::Value::Object(map)) = serde_json::from_str(json) else {
                continue;
            };
            let Some(place) = index.get(id) else {
                continue;
            };
            // The name is the index's (a `name` property, if any, never wins).
            let mut values: Vec<(Arc<str>, Box<str>)> = Vec::new();
            for p in properties.iter().filter(|p| &***p != "name") {
                if values.iter().any(|(seen, _)| seen == p) {
                    continue;
                }
                if let Some(v) = map.get(&**p).and_then(text).filter(|v| !v.is_empty()) {
                    values.push((Arc::clone(p), v.into_boxed_str()));
                }
            }
            if let Some(parent) = index.lineage(id).first() {
                sources
                    .children
                    .entry(parent.id().into())
                    .or_default()
                    .push(id.as_str().into());
            }
            sources.places.insert(
                id.as_str().into(),
                CachedPlace {
                    place_type: Arc::clone(place_type),
                    name: place.name().into(),
                    values: values.into_boxed_slice(),
                },
            );
        }
        sources.children.values_mut().for_each(|ids| ids.sort());
        sources
    }
}

impl Sources {
    /// The cached sources with the places staged by other batches added.
    pub fn build(
        config: &DeploymentConfig,
        cached: Arc<CachedSources>,
        staged: &[(StagedPlace, String)],
    ) -> Self {
        let profile = config.profile().clone();
        let wanted: HashMap<String, Vec<String>> =
            config.profile_source_properties().into_iter().collect();
        let mut sources = Self {
            profile,
            cached,
            staged: HashMap::new(),
        };
        if wanted.is_empty() {
            return sources;
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
            sources.staged.insert(
                Dependency::place_id(place.batch, place.idx),
                PlaceValues {
                    place_type: kind.clone(),
                    label: format!("{} (staged, row {})", place.name, place.line),
                    values,
                },
            );
        }
        sources
    }

    /// The source place `id`, staged or cached.
    fn get(&self, id: &str) -> Option<&dyn PlaceSource> {
        match self.staged.get(id) {
            Some(staged) => Some(staged),
            None => self.cached.places.get(id).map(|c| c as &dyn PlaceSource),
        }
    }

    /// What the profile makes of a new place of `shape` named `name` under `parent` (its id
    /// and name): its final name, the values it copies, and those it could not.
    fn inheritance(
        &self,
        shape: &PlaceShape,
        name: &str,
        parent: Option<(&str, &str)>,
    ) -> portal_staging::Inheritance {
        // A parent that is no source (another type, or without values) still has its name.
        let unlisted;
        let parent_values = match parent {
            None => None,
            Some((id, parent_name)) => Some(match self.get(id) {
                Some(found) => found,
                None => {
                    unlisted = PlaceValues {
                        place_type: shape.parent_type.clone().unwrap_or_default(),
                        label: parent_name.to_owned(),
                        values: BTreeMap::from([("name".to_owned(), parent_name.to_owned())]),
                    };
                    &unlisted as &dyn PlaceSource
                }
            }),
        };
        let siblings = parent
            .and_then(|(id, _)| self.cached.children.get(id))
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(id))
            .filter(|s| s.place_type() == shape.place_type);
        portal_staging::inherit(
            &self.profile,
            &shape.place_type,
            name,
            parent_values,
            siblings,
        )
    }

    /// The formatted name of the place a row creates; `None` for a row that creates no place
    /// (a replacement, or no name yet).
    fn new_place_name<'r>(shape: &PlaceShape, row: &'r StagedRow) -> Option<&'r str> {
        if row.is_replacement() {
            return None;
        }
        shape
            .name_field
            .map(|f| row.value(f))
            .filter(|name| !name.is_empty())
    }

    /// The place a row creates: its final name (with its type's suffix), parent and own
    /// properties; `None` for a row that creates no place.
    pub fn place_of(&self, shape: &PlaceShape, row: &StagedRow) -> Option<RowPlace> {
        let name = Self::new_place_name(shape, row)?;
        let properties: BTreeMap<String, String> = shape
            .place_fields
            .iter()
            .map(|(field, property)| (property.clone(), row.value(*field).to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Some(RowPlace {
            name: self
                .profile
                .place_name(&shape.place_type, name)
                .into_owned(),
            parent_id: row.parent().map(|p| p.id().to_owned()),
            properties,
        })
    }

    /// Warnings of the values the profile could not copy onto the place a row creates.
    pub fn missing_values(&self, shape: &PlaceShape, row: &StagedRow) -> Vec<Problem> {
        let Some(name) = Self::new_place_name(shape, row) else {
            return Vec::new();
        };
        let parent = row.parent().map(|p| (p.id(), p.name()));
        self.inheritance(shape, name, parent)
            .missing
            .iter()
            .map(Problem::from)
            .collect()
    }

    /// The values the profile copies onto a stored row's new place now, and where from (for
    /// the preview, and for commit). `parent_name` names a parent that is no source.
    pub fn copied(
        &self,
        shape: &PlaceShape,
        place: &RowPlace,
        parent_name: Option<&str>,
    ) -> Vec<CopiedValue> {
        let parent = place
            .parent_id
            .as_deref()
            .map(|id| (id, parent_name.unwrap_or(id)));
        self.inheritance(shape, &place.name, parent)
            .values
            .into_iter()
            .map(|v| CopiedValue {
                from: v.origin.to_string(),
                property: v.property,
                value: v.value,
            })
            .collect()
    }
}

/// A property the deployment profile copies onto a new place, and where from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedValue {
    pub property: String,
    pub value: String,
    /// Where it was read, for people (`code of the parent "Kalawa Community Health Unit"`).
    pub from: String,
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
