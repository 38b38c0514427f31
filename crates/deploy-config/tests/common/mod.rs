//! Helpers shared by the integration tests: a minimal valid config and edits to it.

#![allow(dead_code)]

use portal_deploy_config::{ConfigProblem, DeploymentConfig, check};
use serde_json::{Value, json};

pub const KENYA: &[u8] = include_bytes!("../fixtures/chis-ke.config.json");
pub const UGANDA: &[u8] = include_bytes!("../fixtures/chis-ug.config.json");

/// The smallest config that passes every rule: one instance, one type.
pub fn base() -> Value {
    json!({
        "domains": [{"friendly": "Test", "domain": "test.echis.go.ke"}],
        "contact_types": [{
            "name": "chp_area",
            "friendly": "CHP Area",
            "contact_type": "person",
            "user_role": ["chw"],
            "username_from_place": false,
            "deactivate_users_on_replace": false,
            "hierarchy": [{
                "friendly_name": "CHU",
                "property_name": "CHU",
                "contact_type": "chu",
                "type": "name",
                "required": true,
                "level": 1
            }],
            "replacement_property": {
                "friendly_name": "Outgoing CHP",
                "property_name": "replacement",
                "type": "name",
                "required": true
            },
            "place_properties": [{
                "friendly_name": "Area Name",
                "property_name": "name",
                "type": "string",
                "required": true
            }],
            "contact_properties": [{
                "friendly_name": "CHP Name",
                "property_name": "name",
                "type": "name",
                "required": true
            }]
        }]
    })
}

/// Sets the value at a JSON pointer, creating the last member if needed.
pub fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a slash");
    let parent = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no parent at {parent}"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().expect("array index");
            if index == items.len() {
                items.push(value);
            } else {
                items[index] = value;
            }
        }
        other => panic!("cannot set {key} in {other}"),
    }
}

/// Removes the member or element at a JSON pointer.
pub fn remove(doc: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a slash");
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(key)
                .unwrap_or_else(|| panic!("nothing at {pointer}"));
        }
        Some(Value::Array(items)) => {
            items.remove(key.parse::<usize>().expect("array index"));
        }
        _ => panic!("nothing at {pointer}"),
    }
}

pub fn edited(edits: impl FnOnce(&mut Value)) -> Value {
    let mut doc = base();
    edits(&mut doc);
    doc
}

pub fn valid(doc: &Value) -> DeploymentConfig {
    check(&serde_json::to_vec(doc).unwrap())
        .unwrap_or_else(|problems| panic!("expected a valid config, got:\n{}", listing(&problems)))
}

pub fn problems(doc: &Value) -> Vec<ConfigProblem> {
    check(&serde_json::to_vec(doc).unwrap()).expect_err("expected problems")
}

pub fn listing(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}\n"))
        .collect::<String>()
}

/// Asserts the edits produce exactly one problem, at `path`, whose reason has every fragment.
pub fn only_problem(doc: &Value, path: &str, fragments: &[&str]) -> ConfigProblem {
    let found = problems(doc);
    assert_eq!(
        found.len(),
        1,
        "expected one problem at {path}, got:\n{}",
        listing(&found)
    );
    assert_has(&found, path, fragments);
    found.into_iter().next().unwrap()
}

/// Asserts one of the problems is at `path` and its reason has every fragment.
pub fn assert_has(found: &[ConfigProblem], path: &str, fragments: &[&str]) {
    let hit = found
        .iter()
        .any(|p| p.path == path && fragments.iter().all(|f| p.reason.contains(f)));
    assert!(
        hit,
        "no problem at {path} containing {fragments:?}; got:\n{}",
        listing(found)
    );
}
