//! Staged batches: the staging engine (`portal-staging`) over the portal database.
//!
//! Uploading decodes and validates the file off the async threads, then stores the batch and all
//! its rows in one transaction. Edits re-validate one row against the same in-memory place index
//! and keep duplicate warnings among rows current; only the rows whose state changed are written.
//! Each process keeps recently used place indexes and batches in memory, keyed by the cache
//! stamp, the batch version and the batch's area, so it never works from a stale copy.
//!
//! **A batch's area** ([`PlaceScope`]) is fixed when it is created: the `stage` area of its author at
//! that moment, stored as the batch's anchors. Every validation of the batch (upload, edit, added
//! row, removal, acknowledgement, re-validation, rebuild in memory) is judged by that area,
//! whoever triggers it, so a row's status never depends on who last touched the batch. Who may
//! act on a batch at all is the web layer's check: their own `stage` area must cover the
//! batch's area.

mod area;
mod audit_details;
mod edits;
mod export;
mod inherited;
mod known;
mod reads;
mod staged_parents;
mod upload;

pub use area::area_of;
pub use inherited::CopiedValue;
pub use upload::{Input, TYPED_BATCH};

use known::known_values;
use portal_domain::PlaceScope;
use staged_parents::Snapshot;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use portal_deploy_config::{ConfigProblem, ContactType, DeploymentConfig};
use portal_domain::{InstanceId, TenantId};
use portal_staging::{
    Batch, Engine, PlaceIndex, PlaceRecord, Problem, RowStatus, Scope, StagedRow, Validator,
};
use portal_store::staging::{self, BatchInfo, Dependency, RowPlace, RowRecord, StoredProblem};
use portal_store::{AuditContext, Db, StoreError, places};
use serde_json::json;

/// Batches kept in memory per process (the most recently used).
const CACHED_BATCHES: usize = 4;
/// Index snapshots with other batches' staged places kept per process.
const CACHED_SNAPSHOTS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("staging task failed: {0}")]
    Task(String),
    /// The person's request cannot be done; the message says why.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A batch outside the operator's area: answered as one that does not exist.
    #[error("no such batch in your area")]
    Hidden,
    /// A deployment config that does not pass the check, with every problem found.
    #[error("the deployment config has {} problem(s)", .0.len())]
    InvalidConfig(Vec<ConfigProblem>),
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
    /// existing batch are judged by the batch's own area instead ([`PlaceScope::of_batch`]).
    pub area: PlaceScope,
    pub today: NaiveDate,
}

struct LoadedIndex {
    stamp: String,
    index: Arc<PlaceIndex>,
    /// Places' raw properties and their primary contacts' fields, for `unique` properties
    /// other than the place name.
    properties: Arc<known::OnInstance>,
}

struct LoadedBatch {
    version: i64,
    /// The index it was validated against, and the engine over it (built once per copy, reused
    /// by every edit).
    snapshot: Arc<Snapshot>,
    engine: Arc<Engine>,
    /// When the deployment config it was validated with was saved.
    config_at: chrono::DateTime<chrono::Utc>,
    /// The batch's own area (part of the cache key) and its scope, used for every row.
    area: PlaceScope,
    scope: Scope,
    batch: Batch,
    acknowledged: HashSet<usize>,
    lines: HashMap<usize, usize>,
    /// The staged row that creates each row's parent, when it is staged.
    depends: HashMap<usize, Dependency>,
    shape: RowShape,
}

impl LoadedBatch {
    /// Validates one row of the batch, settling what it depends on.
    fn validate(
        &self,
        idx: Option<usize>,
        line: usize,
        cells: &[&str],
        today: NaiveDate,
    ) -> (StagedRow, Option<Dependency>) {
        let mut row = self.engine.validate_one(line, cells, &self.scope, today);
        let previous = idx.and_then(|i| self.depends.get(&i).copied());
        let depends = staged_parents::settle(
            &mut row,
            previous,
            &self.snapshot.staged,
            self.shape.parent_column.as_deref(),
        );
        let missing = self
            .snapshot
            .sources
            .missing_values(&self.shape.place, &row);
        row.add_own_warnings(missing);
        (row, depends)
    }

