//! Deployment profiles: behaviour a deployment needs that its UMT config file does not say.
//!
//! The User Management Tool keeps some per-deployment behaviour in code (Kenya's hook appends
//! " Community Health Unit" to unit names and copies the unit's facility fields onto each new CHP
//! area). The portal keeps the same behaviour as data: a built-in profile per deployment, chosen
//! by the config's top-level `name` (or recognised from its contact types), which the config's
//! optional `portal.profile` block can replace or extend (`docs/deployment-profiles.md`).
//!
//! A profile says, per place type the config creates: a suffix for the names of new places, and
//! properties a new place copies from its parent or from a sibling (another place of its type
//! under the same parent), each with ordered fallbacks.

use std::borrow::Cow;
use std::fmt;

use crate::model::DeploymentConfig;

/// Built-in profiles, by the id a config's `name` (or `portal.profile.base`) gives, compared
/// without regard to case as UMT compares its `CONFIG_NAME`.
pub const BUILT_IN_PROFILES: [&str; 1] = [KENYA];

/// The eCHIS Kenya profile id.
const KENYA: &str = "CHIS-KE";
const KENYA_UNIT: &str = "c_community_health_unit";
const KENYA_CHP_AREA: &str = "d_community_health_volunteer_area";

/// The profile in force for a config, after the built-in one and the config's own block are
/// merged, limited to the place types the config creates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentProfile {
    /// Which built-in profile this starts from, and why.
    pub base: ProfileBase,
    /// Whether the config's `portal.profile` block changed anything.
    pub extended: bool,
    /// One entry per place type with a suffix or inherited properties, in contact-type order.
    pub place_types: Vec<PlaceTypeProfile>,
}

/// The built-in profile a config starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileBase {
    /// None: only what the config's own block declares.
    #[default]
    None,
    /// A built-in profile ([`BUILT_IN_PROFILES`]).
    BuiltIn {
        /// Its id (`CHIS-KE`).
        id: &'static str,
        /// Why it applies.
        chosen_by: ProfileChoice,
    },
}

/// Why a built-in profile applies to a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileChoice {
    /// `portal.profile.base` names it.
    Extension,
    /// The config's top-level `name` is its id.
    ConfigName,
    /// The config has no `name` (the real eCHIS-KE file has none: UMT picks configs by an
    /// environment variable), but its contact types are that deployment's.
    Recognised,
}

/// What a profile does for one place type the config creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceTypeProfile {
    /// The CHT place type (a contact type's `name`).
    pub place_type: String,
    /// Appended to the name of each new place of this type, unless the name already ends with
    /// it (compared without regard to case). Never empty.
    pub name_suffix: Option<String>,
    /// Properties written on each new place of this type, copied from other places.
    pub inherit: Vec<InheritedProperty>,
}

/// A property a new place copies from another place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InheritedProperty {
    /// The property written on the new place (`chu_code`).
    pub property: String,
    /// Where to read it, in order: the first source with a non-blank value wins. Never empty.
    pub from: Vec<InheritSource>,
}

/// One place and property a value may be copied from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InheritSource {
    /// Which place.
    pub place: SourcePlace,
    /// Which of its properties (`code`).
    pub property: String,
}

/// A place related to the new one, relative to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourcePlace {
    /// The new place's parent (its hierarchy level 1).
    Parent,
    /// Another place of the new place's type under the same parent.
    Sibling,
}

impl SourcePlace {
    /// As written in the config: `parent`, `sibling`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Parent => "parent",
            Self::Sibling => "sibling",
        }
    }
}

impl fmt::Display for SourcePlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PlaceTypeProfile {
    /// `name` with this type's suffix: appended once, never twice.
    #[must_use]
    pub fn name<'a>(&self, name: &'a str) -> Cow<'a, str> {
        with_suffix(name, self.name_suffix.as_deref())
    }

    /// The inherited property written as `property`, if any.
    #[must_use]
    pub fn inherited(&self, property: &str) -> Option<&InheritedProperty> {
        self.inherit.iter().find(|i| i.property == property)
    }
}

