//! The two real deployment configs (eCHIS Kenya and Uganda) driving small end-to-end batches.

mod common;

use std::sync::Arc;

use common::{contact_type, kenya, record, stage, today, uganda};
use portal_staging::{
    Engine, KnownValues, Limits, PlaceIndex, ProblemKind, RowStatus, Scope, Target, Validator,
    decode,
};

fn kenya_places() -> PlaceIndex {
    PlaceIndex::new([
        record("county", "a_county", "Makueni", None),
        record("kib", "b_sub_county", "Kibwezi East", Some("county")),
        record("mak", "b_sub_county", "Makindu", Some("county")),
        record(
            "chu1",
            "c_community_health_unit",
            "Kyamboo Community Health Unit",
            Some("kib"),
        ),
        record(
            "chu2",
            "c_community_health_unit",
            "Kyamboo Community Health Unit",
            Some("mak"),
        ),
        record(
            "chu3",
            "c_community_health_unit",
            "Ngaamba Community Health Unit",
            Some("kib"),
        ),
        record(
            "chp1",
            "d_community_health_volunteer_area",
            "Jane Mwikali Area",
            Some("chu1"),
        ),
    ])
}

#[test]
fn kenya_chp_upload() {
    let config = kenya();
    let chp = contact_type(&config, "d_community_health_volunteer_area");
    let validator = Validator::new(chp).unwrap();
    let headers: Vec<&str> = validator
        .columns()
        .iter()
        .map(|c| c.header.as_str())
        .collect();
    assert_eq!(
        headers,
        [
            "Sub County",
            "CHU",
            "Outgoing CHP",
            "CHP Name",
            "CHP Phone",
            "Require password change"
        ]
    );
    let batch = stage(
        chp,
        &kenya_places(),
        &Scope::All,
        "sub county;chu;chp name;chp phone;REQUIRE PASSWORD CHANGE\n\
         Kibwezi East;Kyamboo;JANE  NDUKU;0712 345 678;Yes\n\
         Makindu;kyamboo chu;peter mutua;+254 722 000 111;\n\
         ;Kyamboo;Ann Mueni;0733000222;no\n\
         ;Ngaamba CU;Ruth Kalekye;07330;maybe\n",
    );
    let row = batch.row(0).unwrap();
    assert_eq!(row.status(), RowStatus::Valid, "{:?}", row.problems());
    assert_eq!(row.parent().map(|p| p.id()), Some("chu1"));
    let value = |name: &str| {
        let field = validator
            .fields()
            .iter()
            .position(|f| f.header == name)
            .unwrap();
        row.value(field).to_owned()
    };
    assert_eq!(value("CHP Name"), "Jane Nduku");
    assert_eq!(value("CHP Phone"), "+254712345678");
    assert_eq!(value("Require password change"), "yes");
    assert_eq!(value("CHP Area Name"), "Jane Nduku Area");
    assert_eq!(validator.username_for(row).as_deref(), Some("jane_nduku"));
    assert_eq!(validator.roles_for(row), ["community_health_volunteer"]);

    assert_eq!(batch.row(1).unwrap().parent().map(|p| p.id()), Some("chu2"));
    assert_eq!(batch.row(1).unwrap().status(), RowStatus::Valid);

    let ambiguous = &batch.row(2).unwrap().problems()[0];
    assert_eq!(ambiguous.kind, ProblemKind::Ambiguous);
    assert_eq!(ambiguous.fix, "Fill in \"Sub County\" to say which one.");

    let bad = batch.row(3).unwrap();
    assert_eq!(bad.parent().map(|p| p.id()), Some("chu3"));
    let messages: Vec<(&str, &str)> = bad
        .problems()
        .iter()
        .map(|p| (p.column.as_deref().unwrap_or(""), p.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            ("CHP Phone", "Not a valid KE phone number"),
            ("Require password change", "Invalid value selected")
        ]
    );
    assert_eq!(
        bad.problems()[1].fix,
        "Use one of: yes (\"Yes\"), no (\"No\")."
    );
}

