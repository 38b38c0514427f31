//! Deployment configs and staged batches.

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
enum DeploymentConfigs {
    Table,
    TenantId,
    Document,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum StagingBatches {
    Table,
    Id,
    TenantId,
    InstanceId,
    ContactType,
    FileName,
    Anchors,
    CreatedBy,
    CreatedByLabel,
    CreatedAt,
    UpdatedAt,
    Version,
    ValidCount,
    WarningCount,
    ErrorCount,
    Notices,
}

#[derive(DeriveIden)]
enum StagedRows {
    Table,
    BatchId,
    Idx,
    Line,
    Status,
    Raw,
    Problems,
    Warnings,
    Acknowledged,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The document is kept as uploaded (unknown fields included) and parsed when used.
        manager
            .create_table(
                Table::create()
                    .table(DeploymentConfigs::Table)
                    .col(uuid(DeploymentConfigs::TenantId).primary_key())
                    .col(text(DeploymentConfigs::Document))
                    .col(timestamp_with_time_zone(DeploymentConfigs::UpdatedAt))
                    .col(uuid_null(DeploymentConfigs::UpdatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deployment_configs_tenant")
                            .from(DeploymentConfigs::Table, DeploymentConfigs::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // `anchors`: the subtrees the batch was staged in, a JSON array of place ids (empty: the
        // whole instance); a colleague whose scope covers every one of them sees the batch. `version` moves with every change so
        // a process holding the batch in memory knows to reload it.
        manager
            .create_table(
                Table::create()
                    .table(StagingBatches::Table)
                    .col(pk_uuid(StagingBatches::Id))
                    .col(uuid(StagingBatches::TenantId))
                    .col(uuid(StagingBatches::InstanceId))
                    .col(string_len(StagingBatches::ContactType, 100))
                    .col(string_len(StagingBatches::FileName, 255))
                    .col(string_len_null(StagingBatches::Anchors, 200))
                    .col(uuid_null(StagingBatches::CreatedBy))
                    .col(string_len(StagingBatches::CreatedByLabel, 320))
                    .col(timestamp_with_time_zone(StagingBatches::CreatedAt))
                    .col(timestamp_with_time_zone(StagingBatches::UpdatedAt))
                    .col(big_integer(StagingBatches::Version))
                    .col(integer(StagingBatches::ValidCount))
                    .col(integer(StagingBatches::WarningCount))
                    .col(integer(StagingBatches::ErrorCount))
                    .col(text(StagingBatches::Notices))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_staging_batches_instance")
                            .from(StagingBatches::Table, StagingBatches::InstanceId)
                            .to(ChtInstances::Table, ChtInstances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_staging_batches_instance")
                    .table(StagingBatches::Table)
                    .col(StagingBatches::InstanceId)
                    .col(StagingBatches::CreatedAt)
                    .to_owned(),
            )
            .await?;

        // `raw` (the cells as entered, a JSON array) is the source of truth; status, problems and
        // warnings are what the last validation found, for paging and filtering without
        // re-validating. `idx` is the row's stable index in its batch.
        manager
            .create_table(
                Table::create()
                    .table(StagedRows::Table)
                    .col(uuid(StagedRows::BatchId))
                    .col(integer(StagedRows::Idx))
                    .col(integer(StagedRows::Line))
                    .col(string_len(StagedRows::Status, 8))
                    .col(text(StagedRows::Raw))
                    .col(text(StagedRows::Problems))
                    .col(text(StagedRows::Warnings))
                    .col(boolean(StagedRows::Acknowledged))
                    .primary_key(
                        Index::create()
                            .col(StagedRows::BatchId)
                            .col(StagedRows::Idx),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_staged_rows_batch")
                            .from(StagedRows::Table, StagedRows::BatchId)
                            .to(StagingBatches::Table, StagingBatches::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_staged_rows_status")
                    .table(StagedRows::Table)
                    .col(StagedRows::BatchId)
                    .col(StagedRows::Status)
                    .col(StagedRows::Idx)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StagedRows::Table.into_iden(),
            StagingBatches::Table.into_iden(),
            DeploymentConfigs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
