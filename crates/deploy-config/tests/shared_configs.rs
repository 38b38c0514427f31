//! The two real UMT configs (Kenya, Uganda) load unchanged and mean what the reference says.

mod common;

use common::{KENYA, UGANDA};
use portal_deploy_config::{AuthKind, ColumnSource, DeploymentConfig, PropertyKind, Unique, check};
use serde_json::Value;

fn load(bytes: &[u8]) -> DeploymentConfig {
    check(bytes).unwrap_or_else(|problems| panic!("{}", common::listing(&problems)))
}

fn headers(config: &DeploymentConfig, type_name: &str) -> Vec<String> {
    config
        .contact_type(type_name)
        .unwrap()
        .csv_columns()
        .into_iter()
        .map(|c| c.header)
        .collect()
}

#[test]
fn kenya_loads_as_described() {
    let ke = load(KENYA);
    assert_eq!(ke.domains.len(), 52);
    assert_eq!(ke.domains[0].friendly, "Migori");
    assert_eq!(ke.domains[0].base_url(), "https://migori.echis.go.ke");
    assert!(ke.domain("Nairobi").is_some());
    assert!(
        ke.domain("Training 4").is_some()
            || ke
                .domains
                .iter()
                .any(|d| d.domain == "training-4.echis.go.ke")
    );
    assert!(ke.domains.iter().all(|d| !d.use_http));
    assert_eq!(ke.idp_origins.len(), 7);
    assert_eq!(ke.idp_origins[0], "https://chwregistry.echis.go.ke");
    assert_eq!(
        ke.attribute_for_external_ownership.as_deref(),
        Some("chw_registry_link")
    );
    assert!(ke.external_sources.is_empty());
    assert!(
        ke.logo_base64
            .as_deref()
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR")
    );
    assert!(ke.extra.is_empty());

    let names: Vec<&str> = ke.contact_types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "c_community_health_unit",
            "d_community_health_volunteer_area"
        ]
    );

    let chu = &ke.contact_types[0];
    assert_eq!(chu.friendly, "Community Health Unit");
    assert_eq!(
        chu.contact_friendly.as_deref(),
        Some("Community Health Assistant")
    );
    assert_eq!(chu.user_role, ["community_health_assistant"]);
    assert!(chu.can_assign_multiple);
    assert!(!chu.deactivate_users_on_replace);
    assert!(!chu.username_from_place);
    assert_eq!(chu.hierarchy.len(), 1);
    assert_eq!(chu.hierarchy[0].level, 1);
    assert_eq!(chu.hierarchy[0].contact_type, "b_sub_county");
    assert_eq!(chu.hierarchy[0].property.property_name, "SUBCOUNTY");
    let code = &chu.place_properties[1];
    assert_eq!(code.friendly_name, "CHU Code");
    assert_eq!(code.unique, Some(Unique::All));
    let PropertyKind::Regex {
        pattern,
        error_description,
    } = &code.kind
    else {
        panic!("CHU Code is a regex: {:?}", code.kind)
    };
    assert_eq!(pattern.as_str(), r"^\d{6}$");
    assert!(pattern.regex().is_match("123456"));
    assert!(!pattern.regex().is_match("12345"));
    assert_eq!(
        error_description.as_deref(),
        Some("Expects a six digit number (eg. 123456)")
    );
    assert_eq!(chu.place_properties[0].unique, Some(Unique::Parent));
    let PropertyKind::Name { strip } = &chu.replacement_property.kind else {
        panic!("replacement is a name")
    };
    let strip: Vec<&str> = strip.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        strip,
        [
            r"\sCommunity Health Unit",
            r"\sCommunity Unit",
            r"\sUnit",
            r"\sCU",
            r"\sCHU"
        ]
    );
    assert_eq!(
        chu.contact_properties[1].kind,
        PropertyKind::Phone {
            region: "KE".into()
        }
    );
    assert_eq!(
        chu.contact_properties[2].kind,
        PropertyKind::SelectOne {
            options: vec![("yes".into(), "Yes".into()), ("no".into(), "No".into())]
        }
    );

    let chp = &ke.contact_types[1];
    assert_eq!(chp.friendly, "Community Health Promoter");
    assert!(!chp.can_assign_multiple);
    let area = &chp.place_properties[0];
    assert_eq!(area.property_name, "name");
    assert_eq!(
        area.kind,
        PropertyKind::Generated {
            template: "{{ contact.name }} Area".into()
        }
    );
    assert_eq!(area.unique, Some(Unique::Parent));
    let levels: Vec<(u32, &str, bool)> = chp
        .hierarchy_levels_sorted()
        .iter()
        .map(|l| (l.level, l.contact_type.as_str(), l.property.required))
        .collect();
    assert_eq!(
        levels,
        [
            (1, "c_community_health_unit", true),
            (2, "b_sub_county", false)
        ]
    );
    assert_eq!(chp.contact_properties[1].unique, Some(Unique::All));
    let PropertyKind::Name { strip } = &chp.replacement_property.kind else {
        panic!("replacement is a name")
    };
    assert_eq!(strip[0].as_str(), "['\u{2019}]s\\s.*$");
    assert_eq!(strip[0].regex().replace_all("Mary's Area", ""), "Mary");
}