#[test]
fn kenya_chp_replacement_and_phone_on_the_instance() {
    let config = kenya();
    let chp = contact_type(&config, "d_community_health_volunteer_area");
    let validator = Arc::new(Validator::new(chp).unwrap());
    let index = Arc::new(kenya_places());
    let mut known = KnownValues::new();
    let phone = validator.normalize_known(Target::Contact, "phone", "0799111222");
    known.insert(&chp.name, Target::Contact, "phone", "chp1", &phone);
    let engine = Engine::new(Arc::clone(&validator), index).with_known_values(Arc::new(known));
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone\n\
               Kibwezi East,Kyamboo,Jane Mwikali’s Community Health Volunteer Area,Grace Wambua,0799111222\n\
               Kibwezi East,Kyamboo,,Faith Mumbua,0799111222\n";
    let table = decode(csv.as_bytes(), &Limits::default()).unwrap();
    let batch = engine.validate_table(&table, &Scope::All, today()).unwrap();
    let replacing = batch.row(0).unwrap();
    assert_eq!(replacing.replacement().map(|p| p.id()), Some("chp1"));
    // The outgoing CHP's phone moving to the new CHP is not a duplicate of the instance; the
    // same phone on another staged row is.
    let kinds: Vec<ProblemKind> = replacing.warnings().iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [ProblemKind::DuplicateStaged]);
    let new = batch.row(1).unwrap();
    let kinds: Vec<ProblemKind> = new.warnings().iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::DuplicateOnInstance,
            ProblemKind::DuplicateStaged
        ]
    );
}

#[test]
fn kenya_chu_upload_checks_codes_and_names() {
    let config = kenya();
    let chu = contact_type(&config, "c_community_health_unit");
    let validator = Arc::new(Validator::new(chu).unwrap());
    let index = Arc::new(kenya_places());
    let mut known = KnownValues::new();
    known.insert(&chu.name, Target::Place, "code", "chu3", "654321");
    let engine = Engine::new(Arc::clone(&validator), index).with_known_values(Arc::new(known));
    let csv = "Sub County,Affected CHU,CHU Name,CHU Code,Link Facility Name,Link Facility MFL Code,CHA Name,CHA Phone\n\
               Kibwezi East,,kyamboo community unit,123456,makindu sub-county hospital,12345,Mary Ndinda (CHA),0711000111\n\
               Kibwezi East,,Kathekakai,12345,Kathekakai Dispensary,1234,Peter Kioko,0711000112\n\
               Kibwezi East,,Ngaamba East,654321,Ngaamba Dispensary,54321,Joy Mumo (pho),0711000113\n";
    let table = decode(csv.as_bytes(), &Limits::default()).unwrap();
    let batch = engine.validate_table(&table, &Scope::All, today()).unwrap();
    let value = |row: usize, name: &str| {
        let field = validator
            .fields()
            .iter()
            .position(|f| f.header == name)
            .unwrap();
        batch.row(row).unwrap().value(field).to_owned()
    };
    assert_eq!(value(0, "CHU Name"), "Kyamboo");
    assert_eq!(
        value(0, "Link Facility Name"),
        "Makindu Sub-County Hospital"
    );
    assert_eq!(value(0, "CHA Name"), "Mary Ndinda");
    // "Kyamboo" already exists under Kibwezi East (stored with its suffix).
    let warning = &batch.row(0).unwrap().warnings()[0];
    assert_eq!(warning.kind, ProblemKind::DuplicateOnInstance);
    assert!(
        warning.message.contains("ID \"chu1\""),
        "{}",
        warning.message
    );

    let problems: Vec<(&str, &str)> = batch
        .row(1)
        .unwrap()
        .problems()
        .iter()
        .map(|p| (p.column.as_deref().unwrap_or(""), p.message.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            ("CHU Code", "Expects a six digit number (eg. 123456)"),
            (
                "Link Facility MFL Code",
                "Expects a five digit number (eg. 12345)"
            )
        ]
    );
    let warning = &batch.row(2).unwrap().warnings()[0];
    assert_eq!(warning.column.as_deref(), Some("CHU Code"));
    assert_eq!(
        warning.message,
        "A place with the same \"CHU Code\" exists on the instance. ID \"chu3\""
    );
    assert_eq!(value(2, "CHA Name"), "Joy Mumo");
}

