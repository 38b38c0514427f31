//! Deployment configs and staging over real HTTP, driven by the two shared configs: a messy
//! real-world-like upload is explained row by row, fixed in the browser's place (inline edits),
//! and every stage action is audited.

use portal_domain::BuiltinRole;
use portal_store::AuditContext;
use portal_store::access::GrantScope;
use portal_store::places;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, csrf_token, location, page_text};
use crate::world::{World, role, signed_in};

pub fn shared_config(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/deploy-config/tests/fixtures")
            .join(name),
    )
    .unwrap()
}

use test_support::place;

/// Makueni county: Kibwezi and Makindu sub-counties with their CHUs, in instance I1 (the world's
/// other places are replaced).
pub async fn makueni(app: &TestApp, w: &World) {
    let records = vec![
        place("makueni", "a_county", "Makueni", &[]),
        place("kibwezi", "b_sub_county", "Kibwezi", &["makueni"]),
        place("makindu", "b_sub_county", "Makindu", &["makueni"]),
        place(
            "kalawa",
            "c_community_health_unit",
            "Kalawa Community Health Unit",
            &["makueni", "kibwezi"],
        ),
        place(
            "mtito",
            "c_community_health_unit",
            "Mtito Andei Community Health Unit",
            &["makueni", "kibwezi"],
        ),
        place(
            "kiboko",
            "c_community_health_unit",
            "Kiboko Community Health Unit",
            &["makueni", "makindu"],
        ),
    ];
    let types = [
        "a_county",
        "b_sub_county",
        "c_community_health_unit",
        "a_country",
        "b_county",
        "c_sub_county",
        "d_ward",
    ]
    .map(str::to_owned);
    places::replace_types(
        &app.db,
        &AuditContext::command_line(chrono::Utc::now()),
        w.a,
        w.i1,
        &types,
        records,
    )
    .await
    .unwrap();
}

