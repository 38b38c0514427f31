//! Scoped access: tenant roles, grants, the place cache that scopes are checked against, the
//! authorization revision every process watches, and OpenID Connect sign-in.

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
    OidcProviderId,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    TenantId,
    Key,
    Name,
    Permissions,
    CreatedAt,
    UpdatedAt,
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

#[derive(DeriveIden)]
enum Places {
    Table,
    InstanceId,
    Id,
    ContactType,
    Name,
    NameKey,
    ParentId,
    Lineage,
    Depth,
    Properties,
}

#[derive(DeriveIden)]
enum PlaceSync {
    Table,
    InstanceId,
    ContactType,
    RefreshedAt,
    PlaceCount,
}

#[derive(DeriveIden)]
enum AuthzRevision {
    Table,
    Id,
    Revision,
}

#[derive(DeriveIden)]
enum OidcProviders {
    Table,
    Id,
    TenantId,
    DisplayName,
    IssuerUrl,
    ClientId,
    ClientSecretSealed,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OidcIdentities {
    Table,
    ProviderId,
    Subject,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcLogins {
    Table,
    StateDigest,
    ProviderId,
    BrowserDigest,
    Nonce,
    PkceVerifier,
    NextPath,
    CreatedAt,
}

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

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Tenant-defined roles; the built-in ones live in code (`portal_domain::BuiltinRole`).
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(pk_uuid(Roles::Id))
                    .col(uuid(Roles::TenantId))
                    .col(string_len(Roles::Key, 40))
                    .col(string_len(Roles::Name, 80))
                    .col(text(Roles::Permissions))
                    .col(timestamp_with_time_zone(Roles::CreatedAt))
                    .col(timestamp_with_time_zone(Roles::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_roles_tenant",
                        (Roles::Table, Roles::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_roles_tenant_key",
            Roles::Table,
            vec![Roles::TenantId.into_iden(), Roles::Key.into_iden()],
            true,
        )
        .await?;

        // A grant is never deleted, only revoked: who had which access when stays answerable.
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
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
                        (Grants::Table, Grants::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_grants_user",
                        (Grants::Table, Grants::UserId),
                        (PortalUsers::Table, PortalUsers::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_grants_instance",
                        (Grants::Table, Grants::InstanceId),
                        (ChtInstances::Table, ChtInstances::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_grants_tenant",
            Grants::Table,
            vec![Grants::TenantId.into_iden(), Grants::RevokedAt.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ix_grants_user",
            Grants::Table,
            vec![Grants::UserId.into_iden()],
            false,
        )
        .await?;

        // The instance's places as last read from CHT. `lineage` is the path of ancestor ids
        // from the root down to the parent, so "inside this subtree" is a prefix-free test.
        manager
            .create_table(
                Table::create()
                    .table(Places::Table)
                    .col(uuid(Places::InstanceId))
                    .col(string_len(Places::Id, 200))
                    .col(string_len(Places::ContactType, 100))
                    .col(string_len(Places::Name, 300))
                    .col(string_len(Places::NameKey, 300))
                    .col(string_len_null(Places::ParentId, 200))
                    .col(text(Places::Lineage))
                    .col(integer(Places::Depth))
                    .col(text(Places::Properties))
                    .primary_key(Index::create().col(Places::InstanceId).col(Places::Id))
                    .foreign_key(&mut fk(
                        "fk_places_instance",
                        (Places::Table, Places::InstanceId),
                        (ChtInstances::Table, ChtInstances::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_places_type_name",
            Places::Table,
            vec![
                Places::InstanceId.into_iden(),
                Places::ContactType.into_iden(),
                Places::NameKey.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "ix_places_parent",
            Places::Table,
            vec![Places::InstanceId.into_iden(), Places::ParentId.into_iden()],
            false,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlaceSync::Table)
                    .col(uuid(PlaceSync::InstanceId))
                    .col(string_len(PlaceSync::ContactType, 100))
                    .col(timestamp_with_time_zone(PlaceSync::RefreshedAt))
                    .col(big_integer(PlaceSync::PlaceCount))
                    .primary_key(
                        Index::create()
                            .col(PlaceSync::InstanceId)
                            .col(PlaceSync::ContactType),
                    )
                    .foreign_key(&mut fk(
                        "fk_place_sync_instance",
                        (PlaceSync::Table, PlaceSync::InstanceId),
                        (ChtInstances::Table, ChtInstances::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        // One row: bumped in the same transaction as any change to roles, grants or places, so
        // every portal process notices the change on its next request.
        manager
            .create_table(
                Table::create()
                    .table(AuthzRevision::Table)
                    .col(integer(AuthzRevision::Id).primary_key())
                    .col(big_integer(AuthzRevision::Revision))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuthzRevision::Table)
                    .columns([AuthzRevision::Id, AuthzRevision::Revision])
                    .values_panic([1.into(), 1.into()])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OidcProviders::Table)
                    .col(pk_uuid(OidcProviders::Id))
                    .col(uuid_uniq(OidcProviders::TenantId))
                    .col(string_len(OidcProviders::DisplayName, 80))
                    .col(string_len(OidcProviders::IssuerUrl, 2048))
                    .col(string_len(OidcProviders::ClientId, 255))
                    .col(text(OidcProviders::ClientSecretSealed))
                    .col(boolean(OidcProviders::Enabled))
                    .col(timestamp_with_time_zone(OidcProviders::CreatedAt))
                    .col(timestamp_with_time_zone(OidcProviders::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_oidc_providers_tenant",
                        (OidcProviders::Table, OidcProviders::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OidcIdentities::Table)
                    .col(uuid(OidcIdentities::ProviderId))
                    .col(string_len(OidcIdentities::Subject, 255))
                    .col(uuid(OidcIdentities::UserId))
                    .col(timestamp_with_time_zone(OidcIdentities::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OidcIdentities::ProviderId)
                            .col(OidcIdentities::Subject),
                    )
                    .foreign_key(&mut fk(
                        "fk_oidc_identities_provider",
                        (OidcIdentities::Table, OidcIdentities::ProviderId),
                        (OidcProviders::Table, OidcProviders::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_oidc_identities_user",
                        (OidcIdentities::Table, OidcIdentities::UserId),
                        (PortalUsers::Table, PortalUsers::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A sign-in in flight: found by the digest of `state`, bound to the browser by the digest
        // of a cookie, used once.
        manager
            .create_table(
                Table::create()
                    .table(OidcLogins::Table)
                    .col(string_len(OidcLogins::StateDigest, 64).primary_key())
                    .col(uuid(OidcLogins::ProviderId))
                    .col(string_len(OidcLogins::BrowserDigest, 64))
                    .col(string_len(OidcLogins::Nonce, 128))
                    .col(string_len(OidcLogins::PkceVerifier, 128))
                    .col(string_len(OidcLogins::NextPath, 2048))
                    .col(timestamp_with_time_zone(OidcLogins::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_oidc_logins_provider",
                        (OidcLogins::Table, OidcLogins::ProviderId),
                        (OidcProviders::Table, OidcProviders::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(uuid_null(Sessions::OidcProviderId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::OidcProviderId)
                    .to_owned(),
            )
            .await?;
        for table in [
            OidcLogins::Table.into_iden(),
            OidcIdentities::Table.into_iden(),
            OidcProviders::Table.into_iden(),
            AuthzRevision::Table.into_iden(),
            PlaceSync::Table.into_iden(),
            Places::Table.into_iden(),
            Grants::Table.into_iden(),
            Roles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
