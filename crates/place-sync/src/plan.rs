//! Which place types a refresh reads, and which primary contacts' fields it keeps: pure, from
//! the tenant's deployment config and the instance's app_settings.
//!
//! With a config, a refresh reads what the config uses: each user type's own place type, its
//! hierarchy levels' types (the replacement is a place of the user type's own type), and the
//! ancestors of those types as app_settings declares them (`contact_types[].parents`, walked
//! upwards), so every cached place has its whole lineage. Other types (households, say) are
//! not read. A type the config uses that app_settings lack is a [`TypeGap`], reported instead
//! of being read as an empty type.

use std::collections::HashSet;

use cht_client::AppSettings;
use portal_deploy_config::{ContactType, DeploymentConfig};
use portal_store::places::TypeGap;

/// CHT's place types when app_settings configure none, each with its parent (CHT's default
/// hierarchy: district hospital > health centre > clinic).
const BUILTIN: [(&str, Option<&str>); 3] = [
    ("district_hospital", None),
    ("health_center", Some("district_hospital")),
    ("clinic", Some("health_center")),
];

/// Where a refresh's place types came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeSource {
    /// The tenant's deployment config, with the types' ancestors.
    Config,
    /// No config: every place type of the instance's app_settings.
    AppSettings,
    /// No config, and app_settings configure no place type: CHT's built-in ones.
    Builtin,
}

impl TypeSource {
    /// For people: which types were read and why.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Config => "The place types of the deployment config and their parents were read.",
            Self::AppSettings => {
                "The tenant has no deployment config, so every place type of the instance's \
                 app_settings was read."
            }
            Self::Builtin => {
                "The tenant has no deployment config and the instance's app_settings configure \
                 no place type, so CHT's built-in place types were read."
            }
        }
    }
}

/// The primary contacts' fields to keep for the places of one user type: its `unique` contact
/// properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeopleFields {
    /// The user type; its `name` is the place type.
    pub kind: ContactType,
    pub properties: Vec<String>,
}

/// What a refresh reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: TypeSource,
    /// Place types to read, each once.
    pub read: Vec<String>,
    /// Types the config uses that the instance lacks (not read).
    pub gaps: Vec<TypeGap>,
    /// Place types whose primary contacts are read, and which fields are kept.
    pub people: Vec<PeopleFields>,
}

impl Plan {
    /// The same plan for `only` these types (one type refreshed from the staging page, say).
    #[must_use]
    pub fn restricted_to(mut self, only: &[String]) -> Self {
        self.read.retain(|t| only.contains(t));
        self.gaps.retain(|g| only.contains(&g.contact_type));
        self.people.retain(|p| only.contains(&p.kind.name));
        self
    }
}

/// The instance's place types with their parents: app_settings' non-person contact types, or
/// CHT's built-in ones when it configures none.
fn instance_types(settings: &AppSettings) -> Vec<(String, Vec<String>)> {
    if settings.contact_types.is_empty() {
        return BUILTIN
            .iter()
            .map(|(t, parent)| {
                (
                    (*t).to_owned(),
                    parent.iter().map(|p| (*p).to_owned()).collect(),
                )
            })
            .collect();
    }
    settings
        .contact_types
        .iter()
        .filter(|t| !t.person)
        .map(|t| (t.id.clone(), t.parents.clone()))
        .collect()
}

/// What in the config uses which place type, in config order: `(type, use)`.
fn uses(config: &DeploymentConfig) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    for kind in &config.contact_types {
        out.push((
            kind.name.as_str(),
            format!("the place of \"{}\"", kind.friendly),
        ));
        for level in kind.hierarchy_levels_sorted() {
            out.push((
                level.contact_type.as_str(),
                format!(
                    "the \"{}\" column of \"{}\"",
                    level.property.friendly_name, kind.friendly
                ),
            ));
        }
    }
    out
}

