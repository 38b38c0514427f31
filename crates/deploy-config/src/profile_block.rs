//! The config's optional `portal.profile` block: read, checked with JSON paths, and merged over
//! the built-in profile into the [`DeploymentProfile`] in force.
//!
//! The block stays in the config's `extra` members untouched (so a download gives it back as
//! uploaded); UMT reads only the members it names, so it ignores the block.

use crate::model::ContactType;
use crate::problem::{Problems, index_path, key_path};
use crate::profile::{
    DeploymentProfile, InheritSource, InheritedProperty, PlaceTypeProfile, ProfileBase,
    ProfileChoice, SourcePlace, built_in, recognise,
};
use crate::raw::Node;

/// The top-level member holding the portal's own settings.
pub const EXTENSION_KEY: &str = "portal";

const PORTAL_KEYS: &[&str] = &["profile"];
const PROFILE_KEYS: &[&str] = &["base", "place_types"];
const TYPE_KEYS: &[&str] = &["name_suffix", "inherit"];
const INHERIT_KEYS: &[&str] = &["property", "from"];
const SOURCE_KEYS: &[&str] = &["place", "property"];

/// Attributes CHT or the portal set on every place: a profile cannot fill them.
const RESERVED: &[&str] = &[
    "name",
    "_id",
    "_rev",
    "type",
    "contact_type",
    "parent",
    "contact",
    "reported_date",
    "user_attribution",
];

/// The block as read: `None` members were absent.
#[derive(Default)]
struct Block {
    /// `Some(None)`: `"base": "none"`.
    base: Option<Option<&'static str>>,
    place_types: Vec<TypeBlock>,
}

struct TypeBlock {
    path: String,
    place_type: String,
    /// `Some("")` removes the base profile's suffix.
    name_suffix: Option<String>,
    /// `(path, property, sources)`; no sources removes the base profile's entry.
    inherit: Vec<(String, String, Vec<InheritSource>)>,
}

/// The profile in force for a config whose top-level members are `root` and whose contact
/// types (when they could be read) are `types`. Problems of the block are pushed to `p`.
pub(crate) fn effective(
    root: &[(String, Node)],
    types: Option<&[ContactType]>,
    p: &mut Problems,
) -> DeploymentProfile {
    let member = |key: &str| {
        root.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, Node::Null))
    };
    let block = member(EXTENSION_KEY)
        .and_then(|node| read_portal(node, &key_path("$", EXTENSION_KEY), p))
        .unwrap_or_default();
    let type_names: Vec<&str> = types
        .unwrap_or_default()
        .iter()
        .map(|t| t.name.as_str())
        .collect();

    let base = match block.base {
        Some(Some(id)) => ProfileBase::BuiltIn {
            id,
            chosen_by: ProfileChoice::Extension,
        },
        Some(None) => ProfileBase::None,
        None => match member("name") {
            // A name that is no built-in profile's (CHIS-UG, say) means no profile, as in UMT.
            Some(Node::String(name)) => {
                built_in(name).map_or(ProfileBase::None, |(id, _)| ProfileBase::BuiltIn {
                    id,
                    chosen_by: ProfileChoice::ConfigName,
                })
            }
            _ => recognise(&type_names).map_or(ProfileBase::None, |id| ProfileBase::BuiltIn {
                id,
                chosen_by: ProfileChoice::Recognised,
            }),
        },
    };

    let mut entries: Vec<PlaceTypeProfile> = match base {
        ProfileBase::BuiltIn { id, .. } => built_in(id).map(|(_, e)| e).unwrap_or_default(),
        ProfileBase::None => Vec::new(),
    };
    // A built-in entry never fights the config: types it lacks, and properties its rows enter,
    // are left to the config.
    entries.retain(|e| type_names.contains(&e.place_type.as_str()));
    for entry in &mut entries {
        let entered = entered_properties(types, &entry.place_type);
        entry
            .inherit
            .retain(|i| !entered.contains(&i.property.as_str()));
    }

    let extended = !block.place_types.is_empty();
    for type_block in block.place_types {
        merge(&mut entries, type_block, types, p);
    }
    entries.retain(|e| e.name_suffix.is_some() || !e.inherit.is_empty());
    entries.sort_by_key(|e| type_names.iter().position(|t| *t == e.place_type));
    DeploymentProfile {
        base,
        extended,
        place_types: entries,
    }
}

