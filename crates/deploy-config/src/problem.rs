//! Problems found in a config, and the JSON paths that locate them.

use serde::Serialize;

/// One thing wrong with a deployment config: where it is and how to fix it.
///
/// `path` is a JSON path from the document root (`$`), such as
/// `$.contact_types[1].place_properties[0].parameter`, so a UI can point at the exact value.
/// `reason` is a sentence for the person who maintains the file: what is wrong and what to write
/// instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ConfigProblem {
    /// JSON path of the offending value (or of the missing field, or of the object lacking it).
    pub path: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl ConfigProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Renders problems as a JSON array of `{"path": …, "reason": …}` objects, in the order found.
///
/// This is the machine-readable output of `cht-portal config check --json` and of API answers.
#[must_use]
pub fn render_problems_json(problems: &[ConfigProblem]) -> String {
    // Serialising plain strings into JSON cannot fail.
    serde_json::to_string_pretty(problems).unwrap_or_else(|_| String::from("[]"))
}

/// Renders the outcome of a check as one JSON array: each entry is
/// `{"severity": "error"|"warning", "path": …, "reason": …}`, errors first.
///
/// A config with errors is refused; one with only warnings is accepted. This is the output of
/// `cht-portal config check --json`; the entries keep the members of [`render_problems_json`].
#[must_use]
pub fn render_check_json(errors: &[ConfigProblem], warnings: &[ConfigProblem]) -> String {
    #[derive(Serialize)]
    struct Entry<'a> {
        severity: &'static str,
        #[serde(flatten)]
        problem: &'a ConfigProblem,
    }
    let entries: Vec<Entry<'_>> = (errors.iter().map(|problem| Entry {
        severity: "error",
        problem,
    }))
    .chain(warnings.iter().map(|problem| Entry {
        severity: "warning",
        problem,
    }))
    .collect();
    serde_json::to_string_pretty(&entries).unwrap_or_else(|_| String::from("[]"))
}

/// Collects problems while a document is walked, so that every problem is reported at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ConfigProblem>);

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push(ConfigProblem::new(path, reason));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<ConfigProblem> {
        self.0
    }
}

/// The path of member `key` of the object at `parent`: `$.a.b`, or `$.a["odd key"]` when the key is
/// not a plain identifier.
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{parent}.{key}")
    } else {
        // A JSON string literal is a valid, unambiguous bracket key.
        let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""));
        format!("{parent}[{quoted}]")
    }
}

/// The path of element `index` of the array at `parent`: `$.a[3]`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_use_dots_for_identifiers_and_brackets_otherwise() {
        assert_eq!(key_path("$", "domains"), "$.domains");
        assert_eq!(key_path("$.a", "is_filter"), "$.a.is_filter");
        assert_eq!(key_path("$.a", "with space"), r#"$.a["with space"]"#);
        assert_eq!(key_path("$.a", ""), r#"$.a[""]"#);
        assert_eq!(key_path("$.a", "1st"), r#"$.a["1st"]"#);
        assert_eq!(key_path("$.a", "quote\"d"), r#"$.a["quote\"d"]"#);
        assert_eq!(index_path("$.a", 2), "$.a[2]");
    }

    #[test]
    fn display_is_path_colon_reason() {
        let p = ConfigProblem::new("$.domains", "is missing");
        assert_eq!(p.to_string(), "$.domains: is missing");
    }

    #[test]
    fn problems_render_as_a_json_array() {
        let json = render_problems_json(&[
            ConfigProblem::new("$.a", "first"),
            ConfigProblem::new("$.b", "second \"quoted\""),
        ]);
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(
            value,
            serde_json::json!([
                {"path": "$.a", "reason": "first"},
                {"path": "$.b", "reason": "second \"quoted\""}
            ])
        );
        assert_eq!(render_problems_json(&[]), "[]");
    }

    #[test]
    fn a_check_renders_errors_then_warnings_with_their_severity() {
        let json = render_check_json(
            &[ConfigProblem::new("$.a", "broken")],
            &[ConfigProblem::new("$.b", "worth fixing")],
        );
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(
            value,
            serde_json::json!([
                {"severity": "error", "path": "$.a", "reason": "broken"},
                {"severity": "warning", "path": "$.b", "reason": "worth fixing"}
            ])
        );
        assert_eq!(render_check_json(&[], &[]), "[]");
    }
}
