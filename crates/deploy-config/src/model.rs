//! The typed model of a deployment config, and its serialisation back to the UMT JSON format.
//!
//! Values of these types are only built by validation ([`crate::check`]), so code that receives
//! them can rely on every rule in the crate documentation holding. Fields are public so the
//! portal can read them freely; `extra` fields keep members this crate does not know, so a file
//! written by a newer UMT survives an upload and a download unchanged.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::js_regex::JsRegex;
use crate::profile::DeploymentProfile;

/// A tenant's deployment config: the instances users log into and the types of user they create.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeploymentConfig {
    /// CHT instances users may log into, in file order.
    pub domains: Vec<Domain>,
    /// Origins (`https://host[:port]`) allowed to receive a bearer token during SSO login.
    #[serde(rename = "idpOrigins", skip_serializing_if = "Vec::is_empty")]
    pub idp_origins: Vec<String>,
    /// A place attribute API callers may set to mark a place as owned by an external registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_for_external_ownership: Option<String>,
    /// External registries users can import rows from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_sources: Vec<ExternalSource>,
    /// The types of user, in file order: the first is the default on the home page.
    pub contact_types: Vec<ContactType>,
    /// The navbar and login-page logo, a `data:image/…` URL.
    #[serde(rename = "logoBase64", skip_serializing_if = "Option::is_none")]
    pub logo_base64: Option<String>,
    /// Top-level members this crate does not know, kept for round trips (the `name` and the
    /// `portal` block among them).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The deployment profile in force, derived from `name`, the contact types and the `portal`
    /// block (so not written back): see [`DeploymentConfig::profile`].
    #[serde(skip)]
    pub(crate) profile: DeploymentProfile,
}

/// One CHT instance users may log into.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Domain {
    /// The name users pick at login; unique within the config.
    pub friendly: String,
    /// Host name, optionally with `:port`, without scheme or path (`migori.echis.go.ke`).
    pub domain: String,
    /// Talk plain HTTP instead of HTTPS (development instances only).
    #[serde(rename = "useHttp", skip_serializing_if = "std::ops::Not::not")]
    pub use_http: bool,
    /// Members this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Domain {
    /// The instance's base URL: `https://<domain>` (or `http://` with `useHttp`).
    #[must_use]
    pub fn base_url(&self) -> String {
        let scheme = if self.use_http { "http" } else { "https" };
        format!("{scheme}://{}", self.domain)
    }
}

/// One type of user the portal creates: a CHT place type, its primary contact and the user's roles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactType {
    /// The CHT place type id (`c_community_health_unit`); unique within the config.
    pub name: String,
    /// UI label of the type ("Community Health Unit").
    pub friendly: String,
    /// CHT contact type of the primary contact (`person`).
    pub contact_type: String,
    /// UI label of the contact ("Community Health Assistant").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_friendly: Option<String>,
    /// CHT roles a user of this type may get; never empty. With several, users pick (a "Roles"
    /// column appears).
    pub user_role: Vec<String>,
    /// Build usernames from the place name (`true`) or the contact name (`false`).
    pub username_from_place: bool,
    /// On replacement, deactivate the old user and keep its contact (`true`), or delete both
    /// (`false`).
    pub deactivate_users_on_replace: bool,
    /// One user may hold several places of this type (CHT ≥ 4.9).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub can_assign_multiple: bool,
    /// Help text for the type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Parent places, in file order; level 1 (the parent) is always present. See
    /// [`ContactType::hierarchy_levels_sorted`].
    pub hierarchy: Vec<HierarchyLevel>,
    /// How the place whose user is replaced is named (hierarchy level 0; it is a place of type
    /// [`ContactType::name`]).
    pub replacement_property: ConfigProperty,
    /// Attributes written on the place; one has `property_name` `name`.
    pub place_properties: Vec<ConfigProperty>,
    /// Attributes written on the primary contact; one has `property_name` `name`.
    pub contact_properties: Vec<ConfigProperty>,
    /// Members this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One ancestor of a new place: which CHT type it is and how users name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HierarchyLevel {
    /// 1 is the parent, 2 the grandparent, …; levels may skip numbers.
    pub level: u32,
    /// The CHT place type searched at this level (`b_sub_county`).
    pub contact_type: String,
    /// Column header, attribute name and value type. Never `generated`, never `unique`.
    pub property: ConfigProperty,
}