/// The place properties a type's rows give (entered or generated).
fn entered_properties<'a>(types: Option<&'a [ContactType]>, place_type: &str) -> Vec<&'a str> {
    types
        .unwrap_or_default()
        .iter()
        .find(|t| t.name == place_type)
        .map(|t| {
            t.place_properties
                .iter()
                .map(|p| p.property_name.as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Applies one `place_types` member of the block over the base entries, checking it against the
/// config's contact types.
fn merge(
    entries: &mut Vec<PlaceTypeProfile>,
    block: TypeBlock,
    types: Option<&[ContactType]>,
    p: &mut Problems,
) {
    if let Some(types) = types {
        if !types.iter().any(|t| t.name == block.place_type) {
            let known: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
            p.push(
                block.path,
                format!(
                    "{:?} is not a place type this config creates: use the name of one of its \
                     contact_types ({})",
                    block.place_type,
                    known.join(", ")
                ),
            );
            return;
        }
    }
    let entered = entered_properties(types, &block.place_type);
    let index = if let Some(i) = entries
        .iter()
        .position(|e| e.place_type == block.place_type)
    {
        i
    } else {
        entries.push(PlaceTypeProfile {
            place_type: block.place_type.clone(),
            name_suffix: None,
            inherit: Vec::new(),
        });
        entries.len() - 1
    };
    let entry = &mut entries[index];
    if let Some(suffix) = block.name_suffix {
        entry.name_suffix = Some(suffix).filter(|s| !s.is_empty());
    }
    let mut declared: Vec<String> = Vec::new();
    for (path, property, from) in block.inherit {
        let property_path = key_path(&path, "property");
        if declared.contains(&property) {
            p.push(
                property_path,
                format!(
                    "{property:?} is inherited twice for {:?}: keep one entry, with its sources \
                     in order",
                    block.place_type
                ),
            );
            continue;
        }
        declared.push(property.clone());
        if RESERVED.contains(&property.as_str()) {
            p.push(
                property_path,
                format!(
                    "{property:?} is set by CHT or the portal on every place and cannot be \
                     inherited: choose another property"
                ),
            );
            continue;
        }
        if entered.contains(&property.as_str()) {
            p.push(
                property_path,
                format!(
                    "{property:?} is one of {:?}'s place_properties, so rows already give it: \
                     remove it from place_properties or from inherit",
                    block.place_type
                ),
            );
            continue;
        }
        entry.inherit.retain(|i| i.property != property);
        if !from.is_empty() {
            entry.inherit.push(InheritedProperty { property, from });
        }
    }
}

/// `$.portal`.
fn read_portal(node: &Node, path: &str, p: &mut Problems) -> Option<Block> {
    let members = object(
        node,
        path,
        PORTAL_KEYS,
        "the portal's own settings, ignored by UMT",
        p,
    )?;
    match member(&members, "profile") {
        None => Some(Block::default()),
        Some(node) => read_profile(node, &key_path(path, "profile"), p),
    }
}

/// `$.portal.profile`.
fn read_profile(node: &Node, path: &str, p: &mut Problems) -> Option<Block> {
    let members = object(node, path, PROFILE_KEYS, "the deployment profile", p)?;
    let mut block = Block::default();
    if let Some(node) = member(&members, "base") {
        let base_path = key_path(path, "base");
        block.base = match node {
            Node::String(id) if id.trim().eq_ignore_ascii_case("none") => Some(None),
            Node::String(id) => {
                if let Some((id, _)) = built_in(id) {
                    Some(Some(id))
                } else {
                    p.push(
                        base_path,
                        format!(
                            "{id:?} is not a built-in profile: write one of {} or \"none\"",
                            built_in_list()
                        ),
                    );
                    None
                }
            }
            other => {
                p.push(
                    base_path,
                    format!(
                        "must be a string: a built-in profile ({}) or \"none\"; found {}",
                        built_in_list(),
                        other.describe()
                    ),
                );
                None
            }
        };
    }
    if let Some(node) = member(&members, "place_types") {
        let types_path = key_path(path, "place_types");
        if let Node::Object(types) = node {
            for (place_type, node) in types {
                let type_path = key_path(&types_path, place_type);
                if let Some(type_block) = read_type(place_type, node, &type_path, p) {
                    block.place_types.push(type_block);
                }
            }
        } else {
            p.push(
                types_path,
                format!(
                    "must be an object keyed by place type, e.g. {{\"c_community_health_unit\": \
                     {{\"name_suffix\": \" Community Health Unit\"}}}}; found {}",
                    node.describe()
                ),
            );
        }
    }
    Some(block)
}

/// `$.portal.profile.place_types.<type>`.
fn read_type(place_type: &str, node: &Node, path: &str, p: &mut Problems) -> Option<TypeBlock> {
    let what = "what the profile does for this place type";
    let members = object(node, path, TYPE_KEYS, what, p)?;
    let name_suffix = member(&members, "name_suffix").and_then(|node| {
        let suffix_path = key_path(path, "name_suffix");
        let suffix = string(node, &suffix_path, "e.g. \" Community Health Unit\"", p)?;
        if !suffix.is_empty() && suffix.trim().is_empty() {
            p.push(
                suffix_path,
                "is only spaces: write the words to append (with a leading space), or \"\" for \
                 no suffix",
            );
            return None;
        }
        Some(suffix)
    });
    let mut inherit = Vec::new();
    if let Some(node) = member(&members, "inherit") {
        let inherit_path = key_path(path, "inherit");
        match node {
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = index_path(&inherit_path, i);
                    if let Some((property, from)) = read_inherited(item, &item_path, p) {
                        inherit.push((item_path, property, from));
                    }
                }
            }
            other => p.push(
                inherit_path,
                format!(
                    "must be an array of {{\"property\": …, \"from\": […]}} objects; found {}",
                    other.describe()
                ),
            ),
        }
    }
    Some(TypeBlock {
        path: path.to_owned(),
        place_type: place_type.to_owned(),
        name_suffix,
        inherit,
    })
}

/// One `inherit` entry: the property written and its sources.
fn read_inherited(
    node: &Node,
    path: &str,
    p: &mut Problems,
) -> Option<(String, Vec<InheritSource>)> {
    let what = "a property copied from another place";
    let members = object(node, path, INHERIT_KEYS, what, p)?;
    let property = required_name(&members, "property", path, "e.g. \"chu_code\"", p);
    let from_path = key_path(path, "from");
    let from = match member(&members, "from") {
        None => {
            p.push(
                from_path,
                "is missing: list where to copy from, in order, e.g. [{\"place\": \"parent\", \
                 \"property\": \"code\"}, {\"place\": \"sibling\", \"property\": \"chu_code\"}] \
                 (or [] to stop inheriting a property the built-in profile copies)",
            );
            None
        }
        Some(Node::Array(items)) => {
            let sources: Vec<Option<InheritSource>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| read_source(item, &index_path(&from_path, i), p))
                .collect();
            sources.into_iter().collect::<Option<Vec<_>>>()
        }
        Some(other) => {
            p.push(
                from_path,
                format!(
                    "must be an array of {{\"place\": \"parent\"|\"sibling\", \"property\": …}} \
                     objects; found {}",
                    other.describe()
                ),
            );
            None
        }
    };
    Some((property?, from?))
}

