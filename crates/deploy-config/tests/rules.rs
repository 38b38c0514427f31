//! Every validation rule: a failing input, the exact path, and a reason that says how to fix it.

mod common;

use common::{assert_has, base, edited, listing, only_problem, problems, remove, set, valid};
use portal_deploy_config::{ColumnSource, PropertyKind, check, render_problems_json};
use serde_json::json;

const T0: &str = "/contact_types/0";
const P0: &str = "$.contact_types[0]";

#[test]
fn the_base_config_is_valid() {
    let config = valid(&base());
    assert_eq!(config.contact_types[0].csv_columns().len(), 4);
}

// ---- JSON and document shape ----

#[test]
fn json_syntax_errors_give_line_and_column() {
    let found = check(b"{\n  \"domains\": [\n  ]\n  \"contact_types\": []\n}").unwrap_err();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "$");
    assert!(
        found[0]
            .reason
            .starts_with("not valid JSON at line 4, column 3"),
        "{}",
        found[0]
    );
}

#[test]
fn the_root_must_be_an_object() {
    let found = check(b"[1, 2]").unwrap_err();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "$");
    assert!(
        found[0].reason.contains("must be a JSON object"),
        "{}",
        found[0]
    );
    assert!(found[0].reason.contains("found an array"), "{}", found[0]);
}

#[test]
fn duplicate_keys_are_refused() {
    let text = serde_json::to_string(&base())
        .unwrap()
        .replacen(
            "\"domains\":",
            "\"logoBase64\": \"data:image/png;base64,AA\", \"domains\":",
            1,
        )
        .replacen("{", "{\"logoBase64\": \"data:image/png;base64,BB\",", 1);
    let found = check(text.as_bytes()).unwrap_err();
    assert_eq!(found.len(), 1, "{}", listing(&found));
    assert_has(
        &found,
        "$.logoBase64",
        &["appears more than once", "remove the other"],
    );
}

#[test]
fn top_level_required_members() {
    let doc = edited(|d| remove(d, "/domains"));
    only_problem(
        &doc,
        "$.domains",
        &["domains is missing", "add the CHT instances"],
    );
    let doc = edited(|d| remove(d, "/contact_types"));
    only_problem(&doc, "$.contact_types", &["contact_types is missing"]);
    let doc = edited(|d| set(d, "/contact_types", json!([])));
    only_problem(
        &doc,
        "$.contact_types",
        &["is empty", "add at least one type"],
    );
    let doc = edited(|d| set(d, "/contact_types", json!({})));
    only_problem(
        &doc,
        "$.contact_types",
        &["must be an array", "found an object"],
    );
}

#[test]
fn required_property_members_must_be_present() {
    for member in ["friendly_name", "property_name", "type", "required"] {
        let doc = edited(|d| remove(d, &format!("{T0}/place_properties/0/{member}")));
        only_problem(
            &doc,
            &format!("{P0}.place_properties[0].{member}"),
            &[&format!("{member} is missing: ")],
        );
    }
    for member in ["level", "contact_type"] {
        let doc = edited(|d| remove(d, &format!("{T0}/hierarchy/0/{member}")));
        let found = problems(&doc);
        assert_has(
            &found,
            &format!("{P0}.hierarchy[0].{member}"),
            &[&format!("{member} is missing")],
        );
    }
    for member in [
        "name",
        "friendly",
        "contact_type",
        "user_role",
        "username_from_place",
        "deactivate_users_on_replace",
        "hierarchy",
        "replacement_property",
        "place_properties",
        "contact_properties",
    ] {
        let doc = edited(|d| remove(d, &format!("{T0}/{member}")));
        let found = problems(&doc);
        assert_has(
            &found,
            &format!("{P0}.{member}"),
            &[&format!("{member} is missing: ")],
        );
    }
}

#[test]
fn members_must_have_the_right_json_type() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/place_properties/0/required"),
            json!("true"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.place_properties[0].required"),
        &["must be true or false", "write true without quotes"],
    );
    let doc = edited(|d| set(d, &format!("{T0}/friendly"), json!(7)));
    only_problem(
        &doc,
        &format!("{P0}.friendly"),
        &["must be a string", "found the number 7"],
    );
    let doc = edited(|d| set(d, &format!("{T0}/hierarchy/0/level"), json!("1")));
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[0].level"),
        &["must be a whole number from 1", "found the text \"1\""],
    );
    let doc = edited(|d| set(d, &format!("{T0}/place_properties/0"), json!("name")));
    only_problem(
        &doc,
        &format!("{P0}.place_properties[0]"),
        &["must be an object"],
    );
    let doc = edited(|d| set(d, &format!("{T0}/friendly"), json!("  ")));
    only_problem(
        &doc,
        &format!("{P0}.friendly"),
        &["is empty: write the type's label"],
    );
}

