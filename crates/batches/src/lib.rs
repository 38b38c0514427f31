//! Staged batches: the staging engine (`portal-staging`) over the portal database.
//!
//! Uploading decodes and validates the file off the async threads, then stores the batch and all
//! its rows in one transaction. Edits re-validate one row against the same in-memory place index
//! and keep duplicate warnings among rows current; only the rows whose state changed are written.
//! Each process keeps recently used place indexes and batches in memory, keyed by the cache
//! stamp, the batch version and the batch's area, so it never works from a stale copy.
//!
//! **A batch's area** ([`Area`]) is fixed when it is created: the `stage` area of its author at
//! that moment, stored as the batch's anchors. Every validation of the batch (upload, edit, added
//! row, removal, acknowledgement, re-validation, rebuild in memory) is judged by that area,
//! whoever triggers it, so a row's status never depends on who last touched the batch. Who may
//! act on a batch at all is the web layer's check: their own `stage` area must cover the
//! batch's area.

mod area;
mod audit_details;
mod export;

pub use area::Area;

use audit_details::CellDigests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use portal_deploy_config::{ConfigProblem, ContactType, DeploymentConfig};
use portal_domain::{AuditAction, InstanceId, TenantId};
use portal_staging::{
    Batch, Engine, KnownValues, Limits, PlaceIndex, PlaceRecord, Problem, RowStatus, Scope,
    StagedRow, Target, Validator,
};
use portal_store::staging::{
    self, BatchChange, BatchInfo, NewBatch, RowRecord, Status, StoredProblem,
};
use portal_store::{AuditContext, Db, StoreError, places};
use serde_json::json;

/// Batches kept in memory per process (the most recently used).
const CACHED_BATCHES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("staging task failed: {0}")]
    Task(String),
}

/// Why an upload (or a row) was not staged; the message is for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "The tenant has no deployment config yet. A national administrator uploads it under Configuration."
    )]
    NoConfig,
    #[error("The deployment config has no user type \"{0}\".")]
    UnknownType(String),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Header(String),
    #[error("{0}")]
    Config(String),
    #[error("The row has {given} values but the user type has {expected} columns.")]
    WrongWidth { given: usize, expected: usize },
    #[error("You may not stage users anywhere in this instance.")]
    NoArea,
}

/// The operator a change is made for: their audit context and where they may stage now.
#[derive(Debug, Clone)]
pub struct Operator {
    pub ctx: AuditContext,
    /// The operator's current `stage` area. A batch they upload is fixed to it; changes to an
    /// existing batch are judged by the batch's own area instead ([`Area::of_batch`]).
    pub area: Area,
    pub today: NaiveDate,
}

struct LoadedIndex {
    stamp: String,
    index: Arc<PlaceIndex>,
    /// Raw properties per place type, for `unique` place properties other than the name.
    properties: Arc<Vec<(String, String, String)>>,
}

struct LoadedBatch {
    version: i64,
    stamp: String,
    /// The batch's own area (part of the cache key) and its scope, used for every row.
    area: Area,
    scope: Scope,
    batch: Batch,
    acknowledged: HashSet<usize>,
    lines: HashMap<usize, usize>,
}

#[derive(Default)]
struct Caches {
    indexes: HashMap<InstanceId, Arc<LoadedIndex>>,
    batches: VecDeque<(uuid::Uuid, Arc<tokio::sync::Mutex<LoadedBatch>>)>,
}

/// The staging service. Cheap to share (put it in an `Arc` or the app state).
pub struct Staging {
    db: Db,
    /// Keyed digests of cells for audit events (ADR 0007).
    digester: portal_crypto::AuditDigester,
    caches: Mutex<Caches>,
    /// Uploads and batch rebuilds each take a core and up to a few hundred MB: at most two at
    /// a time per process, the rest wait.
    heavy: tokio::sync::Semaphore,
    /// One rebuild of a batch at a time, so concurrent edits share it instead of repeating it.
    rebuilding: tokio::sync::Mutex<()>,
    /// One place index load at a time (an upload waits for the one the staging page started).
    indexing: tokio::sync::Mutex<()>,
}

/// A tenant's parsed deployment config with its stored document.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub config: Arc<DeploymentConfig>,
    pub document: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl TenantConfig {
    /// The user type named `name`.
    #[must_use]
    pub fn contact_type(&self, name: &str) -> Option<&ContactType> {
        self.config.contact_types.iter().find(|t| t.name == name)
    }
}

