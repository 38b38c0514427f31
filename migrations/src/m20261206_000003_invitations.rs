//! Sign-in links: single-use, expiring links where a person invited without an identity provider
//! sets their first password, or where a person who forgot theirs sets a new one. Only the
//! SHA-256 of the link's token is stored; a link is used by setting `used_at` in the same
//! statement that checks it is unused and unexpired, so it works once even when opened twice at
//! the same moment.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PortalUsers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SignInLinks {
    Table,
    Id,
    UserId,
    Purpose,
    TokenDigest,
    TenantId,
    IssuedBy,
    IssuedByLabel,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInLinks::Table)
                    .col(pk_uuid(SignInLinks::Id))
                    .col(uuid(SignInLinks::UserId))
                    // `invitation` or `password_reset`.
                    .col(string_len(SignInLinks::Purpose, 20))
                    .col(string_len(SignInLinks::TokenDigest, 64))
                    // The tenant whose access page issued it (none for a forgotten password).
                    .col(uuid_null(SignInLinks::TenantId))
                    .col(uuid_null(SignInLinks::IssuedBy))
                    .col(string_len(SignInLinks::IssuedByLabel, 320))
                    .col(timestamp_with_time_zone(SignInLinks::CreatedAt))
                    .col(timestamp_with_time_zone(SignInLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SignInLinks::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sign_in_links_user")
                            .from(SignInLinks::Table, SignInLinks::UserId)
                            .to(PortalUsers::Table, PortalUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sign_in_links_token")
                    .table(SignInLinks::Table)
                    .col(SignInLinks::TokenDigest)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sign_in_links_user_purpose")
                    .table(SignInLinks::Table)
                    .col(SignInLinks::UserId)
                    .col(SignInLinks::Purpose)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SignInLinks::Table).to_owned())
            .await
    }
}
