//! Two portal processes working on one batch through one database: each sees the other's
//! changes, and an in-memory copy is never used once the batch has moved on.

use chrono::Utc;
use portal_batches::{Input, Operator, Staging};
use portal_crypto::MasterKey;
use portal_domain::PlaceScope;
use portal_domain::RowStatus;
use portal_store::AuditContext;
use portal_store::places;
use portal_store::staging::{self};

const CONFIG: &str = include_str!("../../deploy-config/tests/fixtures/chis-ke.config.json");
const CHP: &str = "d_community_health_volunteer_area";

use test_support::place;

#[tokio::test]
async fn edits_from_two_processes_land_on_the_current_batch() {
    let (_dir, db) = test_support::sqlite().await;
    let ctx = AuditContext::command_line(Utc::now());
    let (tenant, instance) = test_support::tenant_with_instance(
        &db,
        &MasterKey::generate(),
        "Makueni",
        "https://makueni.example.org",
        ("portal", "service-password"),
    )
    .await;
    places::replace_types(
        &db,
        &ctx,
        tenant,
        instance,
        &["b_sub_county".into(), "c_community_health_unit".into()],
        vec![
            place("kibwezi", "b_sub_county", "Kibwezi", &[]),
            place(
                "kalawa",
                "c_community_health_unit",
                "Kalawa Community Health Unit",
                &["kibwezi"],
            ),
        ],
    )
    .await
    .unwrap();

    let first = Staging::new(
        db.clone(),
        portal_crypto::AuditDigester::new(&portal_crypto::MasterKey::generate()),
    );
    let second = Staging::new(
        db.clone(),
        portal_crypto::AuditDigester::new(&portal_crypto::MasterKey::generate()),
    );
    first.save_config(&ctx, tenant, CONFIG).await.unwrap();
    let config = first.config(tenant).await.unwrap().unwrap();
    let operator = Operator {
        ctx: ctx.clone(),
        area: PlaceScope::Everything,
        today: Utc::now().date_naive(),
    };
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Mary Wanjiku,0712345678,\n\
               Kibwezi,Kalawwa,,John Mwangi,0712345678,\n";
    let info = first
        .stage(
            &operator,
            tenant,
            instance,
            &config,
            CHP,
            Input::File {
                name: "x.csv".into(),
                bytes: csv.as_bytes().to_vec(),
            },
        )
        .await
        .unwrap();
    assert_eq!((info.valid, info.warning, info.error), (0, 1, 1));

    // The second process fixes row 1's CHU; it has no copy yet, so it builds one.
    let cells = |chu: &str, phone: &str| {
        ["Kibwezi", chu, "", "John Mwangi", phone, ""]
            .map(str::to_owned)
            .to_vec()
    };
    let (after, _) = second
        .edit_row(&operator, &info, &config, 1, cells("Kalawa", "0712345678"))
        .await
        .unwrap();
    assert_eq!(
        (after.valid, after.warning, after.error),
        (0, 2, 0),
        "both share a phone now"
    );

    // The first process still holds the batch as uploaded, and its caller the old header: the
    // edit applies to the current batch (the stale copy is rebuilt), on top of the other one.
    let (after, changed) = first
        .edit_row(&operator, &info, &config, 1, cells("Kalawa", "0799000111"))
        .await
        .unwrap();
    assert_eq!((after.valid, after.warning, after.error), (2, 0, 0));
    assert_eq!(
        changed.len(),
        2,
        "the other row's duplicate warning went too"
    );
    let rows = staging::all_rows(&db, info.id).await.unwrap();
    assert!(rows.iter().all(|r| r.status == RowStatus::Valid));
    assert_eq!(rows[1].raw[1], "Kalawa");
}
