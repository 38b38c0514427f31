//! Changes to a staged batch: edits, added and removed rows, acknowledgements, re-validation,
//! each judged by the batch's own area and written with its audit event; then the batches that
//! name this one's staged places as parents are brought up to date.

use crate::area_of;
use std::collections::{BTreeSet, HashMap};

use portal_domain::AuditAction;
use portal_staging::{StagedRow, Validator};
use portal_store::staging::{self, BatchChange, BatchInfo, Dependency, RowRecord};
use serde_json::json;
use uuid::Uuid;

use crate::audit_details::{self, CellDigests};
use crate::staged_parents::{area_within, uses_as_parent};
use crate::{BatchError, LoadedBatch, Operator, Refusal, Staging, TenantConfig, headers};

/// Whether a change that touched no row is still written (a new version and an audit event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// The person asked for it: it is recorded even when nothing changed.
    Always,
    /// A consequence of another batch's change: nothing to write is nothing written, so the
    /// batch keeps its version (and every process its copy in memory).
    OnlyChanges,
}

impl Staging {
    /// Runs `change` on the batch in memory and writes the rows it affected.
    pub(crate) async fn change<F>(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        action: AuditAction,
        change: F,
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError>
    where
        F: FnOnce(&mut LoadedBatch) -> Result<(Vec<usize>, Vec<usize>, serde_json::Value), Refusal>,
    {
        self.change_with(operator, info, config, action, Writes::Always, change)
            .await
    }

    async fn change_with<F>(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        action: AuditAction,
        writes: Writes,
        change: F,
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError>
    where
        F: FnOnce(&mut LoadedBatch) -> Result<(Vec<usize>, Vec<usize>, serde_json::Value), Refusal>,
    {
        // The header as it is now, not as the caller read it: a row edit applies to the
        // current batch, whatever changed since the page was loaded.
        let info = &staging::batch(&self.db, info.instance_id, info.id).await?;
        let Some(kind) = config.contact_type(&info.contact_type) else {
            return Err(BatchError::Refused(Refusal::UnknownType(
                info.contact_type.clone(),
            )));
        };
        let (base, snapshot) = self.batch_snapshot(info, config, kind).await?;
        let loaded = self
            .loaded(info, config, &base, &snapshot, operator.today)
            .await?;
        let mut guard = loaded.lock().await;
        let expected_version = guard.version;
        // From here the copy in memory is ahead of the database; if writing fails it is marked
        // stale and rebuilt by the next request.
        let (affected, removed, details) = match change(&mut guard) {
            Ok(done) => done,
            Err(refusal) => {
                guard.version = -1;
                return Err(refusal.into());
            }
        };
        if writes == Writes::OnlyChanges && affected.is_empty() && removed.is_empty() {
            // The copy in memory agrees with the database: it stays current.
            return Ok((info.clone(), Vec::new()));
        }
        let upsert: Vec<RowRecord> = affected.iter().filter_map(|&i| guard.record(i)).collect();
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
                Ok((after, upsert))
            }
            Err(error) => {
                guard.version = -1;
                Err(error.into())
            }
        }
    }

