//! Tenants, CHT instances, portal users, sessions, sign-in throttling and the audit log.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChtInstances {
    Table,
    Id,
    TenantId,
    Name,
    BaseUrl,
    ServiceUsername,
    ServicePasswordSealed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PortalUsers {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    PasswordMustChange,
    IsPlatformAdmin,
    Disabled,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdDigest,
    UserId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    ClientAddress,
    UserAgent,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    WindowStartedAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    TenantId,
    ActorUserId,
    ActorLabel,
    Action,
    TargetKind,
    TargetId,
    ClientAddress,
    RequestId,
    Details,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(pk_uuid(Tenants::Id))
                    .col(string_len_uniq(Tenants::Slug, 40))
                    .col(string_len(Tenants::Name, 120))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ChtInstances::Table)
                    .col(pk_uuid(ChtInstances::Id))
                    .col(uuid(ChtInstances::TenantId))
                    .col(string_len(ChtInstances::Name, 120))
                    .col(string_len(ChtInstances::BaseUrl, 2048))
                    .col(string_len(ChtInstances::ServiceUsername, 60))
                    .col(text(ChtInstances::ServicePasswordSealed))
                    .col(timestamp_with_time_zone(ChtInstances::CreatedAt))
                    .col(timestamp_with_time_zone(ChtInstances::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cht_instances_tenant")
                            .from(ChtInstances::Table, ChtInstances::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            // A tenant is deleted only once its instances are gone.
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_cht_instances_tenant_name")
                    .table(ChtInstances::Table)
                    .col(ChtInstances::TenantId)
                    .col(ChtInstances::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PortalUsers::Table)
                    .col(pk_uuid(PortalUsers::Id))
                    .col(string_len_uniq(PortalUsers::Email, 254))
                    .col(string_len(PortalUsers::DisplayName, 120))
                    .col(text_null(PortalUsers::PasswordHash))
                    .col(boolean(PortalUsers::PasswordMustChange))
                    .col(boolean(PortalUsers::IsPlatformAdmin))
                    .col(boolean(PortalUsers::Disabled))
                    .col(timestamp_with_time_zone(PortalUsers::CreatedAt))
                    .col(timestamp_with_time_zone(PortalUsers::UpdatedAt))
                    .col(timestamp_with_time_zone_null(PortalUsers::LastLoginAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::IdDigest, 64).primary_key())
                    .col(uuid(Sessions::UserId))
                    .col(string_len(Sessions::CsrfToken, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(string_len_null(Sessions::ClientAddress, 64))
                    .col(string_len_null(Sessions::UserAgent, 512))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(PortalUsers::Table, PortalUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(string_len(LoginThrottle::Key, 320).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(timestamp_with_time_zone(LoginThrottle::WindowStartedAt))
                    .col(timestamp_with_time_zone_null(LoginThrottle::LockedUntil))
                    .to_owned(),
            )
            .await?;

        // No foreign keys: the trail must outlive the tenants, users and instances it names.
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(uuid_null(AuditEvents::TenantId))
                    .col(uuid_null(AuditEvents::ActorUserId))
                    .col(string_len(AuditEvents::ActorLabel, 320))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len_null(AuditEvents::TargetKind, 32))
                    .col(string_len_null(AuditEvents::TargetId, 128))
                    .col(string_len_null(AuditEvents::ClientAddress, 64))
                    .col(string_len_null(AuditEvents::RequestId, 64))
                    .col(json(AuditEvents::Details))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "ix_audit_tenant_time",
                [AuditEvents::TenantId, AuditEvents::OccurredAt],
            ),
            (
                "ix_audit_action_time",
                [AuditEvents::Action, AuditEvents::OccurredAt],
            ),
            (
                "ix_audit_actor_time",
                [AuditEvents::ActorUserId, AuditEvents::OccurredAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        make_audit_append_only(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_audit_append_only(manager).await?;
        for table in [
            AuditEvents::Table.into_iden(),
            LoginThrottle::Table.into_iden(),
            Sessions::Table.into_iden(),
            PortalUsers::Table.into_iden(),
            ChtInstances::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The database itself refuses to change or delete an audit event, whatever the application does.
async fn make_audit_append_only(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Sqlite => {
            for op in ["UPDATE", "DELETE"] {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER audit_events_no_{lower} BEFORE {op} ON audit_events \
                     BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
                    lower = op.to_lowercase()
                ))
                .await?;
            }
        }
        DbBackend::Postgres => {
            db.execute_unprepared(
                "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
            )
            .await?;
        }
        other => {
            return Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            )));
        }
    }
    Ok(())
}

async fn drop_audit_append_only(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Sqlite => {
            db.execute_unprepared("DROP TRIGGER IF EXISTS audit_events_no_update")
                .await?;
            db.execute_unprepared("DROP TRIGGER IF EXISTS audit_events_no_delete")
                .await?;
        }
        _ => {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
            )
            .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS audit_events_append_only()")
                .await?;
        }
    }
    Ok(())
}