#[test]
fn a_null_required_member_is_called_null() {
    let doc = edited(|d| set(d, &format!("{T0}/contact_type"), json!(null)));
    only_problem(
        &doc,
        &format!("{P0}.contact_type"),
        &["contact_type is null: write the CHT contact type"],
    );
    let doc = edited(|d| {
        set(d, &format!("{T0}/place_properties/0/type"), json!("regex"));
        set(
            d,
            &format!("{T0}/place_properties/0/parameter"),
            json!("^a"),
        );
        set(
            d,
            &format!("{T0}/place_properties/0/errorDescription"),
            json!(" "),
        );
    });
    // a blank errorDescription is accepted like a missing one, with a warning
    let config = valid(&doc);
    let warnings: Vec<String> = config.warnings().iter().map(|w| w.path.clone()).collect();
    assert_eq!(
        warnings,
        [format!("{P0}.place_properties[0].errorDescription")]
    );
}

#[test]
fn a_misspelt_member_is_pointed_out() {
    let doc = edited(|d| {
        remove(d, &format!("{T0}/place_properties/0/required"));
        set(d, &format!("{T0}/place_properties/0/requried"), json!(true));
    });
    only_problem(
        &doc,
        &format!("{P0}.place_properties[0].required"),
        &[
            "required is missing",
            "this object has \"requried\": is it a misspelling of \"required\"?",
        ],
    );
}

#[test]
fn null_optional_members_are_absent() {
    let doc = edited(|d| {
        set(d, &format!("{T0}/hint"), json!(null));
        set(d, "/idpOrigins", json!(null));
    });
    let config = valid(&doc);
    assert_eq!(config.contact_types[0].hint, None);
}

// ---- property types ----

#[test]
fn unknown_types_list_the_valid_ones() {
    let doc = edited(|d| set(d, &format!("{T0}/place_properties/0/type"), json!("text")));
    only_problem(
        &doc,
        &format!("{P0}.place_properties[0].type"),
        &[
            "unknown type \"text\"",
            "string, name, regex, phone, dob, select_one, select_multiple, generated, none",
        ],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/0/type"),
            json!("gender"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[0].type"),
        &["use select_one"],
    );
    let doc = edited(|d| set(d, &format!("{T0}/contact_properties/0/type"), json!("Name")));
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[0].type"),
        &["lower case: \"name\""],
    );
}

#[test]
fn name_parameters_are_arrays_of_compilable_regexes() {
    let path = format!("{T0}/contact_properties/0/parameter");
    let doc = edited(|d| set(d, &path, json!(r"\sCHU")));
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[0].parameter"),
        &[
            "must be an array of regular expressions",
            r#"put it in brackets: ["\\sCHU"]"#,
        ],
    );
    let doc = edited(|d| set(d, &path, json!([r"\sCHU", "(unclosed", 3, "(?=x)"])));
    let found = problems(&doc);
    assert_eq!(found.len(), 3, "{}", listing(&found));
    assert_has(
        &found,
        &format!("{P0}.contact_properties[0].parameter[1]"),
        &["\"(unclosed\" cannot be compiled: unclosed group"],
    );
    assert_has(
        &found,
        &format!("{P0}.contact_properties[0].parameter[2]"),
        &["must be a string", "found the number 3"],
    );
    assert_has(
        &found,
        &format!("{P0}.contact_properties[0].parameter[3]"),
        &["look-ahead", "rewrite the pattern"],
    );
}

#[test]
fn name_strip_patterns_are_case_insensitive() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/0/parameter"),
            json!([r"\(\s*CHA\s*\)"]),
        )
    });
    let config = valid(&doc);
    let PropertyKind::Name { strip } = &config.contact_types[0].contact_properties[0].kind else {
        panic!("name")
    };
    assert!(strip[0].is_case_insensitive());
    assert_eq!(
        strip[0].regex().replace_all("Jane Doe (cha)", ""),
        "Jane Doe "
    );
}

