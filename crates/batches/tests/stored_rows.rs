//! A large batch's rows are stored exactly as given, on SQLite and (given an empty database) on
//! PostgreSQL: more rows than one SQLite statement may bind (16 parameters a row, 32,766 at
//! most), every column empty or not.

use std::collections::BTreeMap;

use chrono::Utc;
use portal_crypto::MasterKey;
use portal_domain::{ProblemKind, RowCounts, RowStatus};
use portal_store::AuditContext;
use portal_store::staging::{self, Dependency, NewBatch, RowPlace, RowRecord, StoredProblem};

const ROWS: usize = 5_000;

fn problem(kind: ProblemKind, column: Option<&str>, value: &str) -> StoredProblem {
    StoredProblem {
        kind,
        column: column.map(Into::into),
        value: value.into(),
        message: format!("Message with \"quotes\", a back\\slash and ünïcödé for {value}"),
        fix: "Fix it.\nOn two lines.".into(),
    }
}

/// Row `idx`, its columns empty or not by turns.
fn row(idx: usize, parent_batch: uuid::Uuid) -> RowRecord {
    let i = i32::try_from(idx).unwrap();
    let status = [RowStatus::Valid, RowStatus::Warning, RowStatus::Error][idx % 3];
    RowRecord {
        idx: i,
        line: i + 2,
        status,
        raw: vec![
            format!("Sub County {idx}"),
            "  Kalawa  ".into(),
            String::new(),
            format!("Jane \"JJ\" O'Wanjiku, {idx}"),
            "=1+2".into(),
            "no".into(),
        ],
        problems: if status == RowStatus::Error {
            vec![problem(ProblemKind::Invalid, Some("CHP Phone"), "12345")]
        } else {
            vec![]
        },
        warnings: if status == RowStatus::Warning {
            vec![problem(
                ProblemKind::DuplicateOnInstance,
                None,
                "+254712345678",
            )]
        } else {
            vec![]
        },
        acknowledged: status == RowStatus::Warning && idx % 2 == 0,
        extra: if idx % 4 == 0 {
            vec![format!("note {idx}"), String::new()]
        } else {
            vec![]
        },
        place: (idx % 5 != 0).then(|| RowPlace {
            name: format!("Jane {idx} Area"),
            parent_id: (idx % 7 != 0).then(|| format!("chu-{idx}")),
            properties: if idx % 2 == 0 {
                BTreeMap::from([("chu_code".into(), format!("{:06}", idx))])
            } else {
                BTreeMap::new()
            },
        }),
        depends_on: (idx % 3 == 1).then(|| Dependency {
            batch: parent_batch,
            idx: i,
            line: i + 2,
        }),
    }
}

fn new_batch(
    tenant: portal_domain::TenantId,
    instance: portal_domain::InstanceId,
    file: &str,
) -> NewBatch {
    NewBatch {
        tenant_id: tenant,
        instance_id: instance,
        contact_type: "d_community_health_volunteer_area".into(),
        file_name: file.into(),
        anchors: vec![],
        notices: vec![],
        upload_header: None,
    }
}

async fn stores_every_row_as_given(db: &portal_store::Db) {
    let ctx = AuditContext::command_line(Utc::now());
    let (tenant, instance) = test_support::tenant_with_instance(
        db,
        &MasterKey::generate(),
        "Makueni",
        "https://makueni.example.org",
        ("portal", "service-password"),
    )
    .await;
    let parent = staging::create_batch(
        db,
        &ctx,
        new_batch(tenant, instance, "units.csv"),
        RowCounts::default(),
        std::iter::empty(),
    )
    .await
    .unwrap();
    let rows: Vec<RowRecord> = (0..ROWS).map(|idx| row(idx, parent.id)).collect();
    let counts = RowCounts {
        valid: ROWS.div_ceil(3),
        warning: (ROWS + 1) / 3,
        error: ROWS / 3,
    };
    let info = staging::create_batch(
        db,
        &ctx,
        new_batch(tenant, instance, "chp.csv"),
        counts,
        rows.clone().into_iter(),
    )
    .await
    .expect("a batch larger than one statement's parameters is stored");
    let stored = staging::all_rows(db, info.id).await.unwrap();
    assert_eq!(stored.len(), ROWS);
    for (got, want) in stored.iter().zip(&rows) {
        assert_eq!(got, want, "row {}", want.idx);
    }
}

#[tokio::test]
async fn sqlite_stores_every_row_as_given() {
    let (_dir, db) = test_support::sqlite().await;
    stores_every_row_as_given(&db).await;
}

/// On PostgreSQL when `PORTAL_TEST_POSTGRES_EMPTY_DB` names an empty database (for example
/// `createdb -h 127.0.0.1 -U postgres stored_rows` and
/// `PORTAL_TEST_POSTGRES_EMPTY_DB=postgres://postgres@127.0.0.1:5432/stored_rows`).
#[tokio::test]
async fn postgres_stores_every_row_as_given() {
    let Ok(url) = std::env::var("PORTAL_TEST_POSTGRES_EMPTY_DB") else {
        eprintln!("PORTAL_TEST_POSTGRES_EMPTY_DB is not set: PostgreSQL not tested");
        return;
    };
    let db = test_support::migrated(&url).await;
    stores_every_row_as_given(&db).await;
}
