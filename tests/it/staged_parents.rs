//! Community units and their workers staged together: the workers' file names units that the
//! units' file, staged but not committed, will create. In either upload order; removing a unit
//! row, or breaking it, invalidates its workers with a message that says why; only batches
//! inside the workers' batch's area count.

use portal_domain::BuiltinRole;
use portal_domain::RowStatus;
use portal_store::AuditContext;
use portal_store::places::{self, PlaceRecord};
use portal_store::staging::{Dependency, RowRecord};
use reqwest::{Client, StatusCode};

use crate::staging::{setup, upload_rows};
use crate::support::{TestApp, location, page_text};
use crate::world::{role, signed_in};

const CHU: &str = "c_community_health_unit";
const CHP: &str = "d_community_health_volunteer_area";

const UNITS: &str = "Sub County,Affected CHU,CHU Name,CHU Code,Link Facility Name,Link Facility MFL Code,CHA Name,CHA Phone,Require password change\n\
     Kibwezi,,Kwa Mutisya,123456,Makindu Dispensary,12345,Jane Mwende,0712111222,\n\
     Kibwezi,,Ngandani,123457,Makindu Dispensary,12345,Ruth Ndinda,0712111333,\n";

const WORKERS: &str = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
     Kibwezi,Kwa Mutisya,,Mary Wanjiku,0712345678,\n\
     Kibwezi,Kalawa,,Grace Akinyi,0712000999,\n\
     ,Ngandani Community Health Unit,,Esther Mueni,0712000555,\n";

/// The first unit row as the inline editor sends it, with `phone` as the CHA's phone.
fn unit_row(phone: &str) -> [&str; 9] {
    [
        "Kibwezi",
        "",
        "Kwa Mutisya",
        "123456",
        "Makindu Dispensary",
        "12345",
        "Jane Mwende",
        phone,
        "",
    ]
}

async fn rows(app: &TestApp, batch: &str) -> Vec<RowRecord> {
    portal_store::staging::all_rows(&app.db, batch_id(batch))
        .await
        .unwrap()
}

fn batch_id(batch: &str) -> uuid::Uuid {
    batch.rsplit('/').next().unwrap().parse().unwrap()
}

async fn stage(app: &TestApp, client: &Client, staging: &str, kind: &str, csv: &str) -> String {
    let name = if kind == CHU {
        "units.csv"
    } else {
        "workers.csv"
    };
    let uploaded = upload_rows(app, client, staging, kind, name, csv.into()).await;
    assert_eq!(
        uploaded.status(),
        StatusCode::SEE_OTHER,
        "{}",
        uploaded.text().await.unwrap()
    );
    location(&uploaded)
}

async fn post(app: &TestApp, client: &Client, batch: &str, path: &str, form: &[(&str, &str)]) {
    let done = app.submit_with(client, batch, path, form).await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "{}",
        done.text().await.unwrap()
    );
}

async fn edit_unit(app: &TestApp, client: &Client, batch: &str, cells: [&str; 9]) {
    let mut form: Vec<(&str, &str)> = vec![("contact_type", CHU)];
    form.extend(cells.iter().map(|c| ("cell", *c)));
    post(app, client, batch, &format!("{batch}/rows/0"), &form).await;
}

fn depends(row: &RowRecord) -> Option<(uuid::Uuid, i32, i32)> {
    row.depends_on.map(|d| (d.batch, d.idx, d.line))
}

