//! Sign-in with a CHT account (issue 10, part C):
//! - `cht_sign_in_instances`: the instances on which a tenant lets people sign in with their CHT
//!   username and password (a row means allowed; none by default);
//! - `cht_identities`: a portal person bound to a CHT username on one instance, created when a
//!   grant names a CHT username (unique per instance, case-insensitively through `username_key`);
//! - `sessions.cht_instance_id`: a session begun with a CHT account acts in that instance's
//!   tenant only.

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
enum Sessions {
    Table,
    ChtInstanceId,
}

#[derive(DeriveIden)]
enum ChtSignInInstances {
    Table,
    InstanceId,
    TenantId,
    AllowedAt,
    AllowedBy,
}

#[derive(DeriveIden)]
enum ChtIdentities {
    Table,
    Id,
    UserId,
    InstanceId,
    ChtUsername,
    UsernameKey,
    CreatedAt,
}

fn cascade(
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChtSignInInstances::Table)
                    .col(uuid(ChtSignInInstances::InstanceId).primary_key())
                    .col(uuid(ChtSignInInstances::TenantId))
                    .col(timestamp_with_time_zone(ChtSignInInstances::AllowedAt))
                    .col(uuid_null(ChtSignInInstances::AllowedBy))
                    .foreign_key(&mut cascade(
                        "fk_cht_sign_in_instances_instance",
                        (ChtSignInInstances::Table, ChtSignInInstances::InstanceId),
                        (ChtInstances::Table, ChtInstances::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_cht_sign_in_instances_tenant",
                        (ChtSignInInstances::Table, ChtSignInInstances::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChtIdentities::Table)
                    .col(pk_uuid(ChtIdentities::Id))
                    .col(uuid(ChtIdentities::UserId))
                    .col(uuid(ChtIdentities::InstanceId))
                    .col(string_len(ChtIdentities::ChtUsername, 255))
                    .col(string_len(ChtIdentities::UsernameKey, 255))
                    .col(timestamp_with_time_zone(ChtIdentities::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_cht_identities_user",
                        (ChtIdentities::Table, ChtIdentities::UserId),
                        (PortalUsers::Table, PortalUsers::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_cht_identities_instance",
                        (ChtIdentities::Table, ChtIdentities::InstanceId),
                        (ChtInstances::Table, ChtInstances::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cht_identities_instance_username")
                    .table(ChtIdentities::Table)
                    .col(ChtIdentities::InstanceId)
                    .col(ChtIdentities::UsernameKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_cht_identities_user")
                    .table(ChtIdentities::Table)
                    .col(ChtIdentities::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(uuid_null(Sessions::ChtInstanceId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::ChtInstanceId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ChtIdentities::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ChtSignInInstances::Table).to_owned())
            .await
    }
}
