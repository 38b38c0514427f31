//! Sign-in with a local password, sign-out, and the throttle that slows down guessing.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{Markup, html};
use portal_domain::{AuditAction, Email, TargetKind};
use portal_store::throttle::{self, Attempt, Lockout, ThrottleKey};
use portal_store::{AuditRecord, audit, sessions, users};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::context::{RequestMeta, SessionSlot, session_cookie_name};
use crate::csrf::{pre_session_cookie_name, pre_session_token};
use crate::error::AppResult;
use crate::extract::{CurrentUser, audit_context};
use crate::views::{self, FieldErrors, Notice, TextField, hidden_csrf, text_field};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    notice: Option<Notice>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Only paths on this site: `//evil.example` and `https://...` would turn sign-in into an open
/// redirect.
///
/// Only visible ASCII without `\\` is accepted: browsers drop tabs and line breaks from a URL
/// before parsing it, so `/<tab>/evil.example` would become `//evil.example`.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A tenant's identity provider, offered on the sign-in page.
#[derive(Debug, Clone)]
pub struct SignInOption {
    pub provider_id: uuid::Uuid,
    pub label: String,
    pub tenant_name: String,
}

/// Ways to sign in other than a portal password, offered on the sign-in page.
pub struct SignInOptions {
    pub providers: Vec<SignInOption>,
    /// Instances that allow sign-in with a CHT account (`cht_sign_in`).
    pub cht_instances: Vec<portal_store::cht_identities::SignInInstance>,
}

/// The enabled identity providers and the instances that allow CHT-account sign-in.
pub async fn sign_in_options(state: &AppState) -> SignInOptions {
    SignInOptions {
        providers: enabled_providers(state).await,
        cht_instances: super::cht_sign_in::offered_instances(state).await,
    }
}

/// The enabled identity providers. A database hiccup hides them rather than the password form.
async fn enabled_providers(state: &AppState) -> Vec<SignInOption> {
    match portal_store::oidc::enabled_providers(&state.db).await {
        Ok(list) => list
            .into_iter()
            .map(|(p, tenant_name)| SignInOption {
                provider_id: p.id,
                label: p.display_name,
                tenant_name,
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "could not list identity providers for the sign-in page");
            Vec::new()
        }
    }
}

