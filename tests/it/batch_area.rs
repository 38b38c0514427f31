//! A batch is judged by the area it was staged for, whoever touches it: a national
//! administrator working on a region manager's batch neither widens it in memory nor in the
//! database. And an area of many places fits in the batch (PostgreSQL once limited it to 200
//! characters).

use portal_domain::BuiltinRole;
use portal_domain::RowStatus;
use portal_store::AuditContext;
use portal_store::places::{self, PlaceRecord};
use portal_store::staging::RowRecord;
use reqwest::{Client, StatusCode};

use crate::staging::{setup, upload_rows};
use crate::support::{TestApp, location, page_text};
use crate::world::{role, signed_in};

const CHP: &str = "d_community_health_volunteer_area";

async fn rows(app: &TestApp, batch: &str) -> Vec<RowRecord> {
    let id: uuid::Uuid = batch.rsplit('/').next().unwrap().parse().unwrap();
    portal_store::staging::all_rows(&app.db, id).await.unwrap()
}

/// Saves row `idx` of `batch` with `cells`, as the inline editor does.
async fn edit(app: &TestApp, client: &Client, batch: &str, idx: usize, cells: [&str; 6]) {
    let mut form: Vec<(&str, &str)> = vec![("contact_type", CHP)];
    form.extend(cells.iter().map(|c| ("cell", *c)));
    let saved = app
        .submit_with(client, batch, &format!("{batch}/rows/{idx}"), &form)
        .await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        saved.text().await.unwrap()
    );
}

fn out_of_area(row: &RowRecord) -> bool {
    row.status == RowStatus::Error
        && row
            .problems
            .iter()
            .any(|p| p.kind == portal_domain::ProblemKind::OutOfScope)
}

#[tokio::test]
async fn a_row_outside_the_batchs_area_stays_out_whoever_touches_the_batch() {
    let s = setup().await;
    let (app, w, national, staging) = (&s.app, &s.w, &s.national, &s.staging);
    w.person(
        app,
        "kibwezi@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "kibwezi"),
    )
    .await;
    let kibwezi = signed_in(app, "kibwezi@health.go.ke").await;
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Mary Wanjiku,0712345678,\n\
               Makindu,Kiboko,,Grace Akinyi,0712000999,\n";
    let uploaded = upload_rows(app, &kibwezi, staging, CHP, "mine.csv", csv.into()).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let batch = location(&uploaded);
    let stored = rows(app, &batch).await;
    assert_eq!(stored[0].status, RowStatus::Valid);
    assert!(out_of_area(&stored[1]), "Kiboko is in Makindu: {stored:?}");

    // The national administrator edits the in-area row: this process builds the batch in
    // memory on their behalf.
    let mary = ["Kibwezi", "Kalawa", "", "Mary Wanjiku", "0712345678", ""];
    edit(app, national, &batch, 0, mary).await;
    assert!(out_of_area(&rows(app, &batch).await[1]));

    // The region manager gives Mary Grace's phone: Grace's row is written again (its duplicate
    // warning changed), from the copy in memory, and must still be outside the area.
    let shared = ["Kibwezi", "Kalawa", "", "Mary Wanjiku", "0712000999", ""];
    edit(app, &kibwezi, &batch, 0, shared).await;
    let stored = rows(app, &batch).await;
    assert_eq!(stored[0].status, RowStatus::Warning, "{stored:?}");
    assert!(out_of_area(&stored[1]), "{stored:?}");
    assert!(
        !stored[1].warnings.is_empty(),
        "Grace's row was written again, with the duplicate warning: {stored:?}"
    );

    // The national administrator edits Grace's row and checks every row again: the batch's
    // area still applies, not theirs.
    let grace = ["Makindu", "Kiboko", "", "Grace A. Akinyi", "0712000999", ""];
    edit(app, national, &batch, 1, grace).await;
    assert!(out_of_area(&rows(app, &batch).await[1]));
    let again = app
        .submit_with(national, &batch, &format!("{batch}/revalidate"), &[])
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert!(out_of_area(&rows(app, &batch).await[1]));

    // Both see the same statuses, and where they come from.
    for client in [&kibwezi, national] {
        let page = page_text(app.get_with(client, &batch).await).await;
        assert!(
            page.contains("Errors 1") && page.contains("outside this batch's area"),
            "{page}"
        );
        assert!(page.contains("for Kibwezi: every row is checked"), "{page}");
    }
}

#[tokio::test]
async fn an_operator_staging_in_many_places_can_upload() {
    let s = setup().await;
    let (app, w, staging) = (&s.app, &s.w, &s.staging);
    // Makueni's sub-counties, and twelve more with long ids: the area's JSON is over 400 bytes.
    let mut records = vec![
        record("makueni", "a_county", "Makueni", &[]),
        record("kibwezi", "b_sub_county", "Kibwezi", &["makueni"]),
        record(
            "kalawa",
            "c_community_health_unit",
            "Kalawa Community Health Unit",
            &["makueni", "kibwezi"],
        ),
    ];
    let extra: Vec<String> = (1..=12)
        .map(|n| format!("makueni-sub-county-{n:02}-0123456789"))
        .collect();
    for id in &extra {
        records.push(record(id, "b_sub_county", id, &["makueni"]));
    }
    let types = ["a_county", "b_sub_county", "c_community_health_unit"].map(str::to_owned);
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
    let email = "many@health.go.ke";
    for place in std::iter::once("kibwezi").chain(extra.iter().map(String::as_str)) {
        w.person(
            app,
            email,
            w.a,
            role(BuiltinRole::RegionManager),
            w.place(w.i1, place),
        )
        .await;
    }
    let many = signed_in(app, email).await;
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Mary Wanjiku,0712345678,\n";
    let uploaded = upload_rows(app, &many, staging, CHP, "many.csv", csv.into()).await;
    assert_eq!(
        uploaded.status(),
        StatusCode::SEE_OTHER,
        "{}",
        uploaded.text().await.unwrap()
    );
    let batch = location(&uploaded);
    let id: uuid::Uuid = batch.rsplit('/').next().unwrap().parse().unwrap();
    let info = portal_store::staging::batch(&app.db, w.i1, id)
        .await
        .unwrap();
    assert_eq!(info.anchors.len(), 13, "{:?}", info.anchors);
    assert!(serde_json::to_string(&info.anchors).unwrap().len() > 200);
    // Staged, with a warning only: this Kalawa carries none of the codes Kenya's CHP areas copy.
    assert_eq!((info.valid, info.warning, info.error), (0, 1, 0));
    assert_eq!(app.get_with(&many, &batch).await.status(), StatusCode::OK);
}

fn record(id: &str, kind: &str, name: &str, ancestors: &[&str]) -> PlaceRecord {
    PlaceRecord {
        id: id.to_owned(),
        contact_type: kind.to_owned(),
        name: name.to_owned(),
        ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
        properties: serde_json::Map::new(),
    }
}
