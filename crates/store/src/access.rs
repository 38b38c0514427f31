//! Roles and grants: who holds which role, in which tenant, over which part of it, until when.
//!
//! Grants are the source of truth for authorization; `portal-access` turns the active ones into
//! casbin policies. Every change bumps the authorization revision in the same transaction, so
//! each portal process reloads its policies on the next request that follows the change; it
//! bumps it first, so changes to access happen one after another (see [`AccessChange`]).
//!
//! These functions write what they are given. Who may give what, to whom and until when is
//! decided by `portal_access::delegation`, which checks and writes inside one [`AccessChange`].

mod change;

pub use change::{AccessChange, instance_in_tenant, place_lineage, user_with_email};

use chrono::{DateTime, Utc};
use portal_domain::{
    AuditAction, BuiltinRole, Email, InstanceId, PermissionSet, RoleKey, TargetKind, TenantId,
    UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{authz_revision, grant, portal_user, role};
use crate::users::User;
use crate::{AuditContext, AuditRecord, Result, StoreError, audit, conflict_on_unique};

/// A role as a tenant sees it: built in, or its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub key: RoleKey,
    pub name: String,
    pub permissions: PermissionSet,
    pub builtin: bool,
}

impl Role {
    #[must_use]
    pub fn from_builtin(role: BuiltinRole) -> Self {
        Self {
            key: RoleKey::builtin(role),
            name: role.name().to_owned(),
            permissions: role.permissions(),
            builtin: true,
        }
    }
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantScope {
    /// The whole tenant: every instance, and the tenant's own settings.
    Tenant,
    /// One CHT instance, every place in it.
    Instance(InstanceId),
    /// A place of an instance and everything below it.
    Place {
        instance_id: InstanceId,
        place_id: String,
        place_name: String,
    },
}

impl GrantScope {
    #[must_use]
    pub fn instance_id(&self) -> Option<InstanceId> {
        match self {
            Self::Tenant => None,
            Self::Instance(id)
            | Self::Place {
                instance_id: id, ..
            } => Some(*id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role_key: RoleKey,
    pub scope: GrantScope,
    pub expires_at: Option<DateTime<Utc>>,
    pub granted_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Not revoked and not expired at `now`.
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

impl TryFrom<grant::Model> for Grant {
    type Error = StoreError;

    fn try_from(m: grant::Model) -> Result<Self> {
        let role_key = RoleKey::parse(&m.role_key)
            .map_err(|e| StoreError::Refused(format!("stored role key unreadable: {e}")))?;
        let scope = match (m.instance_id, m.place_id) {
            (None, _) => GrantScope::Tenant,
            (Some(instance), None) => GrantScope::Instance(InstanceId::from_uuid(instance)),
            (Some(instance), Some(place_id)) => GrantScope::Place {
                instance_id: InstanceId::from_uuid(instance),
                place_name: m.place_name.unwrap_or_else(|| place_id.clone()),
                place_id,
            },
        };
        Ok(Self {
            id: m.id,
            tenant_id: TenantId::from_uuid(m.tenant_id),
            user_id: UserId::from_uuid(m.user_id),
            role_key,
            scope,
            expires_at: m.expires_at,
            granted_by: m.granted_by.map(UserId::from_uuid),
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        })
    }
}

/// A grant with the person it is for, for the access screen.
#[derive(Debug, Clone)]
pub struct GrantListing {
    pub grant: Grant,
    pub user: User,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub tenant_id: TenantId,
    pub role_key: RoleKey,
    pub scope: GrantScope,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who receives a grant: an existing account, or an email to invite (an account without a
/// password is created; it signs in through the tenant's identity provider).
#[derive(Debug, Clone)]
pub enum Grantee {
    Existing(UserId),
    Invite {
        email: Email,
        display_name: String,
    },
    /// A CHT username on one of the tenant's instances: the person bound to it, created (without
    /// a portal password) when new; they sign in with their CHT account (`crate::cht_identities`).
    ChtUser {
        instance_id: InstanceId,
        username: crate::cht_identities::ChtUsername,
        display_name: String,
    },
}

/// Grants neither revoked nor expired at `now`.
pub(crate) fn in_force(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(grant::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(grant::Column::ExpiresAt.is_null())
                .add(grant::Column::ExpiresAt.gt(now)),
        )
}

/// The revision every process compares with the one its policies were built from.
pub async fn revision(db: &impl ConnectionTrait) -> Result<i64> {
    Ok(authz_revision::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |m| m.revision))
}

pub(crate) async fn bump_revision(db: &impl ConnectionTrait) -> Result<()> {
    authz_revision::Entity::update_many()
        .col_expr(
            authz_revision::Column::Revision,
            Expr::col(authz_revision::Column::Revision).add(Expr::val(1)),
        )
        .filter(authz_revision::Column::Id.eq(1))
        .exec(db)
        .await?;
    Ok(())
}

/// The tenant's roles: the built-in ones first, then its own by name.
pub async fn roles(db: &DatabaseConnection, tenant_id: TenantId) -> Result<Vec<Role>> {
    let mut list: Vec<Role> = BuiltinRole::ALL
        .into_iter()
        .map(Role::from_builtin)
        .collect();
    list.extend(custom_roles(db, tenant_id).await?);
    Ok(list)
}

/// A tenant's own roles, for building policies.
pub async fn custom_roles(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<Role>> {
    let models = role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant.as_uuid()))
        .order_by_asc(role::Column::Name)
        .all(db)
        .await?;
    Ok(models
        .into_iter()
        .filter_map(|m| {
            Some(Role {
                key: RoleKey::parse(&m.key).ok()?,
                name: m.name,
                permissions: PermissionSet::from_stored(&m.permissions),
                builtin: false,
            })
        })
        .collect())
}

/// Creates or updates a tenant role. Built-in keys are refused: their meaning is fixed.
pub async fn save_role(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    key: &RoleKey,
    name: &str,
    permissions: &PermissionSet,
) -> Result<()> {
    let change = AccessChange::begin(db).await?;
    save_role_in(&change, ctx, tenant_id, key, name, permissions).await?;
    change.commit().await
}

/// [`save_role`] inside a change.
pub async fn save_role_in(
    change: &AccessChange,
    ctx: &AuditContext,
    tenant_id: TenantId,
    key: &RoleKey,
    name: &str,
    permissions: &PermissionSet,
) -> Result<()> {
    if key.as_builtin().is_some() {
        return Err(StoreError::Refused(format!(
            "{key} is a built-in role and cannot be changed; choose another key"
        )));
    }
    let txn = change.connection();
    let existing = role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(role::Column::Key.eq(key.as_str()))
        .one(txn)
        .await?;
    let before = existing.as_ref().map(|m| m.permissions.clone());
    match existing {
        Some(model) => {
            let mut active: role::ActiveModel = model.into();
            active.name = Set(name.to_owned());
            active.permissions = Set(permissions.to_stored());
            active.updated_at = Set(ctx.now);
            active.update(txn).await?;
        }
        None => {
            role::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(tenant_id.as_uuid()),
                key: Set(key.as_str().to_owned()),
                name: Set(name.to_owned()),
                permissions: Set(permissions.to_stored()),
                created_at: Set(ctx.now),
                updated_at: Set(ctx.now),
            }
            .insert(txn)
            .await
            .map_err(|e| conflict_on_unique(e, || format!("A role {key} already exists.")))?;
        }
    }
    audit::record(
        txn,
        ctx,
        AuditRecord::new(AuditAction::RoleSaved)
            .tenant(tenant_id)
            .target(TargetKind::Role, key)
            .details(json!({
                "name": name,
                "permissions": permissions.to_stored(),
                "previous_permissions": before,
            })),
    )
    .await?;
    Ok(())
}

/// Deletes a tenant role that no active grant uses.
pub async fn delete_role(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    key: &RoleKey,
) -> Result<()> {
    let change = AccessChange::begin(db).await?;
    delete_role_in(&change, ctx, tenant_id, key).await?;
    change.commit().await
}

/// [`delete_role`] inside a change.
pub async fn delete_role_in(
    change: &AccessChange,
    ctx: &AuditContext,
    tenant_id: TenantId,
    key: &RoleKey,
) -> Result<()> {
    let txn = change.connection();
    let in_use = grant::Entity::find()
        .filter(grant::Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(grant::Column::RoleKey.eq(key.as_str()))
        .filter(in_force(ctx.now))
        .count(txn)
        .await?;
    if in_use > 0 {
        return Err(StoreError::Refused(format!(
            "The role {key} is held by {in_use} active grant(s); revoke them first."
        )));
    }
    let deleted = role::Entity::delete_many()
        .filter(role::Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(role::Column::Key.eq(key.as_str()))
        .exec(txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::NotFound("role"));
    }
    audit::record(
        txn,
        ctx,
        AuditRecord::new(AuditAction::RoleDeleted)
            .tenant(tenant_id)
            .target(TargetKind::Role, key),
    )
    .await?;
    Ok(())
}

/// Grants for building policies: every grant of `tenant` not revoked and not expired at `now`.
pub async fn active_grants(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<Vec<Grant>> {
    let models = grant::Entity::find()
        .filter(grant::Column::TenantId.eq(tenant.as_uuid()))
        .filter(in_force(now))
        .all(db)
        .await?;
    models.into_iter().map(Grant::try_from).collect()
}

/// The tenant's grants with their holders, newest first; revoked ones only when asked.
pub async fn tenant_grants(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    include_revoked: bool,
) -> Result<Vec<GrantListing>> {
    let mut query = grant::Entity::find()
        .filter(grant::Column::TenantId.eq(tenant_id.as_uuid()))
        .find_also_related(portal_user::Entity)
        .order_by_desc(grant::Column::CreatedAt);
    if !include_revoked {
        query = query.filter(grant::Column::RevokedAt.is_null());
    }
    let rows = query.all(db).await?;
    rows.into_iter()
        .filter_map(|(g, u)| Some((g, u?)))
        .map(|(g, u)| {
            Ok(GrantListing {
                grant: g.try_into()?,
                user: u.into(),
            })
        })
        .collect()
}

/// The tenants where `user` holds a grant in force at `now`.
pub async fn user_tenants(
    db: &DatabaseConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<TenantId>> {
    let mut ids: Vec<TenantId> = grant::Entity::find()
        .filter(grant::Column::UserId.eq(user.as_uuid()))
        .filter(in_force(now))
        .all(db)
        .await?
        .into_iter()
        .map(|g| TenantId::from_uuid(g.tenant_id))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

pub async fn get_grant(db: &impl ConnectionTrait, tenant_id: TenantId, id: Uuid) -> Result<Grant> {
    grant::Entity::find_by_id(id)
        .filter(grant::Column::TenantId.eq(tenant_id.as_uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("grant"))?
        .try_into()
}

/// Creates a grant (inviting the person first when needed), with its audit event, in one
/// transaction. Returns the grant and its holder.
pub async fn grant(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    grantee: Grantee,
    new: NewGrant,
) -> Result<(Grant, User)> {
    let change = AccessChange::begin(db).await?;
    let given = grant_in(&change, ctx, grantee, new).await?;
    change.commit().await?;
    Ok(given)
}

/// [`grant`] inside a change.
pub async fn grant_in(
    change: &AccessChange,
    ctx: &AuditContext,
    grantee: Grantee,
    new: NewGrant,
) -> Result<(Grant, User)> {
    let txn = change.connection();
    let named_cht_user = match &grantee {
        Grantee::ChtUser {
            instance_id,
            username,
            ..
        } => Some(json!({ "instance_id": instance_id.to_string(), "username": username.as_str() })),
        _ => None,
    };
    let user: User = match grantee {
        Grantee::Existing(id) => portal_user::Entity::find_by_id(id.as_uuid())
            .one(txn)
            .await?
            .ok_or(StoreError::NotFound("user"))?
            .into(),
        Grantee::ChtUser {
            instance_id,
            username,
            display_name,
        } => {
            crate::cht_identities::bind_in(
                txn,
                ctx,
                new.tenant_id,
                instance_id,
                &username,
                &display_name,
            )
            .await?
        }
        Grantee::Invite {
            email,
            display_name,
        } => {
            let existing = portal_user::Entity::find()
                .filter(portal_user::Column::Email.eq(email.as_str()))
                .one(txn)
                .await?;
            match existing {
                Some(model) => model.into(),
                None => {
                    let id = UserId::new();
                    let model = portal_user::ActiveModel {
                        id: Set(id.as_uuid()),
                        email: Set(email.as_str().to_owned()),
                        display_name: Set(display_name.clone()),
                        password_hash: Set(None),
                        password_must_change: Set(false),
                        is_platform_admin: Set(false),
                        disabled: Set(false),
                        created_at: Set(ctx.now),
                        updated_at: Set(ctx.now),
                        last_login_at: Set(None),
                    }
                    .insert(txn)
                    .await?;
                    audit::record(
                        txn,
                        ctx,
                        AuditRecord::new(AuditAction::UserInvited)
                            .tenant(new.tenant_id)
                            .target(TargetKind::User, id)
                            .details(json!({
                                "email": email.as_str(),
                                "display_name": display_name,
                            })),
                    )
                    .await?;
                    model.into()
                }
            }
        }
    };
    let id = Uuid::now_v7();
    let (instance_id, place_id, place_name) = match &new.scope {
        GrantScope::Tenant => (None, None, None),
        GrantScope::Instance(instance) => (Some(instance.as_uuid()), None, None),
        GrantScope::Place {
            instance_id,
            place_id,
            place_name,
        } => (
            Some(instance_id.as_uuid()),
            Some(place_id.clone()),
            Some(place_name.chars().take(300).collect::<String>()),
        ),
    };
    let model = grant::ActiveModel {
        id: Set(id),
        tenant_id: Set(new.tenant_id.as_uuid()),
        user_id: Set(user.id.as_uuid()),
        role_key: Set(new.role_key.as_str().to_owned()),
        instance_id: Set(instance_id),
        place_id: Set(place_id.clone()),
        place_name: Set(place_name.clone()),
        expires_at: Set(new.expires_at),
        granted_by: Set(ctx.actor_user_id.map(|u| u.as_uuid())),
        created_at: Set(ctx.now),
        revoked_at: Set(None),
        revoked_by: Set(None),
    }
    .insert(txn)
    .await?;
    let mut details = json!({
        "user_id": user.id.to_string(),
        "email": user.email,
        "role": new.role_key.as_str(),
        "instance_id": instance_id.map(|i| i.to_string()),
        "place_id": place_id,
        "place_name": place_name,
        "expires_at": new.expires_at.map(|t| t.to_rfc3339()),
    });
    if let (Some(named), Some(map)) = (named_cht_user, details.as_object_mut()) {
        map.insert("cht_user".to_owned(), named);
    }
    audit::record(
        txn,
        ctx,
        AuditRecord::new(AuditAction::AccessGranted)
            .tenant(new.tenant_id)
            .target(TargetKind::Grant, id)
            .details(details),
    )
    .await?;
    Ok((model.try_into()?, user))
}

/// Revokes a grant now. Revoking twice is refused so the trail shows one revocation.
pub async fn revoke(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    id: Uuid,
) -> Result<Grant> {
    let change = AccessChange::begin(db).await?;
    let revoked = revoke_in(&change, ctx, tenant_id, id).await?;
    change.commit().await?;
    Ok(revoked)
}

/// [`revoke`] inside a change.
pub async fn revoke_in(
    change: &AccessChange,
    ctx: &AuditContext,
    tenant_id: TenantId,
    id: Uuid,
) -> Result<Grant> {
    let txn = change.connection();
    let updated = grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(ctx.now))
        .col_expr(
            grant::Column::RevokedBy,
            Expr::value(ctx.actor_user_id.map(|u| u.as_uuid())),
        )
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::Refused(
            "This access was already revoked, or it does not exist.".to_owned(),
        ));
    }
    let model = grant::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(StoreError::NotFound("grant"))?;
    audit::record(
        txn,
        ctx,
        AuditRecord::new(AuditAction::AccessRevoked)
            .tenant(tenant_id)
            .target(TargetKind::Grant, id)
            .details(json!({
                "user_id": model.user_id.to_string(),
                "role": model.role_key,
                "instance_id": model.instance_id.map(|i| i.to_string()),
                "place_id": model.place_id,
            })),
    )
    .await?;
    model.try_into()
}

/// Portal users whose name or email contains `query` (case-insensitive), for the grant form.
pub async fn search_users(db: &DatabaseConnection, query: &str, limit: u64) -> Result<Vec<User>> {
    use sea_orm::QuerySelect;
    let pattern = format!("%{}%", escape_like(&query.trim().to_lowercase()));
    let models = portal_user::Entity::find()
        .filter(portal_user::Column::Disabled.eq(false))
        .filter(
            Condition::any()
                .add(
                    Func::lower(Expr::col(portal_user::Column::Email))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Func::lower(Expr::col(portal_user::Column::DisplayName))
                        .like(LikeExpr::new(pattern).escape('\\')),
                ),
        )
        .order_by_asc(portal_user::Column::Email)
        .limit(limit)
        .all(db)
        .await?;
    Ok(models.into_iter().map(Into::into).collect())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as the escape character.
#[must_use]
pub fn escape_like(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