fn login_form(
    csrf: &str,
    email: &str,
    next: &str,
    problem: Option<&str>,
    options: &SignInOptions,
) -> Markup {
    let providers = &options.providers;
    let encoded_next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    html! {
        div.card.narrow {
            h1 { "Sign in" }
            @if let Some(problem) = problem {
                div.notice.error role="alert" { (problem) }
            }
            @if !providers.is_empty() {
                div.sign-in-options {
                    @for option in providers {
                        a.button href={ "/login/oidc/" (option.provider_id) "?next=" (encoded_next) } hx-boost="false" {
                            "Sign in with " (option.label)
                        }
                        span.hint { (option.tenant_name) }
                    }
                }
                p.muted { "Or with a portal password:" }
            }
            (super::cht_sign_in::link_on_login_page(&options.cht_instances, &encoded_next))
            form method="post" action="/login" hx-boost="false" {
                (hidden_csrf(csrf))
                input type="hidden" name="next" value=(next);
                (text_field(&TextField { name: "email", label: "Email", kind: "email", value: email, hint: None, required: true, autocomplete: "username" }, &FieldErrors::default()))
                (text_field(&TextField { name: "password", label: "Password", kind: "password", value: "", hint: None, required: true, autocomplete: "current-password" }, &FieldErrors::default()))
                div.actions { button type="submit" { "Sign in" } }
            }
            p { a href="/forgot-password" { "Forgot your password?" } }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn render_login(
    status: StatusCode,
    jar: CookieJar,
    secure: bool,
    email: &str,
    next: &str,
    problem: Option<&str>,
    notice: Option<Notice>,
    providers: &SignInOptions,
) -> Response {
    let (jar, csrf) = pre_session_token(jar, secure);
    let body = views::page(
        None,
        "Sign in",
        notice,
        &login_form(&csrf, email, next, problem, providers),
    );
    (status, jar, body).into_response()
}

pub async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: axum::Extension<SessionSlot>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    if session.0.0.is_some() {
        return Redirect::to(&next).into_response();
    }
    render_login(
        StatusCode::OK,
        jar,
        state.settings.secure,
        "",
        &next,
        None,
        query.notice,
        &sign_in_options(&state).await,
    )
}

pub(super) fn lockout_message(lockout: &Lockout, now: chrono::DateTime<chrono::Utc>) -> String {
    // Rounded up: "15 minutes" for a fresh 15-minute lock, never "0 minutes".
    let minutes = ((lockout.until - now).num_seconds() + 59) / 60;
    let whom = match lockout.key {
        ThrottleKey::Account(_) => "this account",
        ThrottleKey::Address(_) => "your network address",
    };
    format!(
        "Too many failed sign-in attempts for {whom}. Try again in {minutes} minute{}, or ask an administrator to help.",
        if minutes == 1 { "" } else { "s" }
    )
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    session: axum::Extension<SessionSlot>,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let next = safe_next(form.next.as_deref());
    let secure = state.settings.secure;
    let providers = sign_in_options(&state).await;
    let typed_email = form.email.trim().to_lowercase();
    let mut keys = vec![ThrottleKey::Account(
        typed_email.chars().take(254).collect(),
    )];
    if let Some(address) = &meta.client_address {
        keys.push(ThrottleKey::Address(address.clone()));
    }
    let anonymous = audit_context(&state, &meta, None);
    let mut labelled = anonymous.clone();
    labelled.actor_label = if typed_email.is_empty() {
        "anonymous".to_owned()
    } else {
        typed_email.clone()
    };

    let refuse = |jar: CookieJar, lockout: &Lockout| {
        let message = lockout_message(lockout, now);
        render_login(
            StatusCode::TOO_MANY_REQUESTS,
            jar,
            secure,
            &typed_email,
            &next,
            Some(&message),
            None,
            &providers,
        )
    };
    // The lock itself was audited when it started.
    let attempts = match throttle::admit(&state.db, &keys, &state.settings.throttle, now).await? {
        Ok(attempts) => attempts,
        Err(lockout) => {
            tracing::info!(until = %lockout.until, "sign-in refused: throttled");
            return Ok(refuse(jar, &lockout));
        }
    };

    let credentials = match Email::parse(&form.email) {
        Ok(email) => users::credentials_by_email(&state.db, &email).await?,
        Err(_) => None,
    };
    let password = form.password;
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let verified = tokio::task::spawn_blocking(move || {
        let matched = match credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref())
        {
            Some(hash) => portal_crypto::verify_password(&password, hash),
            None => {
                portal_crypto::verify_against_dummy(&password);
                false
            }
        };
        (credentials, matched)
    })
    .await
    .map_err(|e| anyhow::anyhow!("password verification task failed: {e}"))?;
    let user = match verified {
        (Some(c), true) if !c.user.disabled => c.user,
        (credentials, matched) => {
            let reason = match (&credentials, matched) {
                (None, _) => "unknown_account",
                (Some(c), true) if c.user.disabled => "account_disabled",
                (Some(c), _) if c.password_hash.is_none() => "no_local_password",
                _ => "wrong_password",
            };
            let mut record =
                AuditRecord::new(AuditAction::LoginFailed).details(json!({ "reason": reason }));
            if let Some(c) = &credentials {
                record = record.target(TargetKind::User, c.user.id);
            }
            audit::record(&state.db, &labelled, record).await?;
            // The attempt was counted before the check; a failure on the last try starts a lock.
            let lock = attempts
                .iter()
                .find(|a| a.is_last())
                .and_then(Attempt::lockout);
            let (status, message) = match lock {
                Some(lockout) => {
                    audit::record(
                        &state.db,
                        &labelled,
                        AuditRecord::new(AuditAction::LoginThrottled).details(json!({
                            "locked_until": lockout.until,
                            "by": match lockout.key { ThrottleKey::Account(_) => "account", ThrottleKey::Address(_) => "address" },
                        })),
                    )
                    .await?;
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        lockout_message(&lockout, now),
                    )
                }
                // One message for every failure: it must not reveal which accounts exist.
                None => (
                    StatusCode::UNAUTHORIZED,
                    "The email or password is not correct.".to_owned(),
                ),
            };
            return Ok(render_login(
                status,
                jar,
                secure,
                &typed_email,
                &next,
                Some(&message),
                None,
                &providers,
            ));
        }
    };

    throttle::reset(&state.db, &keys[0]).await?;
    for key in &keys[1..] {
        throttle::refund(&state.db, key, &state.settings.throttle).await?;
    }
    // A second factor (the person's own, or one a tenant of theirs requires) comes before any
    // session: see `second_factor`.
    let jar =
        match super::second_factor::after_password(&state, jar, &session, &user, &next).await? {
            super::second_factor::SecondStep::Needed(response) => return Ok(response),
            super::second_factor::SecondStep::NotNeeded(jar) => jar,
        };
    let jar = begin_session(
        &state,
        jar,
        &meta,
        &session,
        &user,
        sessions::SignInMethod::Password,
        AuditRecord::new(AuditAction::LoginSucceeded).details(json!({ "method": "password" })),
    )
    .await?
    .remove(removal_cookie(pre_session_cookie_name(secure), secure));
    let target = if user.password_must_change {
        "/account/password".to_owned()
    } else {
        next
    };
    Ok((jar, Redirect::to(&target)).into_response())
}

