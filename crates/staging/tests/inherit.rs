//! The deployment profile applied to new places: Kenya's unit suffix and the fields a CHP area
//! copies from its unit (checked against what UMT writes), sibling fallbacks, the warning when no
//! source has a value, and a profile another deployment declares in its config.

mod common;

use std::borrow::Cow;
use std::cell::Cell;

use portal_deploy_config::{DeploymentConfig, SourcePlace};
use portal_staging::{PlaceSource, PlaceValues, inherit};

const UNIT: &str = "c_community_health_unit";
const AREA: &str = "d_community_health_volunteer_area";

fn place(place_type: &str, label: &str, values: &[(&str, &str)]) -> PlaceValues {
    PlaceValues {
        place_type: place_type.to_owned(),
        label: label.to_owned(),
        values: values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// The cached unit of `docs/umt-written-docs`: its name carries the suffix.
fn chimbima() -> PlaceValues {
    place(
        UNIT,
        "Chimbima Community Health Unit",
        &[
            ("name", "Chimbima Community Health Unit"),
            ("code", "100035"),
            ("link_facility_code", "10035"),
            ("link_facility_name", "Wawanyaka Dispensary"),
        ],
    )
}

fn none() -> Vec<&'static dyn PlaceSource> {
    Vec::new()
}

#[test]
fn a_kenya_chp_area_carries_its_units_fields_as_umt_writes_them() {
    let ke = common::kenya();
    let unit = chimbima();
    let result = inherit(ke.profile(), AREA, "Jeptoo Koech Area", Some(&unit), none());
    assert_eq!(result.name, "Jeptoo Koech Area");
    assert!(result.missing.is_empty(), "{:?}", result.missing);
    // What UMT 2.13.0 stored on the area for this unit.
    let written: Vec<(&str, &str)> = result
        .values
        .iter()
        .map(|v| (v.property.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        written,
        [
            ("link_facility_code", "10035"),
            ("link_facility_name", "Wawanyaka Dispensary"),
            ("chu_name", "Chimbima Community Health Unit"),
            ("chu_code", "100035"),
        ]
    );
    let code = &result.values[3];
    assert_eq!(code.origin.place, SourcePlace::Parent);
    assert_eq!(code.origin.property, "code");
    assert_eq!(
        code.origin.to_string(),
        "code of the parent \"Chimbima Community Health Unit\""
    );
    assert_eq!(result.value("chu_code"), Some("100035"));
    assert_eq!(result.value("phone"), None);
}

#[test]
fn a_kenya_unit_gets_its_suffix_once_and_inherits_nothing() {
    let ke = common::kenya();
    let sub_county = place(
        "b_sub_county",
        "Kakamega East",
        &[("name", "Kakamega East")],
    );
    let result = inherit(ke.profile(), UNIT, "Chimbima", Some(&sub_county), none());
    assert_eq!(result.name, "Chimbima Community Health Unit");
    assert!(result.values.is_empty() && result.missing.is_empty());
    let already = inherit(
        ke.profile(),
        UNIT,
        "Chimbima Community Health Unit",
        Some(&sub_county),
        none(),
    );
    assert_eq!(already.name, "Chimbima Community Health Unit");
}

#[test]
fn a_staged_unit_gives_its_name_with_the_suffix() {
    // A unit staged in another batch holds the name as entered, suffix stripped by the config.
    let ke = common::kenya();
    let staged = place(
        UNIT,
        "Chimbima (batch 3, row 12)",
        &[
            ("name", "Chimbima"),
            ("code", "100035"),
            ("link_facility_code", "10035"),
            ("link_facility_name", "Wawanyaka Dispensary"),
        ],
    );
    let result = inherit(
        ke.profile(),
        AREA,
        "Jeptoo Koech Area",
        Some(&staged),
        none(),
    );
    assert_eq!(
        result.value("chu_name"),
        Some("Chimbima Community Health Unit")
    );
    assert_eq!(result.values[2].origin.label, "Chimbima (batch 3, row 12)");
}

#[test]
fn a_unit_without_the_fields_lends_them_from_a_sibling_area() {
    let ke = common::kenya();
    let bare = place(
        UNIT,
        "Chimbima Community Health Unit",
        &[("name", "Chimbima")],
    );
    let empty_sibling = place(
        AREA,
        "Akinyi Area",
        &[("chu_code", "  "), ("link_facility_code", "")],
    );
    let sibling = place(
        AREA,
        "Wanjiru Area",
        &[
            ("chu_code", " 100035 "),
            ("chu_name", "Chimbima Community Health Unit"),
            ("link_facility_code", "10035"),
            ("link_facility_name", "Wawanyaka Dispensary"),
        ],
    );
    let siblings: Vec<&dyn PlaceSource> = vec![&empty_sibling, &sibling];
    let result = inherit(
        ke.profile(),
        AREA,
        "Jeptoo Koech Area",
        Some(&bare),
        siblings,
    );
    assert!(result.missing.is_empty(), "{:?}", result.missing);
    // The parent's own name still wins for chu_name.
    assert_eq!(
        result.value("chu_name"),
        Some("Chimbima Community Health Unit")
    );
    assert_eq!(result.values[2].origin.place, SourcePlace::Parent);
    // Blank values are skipped; values are trimmed.
    assert_eq!(result.value("chu_code"), Some("100035"));
    let code = result
        .values
        .iter()
        .find(|v| v.property == "chu_code")
        .unwrap();
    assert_eq!(code.origin.place, SourcePlace::Sibling);
    assert_eq!(code.origin.label, "Wanjiru Area");
    assert_eq!(code.origin.property, "chu_code");
    assert_eq!(
        code.origin.to_string(),
        "chu_code of the sibling \"Wanjiru Area\""
    );
}

/// Counts reads, to show siblings are read only when a parent lacks a value.
struct Counted<'a> {
    inner: PlaceValues,
    reads: &'a Cell<usize>,
}

impl PlaceSource for Counted<'_> {
    fn place_type(&self) -> &str {
        &self.inner.place_type
    }
    fn label(&self) -> Cow<'_, str> {
        self.inner.label()
    }
    fn property(&self, property: &str) -> Option<Cow<'_, str>> {
        self.reads.set(self.reads.get() + 1);
        self.inner.property(property)
    }
}

