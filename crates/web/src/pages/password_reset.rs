//! "Forgot your password?": a person types their e-mail and, when the portal sends e-mail and an
//! account exists for it, receives a single-use link to choose a new password
//! (`/reset-password/{token}`, in `invitations.rs`).
//!
//! The answer is the same whether or not the account exists, and the link is issued and sent in
//! the background so the time taken does not tell either. Requests are limited per typed address
//! and per client address. Without SMTP the page says to ask an administrator, who can issue a
//! link from the access page.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use portal_domain::{AuditAction, Email, TargetKind};
use portal_store::invitations::{self, LinkPurpose};
use portal_store::rate_limit::{self, RateKey};
use portal_store::{AuditRecord, audit, users};
use serde::Deserialize;

use super::access::links;
use crate::AppState;
use crate::context::{RequestMeta, SessionSlot};
use crate::csrf::pre_session_token;
use crate::error::AppResult;
use crate::extract::audit_context;
use crate::views::{self, FieldErrors, TextField, hidden_csrf, text_field};

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

const NO_EMAIL: &str = "The portal does not send e-mail here. Ask an administrator who manages your access to give you a new sign-in link from the access page.";

fn form_page(state: &AppState, csrf: &str, email: &str, problem: Option<&str>) -> Markup {
    views::page(
        None,
        "Forgot your password?",
        None,
        &html! {
            div.card.narrow {
                h1 { "Forgot your password?" }
                @if let Some(problem) = problem { div.notice.error role="alert" { (problem) } }
                @if state.settings.links.mailer.is_none() {
                    p { (NO_EMAIL) }
                } @else {
                    p { "Type the e-mail you sign in with. If an account exists for it, we send a link to choose a new password." }
                    form method="post" action="/forgot-password" hx-boost="false" {
                        (hidden_csrf(csrf))
                        (text_field(&TextField { name: "email", label: "Email", kind: "email", value: email, hint: None, required: true, autocomplete: "username" }, &FieldErrors::default()))
                        div.actions { button type="submit" { "Send me a link" } }
                    }
                }
                p { a href="/login" { "Back to sign in" } }
            }
        },
    )
}

fn csrf_for(jar: CookieJar, session: &SessionSlot, secure: bool) -> (CookieJar, String) {
    match &session.0 {
        Some(active) => (jar, active.csrf_token.clone()),
        None => pre_session_token(jar, secure),
    }
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    session: axum::Extension<SessionSlot>,
) -> Response {
    let (jar, csrf) = csrf_for(jar, &session.0, state.settings.secure);
    (jar, form_page(&state, &csrf, "", None)).into_response()
}

pub async fn request(
    State(state): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    headers: HeaderMap,
    session: axum::Extension<SessionSlot>,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let typed: String = form.email.trim().to_lowercase().chars().take(254).collect();
    let (jar, csrf) = csrf_for(jar, &session.0, state.settings.secure);
    if state.settings.links.mailer.is_none() {
        return Ok((jar, form_page(&state, &csrf, &typed, None)).into_response());
    }
    let links_settings = &state.settings.links;
    // The address first, so one client cannot spend every account's allowance.
    let limits = [
        (
            RateKey::PasswordResetAddress(meta.client_address.clone()),
            links_settings.reset_requests_per_address,
        ),
        (
            RateKey::PasswordResetAccount(typed.clone()),
            links_settings.reset_requests_per_account,
        ),
    ];
    for (key, rule) in &limits {
        if let Err(until) = rate_limit::count_use(&state.db, key, rule, now).await? {
            let minutes = ((until - now).num_seconds() + 59) / 60;
            let message = format!(
                "Too many requests for a new password from here or for this address. Try again in {minutes} minute{}, or ask an administrator.",
                if minutes == 1 { "" } else { "s" }
            );
            return Ok((
                StatusCode::TOO_MANY_REQUESTS,
                jar,
                form_page(&state, &csrf, &typed, Some(&message)),
            )
                .into_response());
        }
    }
    if let Ok(email) = Email::parse(&typed) {
        let url_base = links::link_url(&state, &headers, "");
        let state = state.clone();
        let meta = meta.clone();
        // In the background: an existing account must not answer more slowly than a missing one.
        tokio::spawn(async move {
            if let Err(error) = send_reset(&state, &meta, &email, &url_base).await {
                tracing::warn!(%error, "could not issue a password-reset link");
            }
        });
    }
    Ok((
        jar,
        views::page(
            None,
            "Check your e-mail",
            None,
            &html! {
                div.card.narrow {
                    h1 { "Check your e-mail" }
                    p { "If an account exists for " strong { (typed) } ", we sent it a link to choose a new password. The link works once, for a limited time." }
                    p.muted { "Nothing arrived? Check the spam folder, or ask an administrator who manages your access." }
                    p { a href="/login" { "Back to sign in" } }
                }
            },
        ),
    )
        .into_response())
}

/// Issues and e-mails a reset link to the account with `email`, if there is one that may have
/// a portal password: it has one already, or none of its tenants signs in through an identity
/// provider (a password would bypass the provider).
async fn send_reset(
    state: &AppState,
    meta: &RequestMeta,
    email: &Email,
    url_base: &str,
) -> AppResult<()> {
    let Some(credentials) = users::credentials_by_email(&state.db, email).await? else {
        tracing::info!("password reset asked for an address with no account");
        return Ok(());
    };
    let user = credentials.user;
    if user.disabled {
        return Ok(());
    }
    let mut ctx = audit_context(state, meta, None);
    ctx.actor_label = user.email.clone();
    if credentials.password_hash.is_none() {
        let tenants =
            portal_store::access::user_tenants(&state.db, user.id, state.clock.now()).await?;
        for tenant in tenants {
            let provider = portal_store::oidc::provider_for_tenant(&state.db, tenant).await?;
            if provider.is_some_and(|p| p.enabled) {
                audit::record(
                    &state.db,
                    &ctx,
                    AuditRecord::new(AuditAction::PasswordResetRequested)
                        .target(TargetKind::User, user.id)
                        .details(serde_json::json!({ "issued": false, "reason": "signs_in_with_provider" })),
                )
                .await?;
                return Ok(());
            }
        }
    }
    audit::record(
        &state.db,
        &ctx,
        AuditRecord::new(AuditAction::PasswordResetRequested)
            .target(TargetKind::User, user.id)
            .details(serde_json::json!({ "issued": true })),
    )
    .await?;
    let link = invitations::issue(
        &state.db,
        &ctx,
        user.id,
        LinkPurpose::PasswordReset,
        None,
        state.settings.links.reset_lifetime,
    )
    .await?;
    let url = format!(
        "{url_base}{}",
        links::link_path(LinkPurpose::PasswordReset, &link)
    );
    links::deliver(
        state,
        &ctx,
        links::LinkToDeliver {
            tenant: None,
            person: &user,
            purpose: LinkPurpose::PasswordReset,
            link: &link,
            url,
            may_show: false,
        },
    )
    .await?;
    Ok(())
}