    /// Runs a change, then brings up to date the batches that name this one's staged places.
    async fn change_and_propagate<F>(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
        action: AuditAction,
        change: F,
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError>
    where
        F: FnOnce(&mut LoadedBatch) -> Result<(Vec<usize>, Vec<usize>, serde_json::Value), Refusal>,
    {
        let done = self.change(operator, info, config, action, change).await?;
        self.propagate(operator, config, &done.0).await;
        Ok(done)
    }

    /// After `changed` changed, re-validates in the other batches of its instance the rows
    /// that wait for one of its places, and the rows with errors of the batches that may name
    /// its places as parents (a newly staged parent may mend them). Repeated down the chain
    /// (sub-county → unit → worker files). A failure here leaves `changed` as written; the
    /// batches not brought up to date are re-validated on their page's "Re-validate".
    pub(crate) async fn propagate(
        &self,
        operator: &Operator,
        config: &TenantConfig,
        changed: &BatchInfo,
    ) {
        let mut queue = vec![(changed.clone(), 0u8)];
        while let Some((source, depth)) = queue.pop() {
            // A hierarchy has few levels; the bound only guards against a cycle.
            if depth >= 6 {
                continue;
            }
            match self.dependents_of(config, &source).await {
                Ok(found) => {
                    for (target, rows) in found {
                        match self
                            .revalidate_rows(operator, config, &target, &source, rows)
                            .await
                        {
                            Ok(Some(after)) => queue.push((after, depth + 1)),
                            Ok(None) => {}
                            Err(error) => tracing::warn!(
                                batch = %target.id,
                                cause = %source.id,
                                %error,
                                "could not re-validate a batch after a change to its staged parents"
                            ),
                        }
                    }
                }
                Err(error) => tracing::warn!(
                    batch = %source.id,
                    %error,
                    "could not find the batches that depend on a changed batch"
                ),
            }
        }
    }

    /// The batches to re-validate after `source` changed, with their rows to re-validate.
    async fn dependents_of(
        &self,
        config: &TenantConfig,
        source: &BatchInfo,
    ) -> Result<Vec<(BatchInfo, BTreeSet<i32>)>, BatchError> {
        let mut rows: HashMap<Uuid, BTreeSet<i32>> = HashMap::new();
        for (batch, idx) in staging::dependents(&self.db, source.id).await? {
            rows.entry(batch).or_default().insert(idx);
        }
        let batches = staging::batches(&self.db, source.instance_id).await?;
        let base = self.index(source.instance_id).await?;
        let source_area = area_of(source);
        for target in &batches {
            let uses = target.id != source.id
                && config
                    .contact_type(&target.contact_type)
                    .is_some_and(|kind| uses_as_parent(kind, &source.contact_type))
                && area_within(&source_area, &area_of(target), &base.index);
            if uses && target.error > 0 {
                rows.entry(target.id)
                    .or_default()
                    .extend(staging::error_rows(&self.db, target.id).await?);
            }
        }
        Ok(batches
            .into_iter()
            .filter_map(|b| rows.remove(&b.id).map(|r| (b, r)))
            .filter(|(_, r)| !r.is_empty())
            .collect())
    }

    /// Re-validates `rows` of `target` because `cause` changed; the batch after, when any row
    /// changed.
    async fn revalidate_rows(
        &self,
        operator: &Operator,
        config: &TenantConfig,
        target: &BatchInfo,
        cause: &BatchInfo,
        rows: BTreeSet<i32>,
    ) -> Result<Option<BatchInfo>, BatchError> {
        let today = operator.today;
        let cause_id = cause.id;
        // Compared with the rows as stored, not with this process's copy: a copy rebuilt for
        // this change is already current in memory while the database is not.
        let idxs: Vec<i32> = rows.into_iter().collect();
        let stored: HashMap<i32, RowRecord> = staging::rows_at(&self.db, target.id, &idxs)
            .await?
            .into_iter()
            .map(|r| (r.idx, r))
            .collect();
        let (after, upsert) = self
            .change_with(
                operator,
                target,
                config,
                AuditAction::StageRevalidated,
                Writes::OnlyChanges,
                move |state| {
                    let mut affected = Vec::new();
                    for idx in idxs.iter().filter_map(|&i| usize::try_from(i).ok()) {
                        let Some(before) = state.batch.row(idx) else {
                            continue;
                        };
                        let cells: Vec<&str> = before.raw_values().collect();
                        let (row, depends) =
                            state.validate(Some(idx), before.line(), &cells, today);
                        state.set_depends(idx, depends);
                        let touched = state.batch.replace(idx, row);
                        let same = |i: &usize| {
                            let key = i32::try_from(*i).unwrap_or(i32::MAX);
                            match (state.record(*i), stored.get(&key)) {
                                (Some(now), Some(was)) => same_validation(&now, was),
                                _ => false,
                            }
                        };
                        affected.extend(touched.into_iter().filter(|i| !same(i)));
                    }
                    affected.sort_unstable();
                    affected.dedup();
                    let count = affected.len();
                    Ok((
                        affected,
                        Vec::new(),
                        json!({ "rows": count, "after_change_to_batch": cause_id.to_string() }),
                    ))
                },
            )
            .await?;
        Ok((!upsert.is_empty()).then_some(after))
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
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError> {
        if let Err(refusal) = Self::check_width(config, info, &raw) {
            return Err(refusal.into());
        }
        let today = operator.today;
        let digests = CellDigests::new(&self.digester, info.tenant_id);
        self.change_and_propagate(
            operator,
            info,
            config,
            AuditAction::StageRowEdited,
            move |state| {
                let Some(before) = state.batch.row(idx) else {
                    return Err(Refusal::Input("That row was removed.".to_owned()));
                };
                let before: Vec<String> = before.raw_values().map(str::to_owned).collect();
                // A new parent name is a new question: the staged place it waited for no
                // longer explains anything.
                let parent_cell = state.shape.parent_cell;
                if parent_cell.is_some_and(|c| before.get(c) != raw.get(c)) {
                    state.depends.remove(&idx);
                }
                let line = state.lines.get(&idx).copied().unwrap_or(0);
                let cells: Vec<&str> = raw.iter().map(String::as_str).collect();
                let (row, depends) = state.validate(Some(idx), line, &cells, today);
                state.set_depends(idx, depends);
                state.acknowledged.remove(&idx);
                let affected = state.batch.replace(idx, row);
                let changed = digests.changes(&headers(&state.engine), &before, &raw);
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
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError> {
        if let Err(refusal) = Self::check_width(config, info, &raw) {
            return Err(refusal.into());
        }
        let today = operator.today;
        self.change_and_propagate(
            operator,
            info,
            config,
            AuditAction::StageRowAdded,
            move |state| {
                let cells: Vec<&str> = raw.iter().map(String::as_str).collect();
                let line = state.lines.values().copied().max().unwrap_or(1) + 1;
                let (row, depends) = state.validate(None, line, &cells, today);
                let (idx, affected) = state.batch.push(row);
                state.set_depends(idx, depends);
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
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError> {
        let digests = CellDigests::new(&self.digester, info.tenant_id);
        self.change_and_propagate(
            operator,
            info,
            config,
            AuditAction::StageRowRemoved,
            move |state| {
                let Some((removed, affected)) = state.batch.remove(idx) else {
                    return Err(Refusal::Input("That row was already removed.".to_owned()));
                };
                state.acknowledged.remove(&idx);
                state.depends.remove(&idx);
                let cells = digests.cells(&headers(&state.engine), &removed);
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
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError> {
        self.change(
            operator,
            info,
            config,
            AuditAction::StageWarningsAcknowledged,
            move |state| {
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

    /// Re-validates every row against the current place cache and staged parents, within the
    /// batch's area.
    pub async fn revalidate(
        &self,
        operator: &Operator,
        info: &BatchInfo,
        config: &TenantConfig,
    ) -> Result<(BatchInfo, Vec<RowRecord>), BatchError> {
        let today = operator.today;
        self.change_and_propagate(
            operator,
            info,
            config,
            AuditAction::StageRevalidated,
            move |state| {
                let rows: Vec<(usize, StagedRow, Option<Dependency>)> = state
                    .batch
                    .rows()
                    .map(|(i, row)| {
                        let cells: Vec<&str> = row.raw_values().collect();
                        let (new, depends) = state.validate(Some(i), row.line(), &cells, today);
                        (i, new, depends)
                    })
                    .collect();
                let mut affected = Vec::with_capacity(rows.len());
                for (i, row, depends) in rows {
                    state.set_depends(i, depends);
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

/// Whether two records of a row say the same (extra cells aside, which validation never
/// touches).
fn same_validation(a: &RowRecord, b: &RowRecord) -> bool {
    a.status == b.status
        && a.problems == b.problems
        && a.warnings == b.warnings
        && a.acknowledged == b.acknowledged
        && a.place == b.place
        && a.depends_on == b.depends_on
}