/// The plan for `config` (or the fallback without one) on an instance with `settings`.
#[must_use]
pub fn plan(config: Option<&DeploymentConfig>, settings: &AppSettings) -> Plan {
    let declared = instance_types(settings);
    let Some(config) = config else {
        return Plan {
            source: if settings.contact_types.is_empty() {
                TypeSource::Builtin
            } else {
                TypeSource::AppSettings
            },
            read: declared.into_iter().map(|(t, _)| t).collect(),
            gaps: Vec::new(),
            people: Vec::new(),
        };
    };
    let parents_of = |t: &str| declared.iter().find(|(d, _)| d == t).map(|(_, p)| p);
    let mut read: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut gaps: Vec<TypeGap> = Vec::new();
    for (contact_type, used_for) in uses(config) {
        if parents_of(contact_type).is_none() {
            match gaps.iter_mut().find(|g| g.contact_type == contact_type) {
                Some(gap) if !gap.used_by.contains(&used_for) => gap.used_by.push(used_for),
                Some(_) => {}
                None => gaps.push(TypeGap {
                    contact_type: contact_type.to_owned(),
                    used_by: vec![used_for],
                }),
            }
            continue;
        }
        // Upwards through declared types only: a parent app_settings does not declare cannot
        // hold places.
        let mut pending = vec![contact_type];
        while let Some(next) = pending.pop() {
            let Some(parents) = parents_of(next) else {
                continue;
            };
            if !seen.insert(next) {
                continue;
            }
            read.push(next.to_owned());
            pending.extend(parents.iter().map(String::as_str));
        }
    }
    let people = config
        .contact_types
        .iter()
        .filter(|kind| read.contains(&kind.name))
        .filter_map(|kind| {
            let properties: Vec<String> = kind
                .contact_properties
                .iter()
                .filter(|p| p.unique.is_some())
                .map(|p| p.property_name.clone())
                .collect();
            (!properties.is_empty()).then(|| PeopleFields {
                kind: kind.clone(),
                properties,
            })
        })
        .collect();
    Plan {
        source: TypeSource::Config,
        read,
        gaps,
        people,
    }
}

