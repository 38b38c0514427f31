//! Things a config may do that the portal accepts but whose maintainer should fix: reported as
//! warnings, in document order, with the same JSON paths as problems.

use crate::model::{ConfigProperty, DeploymentConfig, PropertyKind};
use crate::problem::{ConfigProblem, index_path, key_path};

impl DeploymentConfig {
    /// Every warning about an accepted config, in document order. Today: `regex` properties
    /// without an `errorDescription` (several deployed configs have them), whose failing values
    /// get the default message of [`ConfigProperty::mismatch_message`].
    #[must_use]
    pub fn warnings(&self) -> Vec<ConfigProblem> {
        let mut warnings = Vec::new();
        for (t, contact_type) in self.contact_types.iter().enumerate() {
            let type_path = index_path("$.contact_types", t);
            let listed = |key: &str, i: usize| index_path(&key_path(&type_path, key), i);
            let located = contact_type
                .hierarchy
                .iter()
                .enumerate()
                .map(|(i, level)| (listed("hierarchy", i), &level.property))
                .chain(std::iter::once((
                    key_path(&type_path, "replacement_property"),
                    &contact_type.replacement_property,
                )))
                .chain(
                    (contact_type.place_properties.iter().enumerate())
                        .map(|(i, p)| (listed("place_properties", i), p)),
                )
                .chain(
                    (contact_type.contact_properties.iter().enumerate())
                        .map(|(i, p)| (listed("contact_properties", i), p)),
                );
            warnings
                .extend(located.filter_map(|(path, property)| undescribed_regex(&path, property)));
        }
        warnings
    }
}

fn undescribed_regex(path: &str, property: &ConfigProperty) -> Option<ConfigProblem> {
    let PropertyKind::Regex {
        error_description: None,
        ..
    } = &property.kind
    else {
        return None;
    };
    let default = property.mismatch_message()?;
    Some(ConfigProblem::new(
        key_path(path, "errorDescription"),
        format!(
            "\"{}\" is a regex property without an errorDescription; values that do not match \
             will be reported as \"{default}\". Add an errorDescription that says what to write, \
             e.g. \"Expects a six digit number (eg. 123456)\"",
            property.friendly_name
        ),
    ))
}
