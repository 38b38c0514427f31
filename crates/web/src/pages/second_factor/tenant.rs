//! A tenant's requirement of a second factor, a section of its sign-in settings page.
//!
//! **Permission**: the same as the sign-in settings page: `manage_config` on the route, and every
//! permission on the whole tenant, checked by the handler.

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_domain::TenantId;
use portal_store::second_factor as store;
use serde::Deserialize;

use crate::AppState;
use crate::authz::Authorized;
use crate::error::AppResult;
use crate::extract::CurrentUser;
use crate::pages::sign_in::require_whole_tenant;
use crate::views::{Notice, hidden_csrf};

/// The form section shown on the tenant's sign-in settings page.
#[must_use]
pub fn section(csrf: &str, tenant_id: TenantId, required: bool) -> Markup {
    html! {
        form.card method="post" action={ "/tenants/" (tenant_id) "/sign-in/second-factor" } {
            (hidden_csrf(csrf))
            h2 { "Second factor for portal passwords" }
            p { "When required, everyone who holds access in this tenant and signs in with a portal password must also type a code from an authenticator app. People without one set it up right after their password, before they can use the portal." }
            p.muted { "People who sign in through the tenant's identity provider are not asked: the provider handles its own second factor. Platform administrators choose for themselves." }
            label { input type="checkbox" name="required" value="on" checked[required]; " Require a second factor" }
            div.actions { button type="submit" { "Save second-factor setting" } }
        }
    }
}

/// The section for a tenant, read from the database.
pub async fn section_for(state: &AppState, csrf: &str, tenant_id: TenantId) -> AppResult<Markup> {
    let required = store::tenant_requires(&state.db, tenant_id).await?;
    Ok(section(csrf, tenant_id, required))
}

#[derive(Deserialize)]
pub struct RequirementForm {
    required: Option<String>,
}

pub async fn save(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(form): Form<RequirementForm>,
) -> AppResult<Response> {
    require_whole_tenant(&state, &authorized).await?;
    let tenant_id = authorized.tenant.id;
    let required = form.required.is_some();
    if store::tenant_requires(&state.db, tenant_id).await? != required {
        store::set_tenant_requirement(&state.db, &current.audit(&state), tenant_id, required)
            .await?;
    }
    Ok(Redirect::to(&format!(
        "/tenants/{tenant_id}/sign-in?notice={}",
        Notice::SignInSaved.code()
    ))
    .into_response())
}
