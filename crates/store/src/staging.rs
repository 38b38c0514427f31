//! Deployment configs and staged batches, as stored.
//!
//! A staged row keeps its cells as entered (`raw`) — the source of truth — and what its last
//! validation found (status, problems, warnings), so pages can be filtered and paged in SQL
//! without validating again. Every change bumps the batch's `version` in the same transaction.

use chrono::{DateTime, Utc};
use portal_domain::{
    AuditAction, InstanceId, ProblemKind, RowCounts, RowStatus, TargetKind, TenantId,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

mod parents;

pub use parents::{StagedPlace, dependents, error_rows, rows_at, staged_places};

use crate::access::escape_like;
use crate::entity::{deployment_config, staged_row, staging_batch};
use crate::{AuditContext, AuditRecord, Result, StoreError, audit};

/// A tenant's deployment config document, as uploaded or last edited.
#[derive(Debug, Clone)]
pub struct StoredConfig {
    pub document: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn config(db: &DatabaseConnection, tenant: TenantId) -> Result<Option<StoredConfig>> {
    Ok(deployment_config::Entity::find_by_id(tenant.as_uuid())
        .one(db)
        .await?
        .map(|m| StoredConfig {
            document: m.document,
            updated_at: m.updated_at,
        }))
}

/// Stores a config document (already validated by the caller), with its audit event.
pub async fn save_config(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant: TenantId,
    document: &str,
    summary: Value,
) -> Result<()> {
    let txn = db.begin().await?;
    deployment_config::Entity::delete_by_id(tenant.as_uuid())
        .exec(&txn)
        .await?;
    deployment_config::ActiveModel {
        tenant_id: Set(tenant.as_uuid()),
        document: Set(document.to_owned()),
        updated_at: Set(ctx.now),
        updated_by: Set(ctx.actor_user_id.map(|u| u.as_uuid())),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::DeploymentConfigChanged)
            .tenant(tenant)
            .target(TargetKind::Tenant, tenant)
            .details(summary),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// One problem of a row, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredProblem {
    pub kind: ProblemKind,
    pub column: Option<String>,
    pub value: String,
    pub message: String,
    pub fix: String,
}

/// One staged row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRecord {
    pub idx: i32,
    pub line: i32,
    pub status: RowStatus,
    pub raw: Vec<String>,
    pub problems: Vec<StoredProblem>,
    pub warnings: Vec<StoredProblem>,
    /// The operator has seen the warnings and wants the row uploaded anyway.
    pub acknowledged: bool,
    /// Cells of the uploaded columns the template does not have, in header order (kept for the
    /// export; empty when the upload had none). A change that leaves it empty keeps the stored one.
    pub extra: Vec<String>,
    /// The place the row creates, when it creates one (not a replacement, name known).
    pub place: Option<RowPlace>,
    /// The staged row that creates this row's parent.
    pub depends_on: Option<Dependency>,
}

/// The place a staged row will create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPlace {
    /// Its name as it will be written.
    pub name: String,
    /// Its parent: a CHT id, or a staged place's id ([`Dependency::place_id`]).
    pub parent_id: Option<String>,
    /// Its own properties from the row's cells (its name aside). The values the deployment
    /// profile copies onto it from other places are worked out when shown and when committed
    /// (`portal_batches`), from the freshest sources, and not stored.
    pub properties: std::collections::BTreeMap<String, String>,
}

/// A staged row that another row waits for: it creates that row's parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dependency {
    pub batch: Uuid,
    pub idx: i32,
    /// Its line in its own upload, for messages.
    pub line: i32,
}

impl Dependency {
    const PREFIX: &'static str = "staged:";

    /// The id a place staged by row `idx` of `batch` has until it is created in CHT.
    #[must_use]
    pub fn place_id(batch: Uuid, idx: i32) -> String {
        format!("{}{batch}:{idx}", Self::PREFIX)
    }

    /// The batch and row of a staged place's id; `None` for a CHT id.
    #[must_use]
    pub fn parse_place_id(id: &str) -> Option<(Uuid, i32)> {
        let (batch, idx) = id.strip_prefix(Self::PREFIX)?.split_once(':')?;
        Some((batch.parse().ok()?, idx.parse().ok()?))
    }
}

/// The columns of `staged_rows`, in the order [`insert_rows`] writes them.
const ROW_COLUMNS: &str = "batch_id, idx, line, status, raw, problems, warnings, acknowledged, \
     extra_cells, place_name, parent_id, place_properties, depends_on_batch, \
     depends_on_idx, depends_on_line";