#[test]
fn kenya_csv_columns_follow_the_template_order() {
    let ke = load(KENYA);
    assert_eq!(
        headers(&ke, "c_community_health_unit"),
        [
            "Sub County",
            "Affected CHU",
            "CHU Name",
            "CHU Code",
            "Link Facility Name",
            "Link Facility MFL Code",
            "CHA Name",
            "CHA Phone",
            "Require password change"
        ]
    );
    // The generated area name is not a column.
    assert_eq!(
        headers(&ke, "d_community_health_volunteer_area"),
        [
            "Sub County",
            "CHU",
            "Outgoing CHP",
            "CHP Name",
            "CHP Phone",
            "Require password change"
        ]
    );
    let chp = ke
        .contact_type("d_community_health_volunteer_area")
        .unwrap();
    let columns = chp.csv_columns();
    let sources: Vec<ColumnSource> = columns.iter().map(|c| c.source).collect();
    assert_eq!(
        sources,
        [
            ColumnSource::Hierarchy { level: 2 },
            ColumnSource::Hierarchy { level: 1 },
            ColumnSource::Replacement,
            ColumnSource::Contact(0),
            ColumnSource::Contact(1),
            ColumnSource::Contact(2),
        ]
    );
    let required: Vec<bool> = columns.iter().map(|c| c.required).collect();
    assert_eq!(required, [false, true, false, true, true, false]);
    assert_eq!(
        columns[0].kind_description,
        "the name of an existing b_sub_county"
    );
    assert!(
        columns[2]
            .kind_description
            .contains("leave empty to create a new user")
    );
    assert_eq!(columns[4].kind_description, "a KE phone number");
    assert_eq!(columns[5].kind_description, "one of: yes, no");
    assert_eq!(columns[3].key(), "chp name");

    assert_eq!(
        chp.template_csv(),
        "\u{FEFF}\"Sub County\",\"CHU\",\"Outgoing CHP\",\"CHP Name\",\"CHP Phone\",\"Require password change\"\r\n"
            .as_bytes()
    );
    let chu = ke.contact_type("c_community_health_unit").unwrap();
    let code = &chu.csv_columns()[3];
    assert_eq!(code.source, ColumnSource::Place(1));
    assert_eq!(
        code.kind_description,
        r"text matching ^\d{6}$ (Expects a six digit number (eg. 123456))"
    );
}

