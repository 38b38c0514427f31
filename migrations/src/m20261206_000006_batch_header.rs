//! The columns of an upload as it was made, so the rows-with-errors export (`invalid.csv`) gives
//! back exactly the uploaded columns (issue 11):
//! - `staging_batches.upload_header`: the uploaded header as a JSON array of the cells as written
//!   (without the export's own "Line" and "Errors" columns); empty for batches staged before,
//!   which export the template's columns;
//! - `staged_rows.extra_cells`: a row's cells of the uploaded columns the template does not have,
//!   as a JSON array in header order; empty when the upload had none.
//!
//! Both nullable, so adding them rewrites nothing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StagingBatches {
    Table,
    UploadHeader,
}

#[derive(DeriveIden)]
enum StagedRows {
    Table,
    ExtraCells,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StagingBatches::Table)
                    .add_column(text_null(StagingBatches::UploadHeader))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(StagedRows::Table)
                    .add_column(text_null(StagedRows::ExtraCells))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StagedRows::Table)
                    .drop_column(StagedRows::ExtraCells)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(StagingBatches::Table)
                    .drop_column(StagingBatches::UploadHeader)
                    .to_owned(),
            )
            .await
    }
}
