//! A batch is validated against the area fixed when it was uploaded, whoever changes it later.

use chrono::Utc;
use portal_batches::{BatchError, Input, Operator, Refusal, Staging};
use portal_crypto::MasterKey;
use portal_domain::PlaceScope;
use portal_domain::RowStatus;
use portal_store::AuditContext;
use portal_store::places;
use portal_store::staging::{self, RowRecord};

const CONFIG: &str = include_str!("../../deploy-config/tests/fixtures/chis-ke.config.json");
const CHP: &str = "d_community_health_volunteer_area";

use test_support::place;

fn out_of_area(row: &RowRecord) -> bool {
    row.status == RowStatus::Error
        && row
            .problems
            .iter()
            .any(|p| p.kind == portal_domain::ProblemKind::OutOfScope)
}

#[tokio::test]
async fn changes_by_anyone_are_judged_by_the_batchs_own_area() {
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
            place("makindu", "b_sub_county", "Makindu", &[]),
            place("kalawa", "c_community_health_unit", "Kalawa", &["kibwezi"]),
            place("kiboko", "c_community_health_unit", "Kiboko", &["makindu"]),
        ],
    )
    .await
    .unwrap();
    let staging = Staging::new(
        db.clone(),
        portal_crypto::AuditDigester::new(&portal_crypto::MasterKey::generate()),
    );
    staging.save_config(&ctx, tenant, CONFIG).await.unwrap();
    let config = staging.config(tenant).await.unwrap().unwrap();
    let operator = |area: PlaceScope| Operator {
        ctx: ctx.clone(),
        area,
        today: Utc::now().date_naive(),
    };
    let kibwezi = operator(PlaceScope::Subtrees(vec!["kibwezi".into()]));
    let national = operator(PlaceScope::Everything);
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Mary Wanjiku,0712345678,\n\
               Makindu,Kiboko,,Grace Akinyi,0712000999,\n";

    let nowhere = operator(PlaceScope::Subtrees(Vec::new()));
    let refused = staging
        .stage(
            &nowhere,
            tenant,
            instance,
            &config,
            CHP,
            Input::File {
                name: "x.csv".into(),
                bytes: csv.into(),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(BatchError::Refused(Refusal::NoArea))),
        "no batch for nowhere: {refused:?}"
    );

    let info = staging
        .stage(
            &kibwezi,
            tenant,
            instance,
            &config,
            CHP,
            Input::File {
                name: "x.csv".into(),
                bytes: csv.into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(info.anchors, ["kibwezi"], "the author's area is stored");
    let cells = |sub_county: &str, chu: &str, name: &str, phone: &str| {
        [sub_county, chu, "", name, phone, ""]
            .map(str::to_owned)
            .to_vec()
    };
    // The national operator's edit builds the batch in memory; then every kind of change, by
    // either operator, keeps Grace's row outside the batch's area.
    staging
        .edit_row(
            &national,
            &info,
            &config,
            0,
            cells("Kibwezi", "Kalawa", "Mary Wanjiku", "0712345678"),
        )
        .await
        .unwrap();
    staging
        .edit_row(
            &kibwezi,
            &info,
            &config,
            0,
            cells("Kibwezi", "Kalawa", "Mary Wanjiku", "0712000999"),
        )
        .await
        .unwrap();
    assert!(out_of_area(
        &staging::all_rows(&db, info.id).await.unwrap()[1]
    ));
    staging
        .edit_row(
            &national,
            &info,
            &config,
            1,
            cells("Makindu", "Kiboko", "Grace Akinyi", "0712000888"),
        )
        .await
        .unwrap();
    let (_, added) = staging
        .add_row(
            &national,
            &info,
            &config,
            cells("Makindu", "Kiboko", "Ann Mutua", "0712000777"),
        )
        .await
        .unwrap();
    assert!(added.iter().all(out_of_area), "{added:?}");
    staging.revalidate(&national, &info, &config).await.unwrap();
    let rows = staging::all_rows(&db, info.id).await.unwrap();
    assert_eq!(rows[0].status, RowStatus::Valid, "{rows:?}");
    assert!(rows[1..].iter().all(out_of_area), "{rows:?}");
}