#[test]
fn siblings_are_read_only_when_needed() {
    let ke = common::kenya();
    let unit = chimbima();
    let pulled = Cell::new(0);
    let reads = Cell::new(0);
    let sibling = Counted {
        inner: place(AREA, "Wanjiru Area", &[("chu_code", "1")]),
        reads: &reads,
    };
    let lazy = std::iter::from_fn(|| {
        pulled.set(pulled.get() + 1);
        None::<&dyn PlaceSource>
    })
    .chain(std::iter::once(&sibling as &dyn PlaceSource));
    let result = inherit(ke.profile(), AREA, "Jeptoo Koech Area", Some(&unit), lazy);
    assert!(result.missing.is_empty());
    assert_eq!(pulled.get(), 0, "no sibling should be pulled");
    assert_eq!(reads.get(), 0);

    // Once the parent lacks a value, the first sibling that has it is used, read once per need.
    let bare = place(UNIT, "Bare Community Health Unit", &[("name", "Bare")]);
    let siblings: Vec<&dyn PlaceSource> = vec![&sibling];
    let result = inherit(ke.profile(), AREA, "X Area", Some(&bare), siblings);
    assert_eq!(result.value("chu_code"), Some("1"));
    assert!(reads.get() >= 1);
}

#[test]
fn a_value_no_source_has_is_a_warning_that_says_what_to_fill_in_where() {
    let ke = common::kenya();
    let bare = place(
        UNIT,
        "Chimbima Community Health Unit",
        &[
            ("name", "Chimbima Community Health Unit"),
            ("link_facility_code", "10035"),
            ("link_facility_name", "Wawanyaka Dispensary"),
        ],
    );
    let result = inherit(ke.profile(), AREA, "Jeptoo Koech Area", Some(&bare), none());
    assert_eq!(result.values.len(), 3);
    assert_eq!(result.missing.len(), 1);
    let missing = &result.missing[0];
    assert_eq!(missing.property, "chu_code");
    assert_eq!(
        missing.message,
        "chu_code cannot be filled in: the parent \"Chimbima Community Health Unit\" has no \
         code, and no other place of this type under \"Chimbima Community Health Unit\" exists \
         to copy chu_code from"
    );
    assert_eq!(
        missing.fix,
        "Fill in code on \"Chimbima Community Health Unit\" in CHT and refresh places (or on its \
         staged row, if it is not created yet); if you go on, the place is created without \
         chu_code"
    );
    assert!(missing.to_string().starts_with("chu_code: chu_code cannot"));

    // With siblings that lack it too, the message counts them.
    let a = place(AREA, "A Area", &[]);
    let b = place(AREA, "B Area", &[("chu_code", "")]);
    let siblings: Vec<&dyn PlaceSource> = vec![&a, &b];
    let result = inherit(
        ke.profile(),
        AREA,
        "Jeptoo Koech Area",
        Some(&bare),
        siblings,
    );
    assert!(
        result.missing[0].message.ends_with(
            "none of the 2 other places of this type under \"Chimbima Community \
                        Health Unit\" has chu_code"
        ),
        "{}",
        result.missing[0].message
    );
}

