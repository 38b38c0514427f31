//! Sign-in through a tenant's OpenID Connect provider: authorization code flow with PKCE, with
//! `state` and `nonce` checked, and the sign-in bound to the browser that started it.
//!
//! **Permission**: public (these pages are how people sign in). Who gets in is decided by
//! `portal_store::oidc::resolve_identity`: a verified identity of someone given access in the
//! provider's tenant, and never a platform administrator.

use axum::extract::{Path, Query, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::Duration;
use portal_crypto::Token;
use portal_domain::{AuditAction, Email};
use portal_oidc::{OidcError, ProviderSettings};
use portal_store::oidc::{self, IdentityRefusal, PendingLogin, Provider};
use portal_store::rate_limit::{self, RateKey};
use portal_store::{AuditRecord, audit, sessions};
use serde::Deserialize;
use serde_json::json;

use super::auth::{begin_session, removal_cookie, safe_next};
use super::sign_in::redirect_uri;
use crate::AppState;
use crate::context::{RequestMeta, SessionSlot};
use crate::error::{AppError, AppResult};
use crate::extract::audit_context;
use crate::views;

/// A sign-in must come back from the provider within this time.
const MAX_LOGIN_AGE_MINUTES: i64 = 10;

const BROWSER_COOKIE: &str = "portal_oidc";
const SECURE_BROWSER_COOKIE: &str = "__Host-portal_oidc";

fn browser_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_BROWSER_COOKIE
    } else {
        BROWSER_COOKIE
    }
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
    /// Passed on to the provider to pre-fill the account name.
    login_hint: Option<String>,
}

async fn settings(
    state: &AppState,
    provider: &Provider,
    headers: &HeaderMap,
) -> AppResult<ProviderSettings> {
    let secret = oidc::client_secret(&state.db, &state.master_key, provider.id).await?;
    Ok(ProviderSettings {
        issuer_url: provider.issuer_url.clone(),
        client_id: provider.client_id.clone(),
        client_secret: secret,
        redirect_url: redirect_uri(state, headers),
    })
}

fn refused(status: StatusCode, title: &str, message: &str) -> Response {
    views::error_page(status, title, message)
}

/// In production the ID token's trust rests on TLS to the issuer, loopback included: a
/// provider saved with an `http://` issuer (before production was switched on) is not used.
fn insecure_issuer(state: &AppState, provider: &Provider) -> Option<Response> {
    let https = url::Url::parse(&provider.issuer_url).is_ok_and(|u| u.scheme() == "https");
    (state.settings.production && !https).then(|| {
        tracing::warn!(provider = %provider.id, "refusing an identity provider whose issuer is not https");
        refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            &format!(
                "The identity provider \"{}\" is set up with an issuer address that does not start with https://, which this portal does not use in production. Ask your national administrator to correct it in the sign-in settings, or sign in with a portal password.",
                provider.display_name
            ),
        )
    })
}

