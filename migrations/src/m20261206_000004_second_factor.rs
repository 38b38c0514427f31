//! The second factor (TOTP, RFC 6238) for portal passwords:
//! - `second_factors`: one per person, the secret sealed with the master key (bound to the user
//!   id); `confirmed_at` is empty while enrolment waits for a first correct code; `last_step` is
//!   the last accepted time step, so a code is never accepted twice (RFC 6238 §5.2).
//! - `second_factor_recovery_codes`: single-use codes, only their SHA-256 stored.
//! - `pending_sign_ins`: a correct password waiting for its second step. It is not a session: no
//!   page accepts it, only the second-step page reads it (by the SHA-256 of its own cookie).
//! - `second_factor_policies`: a row per tenant that requires a second factor.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PortalUsers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SecondFactors {
    Table,
    UserId,
    SecretSealed,
    CreatedAt,
    ConfirmedAt,
    LastStep,
}

#[derive(DeriveIden)]
enum SecondFactorRecoveryCodes {
    Table,
    Id,
    UserId,
    CodeDigest,
    UsedAt,
}

#[derive(DeriveIden)]
enum PendingSignIns {
    Table,
    IdDigest,
    UserId,
    NextPath,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SecondFactorPolicies {
    Table,
    TenantId,
    RequiredSince,
}

fn to_user(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(PortalUsers::Table, PortalUsers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecondFactors::Table)
                    .col(uuid(SecondFactors::UserId).primary_key())
                    .col(text(SecondFactors::SecretSealed))
                    .col(timestamp_with_time_zone(SecondFactors::CreatedAt))
                    .col(timestamp_with_time_zone_null(SecondFactors::ConfirmedAt))
                    .col(big_integer_null(SecondFactors::LastStep))
                    .foreign_key(&mut to_user(
                        "fk_second_factors_user",
                        SecondFactors::Table,
                        SecondFactors::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecondFactorRecoveryCodes::Table)
                    .col(pk_uuid(SecondFactorRecoveryCodes::Id))
                    .col(uuid(SecondFactorRecoveryCodes::UserId))
                    .col(string_len(SecondFactorRecoveryCodes::CodeDigest, 64))
                    .col(timestamp_with_time_zone_null(
                        SecondFactorRecoveryCodes::UsedAt,
                    ))
                    .foreign_key(&mut to_user(
                        "fk_recovery_codes_user",
                        SecondFactorRecoveryCodes::Table,
                        SecondFactorRecoveryCodes::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_recovery_codes_user")
                    .table(SecondFactorRecoveryCodes::Table)
                    .col(SecondFactorRecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PendingSignIns::Table)
                    .col(string_len(PendingSignIns::IdDigest, 64).primary_key())
                    .col(uuid(PendingSignIns::UserId))
                    .col(string_len(PendingSignIns::NextPath, 2048))
                    .col(timestamp_with_time_zone(PendingSignIns::CreatedAt))
                    .col(timestamp_with_time_zone(PendingSignIns::ExpiresAt))
                    .foreign_key(&mut to_user(
                        "fk_pending_sign_ins_user",
                        PendingSignIns::Table,
                        PendingSignIns::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecondFactorPolicies::Table)
                    .col(uuid(SecondFactorPolicies::TenantId).primary_key())
                    .col(timestamp_with_time_zone(
                        SecondFactorPolicies::RequiredSince,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_second_factor_policies_tenant")
                            .from(SecondFactorPolicies::Table, SecondFactorPolicies::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SecondFactorPolicies::Table.into_iden(),
            PendingSignIns::Table.into_iden(),
            SecondFactorRecoveryCodes::Table.into_iden(),
            SecondFactors::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