/// A value users enter (or that is generated): a CSV column and form field, and an attribute written
/// on a CHT document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProperty {
    /// CSV column header and UI label.
    pub friendly_name: String,
    /// Attribute name on the CHT document.
    pub property_name: String,
    /// How values are formatted and validated, with the type's parameter.
    pub kind: PropertyKind,
    /// An empty value is an error.
    pub required: bool,
    /// `errorDescription` as written. For `regex` properties it equals the one in
    /// [`PropertyKind::Regex`], which is what serialisation writes. Use
    /// [`ConfigProperty::mismatch_message`] for what users see.
    pub error_description: Option<String>,
    /// Duplicate values produce a warning (never an error).
    pub unique: Option<Unique>,
    /// Registry fields that fill this property, by external source id, in file order.
    pub external_mapping: Vec<(String, ExternalMapping)>,
    /// Help text shown with the CSV column.
    pub hint: Option<String>,
    /// Members this crate does not know (and a `parameter` on a type that takes none).
    pub extra: Map<String, Value>,
}

impl ConfigProperty {
    /// What a value that does not match this `regex` property's pattern is told: the file's
    /// `errorDescription`, or, when the file has none, a message naming the column and showing
    /// the pattern, so a supervisor knows which cell to correct and what it must look like.
    /// `None` for other types.
    #[must_use]
    pub fn mismatch_message(&self) -> Option<String> {
        let PropertyKind::Regex {
            pattern,
            error_description,
        } = &self.kind
        else {
            return None;
        };
        Some(error_description.clone().unwrap_or_else(|| {
            format!(
                "Not a valid {}: expected text matching the pattern {}",
                self.friendly_name,
                pattern.as_str()
            )
        }))
    }
}

/// The value type of a property, carrying its parsed `parameter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyKind {
    /// Free text: letters, numbers, marks, spaces and `()@./-_'` kept.
    String,
    /// A person or place name: title-cased after removing each match of `strip`.
    Name {
        /// Regexes removed from the value, compiled case-insensitively as UMT applies them.
        strip: Vec<JsRegex>,
    },
    /// Text that must match `pattern`.
    Regex {
        /// The pattern (case-sensitive, unanchored unless it says `^`/`$`).
        pattern: JsRegex,
        /// What users see when the value does not match, when the file says. Several deployed
        /// configs leave it out; [`ConfigProperty::mismatch_message`] then words a default.
        error_description: Option<String>,
    },
    /// A phone number, stored in E.164.
    Phone {
        /// ISO 3166 region of national-format numbers (`KE`), known to `phonenumber`.
        region: String,
    },
    /// A date of birth: `YYYY-MM-DD`, `D/M/YYYY`, or an age in years.
    Dob,
    /// One key of `options`.
    SelectOne {
        /// `(stored value, label)` pairs in file order; never empty.
        options: Vec<(String, String)>,
    },
    /// Several keys of `options`, space-separated in a CSV cell.
    SelectMultiple {
        /// `(stored value, label)` pairs in file order; never empty, keys without spaces.
        options: Vec<(String, String)>,
    },
    /// Computed from a Liquid template over `place`, `contact` and `lineage`; not a CSV column.
    Generated {
        /// The template as written, e.g. `{{ contact.name }} Area`; it parses.
        template: String,
    },
    /// Stored as entered, never invalid.
    None,
}

impl PropertyKind {
    /// Every `type` value the format accepts, in the order messages list them.
    pub const TYPE_NAMES: [&'static str; 9] = [
        "string",
        "name",
        "regex",
        "phone",
        "dob",
        "select_one",
        "select_multiple",
        "generated",
        "none",
    ];

