//! How much memory the rows-with-errors export adds, on a 100,000-row batch with 4,000 rows with
//! errors (the figure of issue 11): a measurement, not run by default.
//!
//! `cargo test -p portal-batches --test export_memory -- --ignored --nocapture`
//!
//! It compares, in this process, the export as it was (every row of the batch read at once, the
//! whole file built in memory: reproduced below) with the streamed export (pages of rows with
//! errors, each piece dropped once sent), resetting the peak resident memory (`clear_refs` 5)
//! before each and reading `VmHWM` after.

use chrono::Utc;
use futures::StreamExt;
use portal_batches::Staging;
use portal_crypto::MasterKey;
use portal_domain::RowStatus;
use portal_store::AuditContext;
use portal_store::staging::{self, NewBatch, RowRecord, StoredProblem};

const CONFIG: &str = include_str!("../../deploy-config/tests/fixtures/chis-ke.config.json");
const CHP: &str = "d_community_health_volunteer_area";
const ROWS: usize = 100_000;
const ERROR_EVERY: usize = 25; // 4,000 rows with errors

fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak to the current resident memory and returns it.
fn reset_peak() -> f64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs (Linux)");
    memory_mib("VmRSS:")
}

fn row(idx: usize) -> RowRecord {
    let error = idx % ERROR_EVERY == 0;
    let phone = if error {
        "12345".to_owned()
    } else {
        format!("07{:08}", 10_000_000 + idx)
    };
    let problem = |column: &str, value: &str| StoredProblem {
        kind: portal_domain::ProblemKind::Invalid,
        column: Some(column.into()),
        value: value.into(),
        message: "Not a valid KE phone number".into(),
        fix: "Enter a KE phone number, such as 0712 345678 or +254 712 345678.".into(),
    };
    RowRecord {
        idx: i32::try_from(idx).unwrap(),
        line: i32::try_from(idx + 2).unwrap(),
        status: if error {
            RowStatus::Error
        } else {
            RowStatus::Valid
        },
        raw: vec![
            "Kibwezi Sub County".into(),
            "Kalawa Community Health Unit".into(),
            String::new(),
            format!("Jane Wanjiku {idx}"),
            phone.clone(),
            "no".into(),
        ],
        problems: if error {
            vec![problem("CHP Phone", &phone)]
        } else {
            vec![]
        },
        warnings: vec![],
        acknowledged: false,
        extra: vec![],
        place: None,
        depends_on: None,
    }
}

/// The export before issue 11: every row read, the file built whole.
async fn export_as_before(db: &portal_store::Db, batch: uuid::Uuid) -> usize {
    let rows = staging::all_rows(db, batch).await.unwrap();
    let mut csv = portal_csv::CsvWriter::new();
    for row in rows.iter().filter(|r| r.status == RowStatus::Error) {
        let errors: Vec<String> = row
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{}: {} ({}) {}",
                    p.column.as_deref().unwrap_or(""),
                    p.message,
                    p.value,
                    p.fix
                )
            })
            .collect();
        let errors = errors.join(" | ");
        csv.row(row.raw.iter().map(String::as_str).chain([errors.as_str()]));
    }
    csv.into_bytes().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn export_memory_of_4000_error_rows_in_100000() {
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
    let staging = Staging::new(
        db.clone(),
        portal_crypto::AuditDigester::new(&MasterKey::generate()),
    );
    staging.save_config(&ctx, tenant, CONFIG).await.unwrap();
    let errors = ROWS.div_ceil(ERROR_EVERY);
    let info = staging::create_batch(
        &db,
        &ctx,
        NewBatch {
            tenant_id: tenant,
            instance_id: instance,
            contact_type: CHP.into(),
            file_name: "chp.csv".into(),
            anchors: vec![],
            notices: vec![],
            upload_header: None,
        },
        portal_domain::RowCounts {
            valid: ROWS - errors,
            warning: 0,
            error: errors,
        },
        (0..ROWS).map(row),
    )
    .await
    .unwrap();
    let config = staging.config(tenant).await.unwrap().unwrap();

    let before = reset_peak();
    let pieces = staging.invalid_csv(&info, &config).await.unwrap();
    let mut pieces = std::pin::pin!(pieces);
    let mut streamed = 0;
    while let Some(piece) = pieces.next().await {
        streamed += piece.unwrap().len();
    }
    let new = memory_mib("VmHWM:") - before;
    // After the streamed export, so memory it freed cannot hide the old way's.
    let before = reset_peak();
    let bytes = export_as_before(&db, info.id).await;
    let old = memory_mib("VmHWM:") - before;
    println!(
        "{ROWS} rows, {errors} with errors: read whole {bytes} bytes, +{old:.1} MiB; \
         streamed {streamed} bytes, +{new:.1} MiB"
    );
    assert!(new < old, "streaming holds less than the whole batch");
}
