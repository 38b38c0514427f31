//! What a staged row will create and what it waits for, so rows of one batch may name places
//! staged (not yet committed) in another batch of the instance (issue 11):
//! - `place_name`, `parent_id`: the place the row creates (its formatted name and its resolved
//!   parent: a CHT id, or `staged:<batch>:<row>` for a place staged itself); empty for a row
//!   that replaces a user on an existing place;
//! - `place_properties`: the place's own properties from the row's cells (a JSON object), which
//!   places of other batches copy when the deployment profile says so (the copied values
//!   themselves are worked out when shown and when committed, from the freshest sources);
//! - `depends_on_batch`, `depends_on_idx`, `depends_on_line`: the staged row that creates the
//!   row's parent. Kept while that row is removed or has errors, so the row can say why it is
//!   invalid; commit orders parents before children by it. Indexed (only rows that have one) to find a batch's dependents.
//!
//! All nullable, so adding them rewrites nothing; batches staged before read as having no
//! staged places until they are re-validated.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StagedRows {
    Table,
    PlaceName,
    ParentId,
    PlaceProperties,
    DependsOnBatch,
    DependsOnIdx,
    DependsOnLine,
}

const DEPENDENTS_INDEX: &str = "staged_rows_depends_on";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        for column in [
            text_null(StagedRows::PlaceName),
            text_null(StagedRows::ParentId),
            text_null(StagedRows::PlaceProperties),
            uuid_null(StagedRows::DependsOnBatch),
            integer_null(StagedRows::DependsOnIdx),
            integer_null(StagedRows::DependsOnLine),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(StagedRows::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Partial: only the few rows that wait for a staged parent are indexed, so the many
        // that do not cost an upload nothing (same syntax on both databases).
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {DEPENDENTS_INDEX} ON staged_rows (depends_on_batch, depends_on_idx) \
                 WHERE depends_on_batch IS NOT NULL"
            ))
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(DEPENDENTS_INDEX)
                    .table(StagedRows::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            StagedRows::DependsOnLine,
            StagedRows::DependsOnIdx,
            StagedRows::DependsOnBatch,
            StagedRows::PlaceProperties,
            StagedRows::ParentId,
            StagedRows::PlaceName,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StagedRows::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