fn to_stored(problems: &[Problem]) -> Vec<StoredProblem> {
    problems
        .iter()
        .map(|p| StoredProblem {
            kind: format!("{:?}", p.kind),
            column: p.column.clone(),
            value: p.value.clone(),
            message: p.message.clone(),
            fix: p.fix.clone(),
        })
        .collect()
}

fn record(idx: usize, row: &StagedRow, acknowledged: bool) -> RowRecord {
    RowRecord {
        idx: i32::try_from(idx).unwrap_or(i32::MAX),
        line: i32::try_from(row.line()).unwrap_or(i32::MAX),
        status: match row.status() {
            RowStatus::Valid => Status::Valid,
            RowStatus::Warning => Status::Warning,
            RowStatus::Error => Status::Error,
        },
        raw: row.raw_values().map(str::to_owned).collect(),
        problems: to_stored(row.problems()),
        warnings: to_stored(row.warnings()),
        acknowledged: acknowledged && row.status() == RowStatus::Warning,
        // Kept by the store when a row is rewritten; an upload sets them ([`UploadColumns`]).
        extra: Vec::new(),
    }
}

/// What an upload keeps of its columns for the export: its header as written and, per row, the
/// cells of the columns the template does not have.
struct UploadColumns {
    header: Vec<String>,
    /// Per table row; `None` when the upload has no such columns.
    extra: Option<Vec<Vec<String>>>,
}

impl UploadColumns {
    fn of(table: &portal_staging::Table, validator: &Validator) -> Result<Self, Refusal> {
        let map = validator
            .column_map(&table.header)
            .map_err(|e| Refusal::Header(e.to_string()))?;
        let extra = (!map.ignored.is_empty()).then(|| {
            table
                .rows()
                .map(|row| {
                    map.ignored
                        .iter()
                        .map(|(at, _)| row.get(*at).unwrap_or_default().to_owned())
                        .collect()
                })
                .collect()
        });
        Ok(Self {
            header: map.uploaded_header(&table.header),
            extra,
        })
    }

    /// Row `idx`'s extra cells, taken (each row's are used once).
    fn take(&mut self, idx: usize) -> Vec<String> {
        self.extra
            .as_mut()
            .and_then(|rows| rows.get_mut(idx))
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// The CSV headers of the engine's contact type, in column order: raw cells are indexed by them.
fn headers(engine: &Engine) -> Vec<String> {
    engine
        .validator()
        .columns()
        .iter()
        .map(|column| column.header.clone())
        .collect()
}

/// Values of `unique` place properties (other than the name, which the index has) held by the
/// instance's places, so duplicates on the instance are warned about.
fn known_values(
    validator: &Validator,
    contact_type: &ContactType,
    properties: &[(String, String, String)],
) -> KnownValues {
    let mut known = KnownValues::new();
    let unique: Vec<&str> = contact_type
        .place_properties
        .iter()
        .filter(|p| p.unique.is_some() && p.property_name != "name")
        .map(|p| p.property_name.as_str())
        .collect();
    if unique.is_empty() {
        return known;
    }
    for (id, kind, props) in properties {
        if *kind != contact_type.name {
            continue;
        }
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(props)
        else {
            continue;
        };
        for name in &unique {
            if let Some(value) = map.get(*name).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }) {
                let normalized = validator.normalize_known(Target::Place, name, &value);
                known.insert(kind, Target::Place, name, id, &normalized);
            }
        }
    }
    known
}