    /// The `type` value as written in the file (`select_one`).
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Name { .. } => "name",
            Self::Regex { .. } => "regex",
            Self::Phone { .. } => "phone",
            Self::Dob => "dob",
            Self::SelectOne { .. } => "select_one",
            Self::SelectMultiple { .. } => "select_multiple",
            Self::Generated { .. } => "generated",
            Self::None => "none",
        }
    }

    /// Whether values are computed rather than entered (so the property is not a CSV column).
    #[must_use]
    pub const fn is_generated(&self) -> bool {
        matches!(self, Self::Generated { .. })
    }

    /// What a valid value looks like, in words, for column tables and error hints.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::String => "text".to_owned(),
            Self::Name { .. } => "a name".to_owned(),
            Self::Regex {
                pattern,
                error_description: Some(description),
            } => format!("text matching {} ({description})", pattern.as_str()),
            Self::Regex { pattern, .. } => format!("text matching {}", pattern.as_str()),
            Self::Phone { region } => format!("a {region} phone number"),
            Self::Dob => "a date of birth: YYYY-MM-DD, D/M/YYYY, or an age in years".to_owned(),
            Self::SelectOne { options } => format!("one of: {}", describe_options(options)),
            Self::SelectMultiple { options } => format!(
                "one or more of: {} (separated by spaces)",
                describe_options(options)
            ),
            Self::Generated { template } => format!("generated from {template}"),
            Self::None => "any value, stored as entered".to_owned(),
        }
    }

    /// The `parameter` member this kind writes, if any.
    fn parameter(&self) -> Option<Parameter<'_>> {
        match self {
            Self::Name { strip } => (!strip.is_empty()).then_some(Parameter::Strip(strip)),
            Self::Regex { pattern, .. } => Some(Parameter::Text(pattern.as_str())),
            Self::Phone { region } => Some(Parameter::Text(region)),
            Self::SelectOne { options } | Self::SelectMultiple { options } => {
                Some(Parameter::Options(options))
            }
            Self::Generated { template } => Some(Parameter::Text(template)),
            Self::String | Self::Dob | Self::None => None,
        }
    }
}

/// `yes, no` — with the label after the key when it says something the key does not.
fn describe_options(options: &[(String, String)]) -> String {
    options
        .iter()
        .map(|(key, label)| {
            if key.eq_ignore_ascii_case(label) || label.trim().is_empty() {
                key.clone()
            } else {
                format!("{key} ({label})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which existing places a `unique` property is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unique {
    /// Every place of the type.
    All,
    /// Places under the same parent.
    Parent,
}

/// How one registry field fills a property.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExternalMapping {
    /// Name of the field (used as the search input name for filters).
    pub name: String,
    /// Where the value is in a registry record, in dot or bracket notation (`district.name`,
    /// `villages[0]`); defaults to `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The field is a search filter in the import form.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_filter: bool,
    /// Members this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An external registry users can import rows from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExternalSource {
    /// Referenced by `external_mapping` keys; unique.
    pub id: String,
    /// UI label.
    pub friendly_name: String,
    /// Base URL (`https://hris5.health.go.ug`).
    pub url: String,
    /// Search endpoint, relative to `url`.
    pub api_endpoint: String,
    /// How the portal authenticates to the registry.
    pub auth: ExternalAuth,
    /// The member of a search answer holding the records.
    #[serde(rename = "resultKey")]
    pub result_key: String,
    /// Fixed query parameters added to every search, in file order.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_pairs"
    )]
    pub other_filters: Vec<(String, String)>,
    /// Members this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Registry authentication. The secret itself is never in the config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExternalAuth {
    /// `token` or `basic`.
    #[serde(rename = "type")]
    pub kind: AuthKind,
    /// Where to obtain a token, relative to the source's `url` (required for `token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Token lifetime in minutes.
    #[serde(rename = "expiration", skip_serializing_if = "Option::is_none")]
    pub expiration_minutes: Option<u32>,
    /// Name of the client-id field posted to the token endpoint.
    pub client_id_key: String,
    /// Name of the client-secret field posted to the token endpoint.
    pub client_secret_key: String,
    /// Members this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Registry authentication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// Exchange the client id and secret for a bearer token.
    Token,
    /// HTTP basic authentication.
    Basic,
}

impl DeploymentConfig {
    /// The config as pretty-printed JSON in the UMT format; [`crate::check`] reads it back to an
    /// equal value.
    ///
    /// The output is canonical rather than byte-identical to the upload: `false` flags
    /// (`useHttp`, `can_assign_multiple`, `is_filter`), empty optional lists (`idpOrigins`,
    /// `external_sources`, a `name` type's `parameter`) and absent optional text are left out.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Every key is a string and every value plain data, so serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The contact type whose `name` is `name`.
    #[must_use]
    pub fn contact_type(&self, name: &str) -> Option<&ContactType> {
        self.contact_types.iter().find(|t| t.name == name)
    }

    /// The instance whose friendly name is `friendly` (exact match, as at login).
    #[must_use]
    pub fn domain(&self, friendly: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.friendly == friendly)
    }

    /// Every CHT place type the portal must load to resolve hierarchies, over all types:
    /// see [`ContactType::place_types`]. Each appears once, in first-seen order.
    #[must_use]
    pub fn place_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = Vec::new();
        for t in &self.contact_types {
            for name in t.place_types() {
                if !types.contains(&name) {
                    types.push(name);
                }
            }
        }
        types
    }
}

