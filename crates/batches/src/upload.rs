//! Staging a new batch: an uploaded file (CSV or spreadsheet) or one row typed into a form,
//! decoded and validated off the async threads, then stored with all its rows in one
//! transaction; then the batches that may name its places as parents are brought up to date.

use std::sync::Arc;

use portal_domain::{InstanceId, TenantId};
use portal_staging::{Batch, Engine, Limits, Validator};
use portal_store::staging::{self, BatchInfo, NewBatch, RowRecord};

use crate::known::known_values;
use crate::{
    BatchError, Operator, Refusal, RowShape, Staging, TenantConfig, area, headers_of, record,
    staged_parents,
};

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

/// What a new batch is staged from.
pub enum Input {
    /// An uploaded file, CSV or spreadsheet, and its name as uploaded.
    File { name: String, bytes: Vec<u8> },
    /// One row typed into a form, in the user type's column order: validated exactly as an
    /// uploaded row, its cells kept as typed (no CSV round trip).
    Typed(Vec<String>),
}

/// The file name of a batch of one row typed into the form.
pub const TYPED_BATCH: &str = "Entered in the form";

/// An upload validated off the async threads, ready to be stored.
struct Validated {
    batch: Batch,
    notices: Vec<String>,
    columns: UploadColumns,
    /// Where the rows keep their new place's values: each row's place is made again as it is
    /// stored, rather than all 100,000 held at once.
    shape: RowShape,
}

impl Staging {
    /// Decodes, validates and stores a new batch of user type `contact_type`, fixed to the
    /// operator's current area; then the batches that may name its places as parents are
    /// brought up to date.
    pub async fn stage(
        &self,
        operator: &Operator,
        tenant: TenantId,
        instance: InstanceId,
        config: &TenantConfig,
        contact_type: &str,
        input: Input,
    ) -> Result<BatchInfo, BatchError> {
        let file_name = match &input {
            Input::File { name, .. } => name.clone(),
            Input::Typed(_) => TYPED_BATCH.to_owned(),
        };
        let Some(kind) = config.contact_type(contact_type).cloned() else {
            return Err(BatchError::Refused(Refusal::UnknownType(
                contact_type.to_owned(),
            )));
        };
        let Some(anchors) = area::anchors(&operator.area) else {
            return Err(BatchError::Refused(Refusal::NoArea));
        };
        let permit = self
            .heavy
            .acquire()
            .await
            .map_err(|e| BatchError::Task(e.to_string()))?;
        let started = std::time::Instant::now();
        let loaded = self.index(instance).await?;
        let snapshot = self
            .snapshot(instance, None, config, &kind, &operator.area, &loaded)
            .await?;
        let indexed = started.elapsed();
        let scope = area::engine_scope(&operator.area);
        let today = operator.today;
        let staged = Arc::clone(&snapshot.staged);
        let sources = Arc::clone(&snapshot);
        let validated = tokio::task::spawn_blocking(move || -> Result<Validated, Refusal> {
            let validator = Validator::new(&kind).map_err(|e| Refusal::Config(e.to_string()))?;
            let table = match input {
                Input::File { bytes, .. } => portal_staging::decode(&bytes, &Limits::default()),
                Input::Typed(cells) => {
                    portal_staging::Table::typed(headers_of(&validator), &cells, &Limits::default())
                }
            }
            .map_err(|e| Refusal::Input(e.to_string()))?;
            let columns = UploadColumns::of(&table, &validator)?;
            let shape = RowShape::of(&validator, &kind);
            let known = known_values(&validator, &kind, &loaded.properties);
            let engine = Engine::new(Arc::new(validator), Arc::clone(&snapshot.index))
                .with_known_values(Arc::new(known));
            let mut batch = engine
                .validate_table(&table, &scope, today)
                .map_err(|e| Refusal::Header(e.to_string()))?;
            drop(table);
            // Warnings of values the deployment profile could not copy join the row's own.
            let mut missing = Vec::new();
            for (i, row) in batch.rows() {
                let problems = snapshot.sources.missing_values(&shape.place, row);
                if !problems.is_empty() {
                    missing.push((i, problems));
                }
            }
            for (i, problems) in missing {
                batch.add_own_warnings(i, problems);
            }
            let notices = batch.notices().to_vec();
            Ok(Validated {
                batch,
                notices,
                columns,
                shape,
            })
        })
        .await
        .map_err(|e| BatchError::Task(e.to_string()))?;
        let Validated {
            batch,
            notices,
            mut columns,
            shape,
        } = match validated {
            Ok(done) => done,
            Err(refusal) => return Err(refusal.into()),
        };
        let counts = batch.counts();
        let total = batch.len();
        let validated_at = std::time::Instant::now();
        let info = staging::create_batch(
            &self.db,
            &operator.ctx,
            NewBatch {
                tenant_id: tenant,
                instance_id: instance,
                contact_type: contact_type.to_owned(),
                file_name,
                anchors,
                notices,
                upload_header: Some(std::mem::take(&mut columns.header)),
            },
            counts,
            // Owned rows, each freed as its record is written.
            batch.into_rows().into_iter().map(move |(i, mut row)| {
                let depends = staged_parents::settle(&mut row, None, &staged, None);
                // What the row's new place is written with.
                let place = sources.sources.place_of(&shape.place, &row);
                RowRecord {
                    extra: columns.take(i),
                    ..record(i, &row, false, place, depends)
                }
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
        drop(permit);
        self.propagate(operator, config, &info).await;
        Ok(info)
    }
}
