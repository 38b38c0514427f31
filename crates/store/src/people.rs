//! The primary contacts of cached places, as far as staging compares them.
//!
//! A `unique: all` contact property (the Kenya CHP phone) must be compared with the people
//! already on the instance, not only with staged rows. A place refresh reads each place's
//! primary contact and keeps its `unique` fields here, replaced in the refresh's transaction
//! ([`crate::places::replace`]), so the places and their people always come from one read.

use portal_domain::InstanceId;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};

use crate::Result;
use crate::entity::person;

/// The primary contact of a place, as read from CHT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub place_id: String,
    pub place_type: String,
    pub contact_id: String,
    pub contact_name: String,
    /// `(property name, value)` for each compared field the contact has, values formatted as
    /// staged values of the property are.
    pub values: Vec<(String, String)>,
}

/// One cached value, as staging loads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedValue {
    pub place_id: String,
    pub place_type: String,
    pub property_name: String,
    pub value: String,
}

const INSERT_CHUNK: usize = 500;

/// Inserts `records` (the caller deleted what they replace, in the same transaction).
pub(crate) async fn insert(
    txn: &impl ConnectionTrait,
    instance_id: InstanceId,
    records: Vec<PersonRecord>,
) -> Result<u64> {
    let mut rows = records.into_iter().flat_map(|r| {
        let PersonRecord {
            place_id,
            place_type,
            contact_id,
            contact_name,
            values,
        } = r;
        values
            .into_iter()
            .map(move |(property_name, value)| person::ActiveModel {
                instance_id: Set(instance_id.as_uuid()),
                place_id: Set(place_id.clone()),
                property_name: Set(property_name),
                place_type: Set(place_type.clone()),
                contact_id: Set(contact_id.clone()),
                contact_name: Set(contact_name.clone()),
                value: Set(value),
            })
    });
    let mut total = 0;
    loop {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        total += chunk.len() as u64;
        person::Entity::insert_many(chunk).exec(txn).await?;
    }
    Ok(total)
}

/// Deletes the cached people of places of `types` (every type when `None`).
pub(crate) async fn delete(
    txn: &impl ConnectionTrait,
    instance_id: InstanceId,
    types: Option<&[String]>,
) -> Result<()> {
    let mut delete =
        person::Entity::delete_many().filter(person::Column::InstanceId.eq(instance_id.as_uuid()));
    if let Some(types) = types {
        delete = delete.filter(person::Column::PlaceType.is_in(types.iter().cloned()));
    }
    delete.exec(txn).await?;
    Ok(())
}

/// Every cached value of the instance, in one query of plain columns (no JSON to parse).
pub async fn all_for_index(
    db: &DatabaseConnection,
    instance_id: InstanceId,
) -> Result<Vec<IndexedValue>> {
    let rows: Vec<(String, String, String, String)> = person::Entity::find()
        .select_only()
        .column(person::Column::PlaceId)
        .column(person::Column::PlaceType)
        .column(person::Column::PropertyName)
        .column(person::Column::Value)
        .filter(person::Column::InstanceId.eq(instance_id.as_uuid()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(place_id, place_type, property_name, value)| IndexedValue {
                place_id,
                place_type,
                property_name,
                value,
            },
        )
        .collect())
}

/// Cached values of the instance (one per place and compared field).
pub async fn count(db: &DatabaseConnection, instance_id: InstanceId) -> Result<u64> {
    Ok(person::Entity::find()
        .filter(person::Column::InstanceId.eq(instance_id.as_uuid()))
        .count(db)
        .await?)
}