const ROW_VALUES: usize = 15;

/// JSON text of a row's lists (strings and plain structs: serialising cannot fail).
fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

impl RowRecord {
    fn values(&self, batch: Uuid, out: &mut Vec<sea_orm::Value>) {
        out.extend([
            batch.into(),
            self.idx.into(),
            self.line.into(),
            self.status.as_str().into(),
            json_text(&self.raw).into(),
            json_text(&self.problems).into(),
            json_text(&self.warnings).into(),
            self.acknowledged.into(),
            (!self.extra.is_empty())
                .then(|| json_text(&self.extra))
                .into(),
            self.place.as_ref().map(|p| p.name.clone()).into(),
            self.place.as_ref().and_then(|p| p.parent_id.clone()).into(),
            self.place
                .as_ref()
                .filter(|p| !p.properties.is_empty())
                .map(|p| json_text(&p.properties))
                .into(),
            self.depends_on.map(|d| d.batch).into(),
            self.depends_on.map(|d| d.idx).into(),
            self.depends_on.map(|d| d.line).into(),
        ]);
    }
}

impl TryFrom<staged_row::Model> for RowRecord {
    type Error = StoreError;

    fn try_from(m: staged_row::Model) -> Result<Self> {
        let unreadable = |what: &str, e: serde_json::Error| {
            StoreError::Refused(format!(
                "stored row {} of a batch has unreadable {what}: {e}",
                m.idx
            ))
        };
        Ok(Self {
            idx: m.idx,
            line: m.line,
            status: RowStatus::parse(&m.status).unwrap_or(RowStatus::Error),
            raw: serde_json::from_str(&m.raw).map_err(|e| unreadable("cells", e))?,
            problems: serde_json::from_str(&m.problems).map_err(|e| unreadable("problems", e))?,
            warnings: serde_json::from_str(&m.warnings).map_err(|e| unreadable("warnings", e))?,
            acknowledged: m.acknowledged,
            extra: match &m.extra_cells {
                Some(text) => serde_json::from_str(text).map_err(|e| unreadable("cells", e))?,
                None => Vec::new(),
            },
            place: match m.place_name {
                Some(name) => Some(RowPlace {
                    name,
                    parent_id: m.parent_id,
                    properties: match &m.place_properties {
                        Some(text) => {
                            serde_json::from_str(text).map_err(|e| unreadable("properties", e))?
                        }
                        None => std::collections::BTreeMap::new(),
                    },
                }),
                None => None,
            },
            depends_on: match (m.depends_on_batch, m.depends_on_idx) {
                (Some(batch), Some(idx)) => Some(Dependency {
                    batch,
                    idx,
                    line: m.depends_on_line.unwrap_or(0),
                }),
                _ => None,
            },
        })
    }
}

/// A batch's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub instance_id: InstanceId,
    pub contact_type: String,
    pub file_name: String,
    /// The subtrees the batch was staged in (empty: the whole instance).
    pub anchors: Vec<String>,
    pub created_by: Option<portal_domain::UserId>,
    pub created_by_label: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub valid: i32,
    pub warning: i32,
    pub error: i32,
    pub notices: Vec<String>,
    /// The uploaded header as written (without the export's own columns); `None` for batches
    /// staged before it was kept.
    pub upload_header: Option<Vec<String>>,
}

impl BatchInfo {
    #[must_use]
    pub const fn total(&self) -> i32 {
        self.valid + self.warning + self.error
    }
}

