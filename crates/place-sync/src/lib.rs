//! Reads an instance's places from CHT into the portal's place cache.
//!
//! Which types are read comes from the tenant's deployment config and the instance's
//! app_settings ([`plan`]): the types the config uses and their ancestors, and nothing else.
//! Places are read type by type through `contacts_by_type` in pages (never all at once).
//! Lineage comes from each doc's own `parent` chain, which CHT rewrites when a place moves, so
//! a refresh also records moves. For user types with `unique` contact properties, the places'
//! primary contacts are read too (`_all_docs` with their ids, in pages) and their compared
//! fields kept, so staging warns about a phone already on the instance. Everything one refresh
//! read replaces the cache in one transaction.

mod plan;

pub use plan::{PeopleFields, Plan, TypeSource, gap_message, plan};

use std::collections::HashMap;

use cht_client::{AllDocsRow, ChtClient, ChtError, ContactDoc, PageRequest};
use portal_deploy_config::DeploymentConfig;
use portal_domain::{InstanceId, TenantId};
use portal_staging::{Target, Validator};
use portal_store::people::PersonRecord;
use portal_store::places::{self, PlaceRecord, TypeGap};
use portal_store::{AuditContext, Db, StoreError};

/// Places per CHT request: large enough to be quick, small enough to stay well under CHT's
/// response limits.
const PAGE_SIZE: usize = 1000;

/// Contact ids per `_all_docs` request: a request body of some 20 KB.
const CONTACTS_PER_REQUEST: usize = 500;

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
    pub source: TypeSource,
    pub types: Vec<String>,
    pub places: u64,
    /// Primary contacts whose compared fields were kept.
    pub people: u64,
    /// Types the config uses that the instance's app_settings lack (not read).
    pub gaps: Vec<TypeGap>,
}

/// Reads the places `config` uses (every place type of the instance without one) from CHT and
/// replaces the cache with them. `only` limits the refresh to those types (the rest of the
/// cache is kept); otherwise the whole cache is replaced, so types no longer used drop out.
pub async fn refresh(
    db: &Db,
    ctx: &AuditContext,
    client: &ChtClient,
    tenant_id: TenantId,
    instance_id: InstanceId,
    config: Option<&DeploymentConfig>,
    only: Option<&[String]>,
) -> Result<Refreshed, SyncError> {
    let settings = client.settings().await?;
    let mut plan = plan(config, &settings);
    if let Some(only) = only {
        plan = plan.restricted_to(only);
    }
    let wanted: HashMap<&str, &PeopleFields> = plan
        .people
        .iter()
        .map(|p| (p.kind.name.as_str(), p))
        .collect();
    let mut records = Vec::new();
    // (place, its type, its primary contact) for the types whose contacts are compared.
    let mut contacts: Vec<(String, String, String)> = Vec::new();
    for contact_type in &plan.read {
        let mut page = PageRequest::first(PAGE_SIZE);
        loop {
            let result = client.contacts_by_type(contact_type, &page).await?;
            for doc in result.rows.into_iter().filter_map(|row| row.doc) {
                if wanted.contains_key(doc.type_id())
                    && let Some(contact) = &doc.contact
                    && !contact.id().is_empty()
                {
                    contacts.push((
                        doc.id.clone(),
                        doc.type_id().to_owned(),
                        contact.id().to_owned(),
                    ));
                }
                records.push(record(doc));
            }
            match result.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
    }
    let people = read_people(client, &plan.people, contacts).await?;
    let people_count = people.len() as u64;
    let stored = places::replace(
        db,
        ctx,
        tenant_id,
        instance_id,
        places::Refresh {
            types: plan.read.clone(),
            whole: only.is_none(),
            records,
            people,
            gaps: plan.gaps.clone(),
        },
    )
    .await?;
    tracing::info!(
        %instance_id,
        places = stored,
        people = people_count,
        types = plan.read.len(),
        missing = plan.gaps.len(),
        "refreshed place cache"
    );
    Ok(Refreshed {
        source: plan.source,
        types: plan.read,
        places: stored,
        people: people_count,
        gaps: plan.gaps,
    })
}

/// Reads the primary contacts of `contacts` (place, place type, contact id) in pages and keeps
/// the fields `fields` compares, formatted as staged values are (so loading needs no work).
async fn read_people(
    client: &ChtClient,
    fields: &[PeopleFields],
    contacts: Vec<(String, String, String)>,
) -> Result<Vec<PersonRecord>, ChtError> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    // A config that no longer builds a validator keeps the values as read (trimmed).
    let formats: HashMap<&str, (&PeopleFields, Option<Validator>)> = fields
        .iter()
        .map(|f| (f.kind.name.as_str(), (f, Validator::new(&f.kind).ok())))
        .collect();
    let mut people = Vec::with_capacity(contacts.len());
    for chunk in contacts.chunks(CONTACTS_PER_REQUEST) {
        // One contact may be the primary contact of several places.
        let mut ids: Vec<String> = chunk.iter().map(|(_, _, c)| c.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let docs: HashMap<String, ContactDoc> = client
            .all_docs::<ContactDoc>(&ids, true)
            .await?
            .into_iter()
            .filter_map(|row| match row {
                AllDocsRow::Found {
                    id, doc: Some(doc), ..
                } => Some((id, doc)),
                _ => None,
            })
            .collect();
        for (place_id, place_type, contact_id) in chunk {
            let (Some(doc), Some((wanted, validator))) =
                (docs.get(contact_id), formats.get(place_type.as_str()))
            else {
                continue;
            };
            let values: Vec<(String, String)> = wanted
                .properties
                .iter()
                .filter_map(|property| {
                    let raw = match property.as_str() {
                        "name" => doc.name.clone(),
                        other => doc.extra.get(other).and_then(scalar),
                    }?;
                    let value = validator.as_ref().map_or_else(
                        || raw.trim().to_owned(),
                        |v| v.normalize_known(Target::Contact, property, &raw),
                    );
                    (!value.is_empty()).then(|| (property.clone(), value))
                })
                .collect();
            if values.is_empty() {
                continue;
            }
            people.push(PersonRecord {
                place_id: place_id.clone(),
                place_type: place_type.clone(),
                contact_id: contact_id.clone(),
                contact_name: doc.name.clone().unwrap_or_default(),
                values,
            });
        }
    }
    Ok(people)
}

fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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
