//! `/__sim/*`: the simulator's own control surface. None of this exists in CHT; it is mounted
//! under a prefix CHT can never serve (CouchDB refuses database names starting with `_`),
//! outside the CHT pipeline, so faults, auth and rate limits never apply to it.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::FaultConfig;
use crate::server::{Sim, json_response, ok_json};
use crate::store::DbName;
use crate::util::type_id;

pub fn router() -> Router<Sim> {
    Router::new()
        .route(
            "/faults",
            get(get_faults)
                .put(put_faults)
                .post(post_faults)
                .delete(delete_faults),
        )
        .route("/stats", get(stats))
        .route("/docs", get(docs))
        .route("/reset", post(reset))
        .route("/clock", get(get_clock).post(advance_clock))
}

fn bad(msg: impl Into<String>) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": msg.into()}))
}

fn current_faults(sim: &Sim) -> Response {
    let f = sim.faults.lock().unwrap_or_else(|e| e.into_inner());
    ok_json(&serde_json::to_value(&f.config).unwrap_or_default())
}

async fn get_faults(State(sim): State<Sim>) -> Response {
    current_faults(&sim)
}

fn set_faults(sim: &Sim, body: &Bytes, merge: bool) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return bad("body must be a JSON object");
    };
    let base = if merge {
        let f = sim.faults.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::to_value(&f.config).unwrap_or_default()
    } else {
        json!({})
    };
    let (Value::Object(mut merged), Value::Object(patch)) = (base, patch) else {
        return bad("body must be a JSON object");
    };
    merged.extend(patch);
    let config: FaultConfig = match serde_json::from_value(Value::Object(merged)) {
        Ok(c) => c,
        Err(e) => return bad(e.to_string()),
    };
    if let Err(e) = config.validate() {
        return bad(e);
    }
    sim.faults.lock().unwrap_or_else(|e| e.into_inner()).config = config;
    current_faults(sim)
}

/// PUT replaces the whole fault set (omitted fields are off).
async fn put_faults(State(sim): State<Sim>, body: Bytes) -> Response {
    set_faults(&sim, &body, false)
}

/// POST merges the given fields into the current set.
async fn post_faults(State(sim): State<Sim>, body: Bytes) -> Response {
    set_faults(&sim, &body, true)
}

async fn delete_faults(State(sim): State<Sim>) -> Response {
    sim.faults.lock().unwrap_or_else(|e| e.into_inner()).config = FaultConfig::default();
    current_faults(&sim)
}

/// Document counts per database and per contact type.
async fn stats(State(sim): State<Sim>) -> Response {
    let store = sim.read();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in store.medic.entries().filter(|(_, e)| !e.deleted) {
        let t = type_id(&e.doc).unwrap_or("(none)").to_string();
        *by_type.entry(t).or_default() += 1;
    }
    ok_json(&json!({
        "version": sim.version().to_string(),
        "medic": {"docs": store.medic.live_count(), "deleted": store.medic.deleted_count(), "by_type": by_type},
        "users": {"active": store.users.live_count(), "deleted": store.users.deleted_count()},
        "medic_logs": {"docs": store.logs.live_count()},
        "views": {"contacts_by_type_rows": store.by_type.len(), "contacts_by_depth_rows": store.by_depth.len()},
        "mutations": store.mutations,
        "requests": sim.request_counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }))
}

#[derive(Deserialize)]
struct DumpQuery {
    db: Option<String>,
    #[serde(rename = "type")]
    type_id: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    include_deleted: bool,
}

/// A document dump: `?db=medic|_users|medic-logs&type=<type id>&limit=N&include_deleted=true`.
async fn docs(State(sim): State<Sim>, Query(q): Query<DumpQuery>) -> Response {
    let db = match q.db.as_deref().unwrap_or("medic") {
        "medic" => DbName::Medic,
        "_users" => DbName::Users,
        "medic-logs" => DbName::Logs,
        other => return bad(format!("unknown db {other}")),
    };
    let store = sim.read();
    let docs: Vec<Value> = store
        .db(db)
        .entries()
        .filter(|(_, e)| q.include_deleted || !e.deleted)
        .filter(|(_, e)| {
            q.type_id
                .as_deref()
                .is_none_or(|t| type_id(&e.doc) == Some(t))
        })
        .take(q.limit.unwrap_or(usize::MAX))
        .map(|(_, e)| (*e.doc).clone())
        .collect();
    ok_json(&Value::Array(docs))
}

async fn reset(State(sim): State<Sim>) -> Response {
    sim.reset();
    ok_json(&json!({"ok": true}))
}

async fn get_clock(State(sim): State<Sim>) -> Response {
    ok_json(&json!({"now_ms": sim.now_ms()}))
}

#[derive(Deserialize)]
struct Advance {
    advance_ms: i64,
}

/// Moves the simulator's clock (rate-limit windows, `connected-user` throttling, dates).
async fn advance_clock(State(sim): State<Sim>, body: Bytes) -> Response {
    match serde_json::from_slice::<Advance>(&body) {
        Ok(a) => {
            sim.advance_clock(a.advance_ms);
            get_clock(State(sim)).await
        }
        Err(e) => bad(e.to_string()),
    }
}
