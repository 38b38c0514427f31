//! The primary contacts of cached places, as far as staging compares them (issue 11), and the
//! place types a deployment config uses that the instance's app_settings lack.
//!
//! - `people`: one row per cached place and `unique` contact property of its user type: the
//!   value as staged values of that property are formatted (phones in E.164), so staging warns
//!   when a new person repeats one already on the instance. Replaced with the places of the
//!   same refresh, in the same transaction. One row per value (not a JSON object per person)
//!   so loading 100,000 people is one query of plain columns.
//! - `place_type_gaps`: what the last refresh found missing from app_settings, shown on the
//!   places and instance pages instead of an up-to-date cache of 0 places.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum People {
    Table,
    InstanceId,
    PlaceId,
    PlaceType,
    PropertyName,
    ContactId,
    ContactName,
    Value,
}

#[derive(DeriveIden)]
enum PlaceTypeGaps {
    Table,
    InstanceId,
    ContactType,
    UsedBy,
    NotedAt,
}

#[derive(DeriveIden)]
enum ChtInstances {
    Table,
    Id,
}

fn fk(name: &str, from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(ChtInstances::Table, ChtInstances::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(People::Table)
                    .col(uuid(People::InstanceId))
                    .col(string_len(People::PlaceId, 200))
                    .col(string_len(People::PlaceType, 100))
                    .col(string_len(People::PropertyName, 100))
                    .col(string_len(People::ContactId, 200))
                    .col(string_len(People::ContactName, 300))
                    .col(text(People::Value))
                    .primary_key(
                        Index::create()
                            .col(People::InstanceId)
                            .col(People::PlaceId)
                            .col(People::PropertyName),
                    )
                    .foreign_key(&mut fk(
                        "fk_people_instance",
                        (People::Table, People::InstanceId),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlaceTypeGaps::Table)
                    .col(uuid(PlaceTypeGaps::InstanceId))
                    .col(string_len(PlaceTypeGaps::ContactType, 100))
                    .col(text(PlaceTypeGaps::UsedBy))
                    .col(timestamp_with_time_zone(PlaceTypeGaps::NotedAt))
                    .primary_key(
                        Index::create()
                            .col(PlaceTypeGaps::InstanceId)
                            .col(PlaceTypeGaps::ContactType),
                    )
                    .foreign_key(&mut fk(
                        "fk_place_type_gaps_instance",
                        (PlaceTypeGaps::Table, PlaceTypeGaps::InstanceId),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlaceTypeGaps::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(People::Table).to_owned())
            .await
    }
}
