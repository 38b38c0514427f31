//! The tenant's sign-in settings: its OpenID Connect identity provider.
//!
//! **Permission**: `manage_config` on the whole tenant.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_store::StoreError;
use portal_store::oidc::{self, Provider, ProviderFields};
use serde::Deserialize;

use super::second_factor;
use crate::AppState;
use crate::authz::Authorized;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice, NoticeQuery, TextField, hidden_csrf, text_field};

/// No `Debug`: it holds the client secret.
#[derive(Default, Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    issuer_url: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl ProviderForm {
    fn parse(&self, production: bool, has_secret: bool) -> Result<ProviderFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let display_name = self.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 80 {
            errors.add(
                "display_name",
                "Button label is required (at most 80 characters), e.g. Ministry of Health account",
            );
        }
        let issuer = self.issuer_url.trim().trim_end_matches('/');
        match url::Url::parse(issuer) {
            Ok(url) if url.scheme() == "https" || (!production && url.scheme() == "http") => {}
            Ok(_) if production => errors.add(
                "issuer_url",
                "Issuer URL must start with https:// in production, even on this machine (localhost, 127.0.0.1): sign-in trusts the provider only over TLS",
            ),
            _ => errors.add(
                "issuer_url",
                "Issuer URL must be a full address, e.g. https://login.health.go.ke/realms/echis",
            ),
        }
        let client_id = self.client_id.trim();
        if client_id.is_empty() || client_id.len() > 255 {
            errors.add(
                "client_id",
                "Client id is required (as registered at the identity provider)",
            );
        }
        let client_secret = (!self.client_secret.is_empty()).then(|| self.client_secret.clone());
        if client_secret.is_none() && !has_secret {
            errors.add("client_secret", "Client secret is required");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ProviderFields {
            display_name: display_name.to_owned(),
            issuer_url: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            enabled: self.enabled.is_some(),
        })
    }
}

/// The address the identity provider must send people back to: from `public_url`, which
/// production always has (checked at start-up), so a request's `Host` never chooses where the
/// provider sends codes; without it (development only), from `Host`.
pub fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    let origin = state.settings.public_origin.clone().unwrap_or_else(|| {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if state.settings.secure {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    });
    format!("{origin}/login/oidc/callback")
}

// The sections below the provider form are each a part's own (second factor, CHT accounts).
#[allow(clippy::too_many_arguments)]
fn render(
    current: &CurrentUser,
    authorized: &Authorized,
    provider: Option<&Provider>,
    form: &ProviderForm,
    errors: &FieldErrors,
    redirect: &str,
    notice: Option<Notice>,
    second_factor: &Markup,
    cht_accounts: &Markup,
) -> Markup {
    let tenant = &authorized.tenant;
    views::page(
        Some(current),
        "Sign-in settings",
        notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / Sign-in" }
            h1 { "Sign-in with your identity provider" }
            div.card {
                p { "People you give access to sign in with the ministry's own accounts (Keycloak, Azure AD, Google, …) through OpenID Connect. Register the portal there as a confidential client with this redirect address:" }
                p { code { (redirect) } }
                p.muted { "Only people who were given access in this tenant can sign in this way, and only to this tenant. Platform administrators always sign in with their portal password." }
            }
            form.card method="post" action={ "/tenants/" (tenant.id) "/sign-in" } autocomplete="off" {
                (hidden_csrf(&current.csrf_token))
                div.grid2 {
                    (text_field(&TextField { name: "display_name", label: "Button label", kind: "text", value: &form.display_name, hint: Some("Shown on the sign-in page, e.g. Kenya MoH account"), required: true, autocomplete: "off" }, errors))
                    (text_field(&TextField { name: "issuer_url", label: "Issuer URL", kind: "url", value: &form.issuer_url, hint: Some("Its discovery document lives at this address + /.well-known/openid-configuration"), required: true, autocomplete: "off" }, errors))
                    (text_field(&TextField { name: "client_id", label: "Client id", kind: "text", value: &form.client_id, hint: None, required: true, autocomplete: "off" }, errors))
                    (text_field(&TextField { name: "client_secret", label: "Client secret", kind: "password", value: "", hint: Some(if provider.is_some() { "Stored encrypted. Leave empty to keep the current secret." } else { "Stored encrypted and never shown again." }), required: provider.is_none(), autocomplete: "new-password" }, errors))
                }
                label { input type="checkbox" name="enabled" value="on" checked[form.enabled.is_some()]; " Show this sign-in option" }
                div.actions { button type="submit" { "Save sign-in settings" } }
            }
            (second_factor)
            (cht_accounts)
        },
    )
}

