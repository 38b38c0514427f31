//! Resolving hierarchy columns: fuzzy names, lineage disambiguation, skipped and optional
//! levels, staged parents, scope, suggestions, replacement.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{CHP, config, contact_type, places, record, stage, today};
use portal_staging::{Batch, Engine, ProblemKind, RowStatus, Scope, StagedRow, Validator};

const HEADER: &str = "District,Sub County,CHU,Outgoing CHP,Name,Phone\n";

fn chp_batch(rows: &str, scope: &Scope) -> Batch {
    let config = config(CHP);
    stage(
        contact_type(&config, "chp_area"),
        &places(),
        scope,
        &format!("{HEADER}{rows}"),
    )
}

fn first(batch: &Batch) -> &StagedRow {
    batch.row(0).expect("one row")
}

fn parent_id(row: &StagedRow) -> Option<&str> {
    row.parent().map(|p| p.id())
}

#[test]
fn names_match_ignoring_case_spacing_accents_and_suffixes() {
    for chu in [
        "Ngaamba",
        "NGAAMBA",
        "  ngaamba  ",
        "Ngáamba",
        "Ngaamba CHU",
        "ngaamba community health unit",
    ] {
        let batch = chp_batch(&format!(",,{chu},,Jane Roe,0712345678\n"), &Scope::All);
        let row = first(&batch);
        assert_eq!(parent_id(row), Some("c3"), "{chu:?}: {:?}", row.problems());
        assert_eq!(
            row.status(),
            RowStatus::Valid,
            "{chu:?}: {:?}",
            row.problems()
        );
    }
}

#[test]
fn grandparent_disambiguates_the_parent() {
    let batch = chp_batch(
        ",Kibwezi,Kyamboo,,Jane Roe,0712345678\n,Mutomo,Kyamboo,,John Roe,0712345679\n",
        &Scope::All,
    );
    assert_eq!(parent_id(batch.row(0).unwrap()), Some("c1"));
    assert_eq!(parent_id(batch.row(1).unwrap()), Some("c2"));
    // The higher levels follow from the parent's lineage.
    let row = batch.row(0).unwrap();
    let lineage: Vec<Option<&str>> = row
        .hierarchy()
        .iter()
        .map(|p| p.as_ref().map(|p| p.id()))
        .collect();
    assert_eq!(lineage, vec![Some("c1"), Some("s1"), Some("d1")]);
}

#[test]
fn great_grandparent_disambiguates_with_the_middle_level_empty() {
    let batch = chp_batch(
        ",,Kyamboo,,Jane Roe,0712345678\nKitui,,Kyamboo,,John Roe,0712345679\n",
        &Scope::All,
    );
    let ambiguous = &batch.row(0).unwrap().problems()[0];
    assert_eq!(ambiguous.kind, ProblemKind::Ambiguous);
    assert_eq!(ambiguous.column.as_deref(), Some("CHU"));
    assert_eq!(
        ambiguous.message,
        "Found multiple CHUs matching 'Kyamboo' ('Kyamboo CHU' in 'Kibwezi', 'Kyamboo' in 'Mutomo')"
    );
    assert_eq!(ambiguous.fix, "Fill in \"Sub County\" to say which one.");
    assert_eq!(parent_id(batch.row(1).unwrap()), Some("c2"));
}

#[test]
fn skipped_levels_walk_the_lineage() {
    let skipping = CHP.replace(
        r#"{"friendly_name": "Sub County", "property_name": "SUBCOUNTY", "contact_type": "sub_county",
         "type": "name", "required": false, "level": 2},"#,
        "",
    );
    assert_ne!(skipping, CHP, "the Sub County level was removed");
    let config = config(&skipping);
    let batch = stage(
        contact_type(&config, "chp_area"),
        &places(),
        &Scope::All,
        "District,CHU,Outgoing CHP,Name,Phone\nMakueni,Kyamboo,,Jane Roe,0712345678\nKitui,Kyamboo,,Jo Roe,0712345679\n",
    );
    assert_eq!(parent_id(batch.row(0).unwrap()), Some("c1"));
    assert_eq!(parent_id(batch.row(1).unwrap()), Some("c2"));
}

#[test]
fn optional_levels_may_be_empty_but_the_parent_is_required() {
    let batch = chp_batch(
        ",,Kalawa,,Jane Roe,0712345678\n,Kibwezi,,,John Roe,0712345679\n",
        &Scope::All,
    );
    assert_eq!(parent_id(batch.row(0).unwrap()), Some("c4"));
    let problem = &batch.row(1).unwrap().problems()[0];
    assert_eq!(problem.kind, ProblemKind::Required);
    assert_eq!(problem.column.as_deref(), Some("CHU"));
    assert_eq!(problem.message, "is required");
}

