//! The three dismissible warnings, against the instance and among staged rows, and keeping them
//! current when rows are edited, added and removed.

mod common;

use std::sync::Arc;

use common::{CHP, config, contact_type, places, today};
use portal_staging::{
    Batch, Engine, KnownValues, Limits, ProblemKind, RowStatus, Scope, Target, Validator, decode,
};

const HEADER: &str = "District,Sub County,CHU,Outgoing CHP,Name,Phone\n";

fn kinds(batch: &Batch, row: usize) -> Vec<ProblemKind> {
    batch
        .row(row)
        .unwrap()
        .warnings()
        .iter()
        .map(|w| w.kind)
        .collect()
}

#[test]
fn unique_place_name_among_siblings_on_the_instance() {
    let config = config(CHP);
    let batch = common::stage(
        contact_type(&config, "chp_area"),
        &places(),
        &Scope::All,
        &format!(
            "{HEADER},Kibwezi,Kyamboo,,jane doe,0712345678\n,,Ngaamba,,Jane Doe,0712345679\n\
             ,Kibwezi,Kyamboo,Jane Doe,Jane Doe,0712345670\n"
        ),
    );
    let row = batch.row(0).unwrap();
    assert_eq!(row.status(), RowStatus::Warning);
    let warning = &row.warnings()[0];
    assert_eq!(warning.kind, ProblemKind::DuplicateOnInstance);
    assert_eq!(warning.column.as_deref(), Some("Area Name"));
    assert_eq!(warning.value, "Jane Doe Area");
    assert_eq!(
        warning.message,
        "A place with the same \"Area Name\" and same parent exists on the instance. ID \"a1\""
    );
    // The fix names the batch page's button as it reads.
    assert_eq!(
        warning.fix,
        format!(
            "Check that this is not already on the instance; press \"{}\" if it is intended.",
            portal_staging::ACKNOWLEDGE_BUTTON
        )
    );
    // Under another CHU the name is free.
    assert!(kinds(&batch, 1).is_empty());
    // Replacing Jane Doe's area by a Jane Doe is not a duplicate of the place itself (only of
    // the first row, staged under the same CHU).
    assert_eq!(kinds(&batch, 2), vec![ProblemKind::DuplicateStaged]);
}

#[test]
fn unique_contact_values_among_staged_rows_and_on_the_instance() {
    let config = config(CHP);
    let validator = Arc::new(Validator::new(contact_type(&config, "chp_area")).unwrap());
    let mut known = KnownValues::new();
    let phone = validator.normalize_known(Target::Contact, "phone", "0700 000 001");
    assert_eq!(phone, "+254700000001");
    known.insert("chp_area", Target::Contact, "phone", "a2", &phone);
    let engine =
        Engine::new(Arc::clone(&validator), Arc::new(places())).with_known_values(Arc::new(known));
    let csv = format!(
        "{HEADER},,Ngaamba,,Ann Roe,0712345678\n,,Kalawa,,Bob Roe,+254 712 345 678\n\
         ,,Kalawa,,Cy Roe,0700000001\n"
    );
    let table = decode(csv.as_bytes(), &Limits::default()).unwrap();
    let mut batch = engine.validate_table(&table, &Scope::All, today()).unwrap();

    let staged = &batch.row(0).unwrap().warnings()[0];
    assert_eq!(staged.kind, ProblemKind::DuplicateStaged);
    assert_eq!(
        staged.message,
        "Multiple staged entries have the same \"Phone\""
    );
    assert_eq!(staged.value, "+254712345678");
    assert!(
        staged.fix.starts_with("Row 3 has the same value"),
        "{}",
        staged.fix
    );
    assert_eq!(kinds(&batch, 1), vec![ProblemKind::DuplicateStaged]);

    let on_instance = &batch.row(2).unwrap().warnings()[0];
    assert_eq!(on_instance.kind, ProblemKind::DuplicateOnInstance);
    assert_eq!(
        on_instance.message,
        "A contact with the same \"Phone\" exists on the instance: the primary contact of \"Mary Wanjiku Area\" (ID \"a2\")"
    );

    // Editing one of the pair clears both; only the rows sharing a value are touched.
    let edited = engine.validate_one(
        3,
        &["", "", "Kalawa", "", "Bob Roe", "0712000000"],
        &Scope::All,
        today(),
    );
    let affected = batch.replace(1, edited);
    assert_eq!(affected, vec![0, 1]);
    assert_eq!(batch.row(0).unwrap().status(), RowStatus::Valid);
    assert_eq!(batch.row(1).unwrap().status(), RowStatus::Valid);

    // Adding a row with the same phone warns both again; removing it clears them.
    let again = engine.validate_one(
        9,
        &["", "", "Kalawa", "", "Di Roe", "0712000000"],
        &Scope::All,
        today(),
    );
    let (index, affected) = batch.push(again);
    assert_eq!((index, affected), (3, vec![1, 3]));
    assert_eq!(kinds(&batch, 1), vec![ProblemKind::DuplicateStaged]);
    let (_, affected) = batch.remove(3).unwrap();
    assert_eq!(affected, vec![1]);
    assert!(kinds(&batch, 1).is_empty());
    assert_eq!(batch.len(), 3);
    assert!(batch.row(3).is_none());
    // The instance duplicate stays: it depends on the row alone.
    assert_eq!(kinds(&batch, 2), vec![ProblemKind::DuplicateOnInstance]);
    assert_eq!(batch.counts().warning, 1);
}

