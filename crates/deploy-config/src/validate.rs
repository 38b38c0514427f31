//! Step two of parsing: every rule of the format, checked over the raw document, building the
//! typed model. Each function reports what it finds and goes on, so one pass reports everything.

use std::collections::HashMap;

use serde_json::Map;
use serde_json::Value;

use crate::columns::{ROLES_HEADER, header_key};
use crate::js_regex::JsRegex;
use crate::model::{
    AuthKind, ConfigProperty, ContactType, DeploymentConfig, Domain, ExternalAuth, ExternalMapping,
    ExternalSource, HierarchyLevel, PropertyKind, Unique,
};
use crate::problem::{ConfigProblem, Problems, index_path, key_path};
use crate::raw::Node;
use crate::template::check_template;

const TOP_KEYS: &[&str] = &[
    "domains",
    "idpOrigins",
    "attribute_for_external_ownership",
    "external_sources",
    "contact_types",
    "logoBase64",
];
const DOMAIN_KEYS: &[&str] = &["friendly", "domain", "useHttp"];
const SOURCE_KEYS: &[&str] = &[
    "id",
    "friendly_name",
    "url",
    "api_endpoint",
    "auth",
    "resultKey",
    "other_filters",
];
const AUTH_KEYS: &[&str] = &[
    "type",
    "token_endpoint",
    "expiration",
    "client_id_key",
    "client_secret_key",
];
const TYPE_KEYS: &[&str] = &[
    "name",
    "friendly",
    "contact_type",
    "contact_friendly",
    "user_role",
    "username_from_place",
    "deactivate_users_on_replace",
    "can_assign_multiple",
    "hint",
    "hierarchy",
    "replacement_property",
    "place_properties",
    "contact_properties",
];
const PROPERTY_KEYS: &[&str] = &[
    "friendly_name",
    "property_name",
    "type",
    "parameter",
    "required",
    "errorDescription",
    "unique",
    "external_mapping",
    "hint",
];
const LEVEL_KEYS: &[&str] = &[
    "friendly_name",
    "property_name",
    "type",
    "parameter",
    "required",
    "errorDescription",
    "unique",
    "external_mapping",
    "hint",
    "level",
    "contact_type",
];
const MAPPING_KEYS: &[&str] = &["name", "path", "is_filter"];

/// Checks `root` and builds the typed config, or returns every problem.
pub(crate) fn validate(root: &Node) -> Result<DeploymentConfig, Vec<ConfigProblem>> {
    let mut v = Validator::default();
    root.report_duplicate_keys("$", &mut v.problems);
    let config = v.config(root);
    match config {
        Some(config) if v.problems.is_empty() => Ok(config),
        _ => {
            if v.problems.is_empty() {
                v.problems.push(
                    "$",
                    "the config could not be read (no specific problem was found)",
                );
            }
            Err(v.problems.into_vec())
        }
    }
}

/// Where a property sits, which decides what it may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Hierarchy,
    Replacement,
    Place,
    Contact,
}

/// A use of an external source in some property's `external_mapping`.
struct MappingUse {
    source: String,
    is_filter: bool,
}

/// A place property name seen anywhere, for the external-ownership check.
struct PlacePropertyName {
    type_name: String,
    path: String,
    name: String,
}

#[derive(Default)]
struct Validator {
    problems: Problems,
    /// Ids of the external sources declared (read before the contact types).
    source_ids: Vec<String>,
    mapping_uses: Vec<MappingUse>,
    place_property_names: Vec<PlacePropertyName>,
    /// Patterns compiled so far: configs repeat the same strip lists on several properties.
    regexes: RegexCache,
}

type RegexCache = HashMap<(String, bool), Result<JsRegex, String>>;

fn compile(
    cache: &mut RegexCache,
    source: &str,
    case_insensitive: bool,
) -> Result<JsRegex, String> {
    cache
        .entry((source.to_owned(), case_insensitive))
        .or_insert_with(|| JsRegex::new(source, case_insensitive))
        .clone()
}

/// An object being read: remembers which members were used so the rest can be kept as `extra`.
struct Obj<'a> {
    entries: &'a [(String, Node)],
    path: String,
    known: &'static [&'static str],
    used: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    /// `node` as an object, or a problem saying what was expected there.
    fn new(
        node: &'a Node,
        path: &str,
        known: &'static [&'static str],
        what: &str,
        problems: &mut Problems,
    ) -> Option<Self> {
        if let Node::Object(entries) = node {
            Some(Self {
                entries,
                path: path.to_owned(),
                known,
                used: Vec::new(),
            })
        } else {
            problems.push(
                path,
                format!(
                    "must be an object {{ … }} ({what}); found {}",
                    node.describe()
                ),
            );
            None
        }
    }

    fn path_of(&self, key: &str) -> String {
        key_path(&self.path, key)
    }

    /// Member `key` (the last one if repeated, as `JSON.parse` does); `null` counts as absent.
    fn get(&mut self, key: &'static str) -> Option<&'a Node> {
        self.used.push(key);
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Node::Null))
    }

    /// Member `key`, or a problem saying it is missing and what to write.
    fn required(
        &mut self,
        key: &'static str,
        fix: &str,
        problems: &mut Problems,
    ) -> Option<&'a Node> {
        let node = self.get(key);
        if node.is_none() {
            let present = self.entries.iter().any(|(k, _)| k == key);
            let state = if present { "is null" } else { "is missing" };
            let spelling = self.misspelling_of(key).map_or_else(String::new, |k| {
                format!(" (this object has {k:?}: is it a misspelling of {key:?}?)")
            });
            problems.push(self.path_of(key), format!("{key} {state}: {fix}{spelling}"));
        }
        node
    }

    /// A member the format does not know whose name is close to `key`.
    fn misspelling_of(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !self.known.contains(k))
            // Bounded, so a hostile object with many members stays cheap.
            .take(256)
            .find(|k| looks_like(k, key))
    }

    fn required_text(&mut self, key: &'static str, fix: &str, p: &mut Problems) -> Option<String> {
        let node = self.required(key, fix, p)?;
        non_empty_text(node, &self.path_of(key), fix, p)
    }

    fn optional_text(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        let node = self.get(key)?;
        text(node, &self.path_of(key), p)
    }

    fn required_bool(&mut self, key: &'static str, fix: &str, p: &mut Problems) -> Option<bool> {
        let node = self.required(key, fix, p)?;
        boolean(node, &self.path_of(key), p)
    }

    /// `Some(false)` when absent.
    fn optional_bool(&mut self, key: &'static str, p: &mut Problems) -> Option<bool> {
        match self.get(key) {
            None => Some(false),
            Some(node) => boolean(node, &self.path_of(key), p),
        }
    }

    /// The members not used, kept for round trips.
    fn extra(&self) -> Map<String, Value> {
        let mut extra = Map::new();
        for (key, value) in self.entries {
            if !self.used.contains(&key.as_str()) {
                extra.insert(key.clone(), value.to_value());
            }
        }
        extra
    }
}