#[test]
fn a_staged_place_can_be_the_parent() {
    let config = config(CHP);
    let mut index = places();
    index
        .add_staged(record("new-chu", "chu", "Kwa Mutisya", Some("s1")))
        .expect("a new id");
    assert!(
        index
            .add_staged(record("new-chu", "chu", "Again", Some("s1")))
            .is_err()
    );
    let batch = stage(
        contact_type(&config, "chp_area"),
        &index,
        &Scope::All,
        &format!("{HEADER},Kibwezi,kwa mutisya,,Jane Roe,0712345678\n"),
    );
    let row = first(&batch);
    let parent = row.parent().expect("resolved");
    assert_eq!((parent.id(), parent.is_staged()), ("new-chu", true));
    assert!(row.depends_on_staged());
    assert_eq!(
        row.hierarchy()[1].as_ref().map(|p| p.is_staged()),
        Some(false)
    );
}

#[test]
fn places_outside_the_scope_are_not_found_but_named() {
    let scope = Scope::Within(HashSet::from(["s2".to_owned()]));
    let batch = chp_batch(
        ",,Ngaamba,,Jane Roe,0712345678\n,,Kyamboo,,John Roe,0712345679\n",
        &scope,
    );
    let problem = &batch.row(0).unwrap().problems()[0];
    assert_eq!(problem.kind, ProblemKind::OutOfScope);
    assert_eq!(
        problem.message,
        "'Ngaamba' exists but is outside this batch's area"
    );
    // Nothing about where it is.
    let text = format!("{} {}", problem.message, problem.fix);
    assert!(!text.contains("Kibwezi") && !text.contains("c3"), "{text}");
    // The Kyamboo outside the scope does not make the one inside ambiguous.
    assert_eq!(parent_id(batch.row(1).unwrap()), Some("c2"));

    // A scope root whose own record is not loaded still counts through the parent id.
    let by_district = Scope::Within(HashSet::from(["d1".to_owned()]));
    let batch = chp_batch(",,Ngaamba,,Jane Roe,0712345678\n", &by_district);
    assert_eq!(parent_id(first(&batch)), Some("c3"));
}

#[test]
fn misspellings_get_suggestions_under_the_higher_level() {
    let batch = chp_batch(",Mutomo,Kyambo,,Jane Roe,0712345678\n", &Scope::All);
    let problem = &first(&batch).problems()[0];
    assert_eq!(problem.kind, ProblemKind::NotFound);
    assert_eq!(
        problem.message,
        "Cannot find 'CHU' matching 'Kyambo' under 'Mutomo'"
    );
    assert_eq!(problem.fix, "Did you mean 'Kyamboo'? Check the spelling.");
    assert_eq!(
        problem.describe(2),
        "Row 2, column \"CHU\", value \"Kyambo\": Cannot find 'CHU' matching 'Kyambo' under \
         'Mutomo'. Fix: Did you mean 'Kyamboo'? Check the spelling."
    );
}

#[test]
fn a_name_under_the_wrong_higher_level_says_where_it_is() {
    let batch = chp_batch(",Mutomo,Ngaamba,,Jane Roe,0712345678\n", &Scope::All);
    let problem = &first(&batch).problems()[0];
    assert_eq!(
        problem.message,
        "Cannot find 'CHU' matching 'Ngaamba' under 'Mutomo'"
    );
    assert!(
        problem
            .fix
            .starts_with("It exists elsewhere ('Ngaamba Community Health Unit' in 'Kibwezi')"),
        "{}",
        problem.fix
    );
}

#[test]
fn a_misspelt_higher_level_is_reported_on_its_own_column() {
    let batch = chp_batch(",Kibwezy,Ngaamba,,Jane Roe,0712345678\n", &Scope::All);
    let row = first(&batch);
    assert_eq!(row.problems().len(), 1, "{:?}", row.problems());
    let problem = &row.problems()[0];
    assert_eq!(problem.column.as_deref(), Some("Sub County"));
    assert_eq!(
        problem.message,
        "Cannot find 'Sub County' matching 'Kibwezy'"
    );
    assert!(problem.fix.contains("'Kibwezi'"), "{}", problem.fix);
    // The parent still resolves without the bad constraint.
    assert_eq!(parent_id(row), Some("c3"));
}

