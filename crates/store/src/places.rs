//! The portal's cache of an instance's places, as last read from CHT.
//!
//! Scopes are checked against it (a place's lineage says which subtrees it is in), the grant
//! screen's place picker searches it, and staging resolves hierarchy columns against it.
//! A refresh replaces the places of the refreshed types (with their people, [`crate::people`])
//! in one transaction, so readers see the old cache or the new one, never half of each.

use chrono::{DateTime, Utc};
use portal_domain::{AuditAction, InstanceId, PlaceScope, TargetKind, TenantId, place_path};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::json;

use crate::access::{bump_revision, escape_like};
use crate::entity::{place, place_sync, place_type_gap};
use crate::people::{self, PersonRecord};
use crate::{AuditContext, AuditRecord, Result, audit};

/// One place as read from CHT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRecord {
    pub id: String,
    pub contact_type: String,
    pub name: String,
    /// Ancestor ids, root first, parent last (empty for a root place).
    pub ancestors: Vec<String>,
    /// The doc's other scalar fields, as a JSON object.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// A cached place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub id: String,
    pub contact_type: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// See [`place_path`]: `/root/…/parent/`.
    pub lineage: String,
    pub depth: i32,
}

impl From<place::Model> for Place {
    fn from(m: place::Model) -> Self {
        Self {
            id: m.id,
            contact_type: m.contact_type,
            name: m.name,
            parent_id: m.parent_id,
            lineage: m.lineage,
            depth: m.depth,
        }
    }
}

/// The SQL test of [`PlaceScope::covers`]: the place is a root, or has one in its lineage.
fn condition(scope: &PlaceScope) -> Condition {
    match scope {
        PlaceScope::Everything => Condition::all(),
        PlaceScope::Subtrees(roots) if roots.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
        PlaceScope::Subtrees(roots) => roots.iter().fold(Condition::any(), |any, root| {
            let pattern = format!("%/{}/%", escape_like(&place_path::segment(root)));
            any.add(place::Column::Id.eq(root.clone()))
                .add(Expr::col(place::Column::Lineage).like(LikeExpr::new(pattern).escape('\\')))
        }),
    }
}

impl Place {
    /// Whether the place is inside `scope` (the same test as the SQL one, in memory).
    #[must_use]
    pub fn is_within(&self, scope: &PlaceScope) -> bool {
        scope.covers(&self.id, &self.lineage)
    }
}

/// When each place type was last read, and how many places it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub contact_type: String,
    pub refreshed_at: DateTime<Utc>,
    pub place_count: i64,
}

const INSERT_CHUNK: usize = 500;

/// A place type the tenant's deployment config uses that the instance's app_settings lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeGap {
    pub contact_type: String,
    /// What in the config uses it, for people ("the place of \"Community Health Unit\"").
    pub used_by: Vec<String>,
}

/// What one refresh read from CHT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refresh {
    /// The place types read; `records` are all of these types.
    pub types: Vec<String>,
    /// The whole cache is replaced (types no longer read are dropped), not only `types`.
    pub whole: bool,
    pub records: Vec<PlaceRecord>,
    /// The primary contacts of `records` whose fields staging compares.
    pub people: Vec<PersonRecord>,
    /// Types the config uses that the instance lacks (they were not read).
    pub gaps: Vec<TypeGap>,
}

/// Replaces the cached places of `types` with `records` (which must all be of those types), in
/// one transaction with its audit event.
pub async fn replace_types(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    instance_id: InstanceId,
    types: &[String],
    records: Vec<PlaceRecord>,
) -> Result<u64> {
    replace(
        db,
        ctx,
        tenant_id,
        instance_id,
        Refresh {
            types: types.to_vec(),
            records,
            ..Refresh::default()
        },
    )
    .await
}

