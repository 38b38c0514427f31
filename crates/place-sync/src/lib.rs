//! Reads an instance's places from CHT into the portal's place cache.
//!
//! Places are read type by type through `contacts_by_type` in pages (never all at once), and
//! each type is replaced in the cache in one transaction. Lineage comes from each doc's own
//! `parent` chain, which CHT rewrites when a place moves, so a refresh also records moves.

use cht_client::{ChtClient, ChtError, ContactDoc, PageRequest};
use portal_domain::{InstanceId, TenantId};
use portal_store::places::{self, PlaceRecord};
use portal_store::{AuditContext, Db, StoreError};

/// Places per CHT request: large enough to be quick, small enough to stay well under CHT's
/// response limits.
const PAGE_SIZE: usize = 1000;

/// Doc fields that are structure, not properties staging compares.
const STRUCTURAL: [&str; 8] = [
    "parent",
    "contact",
    "type",
    "contact_type",
    "name",
    "reported_date",
    "user_attribution",
    "geolocation",
];

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("reading places from CHT failed: {0}")]
    Cht(#[from] ChtError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub types: Vec<String>,
    pub places: u64,
}

/// The place types of an instance: its configured non-person contact types, or CHT's three
/// built-in place types when it configures none.
pub async fn place_types(client: &ChtClient) -> Result<Vec<String>, ChtError> {
    let settings = client.settings().await?;
    let configured: Vec<String> = settings
        .contact_types
        .iter()
        .filter(|t| !t.person)
        .map(|t| t.id.clone())
        .collect();
    if configured.is_empty() {
        return Ok(["district_hospital", "health_center", "clinic"]
            .map(str::to_owned)
            .to_vec());
    }
    Ok(configured)
}

/// Reads every place of `types` from CHT and replaces them in the cache.
pub async fn refresh(
    db: &Db,
    ctx: &AuditContext,
    client: &ChtClient,
    tenant_id: TenantId,
    instance_id: InstanceId,
    types: &[String],
) -> Result<Refreshed, SyncError> {
    let mut records = Vec::new();
    for contact_type in types {
        let mut page = PageRequest::first(PAGE_SIZE);
        loop {
            let result = client.contacts_by_type(contact_type, &page).await?;
            records.extend(
                result
                    .rows
                    .into_iter()
                    .filter_map(|row| row.doc)
                    .map(record),
            );
            match result.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
    }
    let places = places::replace_types(db, ctx, tenant_id, instance_id, types, records).await?;
    tracing::info!(%instance_id, places, types = types.len(), "refreshed place cache");
    Ok(Refreshed {
        types: types.to_vec(),
        places,
    })
}

fn record(doc: ContactDoc) -> PlaceRecord {
    let mut ancestors: Vec<String> = doc.ancestor_ids().into_iter().map(str::to_owned).collect();
    ancestors.reverse();
    let properties = doc
        .extra
        .iter()
        .filter(|(key, value)| {
            !key.starts_with('_')
                && !STRUCTURAL.contains(&key.as_str())
                && (value.is_string() || value.is_number() || value.is_boolean())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    PlaceRecord {
        contact_type: doc.type_id().to_owned(),
        name: doc.name.clone().unwrap_or_default(),
        id: doc.id,
        ancestors,
        properties,
    }
}