#[test]
fn regex_properties_need_a_compilable_pattern() {
    let prop = format!("{T0}/place_properties/1");
    let doc = edited(|d| {
        set(
            d,
            &prop,
            json!({"friendly_name": "Code", "property_name": "code", "type": "regex", "required": true}),
        )
    });
    // a missing errorDescription is only a warning (see regex_without_description.rs)
    only_problem(
        &doc,
        &format!("{P0}.place_properties[1].parameter"),
        &["type is regex, so add the pattern"],
    );

    let doc = edited(|d| {
        set(
            d,
            &prop,
            json!({"friendly_name": "Code", "property_name": "code", "type": "regex",
            "parameter": "^[0-9{6}$", "errorDescription": "Six digits", "required": true}),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.place_properties[1].parameter"),
        &["\"^[0-9{6}$\" cannot be compiled"],
    );

    let doc = edited(|d| {
        set(
            d,
            &prop,
            json!({"friendly_name": "Code", "property_name": "code", "type": "regex",
            "parameter": "^\\d{6}$", "errorDescription": "Six digits", "required": true}),
        )
    });
    let config = valid(&doc);
    let code = &config.contact_types[0].place_properties[1];
    assert_eq!(code.error_description.as_deref(), Some("Six digits"));
    assert!(
        matches!(&code.kind, PropertyKind::Regex { pattern, .. } if !pattern.is_case_insensitive())
    );
}

#[test]
fn phone_properties_need_a_known_region() {
    let prop = format!("{T0}/contact_properties/1");
    let phone = |region: serde_json::Value| {
        edited(|d| {
            set(
                d,
                &prop,
                json!({"friendly_name": "Phone", "property_name": "phone", "type": "phone", "required": true}),
            );
            if !region.is_null() {
                set(d, &format!("{prop}/parameter"), region);
            }
        })
    };
    let path = format!("{P0}.contact_properties[1].parameter");
    only_problem(
        &phone(json!(null)),
        &path,
        &["type is phone, so add the ISO country code"],
    );
    only_problem(
        &phone(json!("XK1")),
        &path,
        &[
            "\"XK1\" is not a country the phone number library knows",
            "\"KE\"",
        ],
    );
    only_problem(
        &phone(json!("ug")),
        &path,
        &["write the country code as \"UG\""],
    );
    only_problem(&phone(json!(254)), &path, &["must be a string"]);
    let config = valid(&phone(json!("TG")));
    assert_eq!(
        config.contact_types[0].contact_properties[1].kind,
        PropertyKind::Phone {
            region: "TG".into()
        }
    );
}

#[test]
fn select_options_are_a_non_empty_object_of_string_labels() {
    let prop = format!("{T0}/contact_properties/1");
    let select = |kind: &str, parameter: serde_json::Value| {
        edited(|d| {
            set(
                d,
                &prop,
                json!({"friendly_name": "Sex", "property_name": "sex", "type": kind,
                "parameter": parameter, "required": true}),
            )
        })
    };
    let path = format!("{P0}.contact_properties[1].parameter");
    only_problem(&select("select_one", json!({})), &path, &["has no options"]);
    only_problem(
        &select("select_one", json!(["male", "female"])),
        &path,
        &[
            "must be an object mapping each stored value to its label",
            "found an array",
        ],
    );
    only_problem(
        &select("select_one", json!({"male": 1})),
        &format!("{path}.male"),
        &[
            "the label of \"male\" must be a string",
            "found the number 1",
        ],
    );
    only_problem(
        &select("select_one", json!({"": "None"})),
        &format!("{path}[\"\"]"),
        &["value is empty"],
    );
    only_problem(
        &select(
            "select_multiple",
            json!({"first aid": "First aid", "hiv": "HIV"}),
        ),
        &format!("{path}[\"first aid\"]"),
        &[
            "contains a space",
            "select_multiple values are separated by spaces",
            "\"first_aid\"",
        ],
    );
    let doc = edited(|d| {
        set(
            d,
            &prop,
            json!({"friendly_name": "Sex", "property_name": "sex", "type": "select_one", "required": true}),
        )
    });
    only_problem(&doc, &path, &["type is select_one, so add the options"]);
}

#[test]
fn select_option_order_is_kept() {
    // Written as text: serde_json maps would sort the keys.
    let text = serde_json::to_string(&base()).unwrap().replacen(
        "\"contact_properties\":[",
        "\"contact_properties\":[{\"friendly_name\":\"Training\",\"property_name\":\"training\",\
         \"type\":\"select_multiple\",\"required\":false,\
         \"parameter\":{\"zeta\":\"Zeta\",\"alpha\":\"Alpha\",\"mid\":\"Mid\"}},",
        1,
    );
    let config = check(text.as_bytes()).unwrap_or_else(|p| panic!("{}", listing(&p)));
    let PropertyKind::SelectMultiple { options } =
        &config.contact_types[0].contact_properties[0].kind
    else {
        panic!("select_multiple")
    };
    let keys: Vec<&str> = options.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["zeta", "alpha", "mid"]);
    let json = config.to_json();
    assert!(json.find("\"zeta\"").unwrap() < json.find("\"alpha\"").unwrap());
    assert_eq!(check(json.as_bytes()).unwrap(), config);
}

#[test]
fn generated_templates_must_parse_and_use_known_variables() {
    let path = format!("{T0}/place_properties/0");
    let generated = |template: serde_json::Value| {
        edited(|d| {
            set(d, &format!("{path}/type"), json!("generated"));
            set(d, &format!("{path}/parameter"), template);
        })
    };
    let at = format!("{P0}.place_properties[0].parameter");
    only_problem(
        &generated(json!("{{ contact.name ")),
        &at,
        &["the Liquid template does not parse"],
    );
    only_problem(
        &generated(json!("{{ contact.name | shout }}")),
        &at,
        &["does not parse", "shout"],
    );
    only_problem(
        &generated(json!("{{ name }} Area")),
        &at,
        &[
            "uses \"name\", which is not available",
            "place, contact and lineage",
        ],
    );
    only_problem(&generated(json!("")), &at, &["the template is empty"]);
    only_problem(
        &generated(json!(["{{ contact.name }}"])),
        &at,
        &["must be a string"],
    );
    let doc = edited(|d| set(d, &format!("{path}/type"), json!("generated")));
    only_problem(
        &doc,
        &at,
        &["type is generated, so add the Liquid template"],
    );
    let config = valid(&generated(json!("{{ contact.name }} ({{ lineage.CHU }})")));
    assert!(
        config.contact_types[0].place_properties[0]
            .kind
            .is_generated()
    );
    // Generated properties are not CSV columns.
    assert!(
        config.contact_types[0]
            .csv_columns()
            .iter()
            .all(|c| c.source != ColumnSource::Place(0))
    );
}

// ---- unique ----

#[test]
fn unique_is_all_or_parent() {
    let doc = edited(|d| set(d, &format!("{T0}/place_properties/0/unique"), json!("yes")));
    only_problem(
        &doc,
        &format!("{P0}.place_properties[0].unique"),
        &["must be \"all\"", "or \"parent\"", "found the text \"yes\""],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/0/unique"),
            json!("all"),
        )
    });
    valid(&doc);
}

