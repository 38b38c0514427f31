//! Shared helpers: configs, places and dates for the integration tests.
#![allow(dead_code)]

use chrono::NaiveDate;
use portal_deploy_config::{ContactType, DeploymentConfig};
use std::sync::Arc;

use portal_staging::{Batch, Engine, Limits, PlaceIndex, PlaceRecord, Scope, Validator, decode};

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).expect("a date")
}

/// A config holding the given contact types (JSON objects).
pub fn config(contact_types: &str) -> DeploymentConfig {
    let json = format!(
        r#"{{"domains": [{{"friendly": "Test", "domain": "test.example.org"}}],
            "contact_types": [{contact_types}]}}"#
    );
    portal_deploy_config::check(json.as_bytes())
        .unwrap_or_else(|problems| panic!("test config is invalid: {problems:?}"))
}

pub fn kenya() -> DeploymentConfig {
    portal_deploy_config::check(include_bytes!("../fixtures/chis-ke.config.json"))
        .expect("the Kenya config is valid")
}

pub fn uganda() -> DeploymentConfig {
    portal_deploy_config::check(include_bytes!("../fixtures/chis-ug.config.json"))
        .expect("the Uganda config is valid")
}

pub fn contact_type<'a>(config: &'a DeploymentConfig, name: &str) -> &'a ContactType {
    config.contact_type(name).expect("the contact type exists")
}

/// A CHP-area type: District (3, optional) → Sub County (2, optional) → CHU (1), a generated
/// place name unique among siblings, a phone unique overall.
pub const CHP: &str = r#"{
    "name": "chp_area", "friendly": "CHP Area", "contact_type": "person",
    "user_role": ["chw"], "username_from_place": false, "deactivate_users_on_replace": false,
    "hierarchy": [
        {"friendly_name": "District", "property_name": "DISTRICT", "contact_type": "district",
         "type": "name", "required": false, "level": 3},
        {"friendly_name": "Sub County", "property_name": "SUBCOUNTY", "contact_type": "sub_county",
         "type": "name", "required": false, "level": 2},
        {"friendly_name": "CHU", "property_name": "CHU", "contact_type": "chu", "type": "name",
         "parameter": ["\\sCHU", "\\sCommunity Health Unit"], "required": true, "level": 1}
    ],
    "replacement_property": {"friendly_name": "Outgoing CHP", "property_name": "replacement",
        "type": "name", "parameter": ["\\sArea"], "required": true},
    "place_properties": [
        {"friendly_name": "Area Name", "property_name": "name", "type": "generated",
         "parameter": "{{ contact.name }} Area", "required": true, "unique": "parent"}
    ],
    "contact_properties": [
        {"friendly_name": "Name", "property_name": "name", "type": "name", "required": true},
        {"friendly_name": "Phone", "property_name": "phone", "type": "phone", "parameter": "KE",
         "required": true, "unique": "all"}
    ]
}"#;

fn place(id: &str, contact_type: &str, name: &str, parent: Option<&str>) -> PlaceRecord {
    PlaceRecord {
        id: id.to_owned(),
        contact_type: contact_type.to_owned(),
        name: name.to_owned(),
        parent_id: parent.map(str::to_owned),
    }
}

/// Two districts; two sub-counties called Kibwezi in different districts; CHUs named Kyamboo
/// in two sub-counties (one with the suffix CHT keeps); two CHP areas under the first Kyamboo.
pub fn places() -> PlaceIndex {
    PlaceIndex::new([
        place("d1", "district", "Makueni", None),
        place("d2", "district", "Kitui", None),
        place("s1", "sub_county", "Kibwezi", Some("d1")),
        place("s2", "sub_county", "Mutomo", Some("d2")),
        place("s3", "sub_county", "Kibwezi", Some("d2")),
        place("c1", "chu", "Kyamboo CHU", Some("s1")),
        place("c2", "chu", "Kyamboo", Some("s2")),
        place("c3", "chu", "Ngaamba Community Health Unit", Some("s1")),
        place("c4", "chu", "Kalawa", Some("s3")),
        place("a1", "chp_area", "Jane Doe Area", Some("c1")),
        place("a2", "chp_area", "Mary Wanjiku Area", Some("c1")),
    ])
}

pub fn record(id: &str, contact_type: &str, name: &str, parent: Option<&str>) -> PlaceRecord {
    place(id, contact_type, name, parent)
}

/// Decodes `csv` and validates it against `contact_type`.
pub fn stage(contact_type: &ContactType, index: &PlaceIndex, scope: &Scope, csv: &str) -> Batch {
    let validator = Arc::new(Validator::new(contact_type).expect("the type compiles"));
    let table = decode(csv.as_bytes(), &Limits::default()).expect("the CSV decodes");
    Engine::new(validator, Arc::new(index.clone()))
        .validate_table(&table, scope, today())
        .unwrap_or_else(|e| panic!("{e}"))
}