/// Signs `user` in: whatever session this browser had ends (the id is rotated), a new one is
/// issued, and the sign-in is recorded with `event` (the actor and target are filled in here).
pub(super) async fn begin_session(
    state: &AppState,
    jar: CookieJar,
    meta: &RequestMeta,
    session: &SessionSlot,
    user: &users::User,
    method: sessions::SignInMethod,
    event: AuditRecord,
) -> AppResult<CookieJar> {
    let now = state.clock.now();
    if let Some(previous) = &session.0 {
        sessions::delete(&state.db, &previous.id_digest).await?;
    }
    let new_session = sessions::create(
        &state.db,
        user.id,
        state.settings.session,
        now,
        meta.client_address.clone(),
        meta.user_agent.clone(),
        method,
    )
    .await?;
    users::record_login(&state.db, user.id, now).await?;
    audit::record(
        &state.db,
        &audit_context(state, meta, Some(user)),
        event.target(TargetKind::User, user.id),
    )
    .await?;
    Ok(jar.add(session_cookie(state.settings.secure, &new_session.token)))
}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    current: CurrentUser,
) -> AppResult<Response> {
    sessions::delete(&state.db, &current.session_digest).await?;
    audit::record(
        &state.db,
        &current.audit(&state),
        AuditRecord::new(AuditAction::Logout).target(TargetKind::User, current.user.id),
    )
    .await?;
    let secure = state.settings.secure;
    let jar = jar.remove(removal_cookie(session_cookie_name(secure), secure));
    Ok((
        jar,
        Redirect::to(&format!("/login?notice={}", Notice::SignedOut.code())),
    )
        .into_response())
}

/// The session cookie: script cannot read it, other sites' forms do not send it.
pub fn session_cookie(secure: bool, token: &portal_crypto::Token) -> Cookie<'static> {
    Cookie::build((session_cookie_name(secure), token.expose().to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build()
}

/// Browsers ignore a `__Host-` cookie, even one that deletes, unless it is `Secure`.
pub(super) fn removal_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    Cookie::build(name).path("/").secure(secure).build()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/tenants/1")), "/tenants/1");
        assert_eq!(safe_next(Some("//evil.example/x")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/x\n")), "/");
        assert_eq!(safe_next(Some("/tenants?q=a b")), "/");
        assert_eq!(safe_next(Some("/tenants?q=a%20b")), "/tenants?q=a%20b");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