impl From<staging_batch::Model> for BatchInfo {
    fn from(m: staging_batch::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: TenantId::from_uuid(m.tenant_id),
            instance_id: InstanceId::from_uuid(m.instance_id),
            contact_type: m.contact_type,
            file_name: m.file_name,
            anchors: serde_json::from_str(&m.anchors).unwrap_or_default(),
            created_by: m.created_by.map(portal_domain::UserId::from_uuid),
            created_by_label: m.created_by_label,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
            valid: m.valid_count,
            warning: m.warning_count,
            error: m.error_count,
            notices: serde_json::from_str(&m.notices).unwrap_or_default(),
            upload_header: m.upload_header.and_then(|h| serde_json::from_str(&h).ok()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewBatch {
    pub tenant_id: TenantId,
    pub instance_id: InstanceId,
    pub contact_type: String,
    pub file_name: String,
    pub anchors: Vec<String>,
    pub notices: Vec<String>,
    /// The uploaded header as written, for the export ([`BatchInfo::upload_header`]).
    pub upload_header: Option<Vec<String>>,
}

/// Rows are made and written this many at a time, many per statement ([`insert_rows`]): an
/// upload of 100,000 rows is a few dozen statements.
const INSERT_CHUNK: usize = 3000;
/// Rows per SQLite `INSERT`: SQLite binds at most 32,766 parameters in one statement
/// (PostgreSQL 65,535, so [`INSERT_CHUNK`] rows fit there).
const SQLITE_CHUNK: usize = 32_766 / ROW_VALUES;

async fn insert_rows(db: &impl ConnectionTrait, batch: Uuid, rows: &[RowRecord]) -> Result<()> {
    let backend = db.get_database_backend();
    let postgres = backend == sea_orm::DbBackend::Postgres;
    // Within each database's limit on bound parameters per statement.
    let per_statement = if postgres { INSERT_CHUNK } else { SQLITE_CHUNK };
    let mut values = Vec::with_capacity(per_statement * ROW_VALUES);
    for chunk in rows.chunks(per_statement) {
        values.clear();
        let mut sql = String::with_capacity(48 + chunk.len() * ROW_VALUES * 6);
        sql.push_str("INSERT INTO staged_rows (");
        sql.push_str(ROW_COLUMNS);
        sql.push_str(") VALUES ");
        for (r, row) in chunk.iter().enumerate() {
            row.values(batch, &mut values);
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..ROW_VALUES {
                if c > 0 {
                    sql.push_str(", ");
                }
                if postgres {
                    sql.push('$');
                    sql.push_str(&(r * ROW_VALUES + c + 1).to_string());
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
        }
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            values.drain(..),
        ))
        .await?;
    }
    Ok(())
}

/// Stores a new batch and all its rows, with the upload's audit event, in one transaction.
pub async fn create_batch(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    new: NewBatch,
    counts: RowCounts,
    rows: impl Iterator<Item = RowRecord>,
) -> Result<BatchInfo> {
    let id = Uuid::now_v7();
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let (valid, warning, error) = (
        count(counts.valid),
        count(counts.warning),
        count(counts.error),
    );
    let txn = db.begin().await?;
    let model = staging_batch::ActiveModel {
        id: Set(id),
        tenant_id: Set(new.tenant_id.as_uuid()),
        instance_id: Set(new.instance_id.as_uuid()),
        contact_type: Set(new.contact_type.clone()),
        file_name: Set(new.file_name.chars().take(255).collect()),
        anchors: Set(serde_json::to_string(&new.anchors).unwrap_or_else(|_| "[]".into())),
        created_by: Set(ctx.actor_user_id.map(|u| u.as_uuid())),
        created_by_label: Set(ctx.actor_label.chars().take(320).collect()),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
        version: Set(1),
        valid_count: Set(valid),
        warning_count: Set(warning),
        error_count: Set(error),
        notices: Set(serde_json::to_string(&new.notices).unwrap_or_else(|_| "[]".into())),
        upload_header: Set(new.upload_header.as_ref().map(json_text)),
    }
    .insert(&txn)
    .await?;
    // Made and written a chunk at a time: a large upload never holds every record at once.
    let mut rows = rows.peekable();
    let mut total = 0usize;
    while rows.peek().is_some() {
        let chunk: Vec<RowRecord> = rows.by_ref().take(INSERT_CHUNK).collect();
        total += chunk.len();
        insert_rows(&txn, id, &chunk).await?;
    }
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::StageUploaded)
            .tenant(new.tenant_id)
            .target(TargetKind::Batch, id)
            .details(json!({
                "instance_id": new.instance_id.to_string(),
                "contact_type": new.contact_type,
                "file_name": new.file_name,
                "rows": total,
                "valid": valid,
                "warning": warning,
                "error": error,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

pub async fn batch(db: &DatabaseConnection, instance: InstanceId, id: Uuid) -> Result<BatchInfo> {
    staging_batch::Entity::find_by_id(id)
        .filter(staging_batch::Column::InstanceId.eq(instance.as_uuid()))
        .one(db)
        .await?
        .map(Into::into)
        .ok_or(StoreError::NotFound("batch"))
}

/// The instance's batches, newest first.
pub async fn batches(db: &DatabaseConnection, instance: InstanceId) -> Result<Vec<BatchInfo>> {
    Ok(staging_batch::Entity::find()
        .filter(staging_batch::Column::InstanceId.eq(instance.as_uuid()))
        .order_by_desc(staging_batch::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Which rows of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowQuery {
    pub status: Option<RowStatus>,
    /// Case-insensitive text any cell contains.
    pub search: String,
    pub offset: u64,
    pub limit: u64,
}

/// One page of rows in file order, and how many rows match in all.
pub async fn rows(
    db: &DatabaseConnection,
    batch: Uuid,
    query: &RowQuery,
) -> Result<(Vec<RowRecord>, u64)> {
    let mut condition = Condition::all().add(staged_row::Column::BatchId.eq(batch));
    if let Some(status) = query.status {
        condition = condition.add(staged_row::Column::Status.eq(status.as_str()));
    }
    let search = query.search.trim().to_lowercase();
    if !search.is_empty() {
        // The cells' JSON text, lower-cased by the database (ASCII letters on SQLite).
        condition = condition.add(
            Func::lower(Expr::col(staged_row::Column::Raw))
                .like(LikeExpr::new(format!("%{}%", escape_like(&search))).escape('\\')),
        );
    }
    if search.is_empty() {
        // Counting by status uses the (batch, status, idx) index.
        let total = staged_row::Entity::find()
            .filter(condition.clone())
            .count(db)
            .await?;
        let models = staged_row::Entity::find()
            .filter(condition)
            .order_by_asc(staged_row::Column::Idx)
            .offset(query.offset)
            .limit(query.limit)
            .all(db)
            .await?;
        let rows = models
            .into_iter()
            .map(RowRecord::try_from)
            .collect::<Result<_>>()?;
        return Ok((rows, total));
    }
    // A text search reads every row once: take the matching indexes in that one pass, then
    // the page by primary key (rather than a second pass to count).
    let matching: Vec<i32> = staged_row::Entity::find()
        .select_only()
        .column(staged_row::Column::Idx)
        .filter(condition)
        .order_by_asc(staged_row::Column::Idx)
        .into_tuple()
        .all(db)
        .await?;
    let start = usize::try_from(query.offset)
        .unwrap_or(usize::MAX)
        .min(matching.len());
    let end = start
        .saturating_add(usize::try_from(query.limit).unwrap_or(usize::MAX))
        .min(matching.len());
    let models = staged_row::Entity::find()
        .filter(staged_row::Column::BatchId.eq(batch))
        .filter(staged_row::Column::Idx.is_in(matching[start..end].iter().copied()))
        .order_by_asc(staged_row::Column::Idx)
        .all(db)
        .await?;
    let rows = models
        .into_iter()
        .map(RowRecord::try_from)
        .collect::<Result<_>>()?;
    Ok((rows, matching.len() as u64))
}

/// Up to `limit` rows with errors after row index `after` (from the start when `None`), in
/// file order: the export reads a batch a page at a time by key, using the (batch, status, idx)
/// index, so it never holds the whole batch.
pub async fn error_rows_after(
    db: &DatabaseConnection,
    batch: Uuid,
    after: Option<i32>,
    limit: u64,
) -> Result<Vec<RowRecord>> {
    let mut query = staged_row::Entity::find()
        .filter(staged_row::Column::BatchId.eq(batch))
        .filter(staged_row::Column::Status.eq(RowStatus::Error.as_str()));
    if let Some(after) = after {
        query = query.filter(staged_row::Column::Idx.gt(after));
    }
    query
        .order_by_asc(staged_row::Column::Idx)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(RowRecord::try_from)
        .collect()
}

/// Every row of a batch, in order (to rebuild it in memory).
pub async fn all_rows(db: &DatabaseConnection, batch: Uuid) -> Result<Vec<RowRecord>> {
    staged_row::Entity::find()
        .filter(staged_row::Column::BatchId.eq(batch))
        .order_by_asc(staged_row::Column::Idx)
        .all(db)
        .await?
        .into_iter()
        .map(RowRecord::try_from)
        .collect()
}

pub async fn row(db: &DatabaseConnection, batch: Uuid, idx: i32) -> Result<RowRecord> {
    staged_row::Entity::find_by_id((batch, idx))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("row"))?
        .try_into()
}

/// A change to a batch: rows to write (replacing those with the same index), rows to remove.
#[derive(Debug, Clone)]
pub struct BatchChange {
    pub action: AuditAction,
    /// The version the change was computed from: if another change landed since, it is refused.
    pub expected_version: i64,
    pub upsert: Vec<RowRecord>,
    pub remove: Vec<i32>,
    pub details: Value,
}

/// Applies a change with its audit event, and returns the batch after it. Refused (conflict)
/// when the batch moved on since `expected_version`.
pub async fn apply(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    info: &BatchInfo,
    change: BatchChange,
) -> Result<BatchInfo> {
    let txn = db.begin().await?;
    let bumped = staging_batch::Entity::update_many()
        .col_expr(
            staging_batch::Column::Version,
            Expr::col(staging_batch::Column::Version).add(Expr::val(1)),
        )
        .col_expr(staging_batch::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(staging_batch::Column::Id.eq(info.id))
        .filter(staging_batch::Column::Version.eq(change.expected_version))
        .exec(&txn)
        .await?;
    if bumped.rows_affected == 0 {
        return Err(StoreError::Conflict(
            "Someone else changed this batch at the same moment. Reload the page and try again."
                .to_owned(),
        ));
    }
    let mut upsert = change.upsert;
    keep_extra_cells(&txn, info.id, &mut upsert).await?;
    let mut touched: Vec<i32> = upsert.iter().map(|r| r.idx).collect();
    touched.extend(&change.remove);
    if !touched.is_empty() {
        for chunk in touched.chunks(INSERT_CHUNK) {
            staged_row::Entity::delete_many()
                .filter(staged_row::Column::BatchId.eq(info.id))
                .filter(staged_row::Column::Idx.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    insert_rows(&txn, info.id, &upsert).await?;
    // Counts from the table itself: exact whatever the change touched.
    let mut counts = [0i32; 3];
    let grouped: Vec<(String, i64)> = staged_row::Entity::find()
        .select_only()
        .column(staged_row::Column::Status)
        .column_as(staged_row::Column::Idx.count(), "n")
        .filter(staged_row::Column::BatchId.eq(info.id))
        .group_by(staged_row::Column::Status)
        .into_tuple()
        .all(&txn)
        .await?;
    for (status, n) in grouped {
        let slot = match RowStatus::parse(&status) {
            Some(RowStatus::Valid) => 0,
            Some(RowStatus::Warning) => 1,
            _ => 2,
        };
        counts[slot] += i32::try_from(n).unwrap_or(i32::MAX);
    }
    staging_batch::Entity::update_many()
        .col_expr(staging_batch::Column::ValidCount, Expr::value(counts[0]))
        .col_expr(staging_batch::Column::WarningCount, Expr::value(counts[1]))
        .col_expr(staging_batch::Column::ErrorCount, Expr::value(counts[2]))
        .filter(staging_batch::Column::Id.eq(info.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(change.action)
            .tenant(info.tenant_id)
            .target(TargetKind::Batch, info.id)
            .details(change.details),
    )
    .await?;
    let after = staging_batch::Entity::find_by_id(info.id)
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("batch"))?;
    txn.commit().await?;
    Ok(after.into())
}

/// Rewritten rows keep the cells of the uploaded columns the template does not have: the engine
/// never sees them, so its records of changed rows come without them.
async fn keep_extra_cells(
    db: &impl ConnectionTrait,
    batch: Uuid,
    upsert: &mut [RowRecord],
) -> Result<()> {
    let position: std::collections::HashMap<i32, usize> = upsert
        .iter()
        .enumerate()
        .filter(|(_, r)| r.extra.is_empty())
        .map(|(at, r)| (r.idx, at))
        .collect();
    let without: Vec<i32> = position.keys().copied().collect();
    for chunk in without.chunks(INSERT_CHUNK) {
        let stored: Vec<(i32, String)> = staged_row::Entity::find()
            .select_only()
            .column(staged_row::Column::Idx)
            .column(staged_row::Column::ExtraCells)
            .filter(staged_row::Column::BatchId.eq(batch))
            .filter(staged_row::Column::Idx.is_in(chunk.iter().copied()))
            .filter(staged_row::Column::ExtraCells.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        for (idx, text) in stored {
            if let Some(&at) = position.get(&idx) {
                upsert[at].extra = serde_json::from_str(&text).unwrap_or_default();
            }
        }
    }
    Ok(())
}
