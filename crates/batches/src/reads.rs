//! Reading staged batches: which batches an operator may see, the instance's batches, a page of
//! rows, one row. The pages, the API and the commit jobs read staged data only through here.

use portal_domain::{InstanceId, PlaceScope};
use portal_store::places;
use portal_store::staging::{self, BatchInfo, RowQuery, RowRecord};
use uuid::Uuid;

use std::collections::HashMap;

use portal_staging::Validator;

use crate::inherited::{CopiedValue, PlaceShape};
use crate::{BatchError, Refusal, Staging, TenantConfig};

impl Staging {
    /// The batches of an instance, newest first (visible or not: filter with
    /// [`Staging::may_see`]).
    pub async fn batches(&self, instance: InstanceId) -> Result<Vec<BatchInfo>, BatchError> {
        Ok(staging::batches(&self.db, instance).await?)
    }

    /// A batch of the instance that an operator staging in `area` may see; not found otherwise,
    /// so batch ids of other areas cannot be probed.
    pub async fn visible_batch(
        &self,
        area: &PlaceScope,
        instance: InstanceId,
        id: Uuid,
    ) -> Result<BatchInfo, BatchError> {
        let info = staging::batch(&self.db, instance, id).await?;
        if self.may_see(area, &info).await? {
            Ok(info)
        } else {
            Err(BatchError::Hidden)
        }
    }

    /// Whether an operator staging in `area` may see (and work on) the batch: every area it was
    /// staged for lies inside theirs. Its author too only while that holds: access revoked is
    /// access gone.
    pub async fn may_see(&self, area: &PlaceScope, info: &BatchInfo) -> Result<bool, BatchError> {
        if *area == PlaceScope::Everything {
            return Ok(true);
        }
        if info.anchors.is_empty() || area.is_nothing() {
            return Ok(false);
        }
        for anchor in &info.anchors {
            let covered = places::get(&self.db, info.instance_id, anchor)
                .await?
                .is_some_and(|place| place.is_within(area));
            if !covered {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The area a batch is checked against, by place name ("Kibwezi, Makindu").
    pub async fn area_names(&self, info: &BatchInfo) -> Result<String, BatchError> {
        if info.anchors.is_empty() {
            return Ok("the whole instance".to_owned());
        }
        let mut names = Vec::with_capacity(info.anchors.len());
        for anchor in &info.anchors {
            names.push(
                places::get(&self.db, info.instance_id, anchor)
                    .await?
                    .map_or_else(|| anchor.clone(), |place| place.name),
            );
        }
        Ok(names.join(", "))
    }

    /// One page of a batch's rows in file order, and how many rows match in all.
    pub async fn rows(
        &self,
        info: &BatchInfo,
        query: &RowQuery,
    ) -> Result<(Vec<RowRecord>, u64), BatchError> {
        Ok(staging::rows(&self.db, info.id, query).await?)
    }

    /// Row `idx` of a batch, as stored.
    pub async fn row(&self, info: &BatchInfo, idx: usize) -> Result<RowRecord, BatchError> {
        let idx = i32::try_from(idx).map_err(|_| portal_store::StoreError::NotFound("row"))?;
        Ok(staging::row(&self.db, info.id, idx).await?)
    }

    /// The values the deployment profile copies onto the new places of `rows` (of batch
    /// `info`), by row index, worked out now from the cached places and the staged parents:
    /// what the preview shows and commit writes.
    pub async fn copied_values(
        &self,
        info: &BatchInfo,
        config: &TenantConfig,
        rows: &[RowRecord],
    ) -> Result<HashMap<i32, Vec<CopiedValue>>, BatchError> {
        let Some(kind) = config.contact_type(&info.contact_type) else {
            return Ok(HashMap::new());
        };
        let copies = config
            .config
            .profile()
            .place_type(&kind.name)
            .is_some_and(|entry| !entry.inherit.is_empty());
        if !copies || rows.iter().all(|r| r.place.is_none()) {
            return Ok(HashMap::new());
        }
        let validator = Validator::new(kind).map_err(|e| Refusal::Config(e.to_string()))?;
        let shape = PlaceShape::of(&validator, kind);
        let (_, snapshot) = self.batch_snapshot(info, config, kind).await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let place = row.place.as_ref()?;
                let parent = place
                    .parent_id
                    .as_deref()
                    .and_then(|id| snapshot.index.get(id));
                let copied =
                    snapshot
                        .sources
                        .copied(&shape, place, parent.as_ref().map(|p| p.name()));
                Some((row.idx, copied))
            })
            .collect())
    }
}
