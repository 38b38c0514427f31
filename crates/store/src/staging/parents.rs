//! Places staged in one batch that rows of other batches name as their parent.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use portal_domain::RowStatus;

use super::INSERT_CHUNK;
use crate::Result;
use crate::entity::staged_row;

/// A place a staged row will create, as other batches resolve against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPlace {
    pub batch: Uuid,
    pub idx: i32,
    pub line: i32,
    pub status: RowStatus,
    pub name: String,
    pub parent_id: Option<String>,
    /// Its properties (JSON object text), for places that copy values from it.
    pub properties: Option<String>,
}

/// The places the rows of `batches` will create (rows with errors included: they say why a
/// dependent row waits), in batch then row order.
pub async fn staged_places(db: &DatabaseConnection, batches: &[Uuid]) -> Result<Vec<StagedPlace>> {
    let mut out = Vec::new();
    for chunk in batches.chunks(INSERT_CHUNK) {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            Uuid,
            i32,
            i32,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        )> = staged_row::Entity::find()
            .select_only()
            .column(staged_row::Column::BatchId)
            .column(staged_row::Column::Idx)
            .column(staged_row::Column::Line)
            .column(staged_row::Column::Status)
            .column(staged_row::Column::PlaceName)
            .column(staged_row::Column::ParentId)
            .column(staged_row::Column::PlaceProperties)
            .filter(staged_row::Column::BatchId.is_in(chunk.iter().copied()))
            .filter(staged_row::Column::PlaceName.is_not_null())
            .order_by_asc(staged_row::Column::BatchId)
            .order_by_asc(staged_row::Column::Idx)
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().filter_map(
            |(batch, idx, line, status, name, parent_id, properties)| {
                Some(StagedPlace {
                    batch,
                    idx,
                    line,
                    status: RowStatus::parse(&status).unwrap_or(RowStatus::Error),
                    name: name?,
                    parent_id,
                    properties,
                })
            },
        ));
    }
    Ok(out)
}

/// The rows of other batches that wait for a row of `batch`, as (their batch, their row).
pub async fn dependents(db: &DatabaseConnection, batch: Uuid) -> Result<Vec<(Uuid, i32)>> {
    Ok(staged_row::Entity::find()
        .select_only()
        .column(staged_row::Column::BatchId)
        .column(staged_row::Column::Idx)
        .filter(staged_row::Column::DependsOnBatch.eq(batch))
        .filter(staged_row::Column::BatchId.ne(batch))
        .into_tuple()
        .all(db)
        .await?)
}

/// The rows of `batch` that have errors (those a newly staged parent may mend).
pub async fn error_rows(db: &DatabaseConnection, batch: Uuid) -> Result<Vec<i32>> {
    Ok(staged_row::Entity::find()
        .select_only()
        .column(staged_row::Column::Idx)
        .filter(staged_row::Column::BatchId.eq(batch))
        .filter(staged_row::Column::Status.eq(RowStatus::Error.as_str()))
        .order_by_asc(staged_row::Column::Idx)
        .into_tuple()
        .all(db)
        .await?)
}

/// Rows `idxs` of `batch`, as stored.
pub async fn rows_at(
    db: &DatabaseConnection,
    batch: Uuid,
    idxs: &[i32],
) -> Result<Vec<super::RowRecord>> {
    let mut out = Vec::with_capacity(idxs.len());
    for chunk in idxs.chunks(INSERT_CHUNK) {
        let models = staged_row::Entity::find()
            .filter(staged_row::Column::BatchId.eq(batch))
            .filter(staged_row::Column::Idx.is_in(chunk.iter().copied()))
            .order_by_asc(staged_row::Column::Idx)
            .all(db)
            .await?;
        for model in models {
            out.push(super::RowRecord::try_from(model)?);
        }
    }
    Ok(out)
}