/// `name` ending with `suffix`: unchanged when it already ends with it (ignoring case, so
/// "Chimbima community health unit" is not suffixed again) or when there is no suffix.
pub(crate) fn with_suffix<'a>(name: &'a str, suffix: Option<&str>) -> Cow<'a, str> {
    let Some(suffix) = suffix.filter(|s| !s.is_empty()) else {
        return Cow::Borrowed(name);
    };
    // A name that is the suffix's words alone counts as ending with it too.
    let alone = name.trim().to_lowercase() == suffix.trim().to_lowercase();
    if alone || ends_with_ignoring_case(name, suffix) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{name}{suffix}"))
    }
}

fn ends_with_ignoring_case(text: &str, suffix: &str) -> bool {
    let (text, suffix) = (text.to_lowercase(), suffix.to_lowercase());
    !suffix.is_empty() && text.ends_with(&suffix)
}

impl DeploymentProfile {
    /// Whether the profile does nothing (no built-in profile applies and no block declares
    /// anything).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.place_types.is_empty()
    }

    /// What the profile does for `place_type`, if anything.
    #[must_use]
    pub fn place_type(&self, place_type: &str) -> Option<&PlaceTypeProfile> {
        self.place_types.iter().find(|t| t.place_type == place_type)
    }

    /// The name a new place of `place_type` is created with: `name` plus the type's suffix.
    #[must_use]
    pub fn place_name<'a>(&self, place_type: &str, name: &'a str) -> Cow<'a, str> {
        self.place_type(place_type)
            .map_or(Cow::Borrowed(name), |t| t.name(name))
    }

    /// One line for screens and `config check`: which profile applies and why.
    #[must_use]
    pub fn summary(&self) -> String {
        let extended = if self.extended {
            ", changed by the config's portal.profile block"
        } else {
            ""
        };
        match self.base {
            ProfileBase::None if self.extended => {
                "the profile declared in the config's portal.profile block".to_owned()
            }
            ProfileBase::None => "no deployment profile".to_owned(),
            ProfileBase::BuiltIn { id, chosen_by } => {
                let why = match chosen_by {
                    ProfileChoice::Extension => "named by portal.profile.base",
                    ProfileChoice::ConfigName => "named by the config's \"name\"",
                    ProfileChoice::Recognised => {
                        "recognised from the contact types; set portal.profile.base to \"none\" \
                         to turn it off"
                    }
                };
                format!("the built-in {id} profile ({why}){extended}")
            }
        }
    }
}

impl DeploymentConfig {
    /// The deployment profile in force for this config (see [`DeploymentProfile`]).
    #[must_use]
    pub fn profile(&self) -> &DeploymentProfile {
        &self.profile
    }

    /// The properties the profile reads from existing places, by place type, so a place cache
    /// can keep them: for each created type, its parent type (hierarchy level 1) gives the
    /// `parent` sources and the type itself the `sibling` sources. `name` is left out (every
    /// cache keeps it). Types and properties appear once each, in first-seen order.
    #[must_use]
    pub fn profile_source_properties(&self) -> Vec<(String, Vec<String>)> {
        let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
        for entry in &self.profile.place_types {
            let Some(contact_type) = self.contact_type(&entry.place_type) else {
                continue;
            };
            let parent_type = contact_type
                .hierarchy
                .iter()
                .find(|level| level.level == 1)
                .map(|level| level.contact_type.as_str());
            for source in entry.inherit.iter().flat_map(|i| &i.from) {
                let place_type = match source.place {
                    SourcePlace::Parent => parent_type,
                    SourcePlace::Sibling => Some(entry.place_type.as_str()),
                };
                let Some(place_type) = place_type else {
                    continue;
                };
                if source.property == "name" {
                    continue;
                }
                let index = if let Some(i) = wanted.iter().position(|(t, _)| t == place_type) {
                    i
                } else {
                    wanted.push((place_type.to_owned(), Vec::new()));
                    wanted.len() - 1
                };
                let properties = &mut wanted[index].1;
                if !properties.contains(&source.property) {
                    properties.push(source.property.clone());
                }
            }
        }
        wanted
    }
}

/// The built-in profile `id` (any case), as declared for every place type it knows; entries for
/// types a config lacks are dropped when it is applied.
pub(crate) fn built_in(id: &str) -> Option<(&'static str, Vec<PlaceTypeProfile>)> {
    if id.trim().eq_ignore_ascii_case(KENYA) {
        return Some((KENYA, kenya()));
    }
    None
}

