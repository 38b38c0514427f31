//! `staging_batches.anchors` holds the batch's area as a JSON array of place ids, as long as its
//! author's `stage` grants make it. It was `varchar(200)`: on PostgreSQL an operator with several
//! subtree roots could not upload at all. It becomes `text`, without a length limit.
//!
//! SQLite does not enforce declared lengths (a `varchar(200)` column takes any text) and cannot
//! change a column's type in place, so there is nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn on_postgres(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        DbBackend::Postgres => manager
            .get_connection()
            .execute_unprepared(sql)
            .await
            .map(|_| ()),
        DbBackend::Sqlite => Ok(()),
        other => Err(DbErr::Migration(format!(
            "unsupported database backend {other:?}"
        ))),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            "ALTER TABLE staging_batches ALTER COLUMN anchors TYPE text",
        )
        .await
    }

    /// Fails on PostgreSQL if a stored area no longer fits in 200 characters: shortening it
    /// would change which batches people see.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            "ALTER TABLE staging_batches ALTER COLUMN anchors TYPE varchar(200)",
        )
        .await
    }
}