/// One source of an `inherit` entry.
fn read_source(node: &Node, path: &str, p: &mut Problems) -> Option<InheritSource> {
    let members = object(node, path, SOURCE_KEYS, "a place to copy from", p)?;
    let place_path = key_path(path, "place");
    let place = match member(&members, "place") {
        Some(Node::String(place)) if place == "parent" => Some(SourcePlace::Parent),
        Some(Node::String(place)) if place == "sibling" => Some(SourcePlace::Sibling),
        Some(other) => {
            p.push(
                place_path,
                format!(
                    "must be \"parent\" (the new place's parent) or \"sibling\" (another place of \
                     its type under the same parent); found {}",
                    other.describe()
                ),
            );
            None
        }
        None => {
            p.push(place_path, "is missing: write \"parent\" or \"sibling\"");
            None
        }
    };
    let property = required_name(&members, "property", path, "e.g. \"code\"", p);
    Some(InheritSource {
        place: place?,
        property: property?,
    })
}

/// Member `key` of an object: a non-blank string without surrounding spaces.
fn required_name(
    members: &[(&str, &Node)],
    key: &str,
    path: &str,
    example: &str,
    p: &mut Problems,
) -> Option<String> {
    let path = key_path(path, key);
    let Some(node) = member(members, key) else {
        p.push(
            path,
            format!("is missing: write the property's name, {example}"),
        );
        return None;
    };
    let name = string(node, &path, example, p)?;
    if name.trim().is_empty() || name.trim() != name {
        p.push(
            path,
            format!("must be a property name without spaces around it, {example}; found {name:?}"),
        );
        return None;
    }
    Some(name)
}

fn string(node: &Node, path: &str, example: &str, p: &mut Problems) -> Option<String> {
    if let Node::String(s) = node {
        Some(s.clone())
    } else {
        p.push(
            path,
            format!(
                "must be a string (text in double quotes), {example}; found {}",
                node.describe()
            ),
        );
        None
    }
}

/// The object's members (the last of a repeated key, `null` dropped), after reporting members
/// the block does not know: unlike UMT's members, the block is the portal's own, so a misspelt
/// key is a mistake, not a newer version's field.
fn object<'a>(
    node: &'a Node,
    path: &str,
    known: &[&str],
    what: &str,
    p: &mut Problems,
) -> Option<Vec<(&'a str, &'a Node)>> {
    let Node::Object(entries) = node else {
        p.push(
            path,
            format!(
                "must be an object {{ … }} ({what}); found {}",
                node.describe()
            ),
        );
        return None;
    };
    let mut members: Vec<(&str, &Node)> = Vec::new();
    for (key, value) in entries {
        if !known.contains(&key.as_str()) {
            p.push(
                key_path(path, key),
                format!(
                    "is not a member the portal knows here: write one of {}",
                    known.join(", ")
                ),
            );
            continue;
        }
        members.retain(|(k, _)| k != key);
        if !matches!(value, Node::Null) {
            members.push((key, value));
        }
    }
    Some(members)
}

fn member<'a>(members: &[(&str, &'a Node)], key: &str) -> Option<&'a Node> {
    members.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn built_in_list() -> String {
    crate::profile::BUILT_IN_PROFILES
        .iter()
        .map(|id| format!("{id:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
