//! Deployment profiles: the built-in Kenya profile, how a config chooses a profile, and the
//! `portal.profile` block that replaces or extends it.

mod common;

use common::{KENYA, UGANDA, assert_has, edited, only_problem, problems, set, valid};
use portal_deploy_config::{
    DeploymentConfig, InheritSource, ProfileBase, ProfileChoice, SourcePlace, check,
};
use serde_json::{Value, json};

const UNIT: &str = "c_community_health_unit";
const AREA: &str = "d_community_health_volunteer_area";

fn kenya_doc() -> Value {
    serde_json::from_slice(KENYA).unwrap()
}

fn sources(config: &DeploymentConfig, place_type: &str, property: &str) -> Vec<(String, String)> {
    config
        .profile()
        .place_type(place_type)
        .and_then(|t| t.inherited(property))
        .map(|i| {
            i.from
                .iter()
                .map(|InheritSource { place, property }| (place.to_string(), property.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn the_real_kenya_file_is_recognised_as_chis_ke() {
    let ke = check(KENYA).unwrap();
    let profile = ke.profile();
    assert_eq!(
        profile.base,
        ProfileBase::BuiltIn {
            id: "CHIS-KE",
            chosen_by: ProfileChoice::Recognised
        }
    );
    assert!(!profile.extended);
    assert!(
        profile.summary().contains("recognised"),
        "{}",
        profile.summary()
    );
    let unit = profile.place_type(UNIT).unwrap();
    assert_eq!(unit.name_suffix.as_deref(), Some(" Community Health Unit"));
    assert!(unit.inherit.is_empty());
    assert_eq!(
        profile.place_name(UNIT, "Chimbima"),
        "Chimbima Community Health Unit"
    );
    assert_eq!(
        profile.place_name(UNIT, "Chimbima Community Health Unit"),
        "Chimbima Community Health Unit"
    );
    // The CHP area keeps its generated name.
    assert_eq!(
        profile.place_name(AREA, "Jeptoo Koech Area"),
        "Jeptoo Koech Area"
    );

    let area = profile.place_type(AREA).unwrap();
    assert_eq!(area.name_suffix, None);
    let inherited: Vec<&str> = area.inherit.iter().map(|i| i.property.as_str()).collect();
    assert_eq!(
        inherited,
        [
            "link_facility_code",
            "link_facility_name",
            "chu_name",
            "chu_code"
        ]
    );
    assert_eq!(
        sources(&ke, AREA, "chu_name"),
        pairs(&[("parent", "name"), ("sibling", "chu_name")])
    );
    assert_eq!(
        sources(&ke, AREA, "chu_code"),
        pairs(&[("parent", "code"), ("sibling", "chu_code")])
    );
    assert_eq!(
        sources(&ke, AREA, "link_facility_code"),
        pairs(&[
            ("parent", "link_facility_code"),
            ("sibling", "link_facility_code")
        ])
    );
}

#[test]
fn the_kenya_profile_says_which_fields_the_place_cache_must_keep() {
    let ke = check(KENYA).unwrap();
    assert_eq!(
        ke.profile_source_properties(),
        vec![
            (
                UNIT.to_owned(),
                vec![
                    "link_facility_code".to_owned(),
                    "link_facility_name".to_owned(),
                    "code".to_owned()
                ]
            ),
            (
                AREA.to_owned(),
                vec![
                    "link_facility_code".to_owned(),
                    "link_facility_name".to_owned(),
                    "chu_name".to_owned(),
                    "chu_code".to_owned()
                ]
            ),
        ]
    );
    assert!(
        check(UGANDA)
            .unwrap()
            .profile_source_properties()
            .is_empty()
    );
}

#[test]
fn a_name_chooses_the_profile_in_any_case() {
    let mut doc = kenya_doc();
    set(&mut doc, "/name", json!("chis-ke"));
    let ke = valid(&doc);
    assert_eq!(
        ke.profile().base,
        ProfileBase::BuiltIn {
            id: "CHIS-KE",
            chosen_by: ProfileChoice::ConfigName
        }
    );

    // A name naming a deployment without a built-in profile means none, even for Kenya's types.
    set(&mut doc, "/name", json!("CHIS-KE-PILOT"));
    let other = valid(&doc);
    assert_eq!(other.profile().base, ProfileBase::None);
    assert!(other.profile().is_empty());
    assert_eq!(other.profile().summary(), "no deployment profile");

    // A config of other types named CHIS-KE gets nothing the types do not have.
    let named = valid(&edited(|d| set(d, "/name", json!("CHIS-KE"))));
    assert!(named.profile().is_empty());
}

#[test]
fn other_deployments_have_no_profile() {
    let ug = check(UGANDA).unwrap();
    assert_eq!(ug.profile().base, ProfileBase::None);
    assert!(ug.profile().is_empty());
    assert!(valid(&common::base()).profile().is_empty());
}

#[test]
fn the_block_turns_the_built_in_profile_off() {
    let mut doc = kenya_doc();
    set(&mut doc, "/portal", json!({"profile": {"base": "none"}}));
    let ke = valid(&doc);
    assert_eq!(ke.profile().base, ProfileBase::None);
    assert!(ke.profile().is_empty());
    assert_eq!(ke.profile().place_name(UNIT, "Chimbima"), "Chimbima");
}

#[test]
fn the_block_names_a_base_and_overrides_its_entries() {
    let mut doc = kenya_doc();
    set(
        &mut doc,
        "/portal",
        json!({"profile": {
            "base": "CHIS-KE",
            "place_types": {
                UNIT: {"name_suffix": ""},
                AREA: {
                    "name_suffix": " CHP Area",
                    "inherit": [
                        {"property": "chu_code", "from": [{"place": "sibling", "property": "chu_code"}]},
                        {"property": "link_facility_name", "from": []},
                        {"property": "ward", "from": [{"place": "parent", "property": "ward"}]}
                    ]
                }
            }
        }}),
    );
    let ke = valid(&doc);
    let profile = ke.profile();
    assert_eq!(
        profile.base,
        ProfileBase::BuiltIn {
            id: "CHIS-KE",
            chosen_by: ProfileChoice::Extension
        }
    );
    assert!(profile.extended);
    assert!(profile.summary().contains("portal.profile block"));
    // "" removed the unit's suffix, and with it the unit's entry.
    assert!(profile.place_type(UNIT).is_none());
    assert_eq!(profile.place_name(UNIT, "Chimbima"), "Chimbima");
    let area = profile.place_type(AREA).unwrap();
    assert_eq!(area.name_suffix.as_deref(), Some(" CHP Area"));
    let inherited: Vec<&str> = area.inherit.iter().map(|i| i.property.as_str()).collect();
    assert_eq!(
        inherited,
        ["link_facility_code", "chu_name", "chu_code", "ward"]
    );
    assert_eq!(
        sources(&ke, AREA, "chu_code"),
        pairs(&[("sibling", "chu_code")])
    );
    assert_eq!(sources(&ke, AREA, "ward"), pairs(&[("parent", "ward")]));
}

#[test]
fn another_deployment_declares_its_own_inherited_fields() {
    let mut doc: Value = serde_json::from_slice(UGANDA).unwrap();
    set(
        &mut doc,
        "/portal",
        json!({"profile": {"place_types": {"c50-health_center": {"inherit": [
            {"property": "parish_code", "from": [{"place": "parent", "property": "code"}]}
        ]}}}}),
    );
    let ug = valid(&doc);
    let profile = ug.profile();
    assert_eq!(profile.base, ProfileBase::None);
    assert!(profile.extended);
    let entry = profile.place_type("c50-health_center").unwrap();
    assert_eq!(entry.inherit[0].from[0].place, SourcePlace::Parent);
    assert_eq!(
        ug.profile_source_properties(),
        vec![("c40-parish".to_owned(), vec!["code".to_owned()])]
    );
}

#[test]
fn the_block_round_trips_and_is_kept_as_an_extra_member() {
    let mut doc = kenya_doc();
    let block = json!({"profile": {"place_types": {AREA: {"inherit": [
        {"property": "ward", "from": [{"place": "parent", "property": "ward"}]}
    ]}}}});
    set(&mut doc, "/portal", block.clone());
    set(&mut doc, "/name", json!("CHIS-KE"));
    let ke = valid(&doc);
    assert_eq!(ke.extra.get("portal"), Some(&block));
    assert_eq!(ke.extra.get("name"), Some(&json!("CHIS-KE")));
    let again = check(ke.to_json().as_bytes()).unwrap();
    assert_eq!(again, ke);
    assert_eq!(again.profile(), ke.profile());
    let written: Value = serde_json::from_str(&ke.to_json()).unwrap();
    assert_eq!(written["portal"], block);
}

#[test]
fn a_null_block_is_no_block() {
    let ke = valid(&{
        let mut doc = kenya_doc();
        set(&mut doc, "/portal", Value::Null);
        doc
    });
    assert!(!ke.profile().extended);
    assert!(ke.profile().place_type(AREA).is_some());
}

#[test]
fn a_built_in_entry_yields_to_a_property_rows_enter() {
    let mut doc = kenya_doc();
    let areas = doc["contact_types"][1]["place_properties"]
        .as_array_mut()
        .unwrap();
    areas.push(json!({
        "friendly_name": "CHU Code",
        "property_name": "chu_code",
        "type": "regex",
        "parameter": "^\\d{6}$",
        "errorDescription": "six digits",
        "required": false
    }));
    let ke = valid(&doc);
    let area = ke.profile().place_type(AREA).unwrap();
    assert!(area.inherited("chu_code").is_none());
    assert!(area.inherited("chu_name").is_some());
}

// ---- problems in the block ----

fn with_block(block: Value) -> Value {
    edited(|d| set(d, "/portal", block))
}

#[test]
fn the_block_must_be_objects_of_known_members() {
    only_problem(
        &with_block(json!("CHIS-KE")),
        "$.portal",
        &["must be an object", "found the text \"CHIS-KE\""],
    );
    only_problem(
        &with_block(json!({"profil": {}})),
        "$.portal.profil",
        &["not a member the portal knows", "profile"],
    );
    only_problem(
        &with_block(json!({"profile": {"place_type": {}}})),
        "$.portal.profile.place_type",
        &["base, place_types"],
    );
    only_problem(
        &with_block(json!({"profile": {"place_types": []}})),
        "$.portal.profile.place_types",
        &["must be an object keyed by place type"],
    );
    only_problem(
        &with_block(json!({"profile": {"place_types": {"chp_area": {"suffix": " X"}}}})),
        "$.portal.profile.place_types.chp_area.suffix",
        &["name_suffix, inherit"],
    );
}

#[test]
fn the_base_must_be_a_built_in_profile_or_none() {
    only_problem(
        &with_block(json!({"profile": {"base": "CHIS-UG"}})),
        "$.portal.profile.base",
        &[
            "\"CHIS-UG\" is not a built-in profile",
            "\"CHIS-KE\"",
            "\"none\"",
        ],
    );
    only_problem(
        &with_block(json!({"profile": {"base": true}})),
        "$.portal.profile.base",
        &["must be a string", "found true"],
    );
    assert!(
        valid(&with_block(json!({"profile": {"base": "None"}})))
            .profile()
            .is_empty()
    );
}

#[test]
fn a_place_type_must_be_one_the_config_creates() {
    only_problem(
        &with_block(json!({"profile": {"place_types": {"chu": {"name_suffix": " CHU"}}}})),
        "$.portal.profile.place_types.chu",
        &[
            "\"chu\" is not a place type this config creates",
            "(chp_area)",
        ],
    );
    // The path quotes a key that is not an identifier.
    only_problem(
        &with_block(json!({"profile": {"place_types": {"c50-health": {}}}})),
        "$.portal.profile.place_types[\"c50-health\"]",
        &["not a place type"],
    );
}

#[test]
fn a_suffix_must_be_text_with_words() {
    only_problem(
        &with_block(json!({"profile": {"place_types": {"chp_area": {"name_suffix": 5}}}})),
        "$.portal.profile.place_types.chp_area.name_suffix",
        &["must be a string", "found the number 5"],
    );
    only_problem(
        &with_block(json!({"profile": {"place_types": {"chp_area": {"name_suffix": "  "}}}})),
        "$.portal.profile.place_types.chp_area.name_suffix",
        &["only spaces"],
    );
    let config = valid(&with_block(
        json!({"profile": {"place_types": {"chp_area": {"name_suffix": " Area"}}}}),
    ));
    assert_eq!(
        config.profile().place_name("chp_area", "Kamau"),
        "Kamau Area"
    );
}

fn inherit(entries: Value) -> Value {
    with_block(json!({"profile": {"place_types": {"chp_area": {"inherit": entries}}}}))
}

const ENTRY: &str = "$.portal.profile.place_types.chp_area.inherit";

#[test]
fn inherited_entries_are_checked() {
    only_problem(
        &inherit(json!({"property": "x"})),
        ENTRY,
        &["must be an array"],
    );
    only_problem(
        &inherit(json!([{"property": 3, "from": []}])),
        &format!("{ENTRY}[0].property"),
        &["must be a string", "found the number 3"],
    );
    only_problem(
        &inherit(json!([{"from": []}])),
        &format!("{ENTRY}[0].property"),
        &["is missing"],
    );
    only_problem(
        &inherit(json!([{"property": " code", "from": []}])),
        &format!("{ENTRY}[0].property"),
        &["without spaces around it"],
    );
    only_problem(
        &inherit(json!([{"property": "code"}])),
        &format!("{ENTRY}[0].from"),
        &["is missing", "\"place\": \"parent\""],
    );
    only_problem(
        &inherit(json!([{"property": "code", "from": {"place": "parent"}}])),
        &format!("{ENTRY}[0].from"),
        &["must be an array"],
    );
    only_problem(
        &inherit(
            json!([{"property": "code", "from": [{"place": "grandparent", "property": "c"}]}]),
        ),
        &format!("{ENTRY}[0].from[0].place"),
        &[
            "\"parent\"",
            "\"sibling\"",
            "found the text \"grandparent\"",
        ],
    );
    only_problem(
        &inherit(json!([{"property": "code", "from": [{"property": "c"}]}])),
        &format!("{ENTRY}[0].from[0].place"),
        &["is missing"],
    );
    only_problem(
        &inherit(json!([{"property": "code", "from": [{"place": "parent", "property": null}]}])),
        &format!("{ENTRY}[0].from[0].property"),
        &["is missing"],
    );
    only_problem(
        &inherit(
            json!([{"property": "code", "from": [{"place": "parent", "property": "c", "x": 1}]}]),
        ),
        &format!("{ENTRY}[0].from[0].x"),
        &["place, property"],
    );
}

#[test]
fn inherited_properties_cannot_clash() {
    only_problem(
        &inherit(json!([{"property": "name", "from": [{"place": "parent", "property": "name"}]}])),
        &format!("{ENTRY}[0].property"),
        &["\"name\" is set by CHT or the portal"],
    );
    only_problem(
        &inherit(json!([{"property": "parent", "from": [{"place": "parent", "property": "x"}]}])),
        &format!("{ENTRY}[0].property"),
        &["cannot be inherited"],
    );
    let entered = edited(|d| {
        set(
            d,
            "/contact_types/0/place_properties/1",
            json!({"friendly_name": "Code", "property_name": "code", "type": "string", "required": false}),
        );
        set(
            d,
            "/portal",
            json!({"profile": {"place_types": {"chp_area": {"inherit": [
                {"property": "code", "from": [{"place": "parent", "property": "code"}]}
            ]}}}}),
        );
    });
    only_problem(
        &entered,
        &format!("{ENTRY}[0].property"),
        &["one of \"chp_area\"'s place_properties", "remove it"],
    );
    let twice = inherit(json!([
        {"property": "code", "from": [{"place": "parent", "property": "code"}]},
        {"property": "code", "from": [{"place": "sibling", "property": "code"}]}
    ]));
    only_problem(
        &twice,
        &format!("{ENTRY}[1].property"),
        &["inherited twice"],
    );
}

#[test]
fn every_problem_of_the_block_is_reported_at_once() {
    let found = problems(&with_block(json!({"profile": {
        "base": "XX",
        "place_types": {
            "nope": {"name_suffix": " N"},
            "chp_area": {"name_suffix": 1, "inherit": [{"property": "_id", "from": []}]}
        }
    }})));
    assert_eq!(found.len(), 4, "{}", common::listing(&found));
    assert_has(&found, "$.portal.profile.base", &["not a built-in profile"]);
    assert_has(
        &found,
        "$.portal.profile.place_types.nope",
        &["not a place type"],
    );
    assert_has(
        &found,
        "$.portal.profile.place_types.chp_area.name_suffix",
        &["must be a string"],
    );
    assert_has(
        &found,
        &format!("{ENTRY}[0].property"),
        &["cannot be inherited"],
    );
}
