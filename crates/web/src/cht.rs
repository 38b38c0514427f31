//! CHT clients for the portal: one per instance, shared by every request, so the per-instance
//! concurrency limit and the CHT session cookie are shared too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cht_client::{ChtClient, ChtConfig};
use portal_domain::InstanceId;
use portal_store::instances::{self, Instance};

use crate::AppState;
use crate::error::{AppError, AppResult};

#[derive(Default)]
pub struct ChtClients {
    /// Keyed by instance; the fingerprint changes whenever the instance is edited (address,
    /// account or password), which replaces the client.
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

impl ChtClients {
    pub async fn for_instance(
        &self,
        state: &AppState,
        instance: &Instance,
    ) -> AppResult<ChtClient> {
        let key = fingerprint(instance);
        if let Some((stored, client)) = self.lock().get(&instance.id) {
            if *stored == key {
                return Ok(client.clone());
            }
        }
        let password = instances::service_password(
            &state.db,
            &state.master_key,
            instance.tenant_id,
            instance.id,
        )
        .await?;
        let config = ChtConfig::new(
            &instance.base_url,
            instance.service_username.clone(),
            password,
        )
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "stored CHT instance settings are invalid: {e}"
            ))
        })?
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(15));
        let client = ChtClient::new(config)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot build the CHT client: {e}")))?;
        self.lock().insert(instance.id, (key, client.clone()));
        Ok(client)
    }

    /// Forgets the client of a deleted instance.
    pub fn forget(&self, id: InstanceId) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, (String, ChtClient)>> {
        // A panic while holding this lock leaves a plain map behind; it is still consistent.
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