#[test]
fn kenya_place_types_cover_every_level() {
    let ke = load(KENYA);
    assert_eq!(
        ke.contact_type("d_community_health_volunteer_area")
            .unwrap()
            .place_types(),
        [
            "d_community_health_volunteer_area",
            "c_community_health_unit",
            "b_sub_county"
        ]
    );
    assert_eq!(
        ke.place_types(),
        [
            "c_community_health_unit",
            "b_sub_county",
            "d_community_health_volunteer_area"
        ]
    );
}

#[test]
fn uganda_loads_as_described() {
    let ug = load(UGANDA);
    assert_eq!(ug.domains.len(), 4);
    assert_eq!(ug.domains[0].friendly, "eCHIS Uganda");
    assert!(ug.idp_origins.is_empty());
    assert_eq!(ug.attribute_for_external_ownership, None);
    assert!(
        ug.logo_base64
            .as_deref()
            .unwrap()
            .starts_with("data:image/jpeg;base64,")
    );
    assert_eq!(ug.contact_types.len(), 1);

    let vht = &ug.contact_types[0];
    assert_eq!(vht.name, "c50-health_center");
    assert_eq!(vht.friendly, "VHT Area");
    assert_eq!(vht.user_role, ["vht"]);
    assert!(vht.deactivate_users_on_replace);
    assert_eq!(vht.hierarchy.len(), 3);
    let levels: Vec<(u32, &str)> = vht
        .hierarchy_levels_sorted()
        .iter()
        .map(|l| (l.level, l.contact_type.as_str()))
        .collect();
    assert_eq!(
        levels,
        [
            (1, "c40-parish"),
            (2, "c30-district_hospital"),
            (3, "c20-district")
        ]
    );
    assert!(
        vht.hierarchy
            .iter()
            .all(|l| l.property.kind == PropertyKind::String && l.property.required)
    );
    assert_eq!(vht.replacement_property.property_name, "REPLACEMENT");
    assert_eq!(
        vht.replacement_property.kind,
        PropertyKind::Name { strip: vec![] }
    );

    assert_eq!(
        vht.place_properties[0].kind,
        PropertyKind::Generated {
            template: "{{ contact.name }} Area ({{ place.village }})".into()
        }
    );
    let village = &vht.place_properties[3];
    assert!(
        matches!(&village.kind, PropertyKind::Regex { pattern, error_description }
        if pattern.as_str() == "^[a-zA-Z- ]+$" && error_description.as_deref() == Some("Only letters accepted"))
    );
    let sex = vht
        .contact_properties
        .iter()
        .find(|p| p.property_name == "sex")
        .unwrap();
    assert_eq!(
        sex.kind,
        PropertyKind::SelectOne {
            options: vec![
                ("male".into(), "Male".into()),
                ("female".into(), "Female".into())
            ]
        }
    );
    let phone = vht
        .contact_properties
        .iter()
        .find(|p| p.property_name == "phone")
        .unwrap();
    assert_eq!(
        phone.kind,
        PropertyKind::Phone {
            region: "UG".into()
        }
    );
    assert_eq!(phone.unique, Some(Unique::All));
    let dob = vht
        .contact_properties
        .iter()
        .find(|p| p.property_name == "date_of_birth")
        .unwrap();
    assert_eq!(dob.kind, PropertyKind::Dob);

    assert_eq!(ug.external_sources.len(), 1);
    let chwr = &ug.external_sources[0];
    assert_eq!(chwr.id, "chwr");
    assert_eq!(chwr.friendly_name, "Community Health Worker Registry");
    assert_eq!(chwr.url, "https://hris5.health.go.ug");
    assert_eq!(chwr.api_endpoint, "chw");
    assert_eq!(chwr.result_key, "chws");
    assert_eq!(chwr.auth.kind, AuthKind::Token);
    assert_eq!(chwr.auth.token_endpoint.as_deref(), Some("/auth/token"));
    assert_eq!(chwr.auth.expiration_minutes, Some(90));
    assert_eq!(chwr.auth.client_id_key, "email");
    assert_eq!(chwr.auth.client_secret_key, "password");
    assert_eq!(
        chwr.other_filters,
        [
            ("active".to_owned(), "true".to_owned()),
            ("limit".to_owned(), "20".to_owned())
        ]
    );

    let facility = &vht.hierarchy[1].property.external_mapping;
    assert_eq!(facility.len(), 1);
    assert_eq!(facility[0].0, "chwr");
    assert_eq!(facility[0].1.name, "facility");
    assert_eq!(
        facility[0].1.path.as_deref(),
        Some("position.facility.name")
    );
    assert!(facility[0].1.is_filter);
    let filters = vht
        .hierarchy
        .iter()
        .map(|l| &l.property)
        .chain(&vht.place_properties)
        .chain(&vht.contact_properties)
        .flat_map(|p| &p.external_mapping)
        .filter(|(_, m)| m.is_filter)
        .map(|(_, m)| m.name.as_str())
        .collect::<Vec<_>>();
    assert_eq!(filters, ["facility", "district", "village"]);
}