/// Replaces the cache with what a refresh read (the places of its types, their people, and
/// the gaps it found), in one transaction with its audit event. Returns the places stored.
pub async fn replace(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    instance_id: InstanceId,
    refresh: Refresh,
) -> Result<u64> {
    let Refresh {
        types,
        whole,
        records,
        people: persons,
        gaps,
    } = refresh;
    let txn = db.begin().await?;
    let mut delete_places =
        place::Entity::delete_many().filter(place::Column::InstanceId.eq(instance_id.as_uuid()));
    let mut delete_sync = place_sync::Entity::delete_many()
        .filter(place_sync::Column::InstanceId.eq(instance_id.as_uuid()));
    let mut delete_gaps = place_type_gap::Entity::delete_many()
        .filter(place_type_gap::Column::InstanceId.eq(instance_id.as_uuid()));
    if !whole {
        delete_places =
            delete_places.filter(place::Column::ContactType.is_in(types.iter().cloned()));
        delete_sync =
            delete_sync.filter(place_sync::Column::ContactType.is_in(types.iter().cloned()));
        let noted = types.iter().chain(gaps.iter().map(|g| &g.contact_type));
        delete_gaps = delete_gaps.filter(place_type_gap::Column::ContactType.is_in(noted.cloned()));
    }
    delete_places.exec(&txn).await?;
    delete_sync.exec(&txn).await?;
    delete_gaps.exec(&txn).await?;
    people::delete(&txn, instance_id, (!whole).then_some(types.as_slice())).await?;
    let mut counts: std::collections::BTreeMap<&str, i64> =
        types.iter().map(|t| (t.as_str(), 0)).collect();
    let total = records.len() as u64;
    for record in &records {
        if let Some(count) = counts.get_mut(record.contact_type.as_str()) {
            *count += 1;
        }
    }
    let mut rows = records.into_iter().map(|r| place::ActiveModel {
        instance_id: Set(instance_id.as_uuid()),
        name_key: Set(place_path::name_key(&r.name)),
        parent_id: Set(r.ancestors.last().cloned()),
        lineage: Set(place_path::lineage(r.ancestors.iter().map(String::as_str))),
        depth: Set(i32::try_from(r.ancestors.len()).unwrap_or(i32::MAX)),
        properties: Set(serde_json::Value::Object(r.properties).to_string()),
        id: Set(r.id),
        contact_type: Set(r.contact_type),
        name: Set(r.name),
    });
    loop {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        place::Entity::insert_many(chunk).exec(&txn).await?;
    }
    let people_values = people::insert(&txn, instance_id, persons).await?;
    for (contact_type, count) in &counts {
        place_sync::Entity::insert(place_sync::ActiveModel {
            instance_id: Set(instance_id.as_uuid()),
            contact_type: Set((*contact_type).to_owned()),
            refreshed_at: Set(ctx.now),
            place_count: Set(*count),
        })
        .exec(&txn)
        .await?;
    }
    for gap in &gaps {
        place_type_gap::Entity::insert(place_type_gap::ActiveModel {
            instance_id: Set(instance_id.as_uuid()),
            contact_type: Set(gap.contact_type.clone()),
            used_by: Set(serde_json::Value::from(gap.used_by.clone()).to_string()),
            noted_at: Set(ctx.now),
        })
        .exec(&txn)
        .await?;
    }
    let missing: Vec<&str> = gaps.iter().map(|g| g.contact_type.as_str()).collect();
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::PlacesRefreshed)
            .tenant(tenant_id)
            .target(TargetKind::Instance, instance_id)
            .details(json!({
                "types": types,
                "places": total,
                "people_values": people_values,
                "missing_types": missing,
            })),
    )
    .await?;
    // A place that moved changes who may act on it.
    bump_revision(&txn).await?;
    txn.commit().await?;
    Ok(total)
}

/// The place types the config uses that the instance lacked at the last refresh.
pub async fn gaps(db: &DatabaseConnection, instance_id: InstanceId) -> Result<Vec<TypeGap>> {
    let models = place_type_gap::Entity::find()
        .filter(place_type_gap::Column::InstanceId.eq(instance_id.as_uuid()))
        .order_by_asc(place_type_gap::Column::ContactType)
        .all(db)
        .await?;
    Ok(models
        .into_iter()
        .map(|m| TypeGap {
            used_by: serde_json::from_str(&m.used_by).unwrap_or_default(),
            contact_type: m.contact_type,
        })
        .collect())
}

pub async fn get(
    db: &DatabaseConnection,
    instance_id: InstanceId,
    id: &str,
) -> Result<Option<Place>> {
    Ok(
        place::Entity::find_by_id((instance_id.as_uuid(), id.to_owned()))
            .one(db)
            .await?
            .map(Into::into),
    )
}