#[test]
fn unique_is_not_allowed_on_hierarchy_or_replacement() {
    let doc = edited(|d| set(d, &format!("{T0}/hierarchy/0/unique"), json!("parent")));
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[0].unique"),
        &["unique is not allowed on hierarchy levels", "remove it"],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/replacement_property/unique"),
            json!("all"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.replacement_property.unique"),
        &["not allowed on the replacement property"],
    );
}

// ---- hierarchy ----

#[test]
fn hierarchy_levels_cannot_be_generated() {
    let doc = edited(|d| {
        set(d, &format!("{T0}/hierarchy/0/type"), json!("generated"));
        set(
            d,
            &format!("{T0}/hierarchy/0/parameter"),
            json!("{{ contact.name }}"),
        );
    });
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[0].type"),
        &["hierarchy levels cannot be generated", "use string or name"],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/replacement_property/type"),
            json!("generated"),
        );
        set(
            d,
            &format!("{T0}/replacement_property/parameter"),
            json!("x"),
        );
    });
    only_problem(
        &doc,
        &format!("{P0}.replacement_property.type"),
        &["the replacement property cannot be generated"],
    );
}

fn level(friendly: &str, property: &str, contact_type: &str, level: u32) -> serde_json::Value {
    json!({"friendly_name": friendly, "property_name": property, "contact_type": contact_type,
           "type": "name", "required": false, "level": level})
}

#[test]
fn level_one_is_mandatory() {
    let doc = edited(|d| set(d, &format!("{T0}/hierarchy/0/level"), json!(2)));
    only_problem(
        &doc,
        &format!("{P0}.hierarchy"),
        &["has no level 1", "\"level\": 1"],
    );
    let doc = edited(|d| set(d, &format!("{T0}/hierarchy"), json!([])));
    only_problem(&doc, &format!("{P0}.hierarchy"), &["has no level 1"]);
}

#[test]
fn levels_are_unique_and_at_least_one() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/hierarchy/1"),
            level("Sub County", "SUBCOUNTY", "b_sub_county", 1),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[1].level"),
        &["level 1 is already used by $.contact_types[0].hierarchy[0]"],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/hierarchy/1"),
            level("Sub County", "SUBCOUNTY", "b_sub_county", 0),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[1].level"),
        &[
            "level 0 belongs to the place being replaced",
            "replacement_property",
        ],
    );
    for bad in [json!(-1), json!(1.5), json!(true)] {
        let doc = edited(|d| set(d, &format!("{T0}/hierarchy/0/level"), bad.clone()));
        let found = problems(&doc);
        assert_has(
            &found,
            &format!("{P0}.hierarchy[0].level"),
            &["must be a whole number from 1"],
        );
    }
}

#[test]
fn skipped_levels_are_accepted() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/hierarchy/1"),
            level("District", "DISTRICT", "district", 6),
        )
    });
    let config = valid(&doc);
    let t = &config.contact_types[0];
    let levels: Vec<u32> = t
        .hierarchy_levels_sorted()
        .iter()
        .map(|l| l.level)
        .collect();
    assert_eq!(levels, [1, 6]);
    let headers: Vec<String> = t.csv_columns().into_iter().map(|c| c.header).collect();
    assert_eq!(
        headers,
        ["District", "CHU", "Outgoing CHP", "Area Name", "CHP Name"]
    );
    assert_eq!(t.place_types(), ["chp_area", "chu", "district"]);
    // An integral float is a whole number too, as in JavaScript.
    let doc = edited(|d| set(d, &format!("{T0}/hierarchy/0/level"), json!(1.0)));
    assert_eq!(valid(&doc).contact_types[0].hierarchy[0].level, 1);
}