/// Whether `candidate` is probably a misspelling of `key`: same letters ignoring case and
/// separators, or at most two edits apart.
fn looks_like(candidate: &str, key: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (a, b) = (squash(candidate), squash(key));
    let (la, lb) = (a.chars().count(), b.chars().count());
    a == b || (lb >= 4 && la.abs_diff(lb) <= 2 && edit_distance(&a, &b) <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    if a.chars().count() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn text(node: &Node, path: &str, p: &mut Problems) -> Option<String> {
    if let Node::String(s) = node {
        Some(s.clone())
    } else {
        p.push(
            path,
            format!(
                "must be a string (text in double quotes); found {}",
                node.describe()
            ),
        );
        None
    }
}

fn non_empty_text(node: &Node, path: &str, fix: &str, p: &mut Problems) -> Option<String> {
    let s = text(node, path, p)?;
    if s.trim().is_empty() {
        p.push(path, format!("is empty: {fix}"));
        return None;
    }
    Some(s)
}

fn boolean(node: &Node, path: &str, p: &mut Problems) -> Option<bool> {
    match node {
        Node::Bool(b) => Some(*b),
        Node::String(s) if matches!(s.trim(), "true" | "false") => {
            p.push(
                path,
                format!(
                    "must be true or false; found the text {s:?}: write {} without quotes",
                    s.trim()
                ),
            );
            None
        }
        other => {
            p.push(
                path,
                format!("must be true or false; found {}", other.describe()),
            );
            None
        }
    }
}

fn array<'a>(node: &'a Node, path: &str, example: &str, p: &mut Problems) -> Option<&'a [Node]> {
    if let Node::Array(items) = node {
        Some(items)
    } else {
        p.push(
            path,
            format!(
                "must be an array [ … ]; found {}: write it like {example}",
                node.describe()
            ),
        );
        None
    }
}

/// Keeps the `Some` values, or `None` if any element failed.
fn all<T>(items: Vec<Option<T>>) -> Option<Vec<T>> {
    items.into_iter().collect()
}

impl Validator {
    fn config(&mut self, root: &Node) -> Option<DeploymentConfig> {
        let p = &mut self.problems;
        let Node::Object(_) = root else {
            p.push(
                "$",
                format!(
                    "the config must be a JSON object {{ … }} with domains and contact_types; \
                     found {}",
                    root.describe()
                ),
            );
            return None;
        };
        let mut obj = Obj::new(root, "$", TOP_KEYS, "the config", p)?;

        let domains = obj
            .required(
                "domains",
                "add the CHT instances users log into, e.g. [{\"friendly\": \"Migori\", \
                 \"domain\": \"migori.echis.go.ke\"}]",
                p,
            )
            .and_then(|node| self.domains(node, &obj.path_of("domains")));
        let p = &mut self.problems;

        let idp_origins = match obj.get("idpOrigins") {
            None => Some(Vec::new()),
            Some(node) => idp_origins(node, &obj.path_of("idpOrigins"), p),
        };
        let attribute = match obj.get("attribute_for_external_ownership") {
            None => Some(None),
            Some(node) => non_empty_text(
                node,
                &obj.path_of("attribute_for_external_ownership"),
                "write the place attribute API callers may set (e.g. \"chw_registry_link\") or \
                 remove the member",
                p,
            )
            .map(Some),
        };
        let external_sources = match obj.get("external_sources") {
            None => Some(Vec::new()),
            Some(node) => self.external_sources(node, &obj.path_of("external_sources")),
        };
        let p = &mut self.problems;

        let contact_types = obj
            .required(
                "contact_types",
                "add the types of user this deployment creates (an array of objects with name, \
                 hierarchy, place_properties, …)",
                p,
            )
            .and_then(|node| self.contact_types(node, &obj.path_of("contact_types")));
        let p = &mut self.problems;

        let logo = match obj.get("logoBase64") {
            None => Some(None),
            Some(node) => logo(node, &obj.path_of("logoBase64"), p).map(Some),
        };

        if let Some(Some(attribute)) = &attribute {
            self.check_ownership_attribute(
                attribute,
                &obj.path_of("attribute_for_external_ownership"),
            );
        }
        if let Some(sources) = &external_sources {
            self.check_filters(sources, &obj.path_of("external_sources"));
        }

        let Node::Object(members) = root else {
            return None;
        };
        let profile =
            crate::profile_block::effective(members, contact_types.as_deref(), &mut self.problems);

        Some(DeploymentConfig {
            domains: domains?,
            idp_origins: idp_origins?,
            attribute_for_external_ownership: attribute?,
            external_sources: external_sources?,
            contact_types: contact_types?,
            logo_base64: logo?,
            extra: obj.extra(),
            profile,
        })
    }