/// Places whose name contains `query` (accents and case ignored), within `filter`, by name.
pub async fn search(
    db: &DatabaseConnection,
    instance_id: InstanceId,
    query: &str,
    filter: &PlaceScope,
    limit: u64,
) -> Result<Vec<Place>> {
    let pattern = format!("%{}%", escape_like(&place_path::name_key(query)));
    let models = place::Entity::find()
        .filter(place::Column::InstanceId.eq(instance_id.as_uuid()))
        .filter(Expr::col(place::Column::NameKey).like(LikeExpr::new(pattern).escape('\\')))
        .filter(condition(filter))
        .order_by_asc(place::Column::Depth)
        .order_by_asc(place::Column::NameKey)
        .limit(limit)
        .all(db)
        .await?;
    Ok(models.into_iter().map(Into::into).collect())
}

/// The places directly under `parent` (the roots when `None`), within `filter`, by name.
pub async fn children(
    db: &DatabaseConnection,
    instance_id: InstanceId,
    parent: Option<&str>,
    filter: &PlaceScope,
    limit: u64,
) -> Result<Vec<Place>> {
    let parent_condition = match parent {
        Some(id) => place::Column::ParentId.eq(id.to_owned()),
        None => place::Column::ParentId.is_null(),
    };
    let models = place::Entity::find()
        .filter(place::Column::InstanceId.eq(instance_id.as_uuid()))
        .filter(parent_condition)
        .filter(condition(filter))
        .order_by_asc(place::Column::NameKey)
        .limit(limit)
        .all(db)
        .await?;
    Ok(models.into_iter().map(Into::into).collect())
}

/// The ancestors of a place that are in the cache, root first.
pub async fn ancestors(
    db: &DatabaseConnection,
    instance_id: InstanceId,
    place: &Place,
) -> Result<Vec<Place>> {
    let ids = place_path::ancestor_ids(&place.lineage);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let models = place::Entity::find()
        .filter(place::Column::InstanceId.eq(instance_id.as_uuid()))
        .filter(place::Column::Id.is_in(ids))
        .order_by_asc(place::Column::Depth)
        .all(db)
        .await?;
    Ok(models.into_iter().map(Into::into).collect())
}

pub async fn count(db: &DatabaseConnection, instance_id: InstanceId) -> Result<u64> {
    Ok(place::Entity::find()
        .filter(place::Column::InstanceId.eq(instance_id.as_uuid()))
        .count(db)
        .await?)
}

pub async fn sync_status(
    db: &DatabaseConnection,
    instance_id: InstanceId,
) -> Result<Vec<SyncStatus>> {
    let models = place_sync::Entity::find()
        .filter(place_sync::Column::InstanceId.eq(instance_id.as_uuid()))
        .order_by_asc(place_sync::Column::ContactType)
        .all(db)
        .await?;
    Ok(models
        .into_iter()
        .map(|m| SyncStatus {
            contact_type: m.contact_type,
            refreshed_at: m.refreshed_at,
            place_count: m.place_count,
        })
        .collect())
}

/// A cached place as staging needs it: ids, type, name, parent, and its properties (as stored
/// JSON, parsed only for the types that need them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedPlace {
    pub id: String,
    pub contact_type: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub properties: String,
}

/// Every cached place of the instance, in one query.
pub async fn all_for_index(
    db: &DatabaseConnection,
    instance_id: InstanceId,
) -> Result<Vec<IndexedPlace>> {
    let rows: Vec<(String, String, String, Option<String>, String)> = place::Entity::find()
        .select_only()
        .column(place::Column::Id)
        .column(place::Column::ContactType)
        .column(place::Column::Name)
        .column(place::Column::ParentId)
        .column(place::Column::Properties)
        .filter(place::Column::InstanceId.eq(instance_id.as_uuid()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, contact_type, name, parent_id, properties)| IndexedPlace {
                id,
                contact_type,
                name,
                parent_id,
                properties,
            },
        )
        .collect())
}

/// A stamp that changes whenever the instance's cache is refreshed (for in-memory indexes).
pub async fn cache_stamp(db: &DatabaseConnection, instance_id: InstanceId) -> Result<String> {
    let status = sync_status(db, instance_id).await?;
    Ok(status
        .iter()
        .map(|s| {
            format!(
                "{}:{}:{}",
                s.contact_type,
                s.refreshed_at.timestamp_micros(),
                s.place_count
            )
        })
        .collect::<Vec<_>>()
        .join("|"))
}
