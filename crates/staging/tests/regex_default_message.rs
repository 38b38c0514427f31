//! A `regex` property without `errorDescription` (as in several deployed francophone configs):
//! a value that does not match gets a default message naming the column and the pattern.

mod common;

use common::{config, contact_type, places};
use portal_staging::{RowStatus, Scope};

/// A village type with French labels; its code is a regex with no `errorDescription`.
const VILLAGE: &str = r#"{
    "name": "c40_village", "friendly": "Village", "contact_type": "c40_village",
    "user_role": ["asc"], "username_from_place": false, "deactivate_users_on_replace": true,
    "hierarchy": [
        {"friendly_name": "Unité de soins", "property_name": "UNITE", "contact_type": "chu",
         "type": "name", "required": true, "level": 1}
    ],
    "replacement_property": {"friendly_name": "Agent sortant", "property_name": "remplacement",
        "type": "name", "required": true},
    "place_properties": [
        {"friendly_name": "Nom du village", "property_name": "name", "type": "name", "required": true},
        {"friendly_name": "Code du village", "property_name": "code_village", "type": "regex",
         "parameter": "^[A-Z]{2}\\d{3}$", "required": true}
    ],
    "contact_properties": [
        {"friendly_name": "Nom de l'agent", "property_name": "name", "type": "name", "required": true}
    ]
}"#;

#[test]
fn a_bad_value_of_an_undescribed_regex_gets_a_default_message() {
    let config = config(VILLAGE);
    let batch = common::stage(
        contact_type(&config, "c40_village"),
        &places(),
        &Scope::All,
        "Unité de soins,Agent sortant,Nom du village,Code du village,Nom de l'agent\n\
         Kalawa,,Adakpamé,AD123,Afi Mensah\n\
         Kalawa,,Bè Kpota,12-AB,Kossi Agbeko\n",
    );
    let good = batch.row(0).unwrap();
    assert!(good.problems().is_empty(), "{:?}", good.problems());

    let bad = batch.row(1).unwrap();
    assert_eq!(bad.status(), RowStatus::Error);
    let problem = &bad.problems()[0];
    assert_eq!(problem.column.as_deref(), Some("Code du village"));
    assert_eq!(
        problem.message,
        "Not a valid Code du village: expected text matching the pattern ^[A-Z]{2}\\d{3}$"
    );
    assert!(problem.fix.contains("12-AB"), "{}", problem.fix);
}