#[test]
fn replacement_resolves_a_child_of_the_parent() {
    let batch = chp_batch(
        ",Kibwezi,Kyamboo,jane doe,Joy Roe,0712345678\n,Kibwezi,Kyamboo,Jane Do,Joe Roe,0712345679\n,Mutomo,Kyamboo,Jane Doe,Jim Roe,0712345670\n",
        &Scope::All,
    );
    let row = batch.row(0).unwrap();
    assert!(row.is_replacement());
    assert_eq!(row.replacement().map(|p| p.id()), Some("a1"));
    assert_eq!(row.status(), RowStatus::Valid, "{:?}", row.problems());

    let problem = &batch.row(1).unwrap().problems()[0];
    assert_eq!(problem.column.as_deref(), Some("Outgoing CHP"));
    assert_eq!(
        problem.message,
        "Cannot find 'Outgoing CHP' matching 'Jane Do' under 'Kyamboo CHU'"
    );
    assert_eq!(
        problem.fix,
        "Did you mean 'Jane Doe Area'? Check the spelling."
    );

    // Under another CHU there is no Jane Doe.
    let problem = &batch.row(2).unwrap().problems()[0];
    assert_eq!(problem.kind, ProblemKind::NotFound);
    assert_eq!(problem.fix, "Check the spelling against the names in CHT.");
}

#[test]
fn validate_one_resolves_like_the_batch() {
    let config = config(CHP);
    let validator = Arc::new(Validator::new(contact_type(&config, "chp_area")).unwrap());
    let engine = Engine::new(validator, Arc::new(places()));
    let row = engine.validate_one(
        7,
        &["", "Mutomo", "Kyamboo", "", "Jane Roe", "0712345678"],
        &Scope::All,
        today(),
    );
    assert_eq!(row.line(), 7);
    assert_eq!(parent_id(&row), Some("c2"));
    assert_eq!(row.value(4), "Jane Roe");
    assert_eq!(row.value(5), "+254712345678");
    assert_eq!(row.value(6), "Jane Roe Area");
}

#[test]
fn engine_types_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Validator>();
    shared::<Engine>();
    shared::<portal_staging::PlaceIndex>();
    shared::<Batch>();
    shared::<StagedRow>();
}

#[test]
fn the_index_answers_lookups_and_lineage() {
    let index = places();
    assert_eq!(index.len(), 11);
    assert_eq!(
        index.get("c1").map(|p| p.name().to_owned()),
        Some("Kyamboo CHU".to_owned())
    );
    let lineage: Vec<String> = index
        .lineage("a1")
        .iter()
        .map(|p| p.id().to_owned())
        .collect();
    assert_eq!(lineage, ["c1", "s1", "d1"]);
    assert!(index.get("nope").is_none());
}

/// Sub-counties as CHT names them, all ending in " Sub County", which the Kenya config does not
/// strip (its Sub County level has no suffix patterns).
fn kenya_sub_counties() -> portal_staging::PlaceIndex {
    let names = [
        "Kibwezi",
        "Makueni",
        "Mbooni",
        "Kilome",
        "Kaiti",
        "Mutomo",
        "Kitui West",
        "Kitui East",
    ];
    portal_staging::PlaceIndex::new(names.iter().enumerate().map(|(i, name)| {
        record(
            &format!("s{i}"),
            "b_sub_county",
            &format!("{name} Sub County"),
            None,
        )
    }))
}

fn sub_county_suggestion(typed: &str) -> String {
    let config = common::kenya();
    let batch = stage(
        contact_type(&config, "c_community_health_unit"),
        &kenya_sub_counties(),
        &Scope::All,
        &format!(
            "Sub County,CHU Name,CHU Code,Link Facility Name,Link Facility MFL Code,CHA Name,CHA Phone\n\
         {typed},Kwa Mutisya,123456,Kwa Mutisya Dispensary,12345,Jane Roe,0712345678\n"
        ),
    );
    let row = first(&batch);
    let problem = row
        .problems()
        .iter()
        .find(|p| p.column.as_deref() == Some("Sub County"))
        .unwrap_or_else(|| panic!("{typed}: no Sub County problem in {:?}", row.problems()));
    assert_eq!(problem.kind, ProblemKind::NotFound);
    problem.fix.clone()
}

#[test]
fn suggestions_compare_names_without_the_suffix_they_all_share() {
    assert_eq!(
        sub_county_suggestion("Kibwezy Sub County"),
        "Did you mean 'Kibwezi Sub County'? Check the spelling."
    );
    assert_eq!(
        sub_county_suggestion("Mbonni Sub County"),
        "Did you mean 'Mbooni Sub County'? Check the spelling."
    );
    // Typed without the suffix, the stem still finds its place.
    assert_eq!(
        sub_county_suggestion("Kilomee"),
        "Did you mean 'Kilome Sub County'? Check the spelling."
    );
    // A name like none of them gets no suggestion, not the same shortest names every time.
    assert_eq!(
        sub_county_suggestion("Nairobi Central Sub County"),
        "Check the spelling against the names in CHT."
    );
}