    fn set_depends(&mut self, idx: usize, depends: Option<Dependency>) {
        match depends {
            Some(d) => self.depends.insert(idx, d),
            None => self.depends.remove(&idx),
        };
    }

    /// The stored form of row `idx`, when it is there.
    fn record(&self, idx: usize) -> Option<RowRecord> {
        self.batch.row(idx).map(|row| {
            let place = self.snapshot.sources.place_of(&self.shape.place, row);
            record(
                idx,
                row,
                self.acknowledged.contains(&idx),
                place,
                self.depends.get(&idx).copied(),
            )
        })
    }
}

/// Where a user type's rows keep what staged parents need: the place's name field and the
/// parent column (its header and its cell).
#[derive(Debug, Clone, Default)]
struct RowShape {
    place: inherited::PlaceShape,
    parent_column: Option<String>,
    parent_cell: Option<usize>,
}

impl RowShape {
    fn of(validator: &Validator, kind: &ContactType) -> Self {
        let parent_column = validator
            .levels()
            .next()
            .map(|(_, column, _)| column.to_owned());
        let parent_cell = parent_column
            .as_deref()
            .and_then(|c| validator.columns().iter().position(|col| col.header == c));
        Self {
            place: inherited::PlaceShape::of(validator, kind),
            parent_column,
            parent_cell,
        }
    }
}

#[derive(Default)]
struct Caches {
    indexes: HashMap<InstanceId, Arc<LoadedIndex>>,
    batches: VecDeque<(uuid::Uuid, Arc<tokio::sync::Mutex<LoadedBatch>>)>,
    snapshots: VecDeque<Arc<Snapshot>>,
    /// The cached places new places copy values from, per instance, keyed by cache stamp and
    /// config: one copy shared by that instance's snapshots.
    sources: HashMap<InstanceId, (String, Arc<inherited::CachedSources>)>,
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
            kind: p.kind,
            column: p.column.clone(),
            value: p.value.clone(),
            message: p.message.clone(),
            fix: p.fix.clone(),
        })
        .collect()
}

fn record(
    idx: usize,
    row: &StagedRow,
    acknowledged: bool,
    place: Option<RowPlace>,
    depends_on: Option<Dependency>,
) -> RowRecord {
    RowRecord {
        idx: i32::try_from(idx).unwrap_or(i32::MAX),
        line: i32::try_from(row.line()).unwrap_or(i32::MAX),
        status: row.status(),
        raw: row.raw_values().map(str::to_owned).collect(),
        problems: to_stored(row.problems()),
        warnings: to_stored(row.warnings()),
        acknowledged: acknowledged && row.status() == RowStatus::Warning,
        // Kept by the store when a row is rewritten; an upload sets them ([`UploadColumns`]).
        extra: Vec::new(),
        place,
        depends_on,
    }
}

/// The CSV headers of the engine's contact type, in column order: raw cells are indexed by them.
fn headers(engine: &Engine) -> Vec<String> {
    headers_of(engine.validator())
}