fn form_of(provider: Option<&Provider>) -> ProviderForm {
    provider.map_or_else(
        || ProviderForm {
            enabled: Some("on".to_owned()),
            ..ProviderForm::default()
        },
        |p| ProviderForm {
            display_name: p.display_name.clone(),
            issuer_url: p.issuer_url.clone(),
            client_id: p.client_id.clone(),
            client_secret: String::new(),
            enabled: p.enabled.then(|| "on".to_owned()),
        },
    )
}

/// Whoever sets the identity provider decides who can sign in as anyone in the tenant: only
/// someone holding every permission on the whole tenant (or a platform administrator) may.
pub(crate) async fn require_whole_tenant(
    state: &AppState,
    authorized: &Authorized,
) -> AppResult<()> {
    let held = authorized
        .held_at(state, &portal_access::Target::Tenant)
        .await?;
    if held == portal_domain::PermissionSet::new(portal_domain::Permission::ALL) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "change the tenant's sign-in settings (it takes every permission on the whole tenant)",
        ))
    }
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    require_whole_tenant(&state, &authorized).await?;
    let provider = oidc::provider_for_tenant(&state.db, authorized.tenant.id).await?;
    let form = form_of(provider.as_ref());
    Ok(render(
        &current,
        &authorized,
        provider.as_ref(),
        &form,
        &FieldErrors::default(),
        &redirect_uri(&state, &headers),
        query.notice,
        &second_factor::tenant::section_for(&state, &current.csrf_token, authorized.tenant.id)
            .await?,
        &super::cht_sign_in::settings_section(&state, &current.csrf_token, authorized.tenant.id)
            .await?,
    ))
}

pub async fn save(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Form(form): Form<ProviderForm>,
) -> AppResult<Response> {
    require_whole_tenant(&state, &authorized).await?;
    let provider = oidc::provider_for_tenant(&state.db, authorized.tenant.id).await?;
    let mut errors = match form.parse(state.settings.production, provider.is_some()) {
        Ok(fields) => {
            match oidc::save_provider(
                &state.db,
                &state.master_key,
                &current.audit(&state),
                authorized.tenant.id,
                fields,
            )
            .await
            {
                Ok(saved) => {
                    // The next sign-in reads the provider's discovery document afresh.
                    state.oidc.forget(&saved.issuer_url);
                    if let Some(old) = &provider {
                        state.oidc.forget(&old.issuer_url);
                    }
                    return Ok(Redirect::to(&format!(
                        "/tenants/{}/sign-in?notice={}",
                        authorized.tenant.id,
                        Notice::SignInSaved.code()
                    ))
                    .into_response());
                }
                Err(StoreError::Refused(message)) => {
                    let mut errors = FieldErrors::default();
                    errors.add("client_secret", message);
                    errors
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(errors) => errors,
    };
    if errors.is_empty() {
        errors.add("display_name", "Check the fields below.");
    }
    let page = render(
        &current,
        &authorized,
        provider.as_ref(),
        &form,
        &errors,
        &redirect_uri(&state, &headers),
        None,
        &second_factor::tenant::section_for(&state, &current.csrf_token, authorized.tenant.id)
            .await?,
        &super::cht_sign_in::settings_section(&state, &current.csrf_token, authorized.tenant.id)
            .await?,
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