#[test]
fn without_a_parent_nothing_is_inherited_or_reported() {
    // The row's hierarchy did not resolve: it already has an error there.
    let ke = common::kenya();
    let result = inherit(ke.profile(), AREA, "Jeptoo Koech Area", None, none());
    assert_eq!(result.name, "Jeptoo Koech Area");
    assert!(result.values.is_empty() && result.missing.is_empty());
    // The name suffix does not depend on the parent.
    let unit = inherit(ke.profile(), UNIT, "Chimbima", None, none());
    assert_eq!(unit.name, "Chimbima Community Health Unit");
}

#[test]
fn a_deployment_without_a_profile_is_left_alone() {
    let ug = common::uganda();
    let parish = place(
        "c40-parish",
        "Kitgum Matidi",
        &[("name", "Kitgum Matidi"), ("code", "7")],
    );
    let result = inherit(
        ug.profile(),
        "c50-health_center",
        "Okello Area (Pager)",
        Some(&parish),
        none(),
    );
    assert_eq!(result.name, "Okello Area (Pager)");
    assert!(result.values.is_empty() && result.missing.is_empty());
}

/// The Uganda config with a `portal` block appended.
fn uganda_with(block: &str) -> DeploymentConfig {
    let text = include_str!("fixtures/chis-ug.config.json").trim_end();
    let body = text.strip_suffix('}').expect("the config is an object");
    let json = format!("{body}, \"portal\": {block}}}");
    portal_deploy_config::check(json.as_bytes())
        .unwrap_or_else(|problems| panic!("invalid: {problems:?}"))
}

#[test]
fn another_deployment_declares_its_own_suffix_and_inherited_fields() {
    let ug = uganda_with(
        r#"{"profile": {"place_types": {"c50-health_center": {
            "name_suffix": " VHT Area",
            "inherit": [
                {"property": "parish_code", "from": [{"place": "parent", "property": "code"}]},
                {"property": "health_facility", "from": [{"place": "sibling", "property": "health_facility"}]}
            ]}}}}"#,
    );
    let parish = place(
        "c40-parish",
        "Kitgum Matidi",
        &[("name", "Kitgum Matidi"), ("code", "P-7")],
    );
    let neighbour = place(
        "c50-health_center",
        "Akello VHT Area",
        &[("health_facility", "Kitgum HC IV")],
    );
    let siblings: Vec<&dyn PlaceSource> = vec![&neighbour];
    let result = inherit(
        ug.profile(),
        "c50-health_center",
        "Okello",
        Some(&parish),
        siblings,
    );
    assert_eq!(result.name, "Okello VHT Area");
    assert_eq!(result.value("parish_code"), Some("P-7"));
    assert_eq!(result.value("health_facility"), Some("Kitgum HC IV"));

    // Sibling-only sources: the fix points at the siblings.
    let result = inherit(
        ug.profile(),
        "c50-health_center",
        "Okello",
        Some(&parish),
        none(),
    );
    assert_eq!(result.missing.len(), 1);
    assert_eq!(
        result.missing[0].fix,
        "Fill in health_facility on another place of this type under \"Kitgum Matidi\" in CHT \
         and refresh places (or on its staged row, if it is not created yet); if you go on, the \
         place is created without health_facility"
    );
}