#[test]
fn uganda_csv_columns_skip_generated_properties() {
    let ug = load(UGANDA);
    assert_eq!(
        headers(&ug, "c50-health_center"),
        [
            "District",
            "Health Facility",
            "Parish",
            "Outgoing VHT",
            "County",
            "Sub County",
            "Village",
            "VHT Name",
            "Phone Number",
            "Date of Birth",
            "Sex"
        ]
    );
    assert_eq!(
        ug.place_types(),
        [
            "c50-health_center",
            "c40-parish",
            "c30-district_hospital",
            "c20-district"
        ]
    );
}

/// Drops what `to_json` leaves out by design: an empty `parameter` on a `name` property.
fn canonical(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("name")
                && map.get("parameter") == Some(&Value::Array(vec![]))
            {
                map.remove("parameter");
            }
            map.values_mut().for_each(canonical);
        }
        Value::Array(items) => items.iter_mut().for_each(canonical),
        _ => {}
    }
}

#[test]
fn both_configs_round_trip() {
    for (name, bytes) in [("kenya", KENYA), ("uganda", UGANDA)] {
        let config = load(bytes);
        let json = config.to_json();
        let again = check(json.as_bytes()).unwrap_or_else(|p| {
            panic!(
                "{name}: re-reading to_json failed:\n{}",
                common::listing(&p)
            )
        });
        assert_eq!(
            again, config,
            "{name}: parse → serialise → parse changed the config"
        );
        assert_eq!(again.logo_base64, config.logo_base64, "{name}: logo");

        let mut original: Value = serde_json::from_slice(bytes).unwrap();
        let written: Value = serde_json::from_str(&json).unwrap();
        canonical(&mut original);
        assert_eq!(
            written, original,
            "{name}: the written document differs from the upload"
        );
    }
}

#[test]
fn round_trip_keeps_select_option_and_type_order() {
    let ke = load(KENYA);
    let json = ke.to_json();
    let yes = json.find("\"yes\": \"Yes\"").unwrap();
    let no = json.find("\"no\": \"No\"").unwrap();
    assert!(yes < no);
    let chu = json.find("\"c_community_health_unit\"").unwrap();
    let chp = json.find("\"d_community_health_volunteer_area\"").unwrap();
    assert!(chu < chp);
    // Option order survives even when it is not alphabetical.
    let ug = load(UGANDA);
    let json = ug.to_json();
    assert!(
        json.find("\"male\": \"Male\"").unwrap() < json.find("\"female\": \"Female\"").unwrap()
    );
}

#[test]
fn serde_deserialize_validates() {
    let ke: DeploymentConfig = serde_json::from_slice(KENYA).unwrap();
    assert_eq!(ke, load(KENYA));
    let err = serde_json::from_str::<DeploymentConfig>(r#"{"domains": []}"#).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("invalid deployment config: $.domains: is empty"),
        "{message}"
    );
    assert!(
        message.contains("$.contact_types: contact_types is missing"),
        "{message}"
    );
}