enum Parameter<'a> {
    Text(&'a str),
    Strip(&'a [JsRegex]),
    Options(&'a [(String, String)]),
}

impl Serialize for Parameter<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Strip(strip) => serializer.collect_seq(strip.iter().map(JsRegex::as_str)),
            Self::Options(options) => serialize_pairs(options, serializer),
        }
    }
}

/// Writes `(key, value)` pairs as a JSON object in their order.
#[allow(clippy::ptr_arg)] // serde's `serialize_with` passes `&Vec<_>`
fn serialize_pairs<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// Writes a property's members; `level` adds a hierarchy level's own members.
fn serialize_property<M: SerializeMap>(
    map: &mut M,
    property: &ConfigProperty,
    level: Option<&HierarchyLevel>,
) -> Result<(), M::Error> {
    let mut written: Vec<&str> = vec!["friendly_name", "property_name"];
    map.serialize_entry("friendly_name", &property.friendly_name)?;
    map.serialize_entry("property_name", &property.property_name)?;
    if let Some(level) = level {
        map.serialize_entry("contact_type", &level.contact_type)?;
        written.push("contact_type");
    }
    map.serialize_entry("type", property.kind.type_name())?;
    written.push("type");
    if let Some(parameter) = property.kind.parameter() {
        map.serialize_entry("parameter", &parameter)?;
        written.push("parameter");
    }
    let error_description = match &property.kind {
        PropertyKind::Regex {
            error_description, ..
        } => error_description
            .as_ref()
            .or(property.error_description.as_ref()),
        _ => property.error_description.as_ref(),
    };
    if let Some(description) = error_description {
        map.serialize_entry("errorDescription", description)?;
        written.push("errorDescription");
    }
    map.serialize_entry("required", &property.required)?;
    written.push("required");
    if let Some(level) = level {
        map.serialize_entry("level", &level.level)?;
        written.push("level");
    }
    if let Some(unique) = &property.unique {
        map.serialize_entry("unique", unique)?;
        written.push("unique");
    }
    if !property.external_mapping.is_empty() {
        map.serialize_entry("external_mapping", &Mappings(&property.external_mapping))?;
        written.push("external_mapping");
    }
    if let Some(hint) = &property.hint {
        map.serialize_entry("hint", hint)?;
        written.push("hint");
    }
    for (key, value) in &property.extra {
        if !written.contains(&key.as_str()) {
            map.serialize_entry(key, value)?;
        }
    }
    Ok(())
}

struct Mappings<'a>(&'a [(String, ExternalMapping)]);

impl Serialize for Mappings<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl Serialize for ConfigProperty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        serialize_property(&mut map, self, None)?;
        map.end()
    }
}

impl Serialize for HierarchyLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        serialize_property(&mut map, &self.property, Some(self))?;
        map.end()
    }
}
