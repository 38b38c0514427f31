//! "Test connection" for a CHT instance: signs in with the service account and reports whether
//! the instance answers, its CHT version, and each permission the portal needs that the account
//! lacks, by name.
//!
//! **Permission**: `manage_instances` on the instance.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cht_client::{ChtError, ConnectionReport};
use maud::{Markup, html};
use portal_domain::{AuditAction, TargetKind};
use portal_store::{AuditRecord, audit};
use serde_json::json;

use super::instances::render_instance_page;
use crate::AppState;
use crate::authz::Authorized;
use crate::error::AppResult;
use crate::extract::CurrentUser;

pub const REPORT_ID: &str = "connection-report";

/// What people should do about each failure; CHT's own message follows.
fn advice(error: &ChtError) -> &'static str {
    match error {
        ChtError::Unreachable { .. } => {
            "The portal could not reach the instance. Check the base URL, and that the portal's server can reach it (firewall, DNS, VPN)."
        }
        ChtError::Timeout { .. } => {
            "The instance did not answer in time. It may be overloaded or unreachable; try again later."
        }
        ChtError::Unauthorized { .. } => {
            "CHT refused the service account's user name or password. Check them on this page (enter the password again to replace it)."
        }
        ChtError::RateLimited { .. } => {
            "CHT is refusing sign-ins for a while after repeated failures. Wait a minute, then try again."
        }
        ChtError::Forbidden { .. } => {
            "The service account is not allowed to read what the portal needs."
        }
        _ => {
            "The instance answered in a way the portal did not expect. Check that the base URL points at a CHT server."
        }
    }
}

pub fn report(result: Option<&Result<ConnectionReport, ChtError>>) -> Markup {
    html! {
        div id=(REPORT_ID) role="status" aria-live="polite" {
            @match result {
                None => p.muted { "Checks that the portal can sign in with the service account, which CHT version runs there, and that the account has the permissions the portal needs." },
                Some(Ok(report)) => {
                    @let p = &report.permissions;
                    @if p.is_sufficient() {
                        div.notice.ok {
                            "Connected to CHT " (report.info.raw_version) " as " strong { (p.username) }
                            ". The service account has every permission the portal needs."
                        }
                    } @else {
                        div.notice.warn {
                            p { "Connected to CHT " (report.info.raw_version) " as " strong { (p.username) } ", but the portal cannot work with this account yet." }
                            @if !p.missing.is_empty() {
                                p { "The account lacks these permissions:" }
                                ul { @for permission in &p.missing { li { code { (permission.as_str()) } } } }
                                p { "Grant them to one of the account's roles in the CHT app settings, or use an account with an admin role." }
                            }
                            @if !p.online {
                                p { "The account's roles are all offline roles; the portal needs an online role." }
                            }
                        }
                    }
                    dl.facts {
                        dt { "CHT version" } dd { (report.info.raw_version) }
                        @if let Some(couch) = &report.info.couchdb_version { dt { "CouchDB" } dd { (couch) } }
                        dt { "Roles" } dd { (if p.roles.is_empty() { "none".to_owned() } else { p.roles.join(", ") }) }
                    }
                }
                Some(Err(error)) => div.notice.error {
                    p { strong { "Connection failed. " } (advice(error)) }
                    p.muted { (error.to_string()) }
                }
            }
        }
    }
}

pub async fn test(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
) -> AppResult<Response> {
    let tenant = &authorized.tenant;
    let instance = authorized.instance()?;
    let client = state.cht.for_instance(instance).await?;
    let result = client.test_connection().await;
    // Audited: it sends the stored credentials to the configured address.
    let details = match &result {
        Ok(r) => json!({
            "ok": true,
            "cht_version": r.info.raw_version,
            "missing_permissions": r.permissions.missing.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        }),
        Err(error) => json!({ "ok": false, "error": error.to_string() }),
    };
    audit::record(
        &state.db,
        &current.audit(&state),
        AuditRecord::new(AuditAction::InstanceConnectionTested)
            .tenant(tenant.id)
            .target(TargetKind::Instance, instance.id)
            .details(details),
    )
    .await?;
    if headers.contains_key("hx-request") {
        return Ok(report(Some(&result)).into_response());
    }
    Ok(render_instance_page(&current, tenant, instance, Some(&result), None).into_response())
}
