//! Authorization refusals in the audit trail.
//!
//! Each refusal of a signed-in person becomes an `access.denied` event naming who asked, the
//! route, the path and its identifiers, and the answer. A script looping over ids could write
//! thousands of such rows a minute into an append-only table, so each person gets at most
//! [`PER_WINDOW`] events per [`WINDOW_SECONDS`]; the refusals left out are counted and the
//! count travels in the next event recorded for that person (`suppressed_before`), so the
//! trail still shows how many there were. The limit is per portal process: with N replicas a
//! loop writes at most N times as many.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use portal_domain::{AuditAction, TenantId, UserId};
use portal_store::AuditContext;
use portal_store::audit::{self, AuditRecord};
use serde_json::json;

use crate::AppState;
use crate::extract::CurrentUser;

/// Refusal events recorded per person and window.
pub const PER_WINDOW: u32 = 10;
pub const WINDOW_SECONDS: i64 = 60;
/// Past this many people in the table, windows that have ended are swept.
const SWEEP_ABOVE: usize = 10_000;

/// Marks a response as an authorization refusal, for the route layer to audit.
#[derive(Debug, Clone, Copy)]
pub struct Refused;

/// Per-person windows of recorded refusals.
#[derive(Debug, Default)]
pub struct DenialLimiter {
    windows: Mutex<HashMap<UserId, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    recorded: u32,
    suppressed: u32,
}

impl DenialLimiter {
    /// `Some(refusals left out since the last recorded one)` when this refusal may be recorded.
    pub fn admit(&self, actor: UserId, now: DateTime<Utc>) -> Option<u32> {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ended = |w: &Window| (now - w.started).num_seconds() >= WINDOW_SECONDS;
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| !ended(w) || w.suppressed > 0);
        }
        let window = windows.entry(actor).or_insert(Window {
            started: now,
            recorded: 0,
            suppressed: 0,
        });
        if ended(window) {
            window.started = now;
            window.recorded = 0;
        }
        if window.recorded >= PER_WINDOW {
            window.suppressed += 1;
            return None;
        }
        window.recorded += 1;
        Some(std::mem::take(&mut window.suppressed))
    }
}

/// A signed-in person's request, remembered before it is judged so a refusal can be recorded.
pub struct Attempt {
    ctx: AuditContext,
    actor: UserId,
    method: String,
    route: String,
    params: serde_json::Map<String, serde_json::Value>,
    tenant: Option<TenantId>,
}

impl Attempt {
    pub async fn of(parts: &mut Parts, state: &AppState) -> Option<Self> {
        let current = CurrentUser::from_request_parts(parts, state).await.ok()?;
        let params = RawPathParams::from_request_parts(parts, state).await.ok();
        let params: serde_json::Map<_, _> = params
            .iter()
            .flat_map(|p| p.iter())
            .map(|(key, value)| (key.to_owned(), json!(value)))
            .collect();
        let tenant = params
            .get("tenant_id")
            .and_then(|v| v.as_str())
            .and_then(|raw| raw.parse().ok());
        Some(Self {
            ctx: current.audit(state),
            actor: current.user.id,
            method: parts.method.to_string(),
            route: parts
                .extensions
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            params,
            tenant,
        })
    }

    /// Records the refusal, unless this person has had their share of the window.
    pub async fn record(self, state: &AppState, status: StatusCode) {
        let Some(suppressed) = state.denials.admit(self.actor, self.ctx.now) else {
            return;
        };
        let mut details = json!({
            "method": self.method,
            "route": self.route,
            "path": self.concrete_path(),
            "params": self.params,
            "status": status.as_u16(),
        });
        if suppressed > 0 {
            details["suppressed_before"] = json!(suppressed);
        }
        let mut event = AuditRecord::new(AuditAction::AccessDenied).details(details);
        // A tenant id from the path names the tenant whose trail should show the attempt; an
        // id that names no tenant is kept in the details only.
        if let Some(tenant) = self.tenant
            && portal_store::tenants::get(&state.db, tenant).await.is_ok()
        {
            event = event.tenant(tenant);
        }
        if let Err(error) = audit::record(&state.db, &self.ctx, event).await {
            tracing::error!(%error, "could not record an authorization refusal");
        }
    }

    fn concrete_path(&self) -> String {
        let mut path = self.route.clone();
        for (key, value) in &self.params {
            if let Some(value) = value.as_str() {
                path = path.replace(&format!("{{{key}}}"), value);
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_person_gets_a_few_events_a_window_and_the_rest_are_counted() {
        let limiter = DenialLimiter::default();
        let actor = UserId::new();
        let other = UserId::new();
        let start = Utc::now();
        for _ in 0..PER_WINDOW {
            assert_eq!(limiter.admit(actor, start), Some(0));
        }
        for _ in 0..25 {
            assert_eq!(limiter.admit(actor, start + Duration::seconds(30)), None);
        }
        // Someone else is not held back by the first person's loop.
        assert_eq!(limiter.admit(other, start), Some(0));
        // The next window records again, and its first event carries the count left out.
        let later = start + Duration::seconds(WINDOW_SECONDS);
        assert_eq!(limiter.admit(actor, later), Some(25));
        assert_eq!(limiter.admit(actor, later), Some(0));
    }
}
