//! Grants outlive the instance they name: deleting an instance revokes its grants (in the store),
//! and the rows stay as history. Until now `grants.instance_id` referenced `cht_instances` with
//! `ON DELETE CASCADE`, so deleting an instance erased who had held access to it.
//!
//! PostgreSQL drops the constraint. SQLite cannot drop a constraint, so the table is rebuilt
//! without it (same columns, other foreign keys and indexes), inside this migration's transaction.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ChtInstances {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PortalUsers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    TenantId,
    UserId,
    RoleKey,
    InstanceId,
    PlaceId,
    PlaceName,
    ExpiresAt,
    GrantedBy,
    CreatedAt,
    RevokedAt,
    RevokedBy,
}

/// The SQLite copy being built; renamed to `grants` once filled.
#[derive(DeriveIden)]
enum GrantsRebuilt {
    Table,
}

const INSTANCE_FK: &str = "fk_grants_instance";

const COLUMNS: [Grants; 12] = [
    Grants::Id,
    Grants::TenantId,
    Grants::UserId,
    Grants::RoleKey,
    Grants::InstanceId,
    Grants::PlaceId,
    Grants::PlaceName,
    Grants::ExpiresAt,
    Grants::GrantedBy,
    Grants::CreatedAt,
    Grants::RevokedAt,
    Grants::RevokedBy,
];

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// `grants` as created by m20261125_000002, under `table`, with or without the instance key.
fn grants_table(table: impl IntoIden, with_instance_fk: bool) -> TableCreateStatement {
    let table = table.into_iden();
    let mut create = Table::create();
    create
        .table(table.clone())
        .col(pk_uuid(Grants::Id))
        .col(uuid(Grants::TenantId))
        .col(uuid(Grants::UserId))
        .col(string_len(Grants::RoleKey, 40))
        .col(uuid_null(Grants::InstanceId))
        .col(string_len_null(Grants::PlaceId, 200))
        .col(string_len_null(Grants::PlaceName, 300))
        .col(timestamp_with_time_zone_null(Grants::ExpiresAt))
        .col(uuid_null(Grants::GrantedBy))
        .col(timestamp_with_time_zone(Grants::CreatedAt))
        .col(timestamp_with_time_zone_null(Grants::RevokedAt))
        .col(uuid_null(Grants::RevokedBy))
        .foreign_key(&mut fk(
            "fk_grants_tenant",
            (table.clone(), Grants::TenantId),
            (Tenants::Table, Tenants::Id),
        ))
        .foreign_key(&mut fk(
            "fk_grants_user",
            (table.clone(), Grants::UserId),
            (PortalUsers::Table, PortalUsers::Id),
        ));
    if with_instance_fk {
        create.foreign_key(&mut fk(
            INSTANCE_FK,
            (table, Grants::InstanceId),
            (ChtInstances::Table, ChtInstances::Id),
        ));
    }
    create.to_owned()
}

/// SQLite: rebuilds `grants` with or without the instance key, keeping every row.
async fn rebuild_on_sqlite(
    manager: &SchemaManager<'_>,
    with_instance_fk: bool,
) -> Result<(), DbErr> {
    manager
        .create_table(grants_table(GrantsRebuilt::Table, with_instance_fk))
        .await?;
    manager
        .exec_stmt(
            Query::insert()
                .into_table(GrantsRebuilt::Table)
                .columns(COLUMNS)
                .select_from(
                    Query::select()
                        .columns(COLUMNS)
                        .from(Grants::Table)
                        .to_owned(),
                )
                .map_err(|e| DbErr::Migration(e.to_string()))?
                .to_owned(),
        )
        .await?;
    // Nothing references `grants`, so dropping it cascades nowhere; its indexes go with it.
    manager
        .drop_table(Table::drop().table(Grants::Table).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(GrantsRebuilt::Table, Grants::Table)
                .to_owned(),
        )
        .await?;
    create_indexes(manager).await
}

/// The indexes of m20261125_000002, on the rebuilt table.
async fn create_indexes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name("ix_grants_tenant")
                .table(Grants::Table)
                .col(Grants::TenantId)
                .col(Grants::RevokedAt)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_grants_user")
                .table(Grants::Table)
                .col(Grants::UserId)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// SQLite too: a rebuild half done would lose the grants table.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_on_sqlite(manager, false).await,
            _ => {
                manager
                    .drop_foreign_key(
                        ForeignKey::drop()
                            .name(INSTANCE_FK)
                            .table(Grants::Table)
                            .to_owned(),
                    )
                    .await
            }
        }
    }

    /// Puts the cascade back, but only while no grant names a deleted instance: restoring the
    /// key would otherwise mean deleting those grants, and grants are history.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let backend = manager.get_database_backend();
        let orphans = connection
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM grants WHERE instance_id IS NOT NULL \
                 AND instance_id NOT IN (SELECT id FROM cht_instances)",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if orphans > 0 {
            return Err(DbErr::Migration(format!(
                "{orphans} grant(s) name a CHT instance that was deleted; putting back the \
                 foreign key from grants.instance_id would delete them, so this migration \
                 cannot be reverted on this database"
            )));
        }
        match backend {
            DbBackend::Sqlite => rebuild_on_sqlite(manager, true).await,
            _ => {
                manager
                    .create_foreign_key(fk(
                        INSTANCE_FK,
                        (Grants::Table, Grants::InstanceId),
                        (ChtInstances::Table, ChtInstances::Id),
                    ))
                    .await
            }
        }
    }
}