    fn domains(&mut self, node: &Node, path: &str) -> Option<Vec<Domain>> {
        let p = &mut self.problems;
        let items = array(
            node,
            path,
            "[{\"friendly\": \"Migori\", \"domain\": \"migori.echis.go.ke\"}]",
            p,
        )?;
        if items.is_empty() {
            p.push(
                path,
                "is empty: add at least one CHT instance, e.g. {\"friendly\": \"Migori\", \
                 \"domain\": \"migori.echis.go.ke\"}",
            );
            return None;
        }
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut domains = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = index_path(path, i);
            let Some(mut obj) = Obj::new(item, &item_path, DOMAIN_KEYS, "one CHT instance", p)
            else {
                domains.push(None);
                continue;
            };
            let friendly = obj.required_text(
                "friendly",
                "write the instance name users pick at login, e.g. \"Migori\"",
                p,
            );
            if let Some(friendly) = &friendly {
                let key = header_key(friendly);
                if let Some((other, _)) = seen.iter().find(|(_, k)| *k == key) {
                    p.push(
                        obj.path_of("friendly"),
                        format!(
                            "{friendly:?} is already the name of {other}: users pick the instance \
                             by this name at login, so give each its own"
                        ),
                    );
                } else {
                    seen.push((format!("{item_path}.friendly"), key));
                }
            }
            let domain = obj
                .required_text(
                    "domain",
                    "write the instance's host name, e.g. \"migori.echis.go.ke\"",
                    p,
                )
                .filter(|host| match check_host(host) {
                    Ok(()) => true,
                    Err(reason) => {
                        p.push(obj.path_of("domain"), reason);
                        false
                    }
                });
            let use_http = obj.optional_bool("useHttp", p);
            domains.push((|| {
                Some(Domain {
                    friendly: friendly?,
                    domain: domain?,
                    use_http: use_http?,
                    extra: obj.extra(),
                })
            })());
        }
        all(domains)
    }

    fn external_sources(&mut self, node: &Node, path: &str) -> Option<Vec<ExternalSource>> {
        let items = array(
            node,
            path,
            "[{\"id\": \"chwr\", \"friendly_name\": \"…\", \"url\": \"https://…\", …}]",
            &mut self.problems,
        )?;
        let mut sources = Vec::new();
        for (i, item) in items.iter().enumerate() {
            sources.push(self.external_source(item, &index_path(path, i)));
        }
        all(sources)
    }

    fn external_source(&mut self, node: &Node, path: &str) -> Option<ExternalSource> {
        let p = &mut self.problems;
        let mut obj = Obj::new(node, path, SOURCE_KEYS, "one external registry", p)?;
        let id = obj.required_text(
            "id",
            "write a short id that external_mapping entries refer to, e.g. \"chwr\"",
            p,
        );
        if let Some(id) = &id {
            if self.source_ids.contains(id) {
                p.push(
                    obj.path_of("id"),
                    format!(
                        "{id:?} is the id of an earlier external source: external_mapping refers \
                         to sources by id, so give each its own"
                    ),
                );
            } else {
                self.source_ids.push(id.clone());
            }
        }
        let friendly_name = obj.required_text(
            "friendly_name",
            "write the registry's name as users should see it",
            p,
        );
        let url = obj
            .required_text(
                "url",
                "write the registry's base URL, e.g. \"https://hris5.health.go.ug\"",
                p,
            )
            .filter(|url| match check_http_url(url) {
                Ok(()) => true,
                Err(reason) => {
                    p.push(obj.path_of("url"), reason);
                    false
                }
            });
        let api_endpoint = obj.required_text(
            "api_endpoint",
            "write the search endpoint, relative to url (e.g. \"chw\")",
            p,
        );
        let auth = obj
            .required(
                "auth",
                "add how to authenticate, e.g. {\"type\": \"token\", \"token_endpoint\": \
                 \"/auth/token\", \"client_id_key\": \"email\", \"client_secret_key\": \
                 \"password\"}",
                p,
            )
            .and_then(|node| external_auth(node, &obj.path_of("auth"), p));
        let result_key = obj.required_text(
            "resultKey",
            "write the member of the registry's answer that holds the records (e.g. \"chws\")",
            p,
        );
        let other_filters = match obj.get("other_filters") {
            None => Some(Vec::new()),
            Some(node) => string_pairs(node, &obj.path_of("other_filters"), p),
        };
        Some(ExternalSource {
            id: id?,
            friendly_name: friendly_name?,
            url: url?,
            api_endpoint: api_endpoint?,
            auth: auth?,
            result_key: result_key?,
            other_filters: other_filters?,
            extra: obj.extra(),
        })
    }

    fn contact_types(&mut self, node: &Node, path: &str) -> Option<Vec<ContactType>> {
        let items = array(node, path, "[{\"name\": \"…\", …}]", &mut self.problems)?;
        if items.is_empty() {
            self.problems.push(
                path,
                "is empty: add at least one type of user (a place type with its hierarchy, \
                 properties and roles)",
            );
            return None;
        }
        let mut names: Vec<(String, String)> = Vec::new();
        let mut types = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = index_path(path, i);
            let (name, contact_type) = self.contact_type(item, &item_path);
            if let Some(name) = name {
                if let Some((other, _)) = names.iter().find(|(_, n)| *n == name) {
                    self.problems.push(
                        key_path(&item_path, "name"),
                        format!(
                            "{name:?} is already the name of {other}: each contact type is a \
                             different CHT place type"
                        ),
                    );
                } else {
                    names.push((key_path(&item_path, "name"), name));
                }
            }
            types.push(contact_type);
        }
        all(types)
    }

    /// The type's name (when readable, for the uniqueness check) and the type.
    fn contact_type(&mut self, node: &Node, path: &str) -> (Option<String>, Option<ContactType>) {
        let p = &mut self.problems;
        let Some(mut obj) = Obj::new(node, path, TYPE_KEYS, "one type of user", p) else {
            return (None, None);
        };
        let name = obj.required_text(
            "name",
            "write the CHT place type id of this type, e.g. \"c_community_health_unit\"",
            p,
        );
        let friendly = obj.required_text(
            "friendly",
            "write the type's label, e.g. \"Community Health Unit\"",
            p,
        );
        let contact_type = obj.required_text(
            "contact_type",
            "write the CHT contact type of the place's primary contact, e.g. \"person\"",
            p,
        );
        let contact_friendly = obj.optional_text("contact_friendly", p);
        let user_role = obj
            .required(
                "user_role",
                "add the CHT roles users of this type get, e.g. [\"chw\"]",
                p,
            )
            .and_then(|node| roles(node, &obj.path_of("user_role"), p));
        let username_from_place = obj.required_bool(
            "username_from_place",
            "write true to build usernames from the place name, false to build them from the \
             contact's name",
            p,
        );
        let deactivate = obj.required_bool(
            "deactivate_users_on_replace",
            "write true to deactivate a replaced user (keeping its contact), false to delete the \
             user and its contact",
            p,
        );
        let can_assign_multiple = obj.optional_bool("can_assign_multiple", p);
        let hint = obj.optional_text("hint", p);

        let type_name = name.clone().unwrap_or_default();
        let hierarchy = obj
            .required(
                "hierarchy",
                "add the parent place type at level 1, e.g. [{\"friendly_name\": \"Sub County\", \
                 \"property_name\": \"SUBCOUNTY\", \"contact_type\": \"b_sub_county\", \"type\": \
                 \"name\", \"required\": true, \"level\": 1}]",
                p,
            )
            .and_then(|node| self.hierarchy(node, &obj.path_of("hierarchy")));
        let p = &mut self.problems;
        let replacement = obj
            .required(
                "replacement_property",
                "add how users name the place whose user is replaced, e.g. {\"friendly_name\": \
                 \"Outgoing CHP\", \"property_name\": \"replacement\", \"type\": \"name\", \
                 \"required\": true}",
                p,
            )
            .and_then(|node| {
                self.property(
                    node,
                    &obj.path_of("replacement_property"),
                    Context::Replacement,
                )
            });
        let p = &mut self.problems;
        let place_properties = obj
            .required(
                "place_properties",
                "add the place's attributes, at least {\"friendly_name\": \"…\", \
                 \"property_name\": \"name\", …}",
                p,
            )
            .and_then(|node| {
                self.properties(
                    node,
                    &obj.path_of("place_properties"),
                    Context::Place,
                    &type_name,
                )
            });
        let p = &mut self.problems;
        let contact_properties = obj
            .required(
                "contact_properties",
                "add the contact's attributes, at least {\"friendly_name\": \"…\", \
                 \"property_name\": \"name\", …}",
                p,
            )
            .and_then(|node| {
                self.properties(
                    node,
                    &obj.path_of("contact_properties"),
                    Context::Contact,
                    "",
                )
            });

        self.check_columns(
            path,
            hierarchy.as_deref(),
            replacement.as_ref(),
            place_properties.as_deref(),
            contact_properties.as_deref(),
            user_role.as_ref().is_some_and(|r| r.len() > 1),
        );

        let contact_type = (|| {
            Some(ContactType {
                name: name.clone()?,
                friendly: friendly?,
                contact_type: contact_type?,
                contact_friendly,
                user_role: user_role?,
                username_from_place: username_from_place?,
                deactivate_users_on_replace: deactivate?,
                can_assign_multiple: can_assign_multiple?,
                hint,
                hierarchy: hierarchy?,
                replacement_property: replacement?,
                place_properties: place_properties?,
                contact_properties: contact_properties?,
                extra: obj.extra(),
            })
        })();
        (name, contact_type)
    }

    fn hierarchy(&mut self, node: &Node, path: &str) -> Option<Vec<HierarchyLevel>> {
        let items = array(
            node,
            path,
            "[{\"friendly_name\": \"Sub County\", \"property_name\": \"SUBCOUNTY\", \
             \"contact_type\": \"b_sub_county\", \"type\": \"name\", \"required\": true, \
             \"level\": 1}]",
            &mut self.problems,
        )?;
        let mut levels = Vec::new();
        // (level, path of its friendly name or index) seen so far, and property names.
        let mut seen_levels: Vec<(u32, String)> = Vec::new();
        let mut seen_names: Vec<(String, String)> = Vec::new();
        let mut all_levels_read = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = index_path(path, i);
            let level = self.hierarchy_level(item, &item_path);
            match &level {
                Some(level) => {
                    let n = level.level;
                    if let Some((_, other)) = seen_levels.iter().find(|(l, _)| *l == n) {
                        self.problems.push(
                            key_path(&item_path, "level"),
                            format!(
                                "level {n} is already used by {other}: give each hierarchy level \
                                 its own number (1 = parent, 2 = grandparent, …)"
                            ),
                        );
                    } else {
                        seen_levels.push((n, item_path.clone()));
                    }
                    let name = &level.property.property_name;
                    if name == "replacement" {
                        self.problems.push(
                            key_path(&item_path, "property_name"),
                            "\"replacement\" is the name of the replacement level \
                             (replacement_property): name this level after its place type, \
                             e.g. \"SUBCOUNTY\"",
                        );
                    } else if let Some((_, other)) = seen_names.iter().find(|(n, _)| n == name) {
                        self.problems.push(
                            key_path(&item_path, "property_name"),
                            format!(
                                "{name:?} is already the property_name of {other}: each level is \
                                 sent under its own name, so give each its own"
                            ),
                        );
                    } else {
                        seen_names.push((name.clone(), item_path.clone()));
                    }
                }
                None => all_levels_read = false,
            }
            levels.push(level);
        }
        if all_levels_read && !seen_levels.iter().any(|(l, _)| *l == 1) {
            self.problems.push(
                path,
                "has no level 1: add the parent place type with \"level\": 1 (higher levels only \
                 help tell apart places with the same name, and may skip numbers)",
            );
        }
        all(levels)
    }

    fn hierarchy_level(&mut self, node: &Node, path: &str) -> Option<HierarchyLevel> {
        let p = &mut self.problems;
        let mut obj = Obj::new(node, path, LEVEL_KEYS, "one hierarchy level", p)?;
        let level = obj
            .required(
                "level",
                "write 1 for the parent place, 2 for the grandparent, and so on",
                p,
            )
            .and_then(|node| level_number(node, &obj.path_of("level"), p));
        let contact_type = obj.required_text(
            "contact_type",
            "write the CHT place type searched at this level, e.g. \"b_sub_county\"",
            p,
        );
        let property = self.property_fields(&mut obj, Context::Hierarchy);
        Some(HierarchyLevel {
            level: level?,
            contact_type: contact_type?,
            property: property?,
        })
    }

    fn properties(
        &mut self,
        node: &Node,
        path: &str,
        context: Context,
        type_name: &str,
    ) -> Option<Vec<ConfigProperty>> {
        let items = array(
            node,
            path,
            "[{\"friendly_name\": \"…\", \"property_name\": \"name\", \"type\": \"name\", \
             \"required\": true}]",
            &mut self.problems,
        )?;
        let mut properties = Vec::new();
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut all_read = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = index_path(path, i);
            let property = self.property(item, &item_path, context);
            if let Some(property) = &property {
                let name = &property.property_name;
                if let Some((_, other)) = seen.iter().find(|(n, _)| n == name) {
                    self.problems.push(
                        key_path(&item_path, "property_name"),
                        format!(
                            "{name:?} is already the property_name of {other}: both would write \
                             the same attribute, so rename or remove one"
                        ),
                    );
                } else {
                    seen.push((name.clone(), item_path.clone()));
                }
                if context == Context::Place {
                    self.place_property_names.push(PlacePropertyName {
                        type_name: type_name.to_owned(),
                        path: key_path(&item_path, "property_name"),
                        name: name.clone(),
                    });
                }
            } else {
                all_read = false;
            }
            properties.push(property);
        }
        if all_read && !seen.iter().any(|(n, _)| n == "name") {
            let (whose, example) = if context == Context::Place {
                (
                    "the place",
                    "(it may be generated, e.g. {\"property_name\": \"name\", \"type\": \
                     \"generated\", \"parameter\": \"{{ contact.name }} Area\", …})",
                )
            } else {
                (
                    "the contact",
                    "(e.g. {\"property_name\": \"name\", \"type\": \"name\", …})",
                )
            };
            self.problems.push(
                path,
                format!(
                    "has no property with property_name \"name\": add one, since CHT needs a \
                     name for {whose} {example}"
                ),
            );
        }
        all(properties)
    }

    fn property(&mut self, node: &Node, path: &str, context: Context) -> Option<ConfigProperty> {
        let mut obj = Obj::new(
            node,
            path,
            PROPERTY_KEYS,
            "a property with friendly_name, property_name, type and required",
            &mut self.problems,
        )?;
        self.property_fields(&mut obj, context)
    }

    fn property_fields(&mut self, obj: &mut Obj<'_>, context: Context) -> Option<ConfigProperty> {
        let p = &mut self.problems;
        let friendly_name = obj.required_text(
            "friendly_name",
            "write the column header and label users see, e.g. \"CHU Name\"",
            p,
        );
        let property_name = obj.required_text(
            "property_name",
            "write the attribute name stored in CHT, e.g. \"name\"",
            p,
        );
        let type_name = obj.required_text(
            "type",
            &format!("write one of {}", PropertyKind::TYPE_NAMES.join(", ")),
            p,
        );
        let required = obj.required_bool(
            "required",
            "write true if every row needs a value, false otherwise",
            p,
        );
        let error_description = obj.optional_text("errorDescription", p);
        let kind = type_name.and_then(|t| self.kind(obj, &t, error_description.as_ref(), context));
        let p = &mut self.problems;

        let unique = match obj.get("unique") {
            None => Some(None),
            Some(node) => unique(node, &obj.path_of("unique"), context, p),
        };
        let external_mapping = match obj.get("external_mapping") {
            None => Some(Vec::new()),
            Some(node) => self.external_mapping(node, &obj.path_of("external_mapping")),
        };
        let hint = obj.optional_text("hint", &mut self.problems);

        Some(ConfigProperty {
            friendly_name: friendly_name?,
            property_name: property_name?,
            kind: kind?,
            required: required?,
            error_description,
            unique: unique?,
            external_mapping: external_mapping?,
            hint,
            extra: obj.extra(),
        })
    }

    /// The property's kind with its parameter. Types that take no parameter leave it unread, so
    /// a stray one is kept in `extra`.
    fn kind(
        &mut self,
        obj: &mut Obj<'_>,
        type_name: &str,
        error_description: Option<&String>,
        context: Context,
    ) -> Option<PropertyKind> {
        let p = &mut self.problems;
        let type_path = obj.path_of("type");
        let param_path = obj.path_of("parameter");
        match type_name {
            "string" => Some(PropertyKind::String),
            "dob" => Some(PropertyKind::Dob),
            "none" => Some(PropertyKind::None),
            "name" => {
                let strip = match obj.get("parameter") {
                    None => Vec::new(),
                    Some(node) => strip_patterns(node, &param_path, &mut self.regexes, p)?,
                };
                Some(PropertyKind::Name { strip })
            }
            "regex" => {
                let pattern = obj
                    .required(
                        "parameter",
                        "type is regex, so add the pattern values must match, e.g. \"^\\\\d{6}$\"",
                        p,
                    )
                    .and_then(|node| {
                        non_empty_text(node, &param_path, "write the pattern values must match", p)
                    })
                    .and_then(|source| match compile(&mut self.regexes, &source, false) {
                        Ok(regex) => Some(regex),
                        Err(reason) => {
                            p.push(&param_path, format!("the pattern {source:?} {reason}"));
                            None
                        }
                    });
                // A missing or blank errorDescription is accepted (deployed configs have them,
                // and UMT loads them); `DeploymentConfig::warnings` reports it instead.
                Some(PropertyKind::Regex {
                    pattern: pattern?,
                    error_description: error_description.filter(|d| !d.trim().is_empty()).cloned(),
                })
            }
            "phone" => {
                let region = obj
                    .required(
                        "parameter",
                        "type is phone, so add the ISO country code of the numbers, e.g. \"KE\"",
                        p,
                    )
                    .and_then(|node| {
                        non_empty_text(node, &param_path, "write a country code such as \"KE\"", p)
                    })?;
                match check_region(&region) {
                    Ok(()) => Some(PropertyKind::Phone { region }),
                    Err(reason) => {
                        p.push(&param_path, reason);
                        None
                    }
                }
            }
            "select_one" | "select_multiple" => {
                let multiple = type_name == "select_multiple";
                let node = obj.required(
                    "parameter",
                    &format!(
                        "type is {type_name}, so add the options as an object mapping each stored \
                         value to its label, e.g. {{\"yes\": \"Yes\", \"no\": \"No\"}}"
                    ),
                    p,
                )?;
                let options = select_options(node, &param_path, multiple, p)?;
                Some(if multiple {
                    PropertyKind::SelectMultiple { options }
                } else {
                    PropertyKind::SelectOne { options }
                })
            }
            "generated" => {
                if matches!(context, Context::Hierarchy | Context::Replacement) {
                    let (what, whose) = if context == Context::Hierarchy {
                        ("hierarchy levels", "an existing place")
                    } else {
                        (
                            "the replacement property",
                            "the place whose user is replaced",
                        )
                    };
                    p.push(
                        &type_path,
                        format!(
                            "{what} cannot be generated: users type the name of {whose} here; \
                             use string or name"
                        ),
                    );
                    return None;
                }
                let template = obj
                    .required(
                        "parameter",
                        "type is generated, so add the Liquid template that builds the value, \
                         e.g. \"{{ contact.name }} Area\"",
                        p,
                    )
                    .and_then(|node| text(node, &param_path, p))?;
                match check_template(&template) {
                    Ok(()) => Some(PropertyKind::Generated { template }),
                    Err(reason) => {
                        p.push(&param_path, reason);
                        None
                    }
                }
            }
            other => {
                p.push(&type_path, unknown_type(other));
                None
            }
        }
    }

    fn external_mapping(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<Vec<(String, ExternalMapping)>> {
        let p = &mut self.problems;
        let Node::Object(entries) = node else {
            p.push(
                path,
                format!(
                    "must be an object mapping external source ids to registry fields, e.g. \
                     {{\"chwr\": {{\"name\": \"district\", \"path\": \"district.name\"}}}}; found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut mappings = Vec::new();
        for (source, value) in entries {
            let item_path = key_path(path, source);
            let known = self.source_ids.contains(source);
            if !known {
                let declared = if self.source_ids.is_empty() {
                    "no external_sources are declared".to_owned()
                } else {
                    format!("declared ids: {}", self.source_ids.join(", "))
                };
                p.push(
                    &item_path,
                    format!(
                        "no external source has the id {source:?} ({declared}): declare it in \
                         external_sources or remove this mapping"
                    ),
                );
            }
            let mapping = (|| {
                let mut obj = Obj::new(
                    value,
                    &item_path,
                    MAPPING_KEYS,
                    "the registry field, e.g. {\"name\": \"district\", \"path\": \"district.name\"}",
                    p,
                )?;
                let name = obj.required_text(
                    "name",
                    "write the registry field's name, e.g. \"district\"",
                    p,
                );
                let field_path = obj.optional_text("path", p);
                let is_filter = obj.optional_bool("is_filter", p);
                Some(ExternalMapping {
                    name: name?,
                    path: field_path,
                    is_filter: is_filter?,
                    extra: obj.extra(),
                })
            })();
            if let Some(mapping) = &mapping {
                self.mapping_uses.push(MappingUse {
                    source: source.clone(),
                    is_filter: mapping.is_filter,
                });
            }
            mappings.push(mapping.filter(|_| known).map(|m| (source.clone(), m)));
        }
        all(mappings)
    }

    /// CSV headers must be told apart once case and spacing are ignored, as uploads match them.
    fn check_columns(
        &mut self,
        type_path: &str,
        hierarchy: Option<&[HierarchyLevel]>,
        replacement: Option<&ConfigProperty>,
        place: Option<&[ConfigProperty]>,
        contact: Option<&[ConfigProperty]>,
        several_roles: bool,
    ) {
        let mut columns: Vec<(String, &str)> = Vec::new();
        for (i, level) in hierarchy.unwrap_or_default().iter().enumerate() {
            let path = key_path(
                &index_path(&key_path(type_path, "hierarchy"), i),
                "friendly_name",
            );
            columns.push((path, &level.property.friendly_name));
        }
        if let Some(replacement) = replacement {
            let path = key_path(
                &key_path(type_path, "replacement_property"),
                "friendly_name",
            );
            columns.push((path, &replacement.friendly_name));
        }
        for (list, key) in [(place, "place_properties"), (contact, "contact_properties")] {
            for (i, property) in list.unwrap_or_default().iter().enumerate() {
                if !property.kind.is_generated() {
                    let path = key_path(&index_path(&key_path(type_path, key), i), "friendly_name");
                    columns.push((path, &property.friendly_name));
                }
            }
        }
        let mut seen: Vec<(String, &str, String)> = Vec::new();
        for (path, header) in columns {
            let key = header_key(header);
            if key.is_empty() {
                self.problems.push(
                    path,
                    "has no visible characters, so no CSV header can match it: write a column \
                     name",
                );
                continue;
            }
            if several_roles && key == header_key(ROLES_HEADER) {
                self.problems.push(
                    path,
                    format!(
                        "{header:?} is the header of the column added because user_role lists \
                         several roles: CSV headers are matched ignoring case and spaces, so \
                         rename this property"
                    ),
                );
                continue;
            }
            if let Some((other, other_header, _)) = seen.iter().find(|(_, _, k)| *k == key) {
                self.problems.push(
                    &path,
                    format!(
                        "the column header {header:?} is the same as {other} ({other_header:?}) \
                         once case and spaces are ignored, as CSV headers are matched: rename one"
                    ),
                );
            } else {
                seen.push((path, header, key));
            }
        }
    }

    fn check_ownership_attribute(&mut self, attribute: &str, path: &str) {
        for place in self
            .place_property_names
            .iter()
            .filter(|n| n.name == attribute)
        {
            self.problems.push(
                path,
                format!(
                    "{attribute:?} is also a place property of contact type {:?} ({}): API callers \
                     setting the ownership marker would overwrite it, so choose another attribute \
                     name",
                    place.type_name, place.path
                ),
            );
        }
    }

    fn check_filters(&mut self, sources: &[ExternalSource], path: &str) {
        for (i, source) in sources.iter().enumerate() {
            let filtered = self
                .mapping_uses
                .iter()
                .any(|u| u.source == source.id && u.is_filter);
            if !filtered {
                self.problems.push(
                    index_path(path, i),
                    format!(
                        "no property maps a search filter for {:?}: users search the registry by \
                         filter fields, so set \"is_filter\": true on at least one \
                         external_mapping.{} (e.g. the district)",
                        source.id, source.id
                    ),
                );
            }
        }
    }
}

fn idp_origins(node: &Node, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    let items = array(node, path, "[\"https://chwregistry.echis.go.ke\"]", p)?;
    let mut origins = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index_path(path, i);
        let origin = text(item, &item_path, p).filter(|origin| match check_origin(origin) {
            Ok(()) => true,
            Err(reason) => {
                p.push(&item_path, reason);
                false
            }
        });
        origins.push(origin);
    }
    all(origins)
}

fn logo(node: &Node, path: &str, p: &mut Problems) -> Option<String> {
    let logo = text(node, path, p)?;
    if logo.starts_with("data:image/") {
        Some(logo)
    } else {
        p.push(
            path,
            "must be an image data URL (data:image/png;base64,…): the portal shows the logo \
             inline and loads nothing from other sites",
        );
        None
    }
}

fn external_auth(node: &Node, path: &str, p: &mut Problems) -> Option<ExternalAuth> {
    let mut obj = Obj::new(
        node,
        path,
        AUTH_KEYS,
        "how to authenticate to the registry",
        p,
    )?;
    let kind = obj
        .required_text("type", "write \"token\" or \"basic\"", p)
        .and_then(|t| match t.as_str() {
            "token" => Some(AuthKind::Token),
            "basic" => Some(AuthKind::Basic),
            other => {
                p.push(
                    obj.path_of("type"),
                    format!("unknown authentication type {other:?}: use \"token\" or \"basic\""),
                );
                None
            }
        });
    let token_endpoint = obj.optional_text("token_endpoint", p);
    if kind == Some(AuthKind::Token) && token_endpoint.as_ref().is_none_or(|t| t.trim().is_empty())
    {
        p.push(
            obj.path_of("token_endpoint"),
            "auth type is token but token_endpoint is missing: add the path where tokens are \
             obtained, relative to url (e.g. \"/auth/token\")",
        );
    }
    let expiration = match obj.get("expiration") {
        None => Some(None),
        Some(node) => match node {
            Node::Number(n) => n
                .as_u64()
                .filter(|m| *m >= 1)
                .and_then(|m| u32::try_from(m).ok())
                .map(Some),
            _ => None,
        }
        .or_else(|| {
            p.push(
                obj.path_of("expiration"),
                format!(
                    "must be a whole number of minutes, at least 1 (e.g. 90); found {}",
                    node.describe()
                ),
            );
            None
        }),
    };
    let client_id_key = obj.required_text(
        "client_id_key",
        "write the name of the client-id field posted for a token (e.g. \"email\")",
        p,
    );
    let client_secret_key = obj.required_text(
        "client_secret_key",
        "write the name of the secret field posted for a token (e.g. \"password\")",
        p,
    );
    let kind = kind?;
    if kind == AuthKind::Token && token_endpoint.is_none() {
        return None;
    }
    Some(ExternalAuth {
        kind,
        token_endpoint,
        expiration_minutes: expiration?,
        client_id_key: client_id_key?,
        client_secret_key: client_secret_key?,
        extra: obj.extra(),
    })
}

/// An object of string values, as ordered pairs.
fn string_pairs(node: &Node, path: &str, p: &mut Problems) -> Option<Vec<(String, String)>> {
    let Node::Object(entries) = node else {
        p.push(
            path,
            format!(
                "must be an object of query parameters, e.g. {{\"active\": \"true\"}}; found {}",
                node.describe()
            ),
        );
        return None;
    };
    let pairs = entries
        .iter()
        .map(|(key, value)| text(value, &key_path(path, key), p).map(|value| (key.clone(), value)))
        .collect::<Vec<_>>();
    all(pairs)
}

fn roles(node: &Node, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    if let Node::String(role) = node {
        p.push(
            path,
            format!("must be an array of CHT roles: write [{role:?}]"),
        );
        return None;
    }
    let items = array(node, path, "[\"chw\"]", p)?;
    if items.is_empty() {
        p.push(
            path,
            "is empty: add at least one CHT role users of this type get, e.g. [\"chw\"]",
        );
        return None;
    }
    let mut roles: Vec<Option<String>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index_path(path, i);
        let role = non_empty_text(
            item,
            &item_path,
            "write a CHT role name or remove the entry",
            p,
        )
        .filter(|role| {
            if role.trim() != role {
                p.push(
                    &item_path,
                    format!(
                        "{role:?} has spaces around it, so no CHT role matches: write {:?}",
                        role.trim()
                    ),
                );
                false
            } else if roles.iter().flatten().any(|r| r == role) {
                p.push(&item_path, format!("{role:?} is listed twice: remove one"));
                false
            } else {
                true
            }
        });
        roles.push(role);
    }
    all(roles)
}

fn level_number(node: &Node, path: &str, p: &mut Problems) -> Option<u32> {
    let value = match node {
        Node::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u64)
        }),
        _ => None,
    };
    match value.map(u32::try_from) {
        Some(Ok(0)) => {
            p.push(
                path,
                "level 0 belongs to the place being replaced, which is configured in \
                 replacement_property: use 1 for the parent, 2 for the grandparent, …",
            );
            None
        }
        Some(Ok(level)) => Some(level),
        _ => {
            p.push(
                path,
                format!(
                    "must be a whole number from 1 (the parent) upwards; found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

fn unique(node: &Node, path: &str, context: Context, p: &mut Problems) -> Option<Option<Unique>> {
    if matches!(context, Context::Hierarchy | Context::Replacement) {
        let what = if context == Context::Hierarchy {
            "hierarchy levels"
        } else {
            "the replacement property"
        };
        p.push(
            path,
            format!(
                "unique is not allowed on {what}: they name existing places, where repeats are \
                 expected; remove it"
            ),
        );
        return None;
    }
    match node {
        Node::String(s) if s == "all" => Some(Some(Unique::All)),
        Node::String(s) if s == "parent" => Some(Some(Unique::Parent)),
        other => {
            p.push(
                path,
                format!(
                    "must be \"all\" (warn when any place of the type has the value) or \"parent\" \
                     (only places under the same parent); found {}",
                    other.describe()
                ),
            );
            None
        }
    }
}

fn strip_patterns(
    node: &Node,
    path: &str,
    regexes: &mut RegexCache,
    p: &mut Problems,
) -> Option<Vec<JsRegex>> {
    let Node::Array(items) = node else {
        let fix = match node {
            Node::String(s) => format!("put it in brackets: [{s:?}]"),
            _ => "write e.g. [\"\\\\sCHU\"]".to_owned(),
        };
        p.push(
            path,
            format!(
                "type is name, so parameter must be an array of regular expressions removed from \
                 names; found {}: {fix}",
                node.describe()
            ),
        );
        return None;
    };
    let mut patterns = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index_path(path, i);
        let pattern = non_empty_text(item, &item_path, "write a pattern or remove the entry", p)
            .and_then(|source| match compile(regexes, &source, true) {
                Ok(regex) => Some(regex),
                Err(reason) => {
                    p.push(&item_path, format!("the pattern {source:?} {reason}"));
                    None
                }
            });
        patterns.push(pattern);
    }
    all(patterns)
}

fn select_options(
    node: &Node,
    path: &str,
    multiple: bool,
    p: &mut Problems,
) -> Option<Vec<(String, String)>> {
    let Node::Object(entries) = node else {
        p.push(
            path,
            format!(
                "must be an object mapping each stored value to its label, e.g. {{\"yes\": \
                 \"Yes\", \"no\": \"No\"}}; found {}",
                node.describe()
            ),
        );
        return None;
    };
    if entries.is_empty() {
        p.push(
            path,
            "has no options: add each stored value with its label, e.g. {\"yes\": \"Yes\", \
             \"no\": \"No\"}",
        );
        return None;
    }
    let mut options = Vec::new();
    for (key, value) in entries {
        let item_path = key_path(path, key);
        let mut ok = true;
        if key.trim().is_empty() {
            p.push(
                &item_path,
                "an option's value is empty, which reads as no value at all: give it a value \
                 such as \"other\"",
            );
            ok = false;
        } else if multiple && key.chars().any(char::is_whitespace) {
            p.push(
                &item_path,
                format!(
                    "the value {key:?} contains a space, but select_multiple values are separated \
                     by spaces: write it without spaces, e.g. {:?}",
                    key.split_whitespace().collect::<Vec<_>>().join("_")
                ),
            );
            ok = false;
        }
        let label = if let Node::String(label) = value {
            Some(label.clone())
        } else {
            p.push(
                &item_path,
                format!(
                    "the label of {key:?} must be a string, e.g. \"Yes\"; found {}",
                    value.describe()
                ),
            );
            None
        };
        options.push(label.filter(|_| ok).map(|label| (key.clone(), label)));
    }
    all(options)
}

fn unknown_type(found: &str) -> String {
    let lower = found.trim().to_lowercase();
    let hint = if PropertyKind::TYPE_NAMES.contains(&lower.as_str()) {
        format!(" (types are written in lower case: {lower:?})")
    } else {
        match lower.as_str() {
            "gender" | "sex" => " (for sex or gender use select_one with options such as \
                                 {\"male\": \"Male\", \"female\": \"Female\"})"
                .to_owned(),
            "select" | "dropdown" | "enum" | "list" => {
                " (use select_one, or select_multiple when several values may be picked)".to_owned()
            }
            "date" | "birthdate" | "date_of_birth" => " (dates of birth use dob)".to_owned(),
            "text" | "number" | "integer" | "int" => {
                " (use string, or regex to restrict the characters)".to_owned()
            }
            "phone_number" | "tel" | "telephone" => " (phone numbers use phone)".to_owned(),
            _ => String::new(),
        }
    };
    format!(
        "unknown type {found:?}: use one of {}{hint}",
        PropertyKind::TYPE_NAMES.join(", ")
    )
}

fn check_region(region: &str) -> Result<(), String> {
    let known = |code: &str| {
        code.parse::<phonenumber::country::Id>().is_ok()
            && phonenumber::metadata::DATABASE.by_id(code).is_some()
    };
    if known(region) {
        return Ok(());
    }
    let upper = region.trim().to_uppercase();
    if upper != region && known(&upper) {
        return Err(format!(
            "write the country code as {upper:?}: codes are two upper-case letters"
        ));
    }
    Err(format!(
        "{region:?} is not a country the phone number library knows: write a two-letter ISO 3166 \
         code such as \"KE\", \"UG\" or \"TG\""
    ))
}

/// A host name, optionally with `:port`: what UMT puts after `https://`.
fn check_host(host: &str) -> Result<(), String> {
    const EXAMPLE: &str = "write it like \"migori.echis.go.ke\"";
    if let Some((scheme, rest)) = host.split_once("://") {
        let rest = rest.trim_end_matches('/');
        let http = if scheme.eq_ignore_ascii_case("http") {
            " (and set \"useHttp\": true, since the scheme is http)"
        } else {
            ""
        };
        return Err(format!(
            "write only the host name, without {scheme}://: {rest:?}{http}"
        ));
    }
    if host.trim() != host {
        return Err(format!("has spaces around it: write {:?}", host.trim()));
    }
    if let Some((before, _)) = host.split_once('/') {
        return Err(format!(
            "write only the host name, without a path: {before:?} (the portal adds the CHT paths)"
        ));
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port {
        if !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(format!(
                "{port:?} is not a port number (1–65535): {EXAMPLE}"
            ));
        }
    }
    if name.len() > 253 {
        return Err(format!(
            "is longer than the 253 characters a host name may have: {EXAMPLE}"
        ));
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "{host:?} is not a host name (each dot-separated part needs letters, digits or \
                 inner hyphens): {EXAMPLE}"
            ));
        }
    }
    Ok(())
}