#[test]
fn uganda_vht_upload() {
    let config = uganda();
    let vht = contact_type(&config, "c50-health_center");
    let validator = Validator::new(vht).unwrap();
    let headers: Vec<&str> = validator
        .columns()
        .iter()
        .map(|c| c.header.as_str())
        .collect();
    assert_eq!(
        headers,
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
    let index = PlaceIndex::new([
        record("dist", "c20-district", "Kisoro", None),
        record(
            "hf",
            "c30-district_hospital",
            "Kisoro Hospital",
            Some("dist"),
        ),
        record("par", "c40-parish", "Nyakabande", Some("hf")),
        record(
            "vht",
            "c50-health_center",
            "Grace Uwase Area (Gisozi)",
            Some("par"),
        ),
    ]);
    let batch = stage(
        vht,
        &index,
        &Scope::All,
        "District,Health Facility,Parish,Outgoing VHT,County,Sub County,Village,VHT Name,Phone Number,Date of Birth,Sex\n\
         kisoro,Kisoro Hospital,NYAKABANDE,,Bufumbira county ,nyakabande subcounty,Gisozi,grace  uwase,0772123456,26/2/1985,Female\n\
         Kisoro,Kisoro Hospital,Nyakabande,,,Nyakabande,Gisozi 2,Jo,07123,2030-01-01,x\n",
    );
    let row = batch.row(0).unwrap();
    let value = |name: &str| {
        let field = validator
            .fields()
            .iter()
            .position(|f| f.header == name)
            .unwrap();
        row.value(field).to_owned()
    };
    assert_eq!(row.parent().map(|p| p.id()), Some("par"));
    assert_eq!(value("VHT Area Name"), "Grace Uwase Area (Gisozi)");
    assert_eq!(value("Phone Number"), "+256772123456");
    assert_eq!(value("Date of Birth"), "1985-02-26");
    assert_eq!(value("Sex"), "female");
    assert_eq!(value("Sub County"), "Nyakabande");
    assert_eq!(value("National ID"), "");
    // Same generated name under the same parish as an existing VHT area.
    let kinds: Vec<ProblemKind> = row.warnings().iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [ProblemKind::DuplicateOnInstance]);
    assert_eq!(row.status(), RowStatus::Warning, "{:?}", row.problems());

    let messages: Vec<&str> = batch
        .row(1)
        .unwrap()
        .problems()
        .iter()
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "Only letters accepted",
            "Not a valid UG phone number",
            "Not a valid Date of Birth (eg. 1990-02-26 or 26/2/1985 or 38)",
            "Invalid value selected"
        ]
    );
}

#[test]
fn every_problem_names_row_column_value_and_fix() {
    let config = uganda();
    let vht = contact_type(&config, "c50-health_center");
    let batch = stage(
        vht,
        &PlaceIndex::default(),
        &Scope::All,
        "District,Health Facility,Parish,VHT Name,Phone Number,Date of Birth,Sex,Sub County,Village\n\
         Nowhere,,Somewhere,,123,abc,?,X,Y1\n",
    );
    let row = batch.row(0).unwrap();
    assert!(row.problems().len() >= 6, "{:?}", row.problems());
    for problem in row.problems() {
        let sentence = problem.describe(row.line());
        assert!(sentence.starts_with("Row 2, column \""), "{sentence}");
        assert!(problem.column.is_some(), "{sentence}");
        assert!(
            !problem.message.is_empty() && !problem.fix.is_empty(),
            "{sentence}"
        );
        assert!(sentence.contains(" Fix: "), "{sentence}");
    }
}
