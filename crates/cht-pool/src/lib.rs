//! One [`ChtClient`] per CHT instance, shared by everything in the process that talks to that
//! instance (pages now, job workers later), so the per-instance concurrency limit and the CHT
//! session cookie are shared too. It needs only the database and the master key: no web layer.
//!
//! A client is built from the instance's stored address, service account and sealed password,
//! and kept under a fingerprint of the instance (address, account, last edit). Any edit moves the
//! fingerprint, so the next caller that has read the edited instance gets a new client; another
//! process notices the same way, because the fingerprint comes from the database.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cht_client::{ChtClient, ChtConfig, ChtError};
use portal_crypto::{MasterKey, SealError};
use portal_domain::{InstanceId, TenantId};
use portal_store::instances::{self, Instance};
use portal_store::{Db, StoreError};

/// Connect limit per attempt: a CHT instance that is up answers well within it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request limit per attempt: shorter than the web layer's 60 s, so a page can say that
/// CHT did not answer before the browser gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// An instance edited this many times while its client is being built is left for a retry.
const BUILD_ATTEMPTS: usize = 3;

/// Why no client could be had for an instance.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No such instance in this tenant: never created, deleted, or its id belongs to another
    /// tenant (the two are not told apart, so ids of other tenants cannot be probed).
    #[error("CHT instance not found")]
    UnknownInstance,
    /// The sealed service-account password cannot be opened: the master key is not the one it
    /// was sealed with, or the stored value was altered.
    #[error("the service-account password of CHT instance {instance} cannot be opened: {source}")]
    Credentials {
        instance: InstanceId,
        source: SealError,
    },
    /// The stored address or account cannot make a client (they are checked when saved, so
    /// this means the row was changed outside the portal).
    #[error("the stored settings of CHT instance {instance} are unusable: {source}")]
    Settings {
        instance: InstanceId,
        source: ChtError,
    },
    /// The instance kept changing while its client was being built; asking again will do.
    #[error("CHT instance {0} was edited while its client was being built")]
    Changing(InstanceId),
    #[error("cannot read CHT instance settings: {0}")]
    Store(StoreError),
}

impl From<StoreError> for PoolError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => Self::UnknownInstance,
            other => Self::Store(other),
        }
    }
}

pub type PoolResult<T> = Result<T, PoolError>;

/// The clients of every instance this process has talked to. Cheap to share behind an `Arc`.
pub struct ChtPool {
    db: Db,
    key: MasterKey,
    /// Keyed by instance, each with the fingerprint of the instance it was built from.
    clients: Mutex<HashMap<InstanceId, (String, ChtClient)>>,
}

fn fingerprint(instance: &Instance) -> String {
    format!(
        "{}|{}|{}",
        instance.base_url,
        instance.service_username,
        instance.updated_at.timestamp_micros()
    )
}

impl ChtPool {
    /// `key` must be the master key the instances' passwords were sealed with.
    #[must_use]
    pub fn new(db: Db, key: MasterKey) -> Self {
        Self {
            db,
            key,
            clients: Mutex::default(),
        }
    }

    /// The client of instance `id` of `tenant`, for callers that hold only ids (a job).
    pub async fn client(&self, tenant: TenantId, id: InstanceId) -> PoolResult<ChtClient> {
        let instance = instances::get(&self.db, tenant, id).await?;
        self.for_instance(&instance).await
    }

    /// The client of an instance already read (and authorized) by the caller.
    pub async fn for_instance(&self, instance: &Instance) -> PoolResult<ChtClient> {
        if let Some(client) = self.cached(instance.id, &fingerprint(instance)) {
            return Ok(client);
        }
        let mut wanted = instance.clone();
        for _ in 0..BUILD_ATTEMPTS {
            let password =
                instances::service_password(&self.db, &self.key, wanted.tenant_id, wanted.id)
                    .await
                    .map_err(|error| match error {
                        StoreError::Secret(source) => PoolError::Credentials {
                            instance: wanted.id,
                            source,
                        },
                        other => other.into(),
                    })?;
            // The address, account and password are read apart: read the instance again, so a
            // password entered for a new address never goes to the old one, nor the reverse.
            let current = instances::get(&self.db, wanted.tenant_id, wanted.id).await?;
            if fingerprint(&current) == fingerprint(&wanted) {
                return Ok(self.keep(&current, build(&current, password)?));
            }
            wanted = current;
        }
        Err(PoolError::Changing(instance.id))
    }

    /// Forgets the client of a deleted instance.
    pub fn forget(&self, id: InstanceId) {
        self.lock().remove(&id);
    }

    fn cached(&self, id: InstanceId, key: &str) -> Option<ChtClient> {
        match self.lock().get(&id) {
            Some((stored, client)) if stored == key => Some(client.clone()),
            _ => None,
        }
    }

    /// Keeps `client` unless a caller that raced this one already kept a client for the same
    /// state of the instance: then that one is returned, so there is one limit and one session.
    fn keep(&self, instance: &Instance, client: ChtClient) -> ChtClient {
        let key = fingerprint(instance);
        let mut clients = self.lock();
        if let Some((stored, kept)) = clients.get(&instance.id) {
            if *stored == key {
                return kept.clone();
            }
        }
        clients.insert(instance.id, (key, client.clone()));
        client
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<InstanceId, (String, ChtClient)>> {
        // A panic while holding this lock leaves a plain map behind; it is still consistent.
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn build(instance: &Instance, password: String) -> PoolResult<ChtClient> {
    let settings = |source| PoolError::Settings {
        instance: instance.id,
        source,
    };
    let config = ChtConfig::new(
        &instance.base_url,
        instance.service_username.clone(),
        password,
    )
    .map_err(settings)?
    .with_timeouts(CONNECT_TIMEOUT, REQUEST_TIMEOUT);
    ChtClient::new(config).map_err(settings)
}