fn headers_of(validator: &Validator) -> Vec<String> {
    validator
        .columns()
        .iter()
        .map(|column| column.header.clone())
        .collect()
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

    /// Validates and stores a config document. [`BatchError::InvalidConfig`] when it is not valid.
    pub async fn save_config(
        &self,
        ctx: &AuditContext,
        tenant: TenantId,
        document: &str,
    ) -> Result<DeploymentConfig, BatchError> {
        let config = match portal_deploy_config::check(document.as_bytes()) {
            Ok(config) => config,
            Err(problems) => return Err(BatchError::InvalidConfig(problems)),
        };
        let summary = json!({
            "user_types": config.contact_types.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            "domains": config.domains.len(),
            "bytes": document.len(),
        });
        staging::save_config(&self.db, ctx, tenant, document, summary).await?;
        Ok(config)
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
        let people = portal_store::people::all_for_index(&self.db, instance).await?;
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
                properties: Arc::new(known::OnInstance {
                    places: properties,
                    people,
                }),
            }
        })
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let loaded = Arc::new(loaded);
        self.caches().indexes.insert(instance, Arc::clone(&loaded));
        Ok(loaded)
    }

    /// The index a batch of `kind` in `area` on `instance` validates against: the cached places
    /// and the places staged by the batches it may name as parents ([`staged_parents`]).
    async fn snapshot(
        &self,
        instance: InstanceId,
        own: Option<uuid::Uuid>,
        config: &TenantConfig,
        kind: &ContactType,
        area: &PlaceScope,
        base: &Arc<LoadedIndex>,
    ) -> Result<Arc<Snapshot>, BatchError> {
        let batches = staging::batches(&self.db, instance).await?;
        let contributing = staged_parents::contributing(&batches, own, kind, area, &base.index);
        // The config is part of the key: the deployment profile decides the copied values.
        let sources_key = format!("{}|{}", base.stamp, config.updated_at.timestamp_micros());
        let key = staged_parents::snapshot_key(&sources_key, &contributing);
        let cached = |this: &Self| {
            this.caches()
                .snapshots
                .iter()
                .find(|s| s.key == key)
                .map(Arc::clone)
        };
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let places = if contributing.is_empty() {
            Vec::new()
        } else {
            let ids: Vec<uuid::Uuid> = contributing.iter().map(|b| b.id).collect();
            staging::staged_places(&self.db, &ids).await?
        };
        let owned: Vec<BatchInfo> = contributing.into_iter().cloned().collect();
        let base = Arc::clone(base);
        let deployment = Arc::clone(&config.config);
        let cached_sources = self
            .caches()
            .sources
            .get(&instance)
            .filter(|(k, _)| *k == sources_key)
            .map(|(_, s)| Arc::clone(s));
        let (built, cached_sources) = tokio::task::spawn_blocking(move || {
            let cached = cached_sources.unwrap_or_else(|| {
                Arc::new(inherited::CachedSources::build(
                    &deployment,
                    &base.index,
                    &base.properties.places,
                ))
            });
            let refs: Vec<&BatchInfo> = owned.iter().collect();
            let built = staged_parents::build(key, &base.index, &refs, places, |staged| {
                inherited::Sources::build(&deployment, Arc::clone(&cached), staged)
            });
            (built, cached)
        })
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let built = Arc::new(built);
        let mut caches = self.caches();
        caches
            .sources
            .insert(instance, (sources_key, cached_sources));
        caches.snapshots.retain(|s| s.key != built.key);
        caches.snapshots.push_front(Arc::clone(&built));
        caches.snapshots.truncate(CACHED_SNAPSHOTS);
        Ok(built)
    }

    /// The place index and the snapshot an existing batch validates against.
    async fn batch_snapshot(
        &self,
        info: &BatchInfo,
        config: &TenantConfig,
        kind: &ContactType,
    ) -> Result<(Arc<LoadedIndex>, Arc<Snapshot>), BatchError> {
        let base = self.index(info.instance_id).await?;
        let area = area_of(info);
        let snapshot = self
            .snapshot(info.instance_id, Some(info.id), config, kind, &area, &base)
            .await?;
        Ok((base, snapshot))
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
        config: &TenantConfig,
        snapshot: &Snapshot,
    ) -> Option<Arc<tokio::sync::Mutex<LoadedBatch>>> {
        let cached = self
            .caches()
            .batches
            .iter()
            .find(|(id, _)| *id == info.id)
            .map(|(_, b)| Arc::clone(b))?;
        let guard = cached.lock().await;
        let current = guard.version == info.version
            && guard.snapshot.key == snapshot.key
            && guard.config_at == config.updated_at
            && guard.area == area_of(info);
        drop(guard);
        current.then_some(cached)
    }

    /// The batch in memory, rebuilt from the database when this process has no current copy.
    async fn loaded(
        &self,
        info: &BatchInfo,
        config: &TenantConfig,
        base: &Arc<LoadedIndex>,
        snapshot: &Arc<Snapshot>,
        today: NaiveDate,
    ) -> Result<Arc<tokio::sync::Mutex<LoadedBatch>>, BatchError> {
        if let Some(cached) = self.current_copy(info, config, snapshot).await {
            return Ok(cached);
        }
        let _one_rebuild = self.rebuilding.lock().await;
        // Another request may have rebuilt it while this one waited.
        if let Some(cached) = self.current_copy(info, config, snapshot).await {
            return Ok(cached);
        }
        let _permit = self
            .heavy
            .acquire()
            .await
            .map_err(|e| BatchError::Task(e.to_string()))?;
        let Some(kind) = config.contact_type(&info.contact_type).cloned() else {
            return Err(BatchError::Refused(Refusal::UnknownType(
                info.contact_type.clone(),
            )));
        };
        let stored = staging::all_rows(&self.db, info.id).await?;
        let base = Arc::clone(base);
        let snapshot = Arc::clone(snapshot);
        // The batch's own area, never the scope of whoever happens to trigger the rebuild.
        let area = area_of(info);
        let scope = area::engine_scope(&area);
        let version = info.version;
        let config_at = config.updated_at;
        let built = tokio::task::spawn_blocking(move || -> Result<LoadedBatch, Refusal> {
            let validator = Validator::new(&kind).map_err(|e| Refusal::Config(e.to_string()))?;
            let known = known_values(&validator, &kind, &base.properties);
            let width = validator.columns().len();
            let shape = RowShape::of(&validator, &kind);
            let engine = Arc::new(
                Engine::new(Arc::new(validator), Arc::clone(&snapshot.index))
                    .with_known_values(Arc::new(known)),
            );
            let mut state = LoadedBatch {
                version,
                config_at,
                snapshot,
                engine: Arc::clone(&engine),
                area,
                scope,
                batch: engine.batch(Vec::new(), Vec::new()),
                acknowledged: HashSet::new(),
                lines: HashMap::new(),
                depends: HashMap::new(),
                shape,
            };
            // Indexes are stable ids: removed rows stay as gaps, so re-validate into place.
            let mut slots: Vec<Option<StagedRow>> = Vec::new();
            for r in &stored {
                let idx = usize::try_from(r.idx).unwrap_or(usize::MAX);
                let line = usize::try_from(r.line).unwrap_or(0);
                let cells: Vec<&str> = r.raw.iter().map(String::as_str).take(width).collect();
                if let Some(previous) = r.depends_on {
                    state.depends.insert(idx, previous);
                }
                let (row, depends) = state.validate(Some(idx), line, &cells, today);
                state.set_depends(idx, depends);
                if slots.len() <= idx {
                    slots.resize_with(idx + 1, || None);
                }
                slots[idx] = Some(row);
                if r.acknowledged {
                    state.acknowledged.insert(idx);
                }
                state.lines.insert(idx, line);
            }
            let mut rows = Vec::with_capacity(slots.len());
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
            state.batch = engine.batch(rows, Vec::new());
            for i in removed {
                state.batch.remove(i);
            }
            Ok(state)
        })
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let built = match built {
            Ok(built) => Arc::new(tokio::sync::Mutex::new(built)),
            Err(refusal) => return Err(refusal.into()),
        };
        let mut caches = self.caches();
        caches.batches.retain(|(id, _)| *id != info.id);
        caches.batches.push_front((info.id, Arc::clone(&built)));
        caches.batches.truncate(CACHED_BATCHES);
        Ok(built)
    }
}