#[test]
fn hierarchy_property_names_are_distinct() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/hierarchy/1"),
            level("Other", "CHU", "other", 2),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[1].property_name"),
        &["\"CHU\" is already the property_name of $.contact_types[0].hierarchy[0]"],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/hierarchy/1"),
            level("Other", "replacement", "other", 2),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.hierarchy[1].property_name"),
        &["\"replacement\" is the name of the replacement level"],
    );
}

// ---- names, roles and columns ----

#[test]
fn every_type_needs_place_and_contact_names() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/place_properties/0/property_name"),
            json!("title"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.place_properties"),
        &[
            "has no property with property_name \"name\"",
            "name for the place",
            "generated",
        ],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/0/property_name"),
            json!("full_name"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties"),
        &["has no property with property_name \"name\"", "the contact"],
    );
}

#[test]
fn property_names_are_distinct_within_a_list() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/1"),
            json!({"friendly_name": "Other Name",
            "property_name": "name", "type": "string", "required": false}),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[1].property_name"),
        &[
            "\"name\" is already the property_name of $.contact_types[0].contact_properties[0]",
            "same attribute",
        ],
    );
}

#[test]
fn user_roles_are_a_non_empty_list_of_names() {
    let path = format!("{T0}/user_role");
    let doc = edited(|d| set(d, &path, json!([])));
    only_problem(
        &doc,
        &format!("{P0}.user_role"),
        &["is empty: add at least one CHT role"],
    );
    let doc = edited(|d| set(d, &path, json!("chw")));
    only_problem(
        &doc,
        &format!("{P0}.user_role"),
        &["must be an array of CHT roles: write [\"chw\"]"],
    );
    let doc = edited(|d| set(d, &path, json!(["chw", ""])));
    only_problem(
        &doc,
        &format!("{P0}.user_role[1]"),
        &["is empty: write a CHT role name or remove the entry"],
    );
    let doc = edited(|d| set(d, &path, json!(["chw", "supervisor", "chw"])));
    only_problem(
        &doc,
        &format!("{P0}.user_role[2]"),
        &["\"chw\" is listed twice"],
    );
    let doc = edited(|d| set(d, &path, json!(["chw "])));
    only_problem(
        &doc,
        &format!("{P0}.user_role[0]"),
        &["spaces around it", "write \"chw\""],
    );
}

#[test]
fn several_roles_add_a_roles_column() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/user_role"),
            json!(["chw", "chw_supervisor"]),
        )
    });
    let config = valid(&doc);
    let t = &config.contact_types[0];
    assert!(t.has_several_roles());
    let columns = t.csv_columns();
    let roles = columns.last().unwrap();
    assert_eq!(roles.header, "Roles");
    assert_eq!(roles.source, ColumnSource::Roles);
    assert!(roles.required);
    assert_eq!(
        roles.kind_description,
        "one or more of: chw, chw_supervisor (separated by spaces)"
    );
    // One role: no column.
    assert!(
        valid(&base()).contact_types[0]
            .csv_columns()
            .iter()
            .all(|c| c.source != ColumnSource::Roles)
    );
}

#[test]
fn a_property_cannot_take_the_roles_header_when_roles_are_picked() {
    let doc = edited(|d| {
        set(d, &format!("{T0}/user_role"), json!(["a", "b"]));
        set(
            d,
            &format!("{T0}/contact_properties/1"),
            json!({"friendly_name": " roles ",
            "property_name": "roles_note", "type": "string", "required": false}),
        );
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[1].friendly_name"),
        &["is the header of the column added because user_role lists several roles"],
    );
}

#[test]
fn contact_type_names_are_unique() {
    let doc = edited(|d| {
        let first = d["contact_types"][0].clone();
        set(d, "/contact_types/1", first);
    });
    only_problem(
        &doc,
        "$.contact_types[1].name",
        &["\"chp_area\" is already the name of $.contact_types[0].name"],
    );
}

#[test]
fn column_headers_are_unique_ignoring_case_and_spaces() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/0/friendly_name"),
            json!("area  NAME"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[0].friendly_name"),
        &[
            "the column header \"area  NAME\" is the same as $.contact_types[0].place_properties[0].friendly_name (\"Area Name\")",
            "rename one",
        ],
    );
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/replacement_property/friendly_name"),
            json!("chu"),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.replacement_property.friendly_name"),
        &["same as $.contact_types[0].hierarchy[0].friendly_name"],
    );
    // A generated property is not a column, so it may share a header.
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/place_properties/1"),
            json!({"friendly_name": "CHP Name",
            "property_name": "label", "type": "generated", "parameter": "{{ contact.name }}", "required": false}),
        )
    });
    valid(&doc);
}

