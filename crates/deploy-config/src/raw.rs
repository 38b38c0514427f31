//! The loose raw form: any JSON document, with object keys kept in file order (duplicates too).
//!
//! Parsing first into this form, rather than straight into typed structs, lets validation walk the
//! whole document and report every problem with its path, instead of stopping at serde's first
//! type error. Keeping key order matters for select options and for the order users see.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::problem::{ConfigProblem, Problems, key_path};
use crate::{DeploymentConfig, validate};

/// A JSON value whose objects keep their keys in file order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// A short description of the value, for "found …" in problem reasons.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Null => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => format!("the number {n}"),
            Self::String(s) => {
                let shown: String = s.chars().take(60).collect();
                let ellipsis = if s.chars().count() > 60 { "…" } else { "" };
                format!("the text {:?}", format!("{shown}{ellipsis}"))
            }
            Self::Array(_) => "an array".to_owned(),
            Self::Object(_) => "an object".to_owned(),
        }
    }

    /// Converts to a `serde_json::Value` (duplicate keys: the last one wins, as in `JSON.parse`).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(s) => Value::String(s.clone()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.clone(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// Reports every key that appears twice in one object, anywhere in the document.
    pub(crate) fn report_duplicate_keys(&self, path: &str, problems: &mut Problems) {
        match self {
            Self::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.report_duplicate_keys(&format!("{path}[{i}]"), problems);
                }
            }
            Self::Object(entries) => {
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for (key, value) in entries {
                    let count = seen.entry(key.as_str()).or_insert(0);
                    *count += 1;
                    if *count == 2 {
                        problems.push(
                            key_path(path, key),
                            format!(
                                "the key {key:?} appears more than once in this object; JSON \
                                 readers keep only the last one, so remove the other"
                            ),
                        );
                    }
                    value.report_duplicate_keys(&key_path(path, key), problems);
                }
            }
            _ => {}
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        // JSON text cannot spell NaN or infinity, so this only fails for other deserializers.
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

/// A deployment config parsed as JSON but not yet validated.
///
/// Step one of [`crate::check`]: [`RawConfig::from_slice`] only checks JSON syntax;
/// [`RawConfig::validate`] then checks everything else and builds the typed model.
#[derive(Debug, Clone, PartialEq)]
pub struct RawConfig(pub(crate) Node);

impl RawConfig {
    /// Parses JSON text. A leading UTF-8 byte-order mark is ignored (Windows editors add one).
    ///
    /// # Errors
    /// A single problem at `$` when the bytes are empty, not UTF-8, or not JSON, with the line and
    /// column of the first syntax error.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ConfigProblem> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let (line, column) = line_column(bytes, e.valid_up_to());
                return Err(ConfigProblem::new(
                    "$",
                    format!(
                        "the file is not UTF-8 text (an invalid byte at line {line}, column \
                         {column}): save it as UTF-8 JSON"
                    ),
                ));
            }
        };
        if text.trim().is_empty() {
            return Err(ConfigProblem::new(
                "$",
                "the file is empty: upload the deployment config JSON (an object with domains \
                 and contact_types)",
            ));
        }
        serde_json::from_str::<Node>(text)
            .map(RawConfig)
            .map_err(|e| syntax_problem(&e))
    }

    /// Builds a raw config from an already-parsed JSON value (key order is then that of the
    /// value's map).
    #[must_use]
    pub fn from_value(value: &Value) -> Self {
        fn node(value: &Value) -> Node {
            match value {
                Value::Null => Node::Null,
                Value::Bool(b) => Node::Bool(*b),
                Value::Number(n) => Node::Number(n.clone()),
                Value::String(s) => Node::String(s.clone()),
                Value::Array(items) => Node::Array(items.iter().map(node).collect()),
                Value::Object(map) => {
                    Node::Object(map.iter().map(|(k, v)| (k.clone(), node(v))).collect())
                }
            }
        }
        Self(node(value))
    }

    /// Checks every rule and converts to the typed model.
    ///
    /// # Errors
    /// Every problem found, in document order, followed by those that relate several parts of the
    /// document (such as duplicate names).
    pub fn validate(&self) -> Result<DeploymentConfig, Vec<ConfigProblem>> {
        validate::validate(&self.0)
    }
}

impl<'de> Deserialize<'de> for RawConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Node::deserialize(deserializer).map(RawConfig)
    }
}

/// Lets the typed model be read from anywhere serde reads (a database JSON column, say): the value
/// is validated, and all problems become one error message.
impl<'de> Deserialize<'de> for DeploymentConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawConfig::deserialize(deserializer)?;
        raw.validate().map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            de::Error::custom(format!("invalid deployment config: {}", lines.join("; ")))
        })
    }
}

fn syntax_problem(e: &serde_json::Error) -> ConfigProblem {
    // serde_json's message ends with " at line L column C"; say it our way instead.
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head);
    let hint = match e.classify() {
        serde_json::error::Category::Eof => {
            "the file ends too early: look for an unclosed { [ or \" (or a truncated upload)"
        }
        _ => {
            "fix the syntax there (a missing or extra comma, or a missing quote, is the usual cause)"
        }
    };
    ConfigProblem::new(
        "$",
        format!(
            "not valid JSON at line {}, column {}: {message}; {hint}",
            e.line(),
            e.column()
        ),
    )
}

/// 1-based line and column of byte `offset` (columns count bytes, as serde_json's do).
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(bytes: &[u8]) -> ConfigProblem {
        RawConfig::from_slice(bytes).expect_err("should fail")
    }

    #[test]
    fn keeps_key_order_and_duplicates() {
        let raw = RawConfig::from_slice(br#"{"b": 1, "a": {"z": 1, "y": 2}, "b": 3}"#).unwrap();
        let Node::Object(entries) = raw.0 else {
            panic!("object expected")
        };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let p =
            problem(b"{\n  \"domains\": [\n    {\"friendly\": \"A\" \"domain\": \"a\"}\n  ]\n}");
        assert_eq!(p.path, "$");
        assert!(
            p.reason
                .starts_with("not valid JSON at line 3, column 22: expected `,` or `}`"),
            "{p}"
        );
        assert!(p.reason.contains("missing or extra comma"), "{p}");
    }

    #[test]
    fn truncated_files_are_explained() {
        let p = problem(b"{\"domains\": [");
        assert!(p.reason.contains("line 1, column 13"), "{p}");
        assert!(p.reason.contains("ends too early"), "{p}");
    }

    #[test]
    fn empty_and_non_utf8_files_are_explained() {
        assert!(problem(b"").reason.contains("the file is empty"));
        assert!(problem(b"  \n ").reason.contains("the file is empty"));
        let p = problem(b"{\n \"a\": \"caf\xE9\"}");
        assert!(p.reason.contains("not UTF-8"), "{p}");
        assert!(p.reason.contains("line 2, column 11"), "{p}");
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert!(RawConfig::from_slice(b"\xEF\xBB\xBF{}").is_ok());
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        assert!(problem(b"{} x").reason.contains("trailing characters"));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        let p = problem(deep.as_bytes());
        assert!(p.reason.contains("recursion limit"), "{p}");
    }

    #[test]
    fn duplicate_keys_are_reported_once_each() {
        let raw =
            RawConfig::from_slice(br#"{"a": 1, "a": 2, "a": 3, "b": [{"c": 1, "c": 2}]}"#).unwrap();
        let mut problems = Problems::default();
        raw.0.report_duplicate_keys("$", &mut problems);
        let paths: Vec<String> = problems.into_vec().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["$.a", "$.b[0].c"]);
    }
}