#[test]
fn two_rows_replacing_the_same_place() {
    let config = config(CHP);
    let batch = common::stage(
        contact_type(&config, "chp_area"),
        &places(),
        &Scope::All,
        &format!(
            "{HEADER},Kibwezi,Kyamboo,Jane Doe,Ann Roe,0712345678\n\
             ,Kibwezi,Kyamboo,jane doe area,Bob Roe,0712345679\n\
             ,Kibwezi,Kyamboo,Mary Wanjiku,Cy Roe,0712345670\n"
        ),
    );
    for row in [0, 1] {
        let warning = &batch.row(row).unwrap().warnings()[0];
        assert_eq!(warning.kind, ProblemKind::SameReplacement);
        assert_eq!(
            warning.message,
            "Multiple entries are replacing the same \"Jane Doe Area\""
        );
    }
    assert!(kinds(&batch, 2).is_empty());
}

#[test]
fn unique_parent_needs_the_same_parent_among_staged_rows() {
    let config = config(CHP);
    let batch = common::stage(
        contact_type(&config, "chp_area"),
        &places(),
        &Scope::All,
        &format!(
            "{HEADER},,Ngaamba,,Ann Roe,0712345671\n,,Ngaamba,,ANN ROE,0712345672\n\
             ,,Kalawa,,Ann Roe,0712345673\n"
        ),
    );
    assert_eq!(kinds(&batch, 0), vec![ProblemKind::DuplicateStaged]);
    assert_eq!(
        batch.row(0).unwrap().warnings()[0].message,
        "Multiple staged entries have the same \"Area Name\" and same parent"
    );
    assert_eq!(kinds(&batch, 1), vec![ProblemKind::DuplicateStaged]);
    assert!(kinds(&batch, 2).is_empty());
}

#[test]
fn a_name_generated_from_blank_inputs_gets_the_error_not_a_duplicate_warning() {
    let config = config(CHP);
    // Both rows leave "Name" blank: the generated "Area Name" of each is only the template's
    // text (" Area"), the same for both, but that is the blank name's fault, not a duplicate.
    let batch = common::stage(
        contact_type(&config, "chp_area"),
        &places(),
        &Scope::All,
        &format!("{HEADER},Kibwezi,Kyamboo,,,0712345678\n,Kibwezi,Kyamboo,,,0712345679\n"),
    );
    for r in 0..2 {
        let row = batch.row(r).unwrap();
        assert_eq!(row.status(), RowStatus::Error);
        assert!(
            row.problems()
                .iter()
                .any(|p| p.kind == ProblemKind::Required && p.column.as_deref() == Some("Name")),
            "{:?}",
            row.problems()
        );
        assert!(kinds(&batch, r).is_empty(), "{:?}", row.warnings());
    }
}
