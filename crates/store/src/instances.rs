//! CHT instances of a tenant, with the service-account password sealed at rest.
//!
//! Reads return [`Instance`], which has no password; only [`service_password`] opens it, for the
//! CHT client. Every lookup takes the tenant id too, so an instance id from another tenant is
//! simply not found.

use chrono::{DateTime, Utc};
use portal_crypto::{MasterKey, Sealed};
use portal_domain::{
    AuditAction, BaseUrl, InstanceId, InstanceName, ServiceUsername, TargetKind, TenantId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{cht_instance, grant, tenant};
use crate::{AuditContext, AuditRecord, Result, StoreError, access, audit, conflict_on_unique};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub tenant_id: TenantId,
    pub name: String,
    pub base_url: String,
    pub service_username: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<cht_instance::Model> for Instance {
    fn from(m: cht_instance::Model) -> Self {
        Self {
            id: InstanceId::from_uuid(m.id),
            tenant_id: TenantId::from_uuid(m.tenant_id),
            name: m.name,
            base_url: m.base_url,
            service_username: m.service_username,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The fields of an instance a person edits. `service_password` is `None` on an edit that keeps
/// the stored password.
#[derive(Debug, Clone)]
pub struct InstanceFields {
    pub name: InstanceName,
    pub base_url: BaseUrl,
    pub service_username: ServiceUsername,
    pub service_password: Option<ServicePassword>,
}

/// A CHT service-account password on its way to being sealed. `Debug` hides it.
#[derive(Clone)]
pub struct ServicePassword(String);

impl ServicePassword {
    /// Rejects an empty password; CHT decides what else is acceptable.
    pub fn parse(raw: &str) -> Result<Self, portal_domain::InvalidValue> {
        if raw.is_empty() {
            return Err(portal_domain::InvalidValue::new(
                "Service account password",
                "is required",
            ));
        }
        if raw.chars().count() > 1024 {
            return Err(portal_domain::InvalidValue::new(
                "Service account password",
                "is longer than 1024 characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ServicePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServicePassword(<redacted>)")
    }
}

/// Binds a sealed password to its row, so copying the ciphertext elsewhere makes it unreadable.
fn seal_context(id: InstanceId) -> String {
    format!("cht_instance:{id}")
}

pub const PASSWORD_NEEDED_FOR_NEW_ADDRESS: &str = "Enter the service account password again: the address changed, and the stored password is only ever sent to the address it was entered for.";

fn name_taken(name: &InstanceName) -> String {
    format!(
        "This tenant already has an instance named \"{}\"; choose another name.",
        name.as_str()
    )
}

pub async fn list_for_tenant(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Vec<Instance>> {
    Ok(cht_instance::Entity::find()
        .filter(cht_instance::Column::TenantId.eq(tenant_id.as_uuid()))
        .order_by_asc(cht_instance::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(Instance::from)
        .collect())
}

async fn find_model(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: TenantId,
    id: InstanceId,
) -> Result<cht_instance::Model> {
    cht_instance::Entity::find_by_id(id.as_uuid())
        .filter(cht_instance::Column::TenantId.eq(tenant_id.as_uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("CHT instance"))
}

pub async fn get(db: &DatabaseConnection, tenant_id: TenantId, id: InstanceId) -> Result<Instance> {
    find_model(db, tenant_id, id).await.map(Instance::from)
}

/// Opens the sealed service-account password: for the CHT client only, never for display.
pub async fn service_password(
    db: &DatabaseConnection,
    key: &MasterKey,
    tenant_id: TenantId,
    id: InstanceId,
) -> Result<String> {
    let model = find_model(db, tenant_id, id).await?;
    Ok(key.open(
        &Sealed::from_stored(model.service_password_sealed),
        &seal_context(id),
    )?)
}

pub async fn create(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    key: &MasterKey,
    tenant_id: TenantId,
    fields: &InstanceFields,
) -> Result<Instance> {
    let Some(password) = &fields.service_password else {
        return Err(StoreError::Refused(
            "A new instance needs the service account password.".to_owned(),
        ));
    };
    let id = InstanceId::new();
    let txn = db.begin().await?;
    tenant::Entity::find_by_id(tenant_id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("tenant"))?;
    let model = cht_instance::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(tenant_id.as_uuid()),
        name: Set(fields.name.as_str().to_owned()),
        base_url: Set(fields.base_url.as_str().to_owned()),
        service_username: Set(fields.service_username.as_str().to_owned()),
        service_password_sealed: Set(key.seal(password.expose(), &seal_context(id)).into_string()),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_unique(e, || name_taken(&fields.name)))?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::InstanceCreated)
            .tenant(tenant_id)
            .target(TargetKind::Instance, id)
            .details(json!({
                "name": fields.name.as_str(),
                "base_url": fields.base_url.as_str(),
                "service_username": fields.service_username.as_str(),
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

pub async fn update(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    key: &MasterKey,
    tenant_id: TenantId,
    id: InstanceId,
    fields: &InstanceFields,
) -> Result<Instance> {
    let txn = db.begin().await?;
    let existing = find_model(&txn, tenant_id, id).await?;
    // The stored password was given for one address; it is never sent to another one.
    if existing.base_url != fields.base_url.as_str() && fields.service_password.is_none() {
        return Err(StoreError::Refused(
            PASSWORD_NEEDED_FOR_NEW_ADDRESS.to_owned(),
        ));
    }
    let mut changes = serde_json::Map::new();
    for (field, before, after) in [
        ("name", &existing.name, fields.name.as_str()),
        ("base_url", &existing.base_url, fields.base_url.as_str()),
        (
            "service_username",
            &existing.service_username,
            fields.service_username.as_str(),
        ),
    ] {
        if before != after {
            changes.insert(field.into(), json!({ "from": before, "to": after }));
        }
    }
    let mut model: cht_instance::ActiveModel = existing.into();
    model.name = Set(fields.name.as_str().to_owned());
    model.base_url = Set(fields.base_url.as_str().to_owned());
    model.service_username = Set(fields.service_username.as_str().to_owned());
    if let Some(password) = &fields.service_password {
        model.service_password_sealed =
            Set(key.seal(password.expose(), &seal_context(id)).into_string());
        // Record that it changed, never the value.
        changes.insert("service_password".into(), json!("changed"));
    }
    model.updated_at = Set(ctx.now);
    let model = model
        .update(&txn)
        .await
        .map_err(|e| conflict_on_unique(e, || name_taken(&fields.name)))?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::InstanceUpdated)
            .tenant(tenant_id)
            .target(TargetKind::Instance, id)
            .details(json!({ "changes": changes })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// Deletes an instance. Its grants in force are revoked in the same transaction, each with an
/// `access.revoked` event, and their rows stay: grants are history. The authorization revision
/// moves, so every portal process drops the policies that still gave them.
pub async fn delete(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    id: InstanceId,
) -> Result<()> {
    let txn = db.begin().await?;
    // First, like every access change (`access::AccessChange`): the revision row is the lock
    // that orders access changes, and taking it last could deadlock with a grant in flight.
    // Also for an instance without grants: its cached places, which scopes are judged by, go.
    access::bump_revision(&txn).await?;
    let existing = find_model(&txn, tenant_id, id).await?;
    let revoked = revoke_grants_on(&txn, ctx, tenant_id, &existing).await?;
    cht_instance::Entity::delete_by_id(id.as_uuid())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::InstanceDeleted)
            .tenant(tenant_id)
            .target(TargetKind::Instance, id)
            .details(json!({
                "name": existing.name,
                "base_url": existing.base_url,
                "revoked_grants": revoked.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Revokes the grants in force over `instance` (or a place in it); returns their ids.
async fn revoke_grants_on(
    txn: &DatabaseTransaction,
    ctx: &AuditContext,
    tenant_id: TenantId,
    instance: &cht_instance::Model,
) -> Result<Vec<Uuid>> {
    let grants = grant::Entity::find()
        .filter(grant::Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(grant::Column::InstanceId.eq(instance.id))
        .filter(access::in_force(ctx.now))
        .all(txn)
        .await?;
    let ids: Vec<Uuid> = grants.iter().map(|g| g.id).collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(ctx.now))
        .col_expr(
            grant::Column::RevokedBy,
            Expr::value(ctx.actor_user_id.map(|u| u.as_uuid())),
        )
        .filter(grant::Column::Id.is_in(ids.clone()))
        .exec(txn)
        .await?;
    for revoked in &grants {
        audit::record(
            txn,
            ctx,
            AuditRecord::new(AuditAction::AccessRevoked)
                .tenant(tenant_id)
                .target(TargetKind::Grant, revoked.id)
                .details(json!({
                    "user_id": revoked.user_id.to_string(),
                    "role": revoked.role_key,
                    "instance_id": instance.id.to_string(),
                    "instance_name": instance.name,
                    "place_id": revoked.place_id,
                    "reason": "instance deleted",
                })),
        )
        .await?;
    }
    Ok(ids)
}