#[test]
fn french_labels_and_hints_are_accepted() {
    let doc = json!({
        "domains": [{"friendly": "Togo", "domain": "tg.echis.example"}],
        "contact_types": [{
            "name": "chw_post",
            "friendly": "Poste ASC",
            "contact_type": "person",
            "contact_friendly": "Agent de santé communautaire",
            "user_role": ["chw", "chw_supervisor"],
            "username_from_place": true,
            "deactivate_users_on_replace": true,
            "hierarchy": [
                {"friendly_name": "Sous-préfecture", "property_name": "PREFECTURE", "contact_type": "prefecture",
                 "type": "name", "required": true, "level": 1, "hint": "Nom de la sous-préfecture"},
                {"friendly_name": "Région", "property_name": "REGION", "contact_type": "region",
                 "type": "string", "required": false, "level": 6}
            ],
            "replacement_property": {"friendly_name": "ASC sortant", "property_name": "replacement",
                                     "type": "name", "required": true},
            "place_properties": [{"friendly_name": "Nom du poste", "property_name": "name",
                "type": "generated", "parameter": "{{ contact.last_name }} {{ contact.first_name }} ({{ lineage.PREFECTURE }})",
                "required": true}],
            "contact_properties": [
                {"friendly_name": "Nom", "property_name": "last_name", "type": "name", "required": true,
                 "hint": "Le nom de famille, en majuscules"},
                {"friendly_name": "Prénom(s)", "property_name": "first_name", "type": "name", "required": true},
                {"friendly_name": "Nom complet", "property_name": "name", "type": "generated",
                 "parameter": "{{ contact.first_name }} {{ contact.last_name }}", "required": true},
                {"friendly_name": "Téléphone", "property_name": "telephone", "type": "regex",
                 "parameter": "^\\d{8}$", "errorDescription": "Le numéro doit avoir 8 chiffres", "required": true},
                {"friendly_name": "Sexe", "property_name": "sex", "type": "select_one",
                 "parameter": {"homme": "Homme", "femme": "Femme"}, "required": true}
            ]
        }]
    });
    let config = valid(&doc);
    let t = &config.contact_types[0];
    let columns = t.csv_columns();
    let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
    assert_eq!(
        headers,
        [
            "Région",
            "Sous-préfecture",
            "ASC sortant",
            "Nom",
            "Prénom(s)",
            "Téléphone",
            "Sexe",
            "Roles"
        ]
    );
    assert_eq!(
        columns[1].hint.as_deref(),
        Some("Nom de la sous-préfecture")
    );
    assert_eq!(
        columns[3].hint.as_deref(),
        Some("Le nom de famille, en majuscules")
    );
    let csv = String::from_utf8(t.template_csv()).unwrap();
    assert_eq!(
        csv,
        "\u{FEFF}\"Région\",\"Sous-préfecture\",\"ASC sortant\",\"Nom\",\"Prénom(s)\",\"Téléphone\",\"Sexe\",\"Roles\"\r\n"
    );
}

// ---- domains, SSO, logo ----

#[test]
fn domains_are_host_names_with_unique_friendly_names() {
    let doc = edited(|d| set(d, "/domains/0/domain", json!("https://test.echis.go.ke/")));
    only_problem(
        &doc,
        "$.domains[0].domain",
        &["write only the host name, without https://: \"test.echis.go.ke\""],
    );
    let doc = edited(|d| set(d, "/domains/0/domain", json!("test.echis.go.ke/medic")));
    only_problem(
        &doc,
        "$.domains[0].domain",
        &["without a path: \"test.echis.go.ke\""],
    );
    let doc = edited(|d| set(d, "/domains/0/domain", json!("test echis")));
    only_problem(&doc, "$.domains[0].domain", &["is not a host name"]);
    let doc = edited(|d| {
        set(
            d,
            "/domains/1",
            json!({"friendly": "TEST ", "domain": "other.echis.go.ke"}),
        )
    });
    only_problem(
        &doc,
        "$.domains[1].friendly",
        &[
            "\"TEST \" is already the name of $.domains[0].friendly",
            "give each its own",
        ],
    );
    let doc = edited(|d| set(d, "/domains", json!([])));
    only_problem(
        &doc,
        "$.domains",
        &["is empty: add at least one CHT instance"],
    );
    let doc = edited(|d| set(d, "/domains/0/useHttp", json!("yes")));
    only_problem(&doc, "$.domains[0].useHttp", &["must be true or false"]);
    let doc = edited(|d| {
        set(d, "/domains/0/domain", json!("localhost:5988"));
        set(d, "/domains/0/useHttp", json!(true));
    });
    assert_eq!(valid(&doc).domains[0].base_url(), "http://localhost:5988");
}

