//! Tenants: one per ministry of health.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portal_domain::{AuditAction, TargetKind, TenantId, TenantName, TenantSlug};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{cht_instance, tenant};
use crate::{AuditContext, AuditRecord, Result, StoreError, audit, conflict_on_unique};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<tenant::Model> for Tenant {
    fn from(m: tenant::Model) -> Self {
        Self {
            id: TenantId::from_uuid(m.id),
            slug: m.slug,
            name: m.name,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A tenant with the number of CHT instances it has, for lists.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub tenant: Tenant,
    pub instance_count: u64,
}

fn slug_taken(slug: &TenantSlug) -> String {
    format!("A tenant with the short name \"{slug}\" already exists; choose another short name.")
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<TenantSummary>> {
    let tenants = tenant::Entity::find()
        .order_by_asc(tenant::Column::Name)
        .all(db)
        .await?;
    let counts: HashMap<Uuid, i64> = cht_instance::Entity::find()
        .select_only()
        .column(cht_instance::Column::TenantId)
        .column_as(cht_instance::Column::Id.count(), "count")
        .group_by(cht_instance::Column::TenantId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(tenants
        .into_iter()
        .map(|m| {
            let instance_count = counts.get(&m.id).copied().unwrap_or(0).unsigned_abs();
            TenantSummary {
                tenant: m.into(),
                instance_count,
            }
        })
        .collect())
}

pub async fn get(db: &DatabaseConnection, id: TenantId) -> Result<Tenant> {
    tenant::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(Tenant::from)
        .ok_or(StoreError::NotFound("tenant"))
}

pub async fn create(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    slug: &TenantSlug,
    name: &TenantName,
) -> Result<Tenant> {
    let id = TenantId::new();
    let txn = db.begin().await?;
    let model = tenant::ActiveModel {
        id: Set(id.as_uuid()),
        slug: Set(slug.as_str().to_owned()),
        name: Set(name.as_str().to_owned()),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_unique(e, || slug_taken(slug)))?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::TenantCreated)
            .tenant(id)
            .target(TargetKind::Tenant, id)
            .details(json!({ "slug": slug.as_str(), "name": name.as_str() })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

pub async fn update(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    id: TenantId,
    slug: &TenantSlug,
    name: &TenantName,
) -> Result<Tenant> {
    let txn = db.begin().await?;
    let existing = tenant::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("tenant"))?;
    let mut changes = serde_json::Map::new();
    if existing.slug != slug.as_str() {
        changes.insert(
            "slug".into(),
            json!({ "from": existing.slug, "to": slug.as_str() }),
        );
    }
    if existing.name != name.as_str() {
        changes.insert(
            "name".into(),
            json!({ "from": existing.name, "to": name.as_str() }),
        );
    }
    let mut model: tenant::ActiveModel = existing.into();
    model.slug = Set(slug.as_str().to_owned());
    model.name = Set(name.as_str().to_owned());
    model.updated_at = Set(ctx.now);
    let model = model
        .update(&txn)
        .await
        .map_err(|e| conflict_on_unique(e, || slug_taken(slug)))?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::TenantUpdated)
            .tenant(id)
            .target(TargetKind::Tenant, id)
            .details(json!({ "changes": changes })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// Deletes a tenant that has no CHT instances left.
pub async fn delete(db: &DatabaseConnection, ctx: &AuditContext, id: TenantId) -> Result<()> {
    let txn = db.begin().await?;
    let existing = tenant::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("tenant"))?;
    let instances = cht_instance::Entity::find()
        .filter(cht_instance::Column::TenantId.eq(id.as_uuid()))
        .count(&txn)
        .await?;
    if instances > 0 {
        return Err(StoreError::Refused(format!(
            "The tenant \"{}\" still has {instances} CHT instance{}; delete {} first.",
            existing.name,
            if instances == 1 { "" } else { "s" },
            if instances == 1 { "it" } else { "them" },
        )));
    }
    tenant::Entity::delete_by_id(id.as_uuid())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::TenantDeleted)
            .tenant(id)
            .target(TargetKind::Tenant, id)
            .details(json!({ "slug": existing.slug, "name": existing.name })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