/// 429 with `Retry-After`: too many sign-ins started from one address.
fn too_many_starts(
    state: &AppState,
    now: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> Response {
    let seconds = (until - now).num_seconds().max(1);
    // Rounded up: never "0 minutes".
    let minutes = (seconds + 59) / 60;
    let mut response = refused(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-ins started",
        &format!(
            "Too many sign-ins through an identity provider were started from your network address in the last {} minutes. Try again in {minutes} minute{}.",
            state.settings.oidc_starts.window.num_minutes(),
            if minutes == 1 { "" } else { "s" }
        ),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

pub async fn start(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    meta: RequestMeta,
    Path(provider_id): Path<String>,
    Query(query): Query<StartQuery>,
) -> AppResult<Response> {
    // Public, and each start writes a row and calls the provider: counted first, whatever
    // the provider id, across every portal process.
    let now = state.clock.now();
    let key = RateKey::OidcStart(meta.client_address.clone());
    if let Err(until) =
        rate_limit::count_use(&state.db, &key, &state.settings.oidc_starts, now).await?
    {
        tracing::info!(%until, "identity-provider sign-in refused: too many starts");
        return Ok(too_many_starts(&state, now, until));
    }
    let id: uuid::Uuid = provider_id
        .parse()
        .map_err(|_| AppError::NotFound("sign-in provider"))?;
    let provider = oidc::provider(&state.db, id).await?;
    if !provider.enabled {
        return Err(AppError::NotFound("sign-in provider"));
    }
    if let Some(refusal) = insecure_issuer(&state, &provider) {
        return Ok(refusal);
    }
    // Sign-ins never finished would otherwise pile up between periodic purges.
    oidc::purge_logins(&state.db, now - Duration::minutes(MAX_LOGIN_AGE_MINUTES)).await?;
    let settings = settings(&state, &provider, &headers).await?;
    let hint = query.login_hint.as_deref().filter(|h| h.len() <= 254);
    let authorization = match state.oidc.begin(&settings, hint).await {
        Ok(authorization) => authorization,
        Err(error) => {
            tracing::warn!(%error, provider = %provider.id, "identity provider unavailable");
            return Ok(refused(
                StatusCode::BAD_GATEWAY,
                "Sign-in is unavailable",
                &format!(
                    "The identity provider \"{}\" could not be reached or answered unexpectedly. Try again later, or sign in with a portal password. ({error})",
                    provider.display_name
                ),
            ));
        }
    };
    let browser = Token::generate();
    oidc::start_login(
        &state.db,
        Token::from_client(&authorization.state).digest_hex(),
        PendingLogin {
            provider_id: provider.id,
            browser_digest: browser.digest_hex(),
            nonce: authorization.nonce.clone(),
            pkce_verifier: authorization.pkce_verifier.clone(),
            next_path: safe_next(query.next.as_deref()),
            created_at: now,
        },
    )
    .await?;
    let secure = state.settings.secure;
    // Lax: the provider sends the browser back with a top-level GET, which carries it. A
    // session cookie; the server refuses sign-ins older than ten minutes anyway.
    let cookie = Cookie::build((browser_cookie_name(secure), browser.expose().to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build();
    Ok((jar.add(cookie), Redirect::to(authorization.url.as_str())).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// RFC 9207: which provider sent this answer (checked against the one the sign-in began at).
    iss: Option<String>,
    error: Option<String>,
}

#[allow(clippy::too_many_lines)]
pub async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    meta: RequestMeta,
    session: axum::Extension<SessionSlot>,
    Query(query): Query<CallbackQuery>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let secure = state.settings.secure;
    let anonymous = audit_context(&state, &meta, None);
    // Read before the jar records its removal: the binding is used once, whatever happens.
    let sent_browser = jar
        .get(browser_cookie_name(secure))
        .map(|c| Token::from_client(c.value()).digest_hex());
    let jar = jar.remove(removal_cookie(browser_cookie_name(secure), secure));
    let fail = |reason: String| {
        let anonymous = anonymous.clone();
        let db = state.db.clone();
        async move {
            audit::record(
                &db,
                &anonymous,
                AuditRecord::new(AuditAction::LoginFailed)
                    .details(json!({ "method": "oidc", "reason": reason })),
            )
            .await
        }
    };

    if let Some(error) = &query.error {
        fail(format!("provider answered {error}")).await?;
        // Only the standard code is shown: free text in a link could say anything.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        return Ok((
            jar,
            refused(
                StatusCode::UNAUTHORIZED,
                "Sign-in did not complete",
                &format!("The identity provider did not sign you in ({code}). Start again from the sign-in page."),
            ),
        )
            .into_response());
    }
    let (Some(code), Some(returned_state)) = (&query.code, &query.state) else {
        fail("callback without code or state".to_owned()).await?;
        return Ok((
            jar,
            refused(
                StatusCode::BAD_REQUEST,
                "Sign-in did not complete",
                "The sign-in answer was incomplete. Start again from the sign-in page.",
            ),
        )
            .into_response());
    };
    let pending = oidc::take_login(
        &state.db,
        &Token::from_client(returned_state).digest_hex(),
        now,
        Duration::minutes(MAX_LOGIN_AGE_MINUTES),
    )
    .await?;
    let Some(pending) = pending else {
        fail("unknown, used or expired state".to_owned()).await?;
        return Ok((jar, refused(StatusCode::BAD_REQUEST, "Sign-in link expired", "This sign-in was already used, took too long, or was not started here. Start again from the sign-in page.")).into_response());
    };
    if sent_browser.as_deref() != Some(pending.browser_digest.as_str()) {
        fail("sign-in finished in a different browser than it started".to_owned()).await?;
        return Ok((jar, refused(StatusCode::BAD_REQUEST, "Sign-in did not complete", "The sign-in was started in another browser or tab whose cookies are gone. Start again from the sign-in page.")).into_response());
    }

    let provider = oidc::provider(&state.db, pending.provider_id).await?;
    if !provider.enabled {
        fail("provider disabled during the sign-in".to_owned()).await?;
        return Ok((
            jar,
            refused(
                StatusCode::FORBIDDEN,
                "Sign-in is turned off",
                "This identity provider was turned off. Sign in another way.",
            ),
        )
            .into_response());
    }
    if let Some(refusal) = insecure_issuer(&state, &provider) {
        fail("issuer is not https in production".to_owned()).await?;
        return Ok((jar, refusal).into_response());
    }
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| iss != provider.issuer_url)
    {
        fail("answer came from another issuer (mix-up)".to_owned()).await?;
        return Ok((jar, refused(StatusCode::BAD_REQUEST, "Sign-in did not complete", "The answer came from a different identity provider than the one the sign-in started at. Start again from the sign-in page.")).into_response());
    }
    let settings = settings(&state, &provider, &headers).await?;
    let identity = match state
        .oidc
        .complete(&settings, code, &pending.pkce_verifier, &pending.nonce, now)
        .await
    {
        Ok(identity) => identity,
        Err(error) => {
            fail(format!("token refused: {error}")).await?;
            let message = match &error {
                OidcError::Expired => "The identity provider's answer had expired. Check that the clocks of the portal and the provider agree, then start again.".to_owned(),
                other => format!("The identity provider's answer could not be verified, so you were not signed in. Start again; if it keeps happening, tell your administrator. ({other})"),
            };
            return Ok((
                jar,
                refused(StatusCode::UNAUTHORIZED, "Sign-in refused", &message),
            )
                .into_response());
        }
    };
    let email = identity
        .email
        .as_deref()
        .filter(|_| identity.email_verified)
        .and_then(|e| Email::parse(e).ok());
    let user = match oidc::resolve_identity(
        &state.db,
        &provider,
        &identity.subject,
        email.as_ref(),
        now,
    )
    .await?
    {
        Ok(user) => user,
        Err(refusal) => {
            let shown = email
                .as_ref()
                .map_or_else(|| "your account".to_owned(), |e| e.as_str().to_owned());
            let (reason, message) = match refusal {
                IdentityRefusal::Unknown if email.is_none() => (
                    "no verified email",
                    "The identity provider did not confirm an email address for your account, so the portal cannot tell who you are. Ask your administrator to verify your email there.".to_owned(),
                ),
                IdentityRefusal::Unknown => (
                    "not invited",
                    format!("{shown} has no access in this tenant. Ask your national administrator to give you access, then sign in again."),
                ),
                IdentityRefusal::Disabled => ("account disabled", "Your portal account is disabled.".to_owned()),
                IdentityRefusal::LinkedElsewhere => (
                    "email linked to another identity",
                    format!("{shown} is already linked to a different account at this identity provider. Ask your administrator."),
                ),
                IdentityRefusal::PlatformAdmin => (
                    "platform administrator",
                    "Platform administrators sign in with their portal password.".to_owned(),
                ),
            };
            fail(format!("{reason} ({shown})")).await?;
            return Ok((jar, refused(StatusCode::FORBIDDEN, "No access", &message)).into_response());
        }
    };

    let jar = begin_session(
        &state,
        jar,
        &meta,
        &session,
        &user,
        sessions::SignInMethod::Oidc {
            provider_id: provider.id,
        },
        AuditRecord::new(AuditAction::LoginSucceeded)
            .tenant(provider.tenant_id)
            .details(json!({ "method": "oidc", "provider_id": provider.id.to_string() })),
    )
    .await?;
    Ok((jar, Redirect::to(&pending.next_path)).into_response())
}