impl Staging {
    #[must_use]
    pub fn new(db: Db, digester: portal_crypto::AuditDigester) -> Self {
        Self {
            db,
            digester,
            caches: Mutex::new(Caches::default()),
            heavy: tokio::sync::Semaphore::new(2),
            rebuilding: tokio::sync::Mutex::new(()),
            indexing: tokio::sync::Mutex::new(()),
        }
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant's deployment config, when one was uploaded.
    pub async fn config(&self, tenant: TenantId) -> Result<Option<TenantConfig>, BatchError> {
        let Some(stored) = staging::config(&self.db, tenant).await? else {
            return Ok(None);
        };
        // Stored documents passed the check when saved; one that no longer parses (a newer
        // rule) is reported as absent rather than half-used.
        Ok(portal_deploy_config::check(stored.document.as_bytes())
            .ok()
            .map(|config| TenantConfig {
                config: Arc::new(config),
                document: stored.document,
                updated_at: stored.updated_at,
            }))
    }

    /// Validates and stores a config document. `Ok(Err(problems))` when it is not valid.
    pub async fn save_config(
        &self,
        ctx: &AuditContext,
        tenant: TenantId,
        document: &str,
    ) -> Result<Result<DeploymentConfig, Vec<ConfigProblem>>, BatchError> {
        let config = match portal_deploy_config::check(document.as_bytes()) {
            Ok(config) => config,
            Err(problems) => return Ok(Err(problems)),
        };
        let summary = json!({
            "user_types": config.contact_types.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            "domains": config.domains.len(),
            "bytes": document.len(),
        });
        staging::save_config(&self.db, ctx, tenant, document, summary).await?;
        Ok(Ok(config))
    }

    async fn index(&self, instance: InstanceId) -> Result<Arc<LoadedIndex>, BatchError> {
        let stamp = places::cache_stamp(&self.db, instance).await?;
        let cached = |this: &Self| {
            this.caches()
                .indexes
                .get(&instance)
                .filter(|found| found.stamp == stamp)
                .map(Arc::clone)
        };
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let _one_load = self.indexing.lock().await;
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let cached = places::all_for_index(&self.db, instance).await?;
        let loaded = tokio::task::spawn_blocking(move || {
            let mut properties = Vec::new();
            let records: Vec<PlaceRecord> = cached
                .into_iter()
                .map(|p| {
                    if p.properties.len() > 2 {
                        properties.push((p.id.clone(), p.contact_type.clone(), p.properties));
                    }
                    PlaceRecord {
                        id: p.id,
                        contact_type: p.contact_type,
                        name: p.name,
                        parent_id: p.parent_id,
                    }
                })
                .collect();
            LoadedIndex {
                stamp,
                index: Arc::new(PlaceIndex::new(records)),
                properties: Arc::new(properties),
            }
        })
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let loaded = Arc::new(loaded);
        self.caches().indexes.insert(instance, Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Decodes, validates and stores an upload as a new batch.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload(
        &self,
        operator: &Operator,
        tenant: TenantId,
        instance: InstanceId,
        config: &TenantConfig,
        contact_type: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Result<BatchInfo, Refusal>, BatchError> {
        let Some(kind) = config.contact_type(contact_type).cloned() else {
            return Ok(Err(Refusal::UnknownType(contact_type.to_owned())));
        };
        let Some(anchors) = operator.area.anchors() else {
            return Ok(Err(Refusal::NoArea));
        };
        let _permit = self
            .heavy
            .acquire()
            .await
            .map_err(|e| BatchError::Task(e.to_string()))?;
        let started = std::time::Instant::now();
        let loaded = self.index(instance).await?;
        let indexed = started.elapsed();
        let scope = operator.area.scope();
        let today = operator.today;
        let validated = tokio::task::spawn_blocking(
            move || -> Result<(Batch, Vec<String>, UploadColumns), Refusal> {
                let table = portal_staging::decode(&bytes, &Limits::default())
                    .map_err(|e| Refusal::Input(e.to_string()))?;
                drop(bytes);
                let validator =
                    Validator::new(&kind).map_err(|e| Refusal::Config(e.to_string()))?;
                let columns = UploadColumns::of(&table, &validator)?;
                let known = known_values(&validator, &kind, &loaded.properties);
                let engine = Engine::new(Arc::new(validator), Arc::clone(&loaded.index))
                    .with_known_values(Arc::new(known));
                let batch = engine
                    .validate_table(&table, &scope, today)
                    .map_err(|e| Refusal::Header(e.to_string()))?;
                drop(table);
                let notices = batch.notices().to_vec();
                Ok((batch, notices, columns))
            },
        )
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let (batch, notices, mut columns) = match validated {
            Ok(done) => done,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let counts = batch.counts();
        let total = batch.len();
        let counts = staging::Counts {
            valid: i32::try_from(counts.valid).unwrap_or(i32::MAX),
            warning: i32::try_from(counts.warning).unwrap_or(i32::MAX),
            error: i32::try_from(counts.error).unwrap_or(i32::MAX),
        };
        let validated_at = std::time::Instant::now();
        let info = staging::create_batch(
            &self.db,
            &operator.ctx,
            NewBatch {
                tenant_id: tenant,
                instance_id: instance,
                contact_type: contact_type.to_owned(),
                file_name: file_name.to_owned(),
                anchors,
                notices,
                upload_header: Some(std::mem::take(&mut columns.header)),
            },
            counts,
            // Owned rows, each freed as its record is written.
            batch
                .into_rows()
                .into_iter()
                .map(move |(i, row)| RowRecord {
                    extra: columns.take(i),
                    ..record(i, &row, false)
                }),
        )
        .await?;
        tracing::info!(
            batch = %info.id,
            rows = total,
            index_ms = indexed.as_millis(),
            validated_ms = (validated_at - started).as_millis(),
            stored_ms = validated_at.elapsed().as_millis(),
            "staged an upload"
        );
        Ok(Ok(info))
    }

    /// Loads the instance's place index ahead of an upload (when someone opens the staging
    /// page), so the upload itself does not wait for it.
    pub async fn warm(&self, instance: InstanceId) -> Result<(), BatchError> {
        self.index(instance).await.map(|_| ())
    }

    /// This process's copy of the batch, if it is current.
    async fn current_copy(
        &self,
        info: &BatchInfo,
        loaded_index: &Arc<LoadedIndex>,
    ) -> Option<Arc<tokio::sync::Mutex<LoadedBatch>>> {
        let cached = self
            .caches()
            .batches
            .iter()
            .find(|(id, _)| *id == info.id)
            .map(|(_, b)| Arc::clone(b))?;
        let guard = cached.lock().await;
        let current = guard.version == info.version
            && guard.stamp == loaded_index.stamp
            && guard.area == Area::of_batch(info);
        drop(guard);
        current.then_some(cached)
    }

    /// The batch in memory, rebuilt from the database when this process has no current copy.
    async fn loaded(
        &self,
        info: &BatchInfo,
        config: &TenantConfig,
        loaded_index: &Arc<LoadedIndex>,
        today: NaiveDate,
    ) -> Result<Result<Arc<tokio::sync::Mutex<LoadedBatch>>, Refusal>, BatchError> {
        if let Some(cached) = self.current_copy(info, loaded_index).await {
            return Ok(Ok(cached));
        }
        let _one_rebuild = self.rebuilding.lock().await;
        // Another request may have rebuilt it while this one waited.
        if let Some(cached) = self.current_copy(info, loaded_index).await {
            return Ok(Ok(cached));
        }
        let _permit = self
            .heavy
            .acquire()
            .await
            .map_err(|e| BatchError::Task(e.to_string()))?;
        let Some(kind) = config.contact_type(&info.contact_type).cloned() else {
            return Ok(Err(Refusal::UnknownType(info.contact_type.clone())));
        };
        let stored = staging::all_rows(&self.db, info.id).await?;
        let index = Arc::clone(loaded_index);
        // The batch's own area, never the scope of whoever happens to trigger the rebuild.
        let area = Area::of_batch(info);
        let scope = area.scope();
        let (version, stamp) = (info.version, loaded_index.stamp.clone());
        let built = tokio::task::spawn_blocking(move || -> Result<LoadedBatch, Refusal> {
            let validator = Validator::new(&kind).map_err(|e| Refusal::Config(e.to_string()))?;
            let known = known_values(&validator, &kind, &index.properties);
            let width = validator.columns().len();
            let engine = Engine::new(Arc::new(validator), Arc::clone(&index.index))
                .with_known_values(Arc::new(known));
            let mut rows = Vec::with_capacity(stored.len());
            let mut acknowledged = HashSet::new();
            let mut lines = HashMap::new();
            // Indexes are stable ids: removed rows stay as gaps, so re-validate into place.
            let mut slots: Vec<Option<StagedRow>> = Vec::new();
            for r in &stored {
                let idx = usize::try_from(r.idx).unwrap_or(usize::MAX);
                let cells: Vec<&str> = r.raw.iter().map(String::as_str).take(width).collect();
                let row = engine.validate_one(
                    usize::try_from(r.line).unwrap_or(0),
                    &cells,
                    &scope,
                    today,
                );
                if slots.len() <= idx {
                    slots.resize_with(idx + 1, || None);
                }
                slots[idx] = Some(row);
                if r.acknowledged {
                    acknowledged.insert(idx);
                }
                lines.insert(idx, usize::try_from(r.line).unwrap_or(0));
            }
            let mut removed = Vec::new();
            for (i, slot) in slots.into_iter().enumerate() {
                match slot {
                    Some(row) => rows.push(row),
                    None => {
                        removed.push(i);
                        // A placeholder keeps later indexes in place; removed right after.
                        rows.push(engine.validate_one(0, &[], &Scope::All, today));
                    }
                }
            }
            let mut batch = engine.batch(rows, Vec::new());
            for i in removed {
                batch.remove(i);
            }
            Ok(LoadedBatch {
                version,
                stamp,
                area,
                scope,
                batch,
                acknowledged,
                lines,
            })
        })
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let built = match built {
            Ok(built) => Arc::new(tokio::sync::Mutex::new(built)),
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut caches = self.caches();
        caches.batches.retain(|(id, _)| *id != info.id);
        caches.batches.push_front((info.id, Arc::clone(&built)));
        caches.batches.truncate(CACHED_BATCHES);
        Ok(Ok(built))
    }

    /// Runs `change` on the batch in memory and writes the rows it affected.
    async fn change<F>(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        action: AuditAction,
        change: F,
    ) -> Result<Result<(BatchInfo, Vec<RowRecord>), Refusal>, BatchError>
    where
        F: FnOnce(
            &mut LoadedBatch,
            &Engine,
        ) -> Result<(Vec<usize>, Vec<usize>, serde_json::Value), Refusal>,
    {
        // The header as it is now, not as the caller read it: a row edit applies to the
        // current batch, whatever changed since the page was loaded.
        let info = &staging::batch(&self.db, info.instance_id, info.id).await?;
        let index = self.index(info.instance_id).await?;
        let loaded = match self.loaded(info, config, &index, operator.today).await? {
            Ok(loaded) => loaded,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let Some(kind) = config.contact_type(&info.contact_type) else {
            return Ok(Err(Refusal::UnknownType(info.contact_type.clone())));
        };
        let validator = match Validator::new(kind) {
            Ok(v) => v,
            Err(e) => return Ok(Err(Refusal::Config(e.to_string()))),
        };
        let known = known_values(&validator, kind, &index.properties);
        let mut guard = loaded.lock().await;
        let engine = Engine::new(Arc::new(validator), Arc::clone(&index.index))
            .with_known_values(Arc::new(known));
        let expected_version = guard.version;
        // From here the copy in memory is ahead of the database; if writing fails it is marked
        // stale and rebuilt by the next request.
        let (affected, removed, details) = match change(&mut guard, &engine) {
            Ok(done) => done,
            Err(refusal) => {
                guard.version = -1;
                return Ok(Err(refusal));
            }
        };
        let upsert: Vec<RowRecord> = affected
            .iter()
            .filter_map(|&i| {
                guard
                    .batch
                    .row(i)
                    .map(|row| record(i, row, guard.acknowledged.contains(&i)))
            })
            .collect();
        let written = staging::apply(
            &self.db,
            &operator.ctx,
            info,
            BatchChange {
                action,
                expected_version,
                upsert: upsert.clone(),
                remove: removed
                    .iter()
                    .map(|&i| i32::try_from(i).unwrap_or(i32::MAX))
                    .collect(),
                details,
            },
        )
        .await;
        match written {
            Ok(after) => {
                guard.version = after.version;
                Ok(Ok((after, upsert)))
            }
            Err(error) => {
                guard.version = -1;
                Err(error.into())
            }
        }
    }

    /// A row must have one value per CSV column of its user type.
    fn check_width(config: &TenantConfig, info: &BatchInfo, raw: &[String]) -> Result<(), Refusal> {
        let kind = config
            .contact_type(&info.contact_type)
            .ok_or_else(|| Refusal::UnknownType(info.contact_type.clone()))?;
        let expected = Validator::new(kind)
            .map_err(|e| Refusal::Config(e.to_string()))?
            .columns()
            .len();
        if raw.len() == expected {
            Ok(())
        } else {
            Err(Refusal::WrongWidth {
                given: raw.len(),
                expected,
            })
        }
    }

    /// Replaces the cells of row `idx` and re-validates it (and the rows it duplicates).
    pub async fn edit_row(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        idx: usize,
        raw: Vec<String>,
    ) -> Result<Result<(BatchInfo, Vec<RowRecord>), Refusal>, BatchError> {
        if let Err(refusal) = Self::check_width(config, info, &raw) {
            return Ok(Err(refusal));
        }
        let today = operator.today;
        let digests = CellDigests::new(&self.digester, info.tenant_id);
        self.change(
            operator,
            info,
            config,
            AuditAction::StageRowEdited,
            move |state, engine| {
                let Some(before) = state.batch.row(idx) else {
                    return Err(Refusal::Input("That row was removed.".to_owned()));
                };
                let before: Vec<String> = before.raw_values().map(str::to_owned).collect();
                let line = state.lines.get(&idx).copied().unwrap_or(0);
                let cells: Vec<&str> = raw.iter().map(String::as_str).collect();
                let row = engine.validate_one(line, &cells, &state.scope, today);
                state.acknowledged.remove(&idx);
                let affected = state.batch.replace(idx, row);
                let changed = digests.changes(&headers(engine), &before, &raw);
                Ok((
                    affected,
                    Vec::new(),
                    json!({ "row": idx, "line": line, "changed": changed }),
                ))
            },
        )
        .await
    }

    /// Adds one row typed into the form.
    pub async fn add_row(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        raw: Vec<String>,
    ) -> Result<Result<(BatchInfo, Vec<RowRecord>), Refusal>, BatchError> {
        if let Err(refusal) = Self::check_width(config, info, &raw) {
            return Ok(Err(refusal));
        }
        let today = operator.today;
        self.change(
            operator,
            info,
            config,
            AuditAction::StageRowAdded,
            move |state, engine| {
                let cells: Vec<&str> = raw.iter().map(String::as_str).collect();
                let line = state.lines.values().copied().max().unwrap_or(1) + 1;
                let row = engine.validate_one(line, &cells, &state.scope, today);
                let (idx, affected) = state.batch.push(row);
                state.lines.insert(idx, line);
                Ok((affected, Vec::new(), json!({ "row": idx, "line": line })))
            },
        )
        .await
    }

    /// Removes row `idx`.
    pub async fn remove_row(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        idx: usize,
    ) -> Result<Result<(BatchInfo, Vec<RowRecord>), Refusal>, BatchError> {
        let digests = CellDigests::new(&self.digester, info.tenant_id);
        self.change(
            operator,
            info,
            config,
            AuditAction::StageRowRemoved,
            move |state, engine| {
                let Some((removed, affected)) = state.batch.remove(idx) else {
                    return Err(Refusal::Input("That row was already removed.".to_owned()));
                };
                state.acknowledged.remove(&idx);
                let cells = digests.cells(&headers(engine), &removed);
                Ok((
                    affected,
                    vec![idx],
                    json!({ "row": idx, "line": removed.line(), "cells": cells }),
                ))
            },
        )
        .await
    }

    /// Marks row `idx`'s warnings as seen: it will be uploaded despite them.
    pub async fn acknowledge(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        idx: usize,
    ) -> Result<Result<(BatchInfo, Vec<RowRecord>), Refusal>, BatchError> {
        self.change(
            operator,
            info,
            config,
            AuditAction::StageWarningsAcknowledged,
            move |state, _| {
                let Some(row) = state.batch.row(idx) else {
                    return Err(Refusal::Input("That row was removed.".to_owned()));
                };
                let columns = audit_details::warning_columns(row.warnings());
                let count = row.warnings().len();
                state.acknowledged.insert(idx);
                Ok((
                    vec![idx],
                    Vec::new(),
                    json!({ "row": idx, "warnings": count, "columns": columns }),
                ))
            },
        )
        .await
    }

    /// Re-validates every row against the current place cache, within the batch's area.
    pub async fn revalidate(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
    ) -> Result<Result<(BatchInfo, Vec<RowRecord>), Refusal>, BatchError> {
        let today = operator.today;
        self.change(
            operator,
            info,
            config,
            AuditAction::StageRevalidated,
            move |state, engine| {
                let scope = &state.scope;
                let rows: Vec<(usize, StagedRow)> = state
                    .batch
                    .rows()
                    .map(|(i, row)| {
                        let cells: Vec<&str> = row.raw_values().collect();
                        (i, engine.validate_one(row.line(), &cells, scope, today))
                    })
                    .collect();
                let mut affected = Vec::with_capacity(rows.len());
                for (i, row) in rows {
                    affected.extend(state.batch.replace(i, row));
                }
                affected.sort_unstable();
                affected.dedup();
                let rows = affected.len();
                Ok((affected, Vec::new(), json!({ "rows": rows })))
            },
        )
        .await
    }
}