pub async fn upload_config(
    app: &TestApp,
    client: &Client,
    tenant: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let page = format!("/tenants/{tenant}/config");
    let token = csrf_token(&app.get_with(client, &page).await.text().await.unwrap()).unwrap();
    let form = Form::new().part("file", Part::bytes(bytes).file_name("config.json"));
    client
        .post(app.url(&format!("{page}/upload?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

pub async fn upload_rows(
    app: &TestApp,
    client: &Client,
    staging: &str,
    kind: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let token = csrf_token(&app.get_with(client, staging).await.text().await.unwrap()).unwrap();
    let form = Form::new()
        .text("contact_type", kind.to_owned())
        .part("file", Part::bytes(bytes).file_name(name.to_owned()));
    client
        .post(app.url(&format!("{staging}/upload?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Windows-1252 bytes of `text` (the characters used here are all in Latin-1).
fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 text"))
        .collect()
}

/// A portal with the world, Makueni's places in I1, the Kenya config, and a national
/// administrator signed in.
pub struct Setup {
    pub app: TestApp,
    pub w: World,
    pub national: Client,
    pub staging: String,
}

pub async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    makueni(&app, &w).await;
    w.person(
        &app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    let national = signed_in(&app, "national@health.go.ke").await;
    let saved = upload_config(
        &app,
        &national,
        &w.a.to_string(),
        shared_config("chis-ke.config.json"),
    )
    .await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        saved.text().await.unwrap()
    );
    let staging = format!("/tenants/{}/instances/{}/staging", w.a, w.i1);
    Setup {
        app,
        w,
        national,
        staging,
    }
}

#[tokio::test]
async fn a_config_is_uploaded_unchanged_previewed_and_checked() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let w = World::build(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL).await;
    let tenant = w.b.to_string();
    // Uganda's file, byte for byte.
    let saved = upload_config(&app, &admin, &tenant, shared_config("chis-ug.config.json")).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = page_text(
        app.get_with(&admin, &format!("/tenants/{tenant}/config"))
            .await,
    )
    .await;
    for column in [
        "District",
        "Health Facility",
        "Parish",
        "Outgoing VHT",
        "Village",
        "Phone Number",
        "Date of Birth",
        "Sex",
    ] {
        assert!(page.contains(column), "column {column} in the preview");
    }
    let stored = portal_store::staging::config(&app.db, w.b)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.document.as_bytes(),
        shared_config("chis-ug.config.json"),
        "kept unchanged"
    );
    assert_eq!(
        app.last_audit("config.deployment_changed").await.details["user_types"][0],
        "c50-health_center"
    );

    // A broken edit: every problem with its path, nothing saved.
    let mut broken: serde_json::Value =
        serde_json::from_slice(&shared_config("chis-ug.config.json")).unwrap();
    broken["contact_types"][0]["place_properties"][3]["parameter"] = serde_json::json!("^[a-z");
    let document = serde_json::to_string_pretty(&broken).unwrap();
    let refused = app
        .submit_with(
            &admin,
            &format!("/tenants/{tenant}/config"),
            &format!("/tenants/{tenant}/config"),
            &[("document", &document)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = page_text(refused).await;
    assert!(
        text.contains("$.contact_types[0].place_properties[3].parameter"),
        "{text}"
    );
    let stored = portal_store::staging::config(&app.db, w.b)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.document.as_bytes(),
        shared_config("chis-ug.config.json")
    );

    // The preview shows the columns an edit would give, without saving.
    let preview = app
        .submit_with(
            &admin,
            &format!("/tenants/{tenant}/config"),
            &format!("/tenants/{tenant}/config/preview"),
            &[(
                "document",
                &String::from_utf8(shared_config("chis-ke.config.json")).unwrap(),
            )],
        )
        .await;
    let text = page_text(preview).await;
    assert!(
        text.contains("The config is valid") && text.contains("CHP Phone"),
        "{text}"
    );

    // Its domains become the tenant's instances.
    let imported = app
        .submit_with(
            &admin,
            &format!("/tenants/{tenant}/config"),
            &format!("/tenants/{tenant}/config/import-domains"),
            &[
                ("domain", "eCHIS Uganda"),
                ("domain", "eCHIS Training"),
                ("service_username", "portal"),
                ("service_password", "a-service-password"),
            ],
        )
        .await;
    assert_eq!(imported.status(), StatusCode::SEE_OTHER);
    let names: Vec<String> = portal_store::instances::list_for_tenant(&app.db, w.b)
        .await
        .unwrap()
        .into_iter()
        .map(|i| format!("{} {}", i.name, i.base_url))
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("eCHIS Uganda https://echis.health.go.ug")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("eCHIS Training")),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_messy_upload_is_explained_and_fixed_in_the_browser() {
    let s = setup().await;
    let (app, national, staging) = (&s.app, &s.national, &s.staging);
    // The template has the Kenya CHP columns.
    let template = app
        .get_with(
            national,
            &format!("{staging}/template/d_community_health_volunteer_area"),
        )
        .await;
    assert_eq!(template.status(), StatusCode::OK);
    let header = template.text().await.unwrap();
    assert!(
        header.contains("CHU") && header.contains("CHP Phone"),
        "{header}"
    );

    // Windows-1252, semicolons, CRLF, stray spaces, wrong case, a misspelt CHU, a bad phone,
    // a duplicate phone, and a header in other case and spacing.
    let csv = "sub  county;chu;Outgoing CHP;CHP NAME;chp phone;Require password change\r\n\
               Kibwezi;Kalawa;;Mary Wanjiku;0712345678;\r\n\
               kibwezi ;  kalawa community health unit ;;  JOHN  mwangi ;0722000111;yes\r\n\
               Kibwezi;Kalawwa;;Ann Ménéz;0733000222;\r\n\
               Kibwezi;Mtito Andei;;Peter Otieno;12345;\r\n\
               Makindu;Kiboko;;Grace Akinyi;0712345678;\r\n";
    let uploaded = upload_rows(
        app,
        national,
        staging,
        "d_community_health_volunteer_area",
        "makueni.csv",
        windows_1252(csv),
    )
    .await;
    assert_eq!(
        uploaded.status(),
        StatusCode::SEE_OTHER,
        "{}",
        uploaded.text().await.unwrap()
    );
    let batch = location(&uploaded);
    let event = app.last_audit("stage.uploaded").await;
    assert_eq!(event.details["rows"], 5);
    assert_eq!(event.target_id.as_deref(), batch.rsplit('/').next());

    let page = page_text(app.get_with(national, &batch).await).await;
    assert!(page.contains("Ann Ménéz"), "Windows-1252 converted: {page}");
    assert!(
        page.contains("Errors 2") && page.contains("Warnings 2") && page.contains("Valid 1"),
        "{page}"
    );
    // Each problem names the column, the value and what would fix it.
    assert!(
        page.contains("CHU</strong>: Cannot find 'CHU' matching 'Kalawwa' under 'Kibwezi'"),
        "{page}"
    );
    assert!(
        page.contains("Did you mean 'Kalawa Community Health Unit'?"),
        "a suggestion: {page}"
    );
    assert!(
        page.contains("CHP Phone</strong>: Not a valid KE phone number (<q>12345</q>)"),
        "{page}"
    );
    assert!(
        page.contains("Row 6 has the same value"),
        "duplicates point at each other: {page}"
    );

    // Only errors, and search.
    let errors = page_text(
        app.get_with(national, &format!("{batch}?status=error"))
            .await,
    )
    .await;
    assert!(errors.contains("Peter Otieno") && !errors.contains("Mary Wanjiku"));
    let found = page_text(app.get_with(national, &format!("{batch}?q=grace")).await).await;
    assert!(found.contains("Grace Akinyi") && found.contains("1 row(s) match"));

    // The rows with errors, for fixing offline: original columns and an Errors column.
    let export = app
        .get_with(national, &format!("{batch}/invalid.csv"))
        .await
        .text()
        .await
        .unwrap();
    let mut lines = export.trim_start_matches('\u{feff}').lines();
    assert!(lines.next().unwrap().ends_with("\"Errors\""));
    assert_eq!(lines.count(), 2);

    // Fix the misspelt CHU inline (HTMX): the row is checked again at once.
    let token = csrf_token(&app.get_with(national, &batch).await.text().await.unwrap()).unwrap();
    let cells = ["Kibwezi", "Kalawa", "", "Ann Ménéz", "0733000222", ""];
    let mut form: Vec<(&str, &str)> = vec![
        ("_csrf", &token),
        ("contact_type", "d_community_health_volunteer_area"),
    ];
    form.extend(cells.iter().map(|c| ("cell", *c)));
    let fixed = national
        .post(app.url(&format!("{batch}/rows/2")))
        .header("HX-Request", "true")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), StatusCode::OK);
    let fragment = fixed.text().await.unwrap();
    assert!(
        fragment.contains("badge ok") && fragment.contains("row-2"),
        "{fragment}"
    );
    let edited = app.last_audit("stage.row_edited").await;
    assert_eq!(edited.details["row"], 2);
    // Which columns changed, with digests of the values (ADR 0007), never the values.
    let changed = edited.details["changed"].as_object().unwrap();
    assert!(!changed.is_empty(), "{changed:?}");
    for change in changed.values() {
        for side in ["before", "after"] {
            let digest = change[side].as_str().unwrap();
            assert!(digest.is_empty() || digest.starts_with("hmac:"), "{digest}");
        }
    }

    // The duplicate warning's fix names the action exactly as its button says it.
    let page = page_text(app.get_with(national, &batch).await).await;
    assert!(
        page.contains("press \"Acknowledge\" if this is intended.")
            && page.contains("type=\"submit\">Acknowledge</button>"),
        "{page}"
    );

    // Acknowledge one duplicate-phone warning; remove the row with the bad phone.
    let ack = app
        .submit_with(
            national,
            &batch,
            &format!("{batch}/rows/0/acknowledge"),
            &[],
        )
        .await;
    assert_eq!(ack.status(), StatusCode::SEE_OTHER);
    let removed = app
        .submit_with(national, &batch, &format!("{batch}/rows/3/remove"), &[])
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let removed = app.last_audit("stage.row_removed").await;
    assert_eq!(removed.details["row"], 3);
    let cells = removed.details["cells"].as_object().unwrap();
    assert!(
        cells
            .values()
            .all(|c| c.as_str().unwrap().starts_with("hmac:"))
    );
    assert!(!cells.is_empty());
    // No staged value reaches the append-only trail.
    let trail = serde_json::to_string(
        &portal_store::audit::list_recent(&app.db, 1000)
            .await
            .unwrap()
            .iter()
            .map(|e| &e.details)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for value in ["Peter Otieno", "Ann Ménéz", "0733000222"] {
        assert!(!trail.contains(value), "{value} is in the audit trail");
    }
    let page = page_text(app.get_with(national, &batch).await).await;
    assert!(
        page.contains("Errors 0") && !page.contains("Peter Otieno"),
        "{page}"
    );
    assert!(page.contains("warning acknowledged"));

    // Fixing the duplicate clears the warning on the other row too.
    let mut form: Vec<(&str, &str)> = vec![
        ("_csrf", &token),
        ("contact_type", "d_community_health_volunteer_area"),
    ];
    let cells = ["Makindu", "Kiboko", "", "Grace Akinyi", "0799000333", ""];
    form.extend(cells.iter().map(|c| ("cell", *c)));
    let changed = app
        .post_form_with(national, &format!("{batch}/rows/4"), &form)
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    let page = page_text(app.get_with(national, &batch).await).await;
    assert!(
        page.contains("Valid 4") && page.contains("Warnings 0"),
        "{page}"
    );

    // Re-validate all; the batch survives a restart because it lives in the database.
    let again = app
        .submit_with(national, &batch, &format!("{batch}/revalidate"), &[])
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let rows = portal_store::staging::all_rows(
        &app.db,
        batch.rsplit('/').next().unwrap().parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 4);
    let actions = app.audit_actions().await;
    for action in [
        "stage.uploaded",
        "stage.row_edited",
        "stage.warnings_acknowledged",
        "stage.row_removed",
        "stage.revalidated",
    ] {
        assert!(actions.contains(&action.to_owned()), "{action}");
    }
}

#[tokio::test]
async fn bad_files_and_missing_columns_are_refused_with_the_reason() {
    let s = setup().await;
    let (app, national, staging) = (&s.app, &s.national, &s.staging);
    let missing = upload_rows(
        app,
        national,
        staging,
        "d_community_health_volunteer_area",
        "x.csv",
        b"Sub County,CHP Name\nKibwezi,Mary\n".to_vec(),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = page_text(missing).await;
    assert!(
        text.contains("Missing columns") && text.contains("CHU") && text.contains("CHP Phone"),
        "{text}"
    );
    let binary = upload_rows(
        app,
        national,
        staging,
        "d_community_health_volunteer_area",
        "x.png",
        b"\x89PNG\r\n\x1a\n\0\0\0".to_vec(),
    )
    .await;
    assert_eq!(binary.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = upload_rows(
        app,
        national,
        staging,
        "no_such_type",
        "x.csv",
        b"a\n1\n".to_vec(),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        portal_store::staging::batches(&app.db, s.w.i1)
            .await
            .unwrap()
            .is_empty(),
        "nothing half-stored"
    );
}

#[tokio::test]
async fn staging_stays_inside_the_operators_area_and_is_shared_with_colleagues_there() {
    let s = setup().await;
    let (app, w, staging) = (&s.app, &s.w, &s.staging);
    w.person(
        app,
        "kibwezi@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "kibwezi"),
    )
    .await;
    w.person(
        app,
        "kibwezi2@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "kibwezi"),
    )
    .await;
    w.person(
        app,
        "makindu@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "makindu"),
    )
    .await;
    let kibwezi = signed_in(app, "kibwezi@health.go.ke").await;
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Mary Wanjiku,0712345678,\n\
               Makindu,Kiboko,,Grace Akinyi,0712000999,\n";
    let uploaded = upload_rows(
        app,
        &kibwezi,
        staging,
        "d_community_health_volunteer_area",
        "mine.csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let batch = location(&uploaded);
    let page = page_text(app.get_with(&kibwezi, &batch).await).await;
    assert!(
        page.contains("outside this batch's area"),
        "Kiboko is in Makindu: {page}"
    );
    assert!(
        page.contains("Valid 1") && page.contains("Errors 1"),
        "{page}"
    );
    // A colleague in Kibwezi sees the batch; Makindu's manager does not.
    let colleague = signed_in(app, "kibwezi2@health.go.ke").await;
    assert_eq!(
        app.get_with(&colleague, &batch).await.status(),
        StatusCode::OK
    );
    let listed = page_text(app.get_with(&colleague, staging).await).await;
    assert!(listed.contains("mine.csv"));
    let other = signed_in(app, "makindu@health.go.ke").await;
    assert_eq!(
        app.get_with(&other, &batch).await.status(),
        StatusCode::NOT_FOUND,
        "a batch of another area answers like one that does not exist"
    );
    assert!(
        !page_text(app.get_with(&other, staging).await)
            .await
            .contains("mine.csv")
    );
    // The national administrator sees everything.
    assert_eq!(
        app.get_with(&s.national, &batch).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_row_typed_into_the_form_and_the_uganda_config_end_to_end() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let records = vec![
        place("mbale", "c20-district", "Mbale", &[]),
        place(
            "mbale-hospital",
            "c30-district_hospital",
            "Mbale Regional Hospital",
            &["mbale"],
        ),
        place(
            "nakaloke",
            "c40-parish",
            "Nakaloke",
            &["mbale", "mbale-hospital"],
        ),
    ];
    let types = ["c20-district", "c30-district_hospital", "c40-parish"].map(str::to_owned);
    places::replace_types(
        &app.db,
        &AuditContext::command_line(chrono::Utc::now()),
        w.a,
        w.i1,
        &types,
        records,
    )
    .await
    .unwrap();
    w.person(
        &app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    let national = signed_in(&app, "national@health.go.ke").await;
    let saved = upload_config(
        &app,
        &national,
        &w.a.to_string(),
        shared_config("chis-ug.config.json"),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let staging = format!("/tenants/{}/instances/{}/staging", w.a, w.i1);
    // District, Health Facility, Parish, Outgoing VHT, County, Sub County, Village, VHT Name,
    // Phone Number, Date of Birth, Sex.
    let cells = [
        "mbale",
        "Mbale Regional Hospital",
        "nakaloke",
        "",
        "",
        "Bungokho Sub County",
        "Namabasa",
        "okello JAMES",
        "0772123456",
        "25/3/1990",
        "male",
    ];
    let mut form: Vec<(&str, &str)> = vec![("contact_type", "c50-health_center")];
    form.extend(cells.iter().map(|c| ("cell", *c)));
    let added = app
        .submit_with(&national, &staging, &format!("{staging}/new-row"), &form)
        .await;
    assert_eq!(
        added.status(),
        StatusCode::SEE_OTHER,
        "{}",
        added.text().await.unwrap()
    );
    let page = page_text(app.get_with(&national, &location(&added)).await).await;
    assert!(page.contains("Valid 1"), "{page}");
    let id: uuid::Uuid = location(&added)
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let row = portal_store::staging::all_rows(&app.db, id)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.raw[7], "okello JAMES", "the cells are kept as entered");
    assert!(row.problems.is_empty(), "{:?}", row.problems);
}
