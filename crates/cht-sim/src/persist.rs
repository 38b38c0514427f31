//! Optional persistence to a JSON state file so a demo survives a restart. Writes go to a
//! temporary file in the same directory, then rename over the old one (atomic on POSIX).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::server::Sim;
use crate::settings::Settings;
use crate::store::{DbName, Store};

const FORMAT: &str = "cht-sim-state/1";

pub struct Loaded {
    pub store: Store,
    pub secret: String,
}

fn docs(store: &Store, db: DbName) -> Vec<Value> {
    store
        .db(db)
        .entries()
        .map(|(_, e)| (*e.doc).clone())
        .collect()
}

/// Serialises the whole state; called under the read lock, so it only builds bytes.
pub fn snapshot(store: &Store, secret: &str) -> Vec<u8> {
    let state = json!({
        "format": FORMAT,
        "secret": secret,
        "settings": store.settings.raw,
        "medic": docs(store, DbName::Medic),
        "_users": docs(store, DbName::Users),
        "medic-logs": docs(store, DbName::Logs),
    });
    serde_json::to_vec(&state).unwrap_or_default()
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("state.json");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

pub fn load(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let state: Value = serde_json::from_slice(&text).map_err(|e| format!("not JSON: {e}"))?;
    if state.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!("not a {FORMAT} file"));
    }
    let settings = state.get("settings").cloned().ok_or("missing settings")?;
    let mut store = Store::new(Settings::new(settings));
    for db in [DbName::Medic, DbName::Users, DbName::Logs] {
        for doc in state
            .get(db.as_str())
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            store.restore(db, doc)?;
        }
    }
    let secret = state
        .get("secret")
        .and_then(Value::as_str)
        .ok_or("missing secret")?
        .to_string();
    Ok(Loaded { store, secret })
}

async fn save(sim: &Sim, path: &Path) -> u64 {
    let (bytes, mutations) = {
        let store = sim.read();
        (snapshot(&store, &sim.secret), store.mutations)
    };
    let p = path.to_path_buf();
    match tokio::task::spawn_blocking(move || write_atomic(&p, &bytes)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(path = %path.display(), error = %e, "cannot write state file")
        }
        Err(e) => tracing::error!(error = %e, "state writer panicked"),
    }
    mutations
}

/// Saves whenever the store changed, at most once per `every`, and once more on shutdown.
pub async fn run(sim: Sim, path: PathBuf, every: Duration) {
    let mut saved = save(&sim, &path).await;
    let mut stop = sim.shutdown.clone();
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(every) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        if sim.read().mutations != saved {
            saved = save(&sim, &path).await;
        }
        if stopping {
            break;
        }
    }
}