fn message(row: &RowRecord) -> String {
    row.problems
        .iter()
        .map(|p| format!("{}: {}", p.column.as_deref().unwrap_or(""), p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Kalawa gets the codes Kenya's units carry on CHT; Mtito Andei has none.
async fn unit_codes(s: &crate::staging::Setup) {
    let place = |id: &str, kind: &str, name: &str, ancestors: &[&str], props: serde_json::Value| {
        PlaceRecord {
            id: id.into(),
            contact_type: kind.into(),
            name: name.into(),
            ancestors: ancestors.iter().map(|a| (*a).to_owned()).collect(),
            properties: props.as_object().cloned().unwrap_or_default(),
        }
    };
    let none = serde_json::json!({});
    let records = vec![
        place("makueni", "a_county", "Makueni", &[], none.clone()),
        place(
            "kibwezi",
            "b_sub_county",
            "Kibwezi",
            &["makueni"],
            none.clone(),
        ),
        place(
            "kalawa",
            "c_community_health_unit",
            "Kalawa Community Health Unit",
            &["makueni", "kibwezi"],
            serde_json::json!({"code": "100035", "link_facility_code": 10035, "link_facility_name": "Wawanyaka Dispensary"}),
        ),
        place(
            "mtito",
            "c_community_health_unit",
            "Mtito Andei Community Health Unit",
            &["makueni", "kibwezi"],
            none,
        ),
    ];
    let types = ["a_county", "b_sub_county", "c_community_health_unit"].map(str::to_owned);
    places::replace_types(
        &s.app.db,
        &AuditContext::command_line(chrono::Utc::now()),
        s.w.a,
        s.w.i1,
        &types,
        records,
    )
    .await
    .unwrap();
}

/// The copied values the preview shows for row `idx`, in order: (property, value).
fn copied(page: &str, idx: usize) -> Vec<(String, String)> {
    let start = page
        .find(&format!("<tr id=\"row-{idx}\""))
        .expect("the row is on the page");
    let row = &page[start..];
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    row.split("<li><code>")
        .skip(1)
        .filter_map(|item| {
            let (property, rest) = item.split_once("</code> = <q>")?;
            let (value, _) = rest.split_once("</q>")?;
            Some((property.to_owned(), value.to_owned()))
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn kenya_chp_areas_carry_their_units_codes_in_the_preview() {
    let s = setup().await;
    unit_codes(&s).await;
    let app = &s.app;
    let manager = kibwezi_manager(&s).await;
    let units = stage(app, &manager, &s.staging, CHU, UNITS).await;
    let unit_rows = rows(app, &units).await;
    let place = unit_rows[0].place.as_ref().unwrap();
    assert_eq!(
        place.name, "Kwa Mutisya Community Health Unit",
        "Kenya's unit suffix"
    );
    assert_eq!(
        place.properties.get("code").map(String::as_str),
        Some("123456")
    );

    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Grace Akinyi,0712000999,\n\
               Kibwezi,Kwa Mutisya,,Mary Wanjiku,0712345678,\n\
               Kibwezi,Mtito Andei,,Esther Mueni,0712000555,\n";
    let workers = stage(app, &manager, &s.staging, CHP, csv).await;
    let stored = rows(app, &workers).await;
    let page = page_text(app.get_with(&manager, &workers).await).await;
    // From the cached unit (a number in CHT becomes its text).
    assert_eq!(
        copied(&page, 0),
        pairs(&[
            ("link_facility_code", "10035"),
            ("link_facility_name", "Wawanyaka Dispensary"),
            ("chu_name", "Kalawa Community Health Unit"),
            ("chu_code", "100035"),
        ]),
        "{page}"
    );
    assert_eq!(stored[0].status, RowStatus::Valid);
    // From the unit staged in the other batch.
    assert_eq!(
        copied(&page, 1),
        pairs(&[
            ("link_facility_code", "12345"),
            ("link_facility_name", "Makindu Dispensary"),
            ("chu_name", "Kwa Mutisya Community Health Unit"),
            ("chu_code", "123456"),
        ]),
        "{page}"
    );
    let area = stored[1].place.as_ref().unwrap();
    assert_eq!(area.name, "Mary Wanjiku Area");
    // Only what the unit gives Mtito Andei's area: its name.
    assert_eq!(
        copied(&page, 2),
        pairs(&[("chu_name", "Mtito Andei Community Health Unit")])
    );
    // A unit without codes and no other area to copy from: the row warns, naming what is
    // missing, and can still go ahead once acknowledged.
    assert_eq!(stored[2].status, RowStatus::Warning, "{stored:?}");
    assert!(
        stored[2]
            .warnings
            .iter()
            .any(|w| w.kind == portal_domain::ProblemKind::InheritedMissing
                && w.value == "link_facility_code"),
        "{:?}",
        stored[2].warnings
    );

    assert!(
        page.contains("Creates <q>Grace Akinyi Area</q> with:"),
        "{page}"
    );
    assert!(
        page.contains("<code>chu_code</code> = <q>100035</q>"),
        "{page}"
    );
    assert!(
        page.contains("(code of the parent \"Kalawa Community Health Unit\")"),
        "{page}"
    );
}

/// A sub-county manager of Kibwezi, signed in.
async fn kibwezi_manager(s: &crate::staging::Setup) -> Client {
    s.w.person(
        &s.app,
        "kibwezi@health.go.ke",
        s.w.a,
        role(BuiltinRole::RegionManager),
        s.w.place(s.w.i1, "kibwezi"),
    )
    .await;
    signed_in(&s.app, "kibwezi@health.go.ke").await
}

#[tokio::test]
async fn workers_resolve_units_staged_first_and_lose_them_when_the_unit_row_goes() {
    let s = setup().await;
    let app = &s.app;
    let manager = kibwezi_manager(&s).await;
    let units = stage(app, &manager, &s.staging, CHU, UNITS).await;
    let unit_rows = rows(app, &units).await;
    assert!(
        unit_rows.iter().all(|r| r.status == RowStatus::Valid),
        "{unit_rows:?}"
    );
    let place = unit_rows[0]
        .place
        .as_ref()
        .expect("a unit row creates a place");
    assert_eq!(
        (place.name.as_str(), place.parent_id.as_deref()),
        ("Kwa Mutisya Community Health Unit", Some("kibwezi"))
    );

    let workers = stage(app, &manager, &s.staging, CHP, WORKERS).await;
    let stored = rows(app, &workers).await;
    assert!(
        stored.iter().all(|r| r.status == RowStatus::Valid),
        "{stored:?}"
    );
    let unit = batch_id(&units);
    assert_eq!(depends(&stored[0]), Some((unit, 0, 2)), "{stored:?}");
    assert_eq!(
        stored[0].place.as_ref().and_then(|p| p.parent_id.clone()),
        Some(Dependency::place_id(unit, 0))
    );
    assert_eq!(depends(&stored[1]), None, "Kalawa is on the instance");
    assert_eq!(depends(&stored[2]), Some((unit, 1, 3)), "{stored:?}");

    // The preview says where the unit comes from.
    let page = page_text(app.get_with(&manager, &workers).await).await;
    assert!(
        page.contains("Will be created by <a") && page.contains(">row 2 of units.csv</a>"),
        "{page}"
    );

    // A change to a unit that its worker does not see (the CHA's phone) leaves the workers'
    // batch as it was: no new version (every process keeps its copy), nothing audited.
    let version = |info: portal_store::staging::BatchInfo| info.version;
    let before = version(
        portal_store::staging::batch(&app.db, s.w.i1, batch_id(&workers))
            .await
            .unwrap(),
    );
    let mut ngandani = unit_row("0712999888");
    ngandani[2] = "Ngandani";
    ngandani[3] = "123457";
    let mut form: Vec<(&str, &str)> = vec![("contact_type", CHU)];
    form.extend(ngandani.iter().map(|c| ("cell", *c)));
    post(app, &manager, &units, &format!("{units}/rows/1"), &form).await;
    assert_eq!(rows(app, &units).await[1].status, RowStatus::Valid);
    let after = portal_store::staging::batch(&app.db, s.w.i1, batch_id(&workers))
        .await
        .unwrap();
    assert_eq!(
        version(after),
        before,
        "the workers' batch was not rewritten"
    );

    // The unit row is removed: its worker cannot be created, and says why.
    post(
        app,
        &manager,
        &units,
        &format!("{units}/rows/0/remove"),
        &[],
    )
    .await;
    let stored = rows(app, &workers).await;
    assert_eq!(stored[0].status, RowStatus::Error, "{stored:?}");
    let why = message(&stored[0]);
    assert!(why.starts_with("CHU: "), "{why}");
    assert!(
        why.contains(
            "It was to be created by row 2 of the staged batch \"units.csv\", which was removed"
        ),
        "{why}"
    );
    assert_eq!(depends(&stored[0]), Some((unit, 0, 2)), "kept to explain");
    assert_eq!(stored[1].status, RowStatus::Valid);
    assert_eq!(stored[2].status, RowStatus::Valid, "{stored:?}");
    let info = portal_store::staging::batch(&app.db, s.w.i1, batch_id(&workers))
        .await
        .unwrap();
    assert_eq!((info.valid, info.error), (2, 1), "counts follow");

    // The reason survives a rebuild from the database (another process, or a restart).
    let again = rows(app, &workers).await;
    post(
        app,
        &manager,
        &workers,
        &format!("{workers}/revalidate"),
        &[],
    )
    .await;
    assert_eq!(rows(app, &workers).await[0].problems, again[0].problems);
}

#[tokio::test]
async fn workers_staged_before_their_units_become_valid_and_follow_the_unit_row() {
    let s = setup().await;
    let app = &s.app;
    let manager = kibwezi_manager(&s).await;
    let workers = stage(app, &manager, &s.staging, CHP, WORKERS).await;
    let stored = rows(app, &workers).await;
    assert_eq!(stored[0].status, RowStatus::Error, "no such unit yet");
    assert_eq!(stored[2].status, RowStatus::Error);
    assert_eq!(stored[1].status, RowStatus::Valid);

    let units = stage(app, &manager, &s.staging, CHU, UNITS).await;
    let unit = batch_id(&units);
    let stored = rows(app, &workers).await;
    assert!(
        stored.iter().all(|r| r.status == RowStatus::Valid),
        "the units' upload mends the workers: {stored:?}"
    );
    assert_eq!(depends(&stored[0]), Some((unit, 0, 2)));

    // The unit row gets an error: its worker waits, and says so.
    edit_unit(app, &manager, &units, unit_row("12")).await;
    assert_eq!(rows(app, &units).await[0].status, RowStatus::Error);
    let stored = rows(app, &workers).await;
    assert_eq!(stored[0].status, RowStatus::Error);
    assert!(
        message(&stored[0]).contains("which now has errors: fix that row first"),
        "{}",
        message(&stored[0])
    );
    assert_eq!(stored[2].status, RowStatus::Valid, "the other unit is fine");

    // Fixed again: the worker follows.
    edit_unit(app, &manager, &units, unit_row("0712111222")).await;
    let stored = rows(app, &workers).await;
    assert_eq!(stored[0].status, RowStatus::Valid, "{stored:?}");
    assert_eq!(depends(&stored[0]), Some((unit, 0, 2)));
}

#[tokio::test]
async fn units_staged_outside_the_workers_area_are_not_parents() {
    let s = setup().await;
    let app = &s.app;
    let manager = kibwezi_manager(&s).await;
    // The national administrator stages the units for the whole instance: a batch the
    // sub-county manager may not see, so their workers' file cannot name its units.
    stage(app, &s.national, &s.staging, CHU, UNITS).await;
    let workers = stage(app, &manager, &s.staging, CHP, WORKERS).await;
    let stored = rows(app, &workers).await;
    assert_eq!(stored[0].status, RowStatus::Error, "{stored:?}");
    assert!(message(&stored[0]).contains("Kwa Mutisya"), "{stored:?}");
    assert_eq!(depends(&stored[0]), None);

    // The national administrator's own workers' file, for the whole instance, does see them.
    let national_workers = stage(app, &s.national, &s.staging, CHP, WORKERS).await;
    let stored = rows(app, &national_workers).await;
    assert!(
        stored.iter().all(|r| r.status == RowStatus::Valid),
        "{stored:?}"
    );
}

/// The same with a Togo-style config (French, a regex without `errorDescription`): units and
/// the villages under them, staged together by a district manager; a bad village code gets the
/// default message naming the field and the pattern, and once fixed the row is valid and waits
/// for its unit.
#[tokio::test]
async fn a_togo_style_config_stages_units_and_villages_together() {
    let app = TestApp::spawn().await;
    let w = crate::world::World::build(&app).await;
    let types = ["c20_district", "c30_unite_communautaire", "c40_village"].map(str::to_owned);
    places::replace_types(
        &app.db,
        &AuditContext::command_line(chrono::Utc::now()),
        w.a,
        w.i1,
        &types,
        vec![
            test_support::place("golfe", "c20_district", "Golfe", &[]),
            test_support::place("lacs", "c20_district", "Lacs", &[]),
        ],
    )
    .await
    .unwrap();
    w.person(
        &app,
        "national@sante.gouv.tg",
        w.a,
        role(BuiltinRole::NationalAdmin),
        portal_store::access::GrantScope::Tenant,
    )
    .await;
    let national = signed_in(&app, "national@sante.gouv.tg").await;
    let saved = crate::staging::upload_config(
        &app,
        &national,
        &w.a.to_string(),
        crate::staging::shared_config("togo-style.config.json"),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    w.person(
        &app,
        "golfe@sante.gouv.tg",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "golfe"),
    )
    .await;
    let manager = signed_in(&app, "golfe@sante.gouv.tg").await;
    let staging = format!("/tenants/{}/instances/{}/staging", w.a, w.i1);

    let units = "District sanitaire,Superviseur sortant,Nom de l'unité,Code de l'unité,Nom du superviseur,Téléphone,Numéro de carte d'identité\n\
                 Golfe,,Bè Kpota,USC-0001,Kossi Mensah,90 11 22 33,\n";
    let uploaded = upload_rows(
        &app,
        &manager,
        &staging,
        "c30_unite_communautaire",
        "unites.csv",
        units.into(),
    )
    .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let units = location(&uploaded);
    let unit_rows = rows(&app, &units).await;
    assert_eq!(unit_rows[0].status, RowStatus::Valid, "{unit_rows:?}");

    let villages = "District sanitaire,Unité de soins communautaires,Agent sortant,Nom du village,Code du village,Nom de l'agent,Sexe\n\
                    Golfe,Bè Kpota,,Adakpamé,ad001,Afi Dogbe,female\n";
    let uploaded = upload_rows(
        &app,
        &manager,
        &staging,
        "c40_village",
        "villages.csv",
        villages.into(),
    )
    .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let villages = location(&uploaded);
    let stored = rows(&app, &villages).await;
    assert_eq!(stored[0].status, RowStatus::Error, "{stored:?}");
    assert_eq!(
        message(&stored[0]),
        "Code du village: Not a valid Code du village: expected text matching the pattern ^[A-Z]{2}\\d{3}$",
        "{stored:?}"
    );
    assert_eq!(
        depends(&stored[0]),
        Some((batch_id(&units), 0, 2)),
        "the unit resolves while the code is wrong"
    );

    let fixed = [
        "Golfe",
        "Bè Kpota",
        "",
        "Adakpamé",
        "AD001",
        "Afi Dogbe",
        "female",
    ];
    let mut form: Vec<(&str, &str)> = vec![("contact_type", "c40_village")];
    form.extend(fixed.iter().map(|c| ("cell", *c)));
    post(
        &app,
        &manager,
        &villages,
        &format!("{villages}/rows/0"),
        &form,
    )
    .await;
    let stored = rows(&app, &villages).await;
    assert_eq!(stored[0].status, RowStatus::Valid, "{stored:?}");
    assert_eq!(depends(&stored[0]), Some((batch_id(&units), 0, 2)));
}