/// Whether a config without a `name` is recognisably one deployment's: its contact types
/// include every place type that deployment's profile is about.
pub(crate) fn recognise(type_names: &[&str]) -> Option<&'static str> {
    [KENYA_UNIT, KENYA_CHP_AREA]
        .iter()
        .all(|t| type_names.contains(t))
        .then_some(KENYA)
}

/// eCHIS Kenya. UMT's hook appends the suffix to every type that is not the CHP area; of the
/// types the Kenya config creates, that is the unit alone, so the profile names the unit (a type
/// a tenant adds, such as a county manager's, gets no suffix unless its block declares one).
/// A new CHP area copies the facility fields and the unit's full name and code from its unit,
/// or failing that from another CHP area of the unit, which already carries them.
fn kenya() -> Vec<PlaceTypeProfile> {
    let from = |parent: &str, sibling: &str| {
        vec![
            InheritSource {
                place: SourcePlace::Parent,
                property: parent.to_owned(),
            },
            InheritSource {
                place: SourcePlace::Sibling,
                property: sibling.to_owned(),
            },
        ]
    };
    let copy = |property: &str, parent: &str| InheritedProperty {
        property: property.to_owned(),
        from: from(parent, property),
    };
    vec![
        PlaceTypeProfile {
            place_type: KENYA_UNIT.to_owned(),
            name_suffix: Some(" Community Health Unit".to_owned()),
            inherit: Vec::new(),
        },
        PlaceTypeProfile {
            place_type: KENYA_CHP_AREA.to_owned(),
            name_suffix: None,
            inherit: vec![
                copy("link_facility_code", "link_facility_code"),
                copy("link_facility_name", "link_facility_name"),
                copy("chu_name", "name"),
                copy("chu_code", "code"),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_is_appended_once() {
        let s = Some(" Community Health Unit");
        assert_eq!(with_suffix("Chimbima", s), "Chimbima Community Health Unit");
        assert_eq!(
            with_suffix("Chimbima Community Health Unit", s),
            "Chimbima Community Health Unit"
        );
        assert_eq!(
            with_suffix("Chimbima community health unit", s),
            "Chimbima community health unit"
        );
        assert_eq!(
            with_suffix("Community Health Unit", s),
            "Community Health Unit"
        );
        assert_eq!(with_suffix("Chimbima", None), "Chimbima");
        assert_eq!(with_suffix("Chimbima", Some("")), "Chimbima");
        // A name that merely contains the words elsewhere is still suffixed.
        assert_eq!(
            with_suffix("Community Health Unit Road", s),
            "Community Health Unit Road Community Health Unit"
        );
    }

    #[test]
    fn kenya_is_found_by_id_in_any_case() {
        assert_eq!(built_in("chis-ke").map(|(id, _)| id), Some("CHIS-KE"));
        assert_eq!(built_in(" CHIS-KE ").map(|(id, _)| id), Some("CHIS-KE"));
        assert!(built_in("CHIS-UG").is_none());
        assert!(built_in("").is_none());
    }

    #[test]
    fn kenya_is_recognised_only_with_both_types() {
        assert_eq!(
            recognise(&[KENYA_UNIT, KENYA_CHP_AREA, "other"]),
            Some("CHIS-KE")
        );
        assert_eq!(recognise(&[KENYA_CHP_AREA]), None);
        assert_eq!(recognise(&["c50-health_center"]), None);
    }

    #[test]
    fn kenya_chp_areas_copy_from_the_unit_then_a_sibling() {
        let profile = kenya();
        let area = profile
            .iter()
            .find(|t| t.place_type == KENYA_CHP_AREA)
            .unwrap();
        let chu_name = area.inherited("chu_name").unwrap();
        assert_eq!(chu_name.from[0].place, SourcePlace::Parent);
        assert_eq!(chu_name.from[0].property, "name");
        assert_eq!(chu_name.from[1].place, SourcePlace::Sibling);
        assert_eq!(chu_name.from[1].property, "chu_name");
        assert_eq!(area.inherited("chu_code").unwrap().from[0].property, "code");
        assert_eq!(area.name("Jeptoo Koech Area"), "Jeptoo Koech Area");
    }
}
