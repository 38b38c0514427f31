//! `GET /api/info`, `GET /api/v2/monitoring` and `GET|PUT /api/v1/settings`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::server::{ReqCtx, Sim, ok_json};
use crate::version::Version;

pub async fn info(State(sim): State<Sim>) -> Response {
    ok_json(&json!({"version": sim.version().to_string()}))
}

pub async fn monitoring(State(sim): State<Sim>) -> Response {
    let store = sim.read();
    let couch = if sim.version() >= Version::V5_2 {
        "3.5.2"
    } else {
        "3.4.2"
    };
    ok_json(&json!({
        "version": {"app": sim.version().to_string(), "node": "v22.15.0", "couchdb": couch},
        "couchdb": {
            "medic": {"name": "medic", "doc_count": store.medic.live_count(), "doc_del_count": store.medic.deleted_count()},
            "medic-logs": {"name": "medic-logs", "doc_count": store.logs.live_count()},
            "_users": {"name": "_users", "doc_count": store.users.live_count(), "doc_del_count": store.users.deleted_count()}
        },
        "date": {"current": sim.now_ms(), "uptime": 0},
        "sentinel": {"backlog": 0},
        "messaging": {"outgoing": {"state": {"due": 0, "scheduled": 0, "muted": 0, "failed": 0, "delivered": 0}}},
        "outbound_push": {"backlog": 0},
        "feedback": {"count": 0},
        "conflict": {"count": 0},
        "replication_limit": {"count": 0}
    }))
}

/// Any authenticated user; an unauthenticated caller always gets the Basic prompt.
pub async fn settings(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response, ApiError> {
    ctx.user()?;
    Ok(ok_json(&sim.read().settings.raw))
}

/// `PUT /api/v1/settings[?replace=true]`: merges top-level keys unless `replace` is set.
pub async fn put_settings(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response, ApiError> {
    let body = ctx.json_body()?;
    sim.require(&ctx, &["can_edit", "can_configure"])?;
    let Value::Object(update) = body else {
        return Err(ApiError::bad_request("Settings must be an object"));
    };
    let replace = ctx.query_param("replace").as_deref() == Some("true");
    let mut store = sim.write();
    let before = store.settings.raw.clone();
    if replace {
        store.settings.raw = Value::Object(update);
    } else if let Value::Object(current) = &mut store.settings.raw {
        for (k, v) in update {
            current.insert(k, v);
        }
    }
    let updated = before != store.settings.raw;
    store.mutations += 1;
    Ok(ok_json(&json!({"success": true, "updated": updated})))
}
