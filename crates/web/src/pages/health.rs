//! Liveness and readiness for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers; without it the portal can do nothing useful.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let backend = portal_store::backend_name(&state.db);
    if portal_store::ping(&state.db).await {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": backend })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unavailable", "database": backend, "reason": "the database does not answer" }),
            ),
        )
    }
}