/// `https://host[:port]`, exactly as a browser writes an origin.
fn check_origin(origin: &str) -> Result<(), String> {
    let url = url::Url::parse(origin).map_err(|_| {
        format!("{origin:?} is not an origin: write the scheme and host, e.g. \"https://chwregistry.echis.go.ke\"")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{origin:?} is not an http(s) origin: write e.g. \"https://chwregistry.echis.go.ke\""
        ));
    }
    let canonical = url.origin().ascii_serialization();
    if canonical != origin {
        return Err(format!(
            "write just the origin, {canonical:?}: the SSO check compares scheme, host and port \
             exactly, so a path, trailing slash or upper-case letter never matches"
        ));
    }
    Ok(())
}

fn check_http_url(text: &str) -> Result<(), String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(format!(
            "{text:?} is not an http(s) URL: write e.g. \"https://hris5.health.go.ug\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspellings_are_recognised() {
        assert!(looks_like("requried", "required"));
        assert!(looks_like("resultsKey", "resultKey"));
        assert!(looks_like("Friendly_Name", "friendly_name"));
        assert!(looks_like("friendlyName", "friendly_name"));
        assert!(!looks_like("hint", "name"));
        assert!(!looks_like("level", "type"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn hosts() {
        assert!(check_host("migori.echis.go.ke").is_ok());
        assert!(check_host("localhost:5988").is_ok());
        assert!(check_host("10.0.0.2").is_ok());
        assert!(
            check_host("https://a.b")
                .unwrap_err()
                .contains("without https://: \"a.b\"")
        );
        assert!(check_host("http://a.b/").unwrap_err().contains("useHttp"));
        assert!(
            check_host("a.b/medic")
                .unwrap_err()
                .contains("without a path: \"a.b\"")
        );
        assert!(check_host(" a.b").unwrap_err().contains("spaces"));
        assert!(check_host("a..b").unwrap_err().contains("not a host name"));
        assert!(check_host("a_b.c").unwrap_err().contains("not a host name"));
        assert!(check_host("a.b:0").unwrap_err().contains("port"));
        assert!(check_host("a.b:http").unwrap_err().contains("port"));
    }

    #[test]
    fn origins() {
        assert!(check_origin("https://chwregistry.echis.go.ke").is_ok());
        assert!(check_origin("http://localhost:8080").is_ok());
        assert!(
            check_origin("https://a.b/")
                .unwrap_err()
                .contains("\"https://a.b\"")
        );
        assert!(
            check_origin("https://A.b")
                .unwrap_err()
                .contains("\"https://a.b\"")
        );
        assert!(check_origin("a.b").unwrap_err().contains("not an origin"));
        assert!(
            check_origin("ftp://a.b")
                .unwrap_err()
                .contains("not an http(s) origin")
        );
    }

    #[test]
    fn regions() {
        assert!(check_region("KE").is_ok());
        assert!(check_region("UG").is_ok());
        assert!(check_region("TG").is_ok());
        assert!(check_region("ke").unwrap_err().contains("\"KE\""));
        assert!(check_region("XX").unwrap_err().contains("not a country"));
        assert!(check_region("KEN").unwrap_err().contains("not a country"));
        assert!(check_region("+254").unwrap_err().contains("not a country"));
    }
}
