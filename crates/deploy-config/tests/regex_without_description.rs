//! `regex` properties without `errorDescription`, as several deployed (francophone) configs have:
//! accepted with a warning, and failing values get a default message naming the column.

mod common;

use common::*;
use portal_deploy_config::{PropertyKind, check};

const TOGO_STYLE: &[u8] = include_bytes!("fixtures/togo-style.config.json");

#[test]
fn a_togo_style_config_loads_with_one_warning_per_undescribed_regex() {
    let config = check(TOGO_STYLE).unwrap_or_else(|found| panic!("{}", listing(&found)));
    assert_eq!(config.contact_types.len(), 2);
    let warnings = config.warnings();
    let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.contact_types[0].place_properties[1].errorDescription",
            "$.contact_types[1].place_properties[1].errorDescription",
        ],
        "the described regex (numero_cni) gives no warning"
    );
    let reason = &warnings[0].reason;
    assert!(reason.contains("\"Code de l'unité\""), "{reason}");
    assert!(
        reason.contains(
            "Not a valid Code de l'unité: expected text matching the pattern ^USC-\\d{4}$"
        ),
        "the warning shows the message users will get: {reason}"
    );
    assert!(reason.contains("Add an errorDescription"), "{reason}");
}

#[test]
fn the_default_message_names_the_column_and_shows_the_pattern() {
    let config = check(TOGO_STYLE).expect("valid");
    let village = &config.contact_types[1].place_properties[1];
    assert!(matches!(
        &village.kind,
        PropertyKind::Regex {
            error_description: None,
            ..
        }
    ));
    assert_eq!(
        village.mismatch_message().as_deref(),
        Some("Not a valid Code du village: expected text matching the pattern ^[A-Z]{2}\\d{3}$")
    );
    assert_eq!(village.kind.describe(), "text matching ^[A-Z]{2}\\d{3}$");
    // a written errorDescription is used as is
    let cni = &config.contact_types[0].contact_properties[2];
    assert_eq!(
        cni.mismatch_message().as_deref(),
        Some("Le numéro doit avoir 8 chiffres")
    );
    // other types have no mismatch message
    assert_eq!(
        config.contact_types[1].contact_properties[0].mismatch_message(),
        None
    );
}

#[test]
fn an_undescribed_regex_round_trips_without_inventing_a_description() {
    let config = check(TOGO_STYLE).expect("valid");
    let written: serde_json::Value = serde_json::from_str(&config.to_json()).expect("JSON");
    let village = &written["contact_types"][1]["place_properties"][1];
    assert!(village.get("errorDescription").is_none(), "{village}");
    assert_eq!(
        check(config.to_json().as_bytes()).expect("valid again"),
        config
    );
}

#[test]
fn the_shared_configs_have_no_warnings() {
    for bytes in [KENYA, UGANDA] {
        assert_eq!(check(bytes).expect("valid").warnings(), []);
    }
}