#[test]
fn idp_origins_are_exact_origins() {
    let doc = edited(|d| {
        set(
            d,
            "/idpOrigins",
            json!(["https://chw.example.org", "https://chw.example.org/"]),
        )
    });
    only_problem(
        &doc,
        "$.idpOrigins[1]",
        &["write just the origin, \"https://chw.example.org\""],
    );
    let doc = edited(|d| set(d, "/idpOrigins", json!("https://chw.example.org")));
    only_problem(&doc, "$.idpOrigins", &["must be an array"]);
}

#[test]
fn the_logo_is_an_image_data_url() {
    let doc = edited(|d| set(d, "/logoBase64", json!("https://example.org/logo.png")));
    only_problem(&doc, "$.logoBase64", &["must be an image data URL"]);
}

// ---- external ownership and external sources ----

#[test]
fn the_ownership_attribute_must_not_be_a_place_property() {
    let doc = edited(|d| set(d, "/attribute_for_external_ownership", json!("name")));
    only_problem(
        &doc,
        "$.attribute_for_external_ownership",
        &[
            "\"name\" is also a place property of contact type \"chp_area\" ($.contact_types[0].place_properties[0].property_name)",
            "choose another attribute name",
        ],
    );
    let doc = edited(|d| {
        set(
            d,
            "/attribute_for_external_ownership",
            json!("chw_registry_link"),
        )
    });
    assert_eq!(
        valid(&doc).attribute_for_external_ownership.as_deref(),
        Some("chw_registry_link")
    );
}

fn registry() -> serde_json::Value {
    json!({"id": "chwr", "friendly_name": "Registry", "url": "https://registry.example.org",
           "api_endpoint": "chw", "resultKey": "chws",
           "auth": {"type": "token", "token_endpoint": "/auth/token", "client_id_key": "email",
                    "client_secret_key": "password"}})
}

#[test]
fn each_external_source_needs_a_filter() {
    let doc = edited(|d| {
        set(d, "/external_sources", json!([registry()]));
        set(
            d,
            &format!("{T0}/contact_properties/0/external_mapping"),
            json!({"chwr": {"name": "fullName"}}),
        );
    });
    only_problem(
        &doc,
        "$.external_sources[0]",
        &[
            "no property maps a search filter for \"chwr\"",
            "\"is_filter\": true",
        ],
    );
    let doc = edited(|d| {
        set(d, "/external_sources", json!([registry()]));
        set(
            d,
            &format!("{T0}/hierarchy/0/external_mapping"),
            json!({"chwr": {"name": "unit", "path": "unit.name", "is_filter": true}}),
        );
    });
    let config = valid(&doc);
    assert!(
        config.contact_types[0].hierarchy[0]
            .property
            .external_mapping[0]
            .1
            .is_filter
    );
}