/// What people read about a gap: "The instance's app_settings have no place type X, which the
/// deployment config uses for …".
#[must_use]
pub fn gap_message(gap: &TypeGap) -> String {
    let uses = match gap.used_by.as_slice() {
        [] => "some of its user types".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    format!(
        "The instance's app_settings have no place type {}, which the deployment config uses \
         for {uses}. Its places were not read: add the type to the instance's app_settings, or \
         correct the deployment config.",
        gap.contact_type
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(types: &[(&str, &[&str], bool)]) -> AppSettings {
        let contact_types = types
            .iter()
            .map(|(id, parents, person)| cht_client::ContactType {
                id: (*id).to_owned(),
                parents: parents.iter().map(|p| (*p).to_owned()).collect(),
                person: *person,
                ..cht_client::ContactType::default()
            })
            .collect();
        AppSettings {
            contact_types,
            ..AppSettings::default()
        }
    }

    fn kenya() -> DeploymentConfig {
        let bytes = include_bytes!("../../deploy-config/tests/fixtures/chis-ke.config.json");
        portal_deploy_config::check(bytes).expect("the Kenya config is valid")
    }

    /// The Kenya instance's hierarchy, households and people included.
    fn kenya_instance() -> AppSettings {
        settings(&[
            ("a_county", &[], false),
            ("b_sub_county", &["a_county"], false),
            ("c_community_health_unit", &["b_sub_county"], false),
            (
                "d_community_health_volunteer_area",
                &["c_community_health_unit"],
                false,
            ),
            ("e_household", &["d_community_health_volunteer_area"], false),
            ("person", &["e_household", "c_community_health_unit"], true),
        ])
    }

    #[test]
    fn the_config_types_and_their_ancestors_are_read_and_nothing_else() {
        let plan = plan(Some(&kenya()), &kenya_instance());
        assert_eq!(plan.source, TypeSource::Config);
        let mut read = plan.read.clone();
        read.sort();
        assert_eq!(
            read,
            [
                "a_county",
                "b_sub_county",
                "c_community_health_unit",
                "d_community_health_volunteer_area"
            ]
        );
        assert!(plan.gaps.is_empty());
        // Only the CHP's phone is `unique` among contact properties.
        assert_eq!(plan.people.len(), 1);
        assert_eq!(
            plan.people[0].kind.name,
            "d_community_health_volunteer_area"
        );
        assert_eq!(plan.people[0].properties, ["phone"]);
    }

    #[test]
    fn a_type_missing_from_app_settings_is_a_gap_naming_its_uses() {
        let instance = settings(&[
            ("a_county", &[], false),
            ("b_sub_county", &["a_county"], false),
            (
                "d_community_health_volunteer_area",
                &["c_community_health_unit"],
                false,
            ),
        ]);
        let plan = plan(Some(&kenya()), &instance);
        assert!(!plan.read.contains(&"c_community_health_unit".to_owned()));
        assert_eq!(plan.gaps.len(), 1);
        let gap = &plan.gaps[0];
        assert_eq!(gap.contact_type, "c_community_health_unit");
        assert_eq!(
            gap.used_by,
            [
                "the place of \"Community Health Unit\"",
                "the \"CHU\" column of \"Community Health Promoter\""
            ]
        );
        assert_eq!(
            gap_message(gap),
            "The instance's app_settings have no place type c_community_health_unit, which the \
             deployment config uses for the place of \"Community Health Unit\" and the \"CHU\" \
             column of \"Community Health Promoter\". Its places were not read: add the type \
             to the instance's app_settings, or correct the deployment config."
        );
    }

    #[test]
    fn ancestors_are_walked_up_through_declared_types() {
        // The config only names the sub-county as a hierarchy type; its county and country
        // come from app_settings.
        let instance = settings(&[
            ("country", &[], false),
            ("a_county", &["country"], false),
            ("b_sub_county", &["a_county", "ghost"], false),
            ("c_community_health_unit", &["b_sub_county"], false),
            (
                "d_community_health_volunteer_area",
                &["c_community_health_unit"],
                false,
            ),
        ]);
        let plan = plan(Some(&kenya()), &instance);
        for t in ["country", "a_county", "b_sub_county"] {
            assert!(plan.read.contains(&t.to_owned()), "{t} in {:?}", plan.read);
        }
        assert!(!plan.read.contains(&"ghost".to_owned()));
        assert_eq!(
            plan.read.len(),
            plan.read.iter().collect::<HashSet<_>>().len()
        );
    }

    #[test]
    fn without_a_config_every_place_type_of_the_instance_is_read() {
        let plan = plan(None, &kenya_instance());
        assert_eq!(plan.source, TypeSource::AppSettings);
        assert!(plan.read.contains(&"e_household".to_owned()));
        assert!(!plan.read.contains(&"person".to_owned()));
        assert!(plan.people.is_empty() && plan.gaps.is_empty());

        let builtin = super::plan(None, &AppSettings::default());
        assert_eq!(builtin.source, TypeSource::Builtin);
        assert_eq!(
            builtin.read,
            ["district_hospital", "health_center", "clinic"]
        );
    }

    #[test]
    fn builtin_types_count_as_present_when_app_settings_configure_none() {
        let mut config = kenya();
        config.contact_types[0].name = "clinic".into();
        let plan = plan(Some(&config), &AppSettings::default());
        let mut read = plan.read.clone();
        read.sort();
        assert_eq!(read, ["clinic", "district_hospital", "health_center"]);
        let gaps: Vec<&str> = plan.gaps.iter().map(|g| g.contact_type.as_str()).collect();
        // The CHP still names `c_community_health_unit` as its parent level.
        assert_eq!(
            gaps,
            [
                "b_sub_county",
                "d_community_health_volunteer_area",
                "c_community_health_unit"
            ]
        );
    }

    #[test]
    fn a_restricted_plan_keeps_only_the_named_types() {
        let plan = plan(Some(&kenya()), &kenya_instance())
            .restricted_to(&["d_community_health_volunteer_area".to_owned()]);
        assert_eq!(plan.read, ["d_community_health_volunteer_area"]);
        assert_eq!(plan.people.len(), 1);
        let other = super::plan(Some(&kenya()), &kenya_instance())
            .restricted_to(&["b_sub_county".to_owned()]);
        assert_eq!(other.read, ["b_sub_county"]);
        assert!(other.people.is_empty());
    }
}
