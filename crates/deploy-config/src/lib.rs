//! A tenant's deployment config, in the JSON format of the CHT User Management Tool (UMT), so a
//! ministry moving to the portal uploads its existing file unchanged.
//!
//! [`check`] parses and validates a file in one call and returns either the typed
//! [`DeploymentConfig`] or every [`ConfigProblem`] found, each with a JSON path and a reason that
//! says how to fix it. Parsing is two steps: [`RawConfig::from_slice`] (JSON syntax, keys kept in
//! file order) and [`RawConfig::validate`] (every rule, building the typed model).
//!
//! A valid config may still carry [`DeploymentConfig::warnings`]: accepted, worth fixing.
//!
//! The typed model keeps members it does not know (`extra` fields) and serialises back to the
//! same format ([`DeploymentConfig::to_json`]). Derived views the portal needs live on
//! [`ContactType`]: [`ContactType::csv_columns`], [`ContactType::template_csv`],
//! [`ContactType::hierarchy_levels_sorted`] and [`ContactType::place_types`]. CSV headers are
//! compared through [`header_key`].
//!
//! [`DeploymentConfig::profile`] is the deployment's behaviour that UMT keeps in code (Kenya's
//! unit name suffix and the fields a CHP area copies from its unit) as data: a built-in profile
//! chosen by the config's `name`, extended by its optional `portal.profile` block.
//!
//! The crate does no I/O.

mod columns;
mod js_regex;
mod model;
mod problem;
mod profile;
mod profile_block;
mod raw;
mod template;
mod validate;
mod warnings;

pub use columns::{Column, ColumnSource, ROLES_HEADER, header_key};
pub use js_regex::JsRegex;
pub use model::{
    AuthKind, ConfigProperty, ContactType, DeploymentConfig, Domain, ExternalAuth, ExternalMapping,
    ExternalSource, HierarchyLevel, PropertyKind, Unique,
};
pub use problem::{ConfigProblem, render_check_json, render_problems_json};
pub use profile::{
    BUILT_IN_PROFILES, DeploymentProfile, InheritSource, InheritedProperty, PlaceTypeProfile,
    ProfileBase, ProfileChoice, SourcePlace,
};
pub use profile_block::EXTENSION_KEY;
pub use raw::RawConfig;
pub use template::TEMPLATE_VARIABLES;

/// Parses and validates a deployment config file (UTF-8 JSON, an optional byte-order mark
/// allowed).
///
/// # Errors
/// Every problem found: a single one at `$` when the bytes are not JSON (with line and column),
/// otherwise all rule violations, in document order followed by those relating several parts of
/// the document.
pub fn check(bytes: &[u8]) -> Result<DeploymentConfig, Vec<ConfigProblem>> {
    RawConfig::from_slice(bytes)
        .map_err(|problem| vec![problem])?
        .validate()
}