#[test]
fn external_mappings_reference_declared_sources() {
    let doc = edited(|d| {
        set(
            d,
            &format!("{T0}/contact_properties/0/external_mapping"),
            json!({"chwr": {"name": "fullName"}}),
        )
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[0].external_mapping.chwr"),
        &["no external source has the id \"chwr\" (no external_sources are declared)"],
    );
    let doc = edited(|d| {
        set(d, "/external_sources", json!([registry()]));
        set(
            d,
            &format!("{T0}/hierarchy/0/external_mapping"),
            json!({"chwr": {"name": "unit", "is_filter": true}}),
        );
        set(
            d,
            &format!("{T0}/contact_properties/0/external_mapping"),
            json!({"hris": {"name": "fullName"}}),
        );
    });
    only_problem(
        &doc,
        &format!("{P0}.contact_properties[0].external_mapping.hris"),
        &["declared ids: chwr"],
    );
}

#[test]
fn external_sources_are_checked_member_by_member() {
    let mut source = registry();
    source["url"] = json!("registry.example.org");
    source["auth"]["type"] = json!("oauth");
    source["auth"]
        .as_object_mut()
        .unwrap()
        .remove("client_secret_key");
    source.as_object_mut().unwrap().remove("resultKey");
    source["resultsKey"] = json!("chws");
    source["other_filters"] = json!({"limit": 20});
    let doc = edited(|d| {
        set(d, "/external_sources", json!([source, registry()]));
        set(
            d,
            &format!("{T0}/hierarchy/0/external_mapping"),
            json!({"chwr": {"name": "unit", "is_filter": true}}),
        );
    });
    let found = problems(&doc);
    assert_has(
        &found,
        "$.external_sources[0].url",
        &["is not an http(s) URL"],
    );
    assert_has(
        &found,
        "$.external_sources[0].auth.type",
        &["unknown authentication type \"oauth\""],
    );
    assert_has(
        &found,
        "$.external_sources[0].auth.client_secret_key",
        &["client_secret_key is missing"],
    );
    assert_has(
        &found,
        "$.external_sources[0].resultKey",
        &[
            "resultKey is missing",
            "\"resultsKey\": is it a misspelling",
        ],
    );
    assert_has(
        &found,
        "$.external_sources[0].other_filters.limit",
        &["must be a string"],
    );
    assert_has(
        &found,
        "$.external_sources[1].id",
        &["\"chwr\" is the id of an earlier external source"],
    );
    assert_eq!(found.len(), 6, "{}", listing(&found));

    let mut source = registry();
    source["auth"]
        .as_object_mut()
        .unwrap()
        .remove("token_endpoint");
    source["auth"]["expiration"] = json!(0);
    let doc = edited(|d| {
        set(d, "/external_sources", json!([source]));
        set(
            d,
            &format!("{T0}/hierarchy/0/external_mapping"),
            json!({"chwr": {"name": "unit", "is_filter": true}}),
        );
    });
    let found = problems(&doc);
    assert_has(
        &found,
        "$.external_sources[0].auth.token_endpoint",
        &["auth type is token but token_endpoint is missing"],
    );
    assert_has(
        &found,
        "$.external_sources[0].auth.expiration",
        &["whole number of minutes, at least 1"],
    );
    assert_eq!(found.len(), 2, "{}", listing(&found));
}

// ---- several at once, unknown fields ----

#[test]
fn every_problem_is_reported_at_once() {
    let doc = edited(|d| {
        set(d, "/domains/0/domain", json!("http://test.echis.go.ke"));
        set(d, &format!("{T0}/user_role"), json!([]));
        set(d, &format!("{T0}/hierarchy/0/level"), json!(3));
        set(d, &format!("{T0}/place_properties/0/type"), json!("regex"));
        set(
            d,
            &format!("{T0}/place_properties/0/parameter"),
            json!("^\\d+$"),
        );
        set(
            d,
            &format!("{T0}/contact_properties/0/unique"),
            json!("everyone"),
        );
        let second = json!({"name": "other", "friendly": "Other", "contact_type": "person",
            "user_role": ["x"], "username_from_place": "no", "deactivate_users_on_replace": false,
            "hierarchy": [], "replacement_property": {}, "place_properties": [], "contact_properties": []});
        set(d, "/contact_types/1", second);
    });
    let found = problems(&doc);
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.domains[0].domain",
            "$.contact_types[0].user_role",
            "$.contact_types[0].hierarchy",
            "$.contact_types[0].contact_properties[0].unique",
            "$.contact_types[1].username_from_place",
            "$.contact_types[1].hierarchy",
            "$.contact_types[1].replacement_property.friendly_name",
            "$.contact_types[1].replacement_property.property_name",
            "$.contact_types[1].replacement_property.type",
            "$.contact_types[1].replacement_property.required",
            "$.contact_types[1].place_properties",
            "$.contact_types[1].contact_properties",
        ],
        "{}",
        listing(&found)
    );
    let json: serde_json::Value = serde_json::from_str(&render_problems_json(&found)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), found.len());
    assert_eq!(json[0]["path"], "$.domains[0].domain");
}

#[test]
fn unknown_members_survive_a_round_trip() {
    let doc = edited(|d| {
        set(d, "/theme", json!({"primary": "#00838f"}));
        set(d, "/domains/0/region", json!("west"));
        set(d, &format!("{T0}/menu_order"), json!(3));
        set(
            d,
            &format!("{T0}/hierarchy/0/search_hint"),
            json!("type a few letters"),
        );
        set(
            d,
            &format!("{T0}/place_properties/0/parameter"),
            json!("ignored by string types"),
        );
        set(
            d,
            &format!("{T0}/contact_properties/0/x_future"),
            json!([1, {"a": null}]),
        );
    });
    let config = valid(&doc);
    assert_eq!(config.extra["theme"], json!({"primary": "#00838f"}));
    assert_eq!(config.domains[0].extra["region"], "west");
    let t = &config.contact_types[0];
    assert_eq!(t.extra["menu_order"], 3);
    assert_eq!(
        t.hierarchy[0].property.extra["search_hint"],
        "type a few letters"
    );
    assert_eq!(
        t.place_properties[0].extra["parameter"],
        "ignored by string types"
    );
    assert_eq!(
        t.contact_properties[0].extra["x_future"],
        json!([1, {"a": null}])
    );

    let written: serde_json::Value = serde_json::from_str(&config.to_json()).unwrap();
    assert_eq!(written, doc);
    assert_eq!(check(config.to_json().as_bytes()).unwrap(), config);
}
