//! The second factor (TOTP) of portal passwords: the second step of a password sign-in, and
//! what enrolment pages share (QR code, recovery codes). The account page is in [`account`],
//! the tenant's requirement in [`tenant`].
//!
//! **Design**: a correct password for someone who needs a second step does not create a
//! session. It creates a *pending sign-in* (its own table and its own `HttpOnly`, `SameSite=
//! Strict` cookie) that only the second-step page reads. Every other page sees nobody signed in,
//! so no page can be reached by typing its address: there is no half-signed-in session for a
//! forgotten check to let through. The extractor sends a browser with a pending cookie to the
//! code page instead of the sign-in page. The session (a fresh id) begins when the code is right.
//!
//! Wrong codes count in the sign-in throttle under a key of their own per person
//! (`second-factor:<user id>`), which a correct password does not reset, and per address.

pub mod account;
pub mod tenant;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::{Markup, html};
use portal_crypto::{Token, TotpSecret};
use portal_domain::{AuditAction, TargetKind};
use portal_store::second_factor::{self as store, CodeCheck};
use portal_store::throttle::{self, Attempt, ThrottleKey};
use portal_store::{AuditRecord, audit, sessions, users};
use serde::Deserialize;
use serde_json::json;

use super::auth::{begin_session, lockout_message, removal_cookie};
use crate::AppState;
use crate::context::{RequestMeta, SessionSlot, session_cookie_name};
use crate::csrf::pre_session_token;
use crate::error::AppResult;
use crate::extract::audit_context;
use crate::views::{self, FieldErrors, TextField, hidden_csrf, text_field};

pub const PENDING_COOKIE: &str = "portal_pending";
pub const SECURE_PENDING_COOKIE: &str = "__Host-portal_pending";
/// The name authenticator apps show above the codes.
const ISSUER: &str = "CHT Portal";

#[must_use]
pub fn pending_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_PENDING_COOKIE
    } else {
        PENDING_COOKIE
    }
}

/// The throttle key for someone's codes: separate from the password's, so that knowing the
/// password (whose success resets its own key) does not buy more guesses at the code.
#[must_use]
pub fn code_throttle_key(user_id: portal_domain::UserId) -> ThrottleKey {
    ThrottleKey::Account(format!("second-factor:{user_id}"))
}

/// Whether this person must have a second factor: required by any tenant where they hold a
/// grant. Platform administrators choose for themselves, so a tenant's setting never locks
/// them out. (People who sign in through a tenant's identity provider never reach this: the
/// provider handles its own factors.)
pub async fn required_of(state: &AppState, user: &users::User) -> AppResult<bool> {
    if user.is_platform_admin {
        return Ok(false);
    }
    Ok(store::required_for(&state.db, user.id, state.clock.now()).await?)
}

/// The QR code of an `otpauth://` URI as inline SVG (no inline style, so the CSP allows it).
#[must_use]
pub fn qr_svg(uri: &str) -> Markup {
    let Ok(code) = qrcode::QrCode::new(uri.as_bytes()) else {
        return html! {};
    };
    let width = code.width();
    let quiet = 4;
    let mut path = String::new();
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            let (x, y) = (index % width + quiet, index / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let size = width + 2 * quiet;
    html! {
        svg.qr xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (size) " " (size) } width="220" height="220" role="img" aria-label="QR code for your authenticator app" shape-rendering="crispEdges" {
            rect width=(size) height=(size) fill="#fff" {}
            path d=(path) fill="#000" {}
        }
    }
}

/// What a person needs to add the portal to an authenticator app.
#[must_use]
pub fn enrolment_instructions(secret: &TotpSecret, email: &str) -> Markup {
    let base32 = secret.to_base32();
    let grouped: Vec<&str> = base32
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    html! {
        ol {
            li { "Open an authenticator app on your phone (Google Authenticator, FreeOTP, Aegis, Microsoft Authenticator, …)." }
            li { "Scan this code, or type the key below into the app (time-based, 6 digits, every 30 seconds)." }
            li { "Type the 6-digit code the app shows." }
        }
        (qr_svg(&secret.otpauth_uri(ISSUER, email)))
        p { "Key: " code.secret-key { (grouped.join(" ")) } }
    }
}

/// Recovery codes, shown once.
#[must_use]
pub fn recovery_codes_list(codes: &[String]) -> Markup {
    html! {
        div.notice.warn role="status" {
            "Keep these recovery codes somewhere safe (printed, or in a password manager). Each works once, in place of a code from your app, if you lose your phone. They are shown only now."
        }
        ul.recovery-codes { @for code in codes { li { code { (code) } } } }
    }
}

/// After a correct password: either no second step is needed (sign in now), or the browser is
/// sent to the code page with a pending sign-in.
pub enum SecondStep {
    NotNeeded(CookieJar),
    Needed(Response),
}

pub async fn after_password(
    state: &AppState,
    jar: CookieJar,
    session: &SessionSlot,
    user: &users::User,
    next: &str,
) -> AppResult<SecondStep> {
    let secure = state.settings.secure;
    // An earlier wait in this browser (another account, or the same one again) ends here.
    let mut jar = jar;
    if let Some(earlier) = pending_of(state, &jar).await? {
        store::end_pending(&state.db, &earlier.id_digest).await?;
        jar = jar.remove(removal_cookie(pending_cookie_name(secure), secure));
    }
    let enrolled = store::status(&state.db, user.id).await?.enrolled;
    if !enrolled && !required_of(state, user).await? {
        return Ok(SecondStep::NotNeeded(jar));
    }
    // Whatever session this browser had ends now: the person is changing who they are.
    if let Some(previous) = &session.0 {
        sessions::delete(&state.db, &previous.id_digest).await?;
        jar = jar.remove(removal_cookie(session_cookie_name(secure), secure));
    }
    let token = store::begin_pending(&state.db, user.id, next, state.clock.now()).await?;
    let cookie = Cookie::build((pending_cookie_name(secure), token.expose().to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    Ok(SecondStep::Needed(
        (jar.add(cookie), Redirect::to("/login/second-factor")).into_response(),
    ))
}

async fn pending_of(state: &AppState, jar: &CookieJar) -> AppResult<Option<store::PendingSignIn>> {
    let Some(cookie) = jar.get(pending_cookie_name(state.settings.secure)) else {
        return Ok(None);
    };
    Ok(store::find_pending(
        &state.db,
        &Token::from_client(cookie.value()),
        state.clock.now(),
    )
    .await?)
}

fn start_again(state: &AppState, jar: CookieJar) -> Response {
    let secure = state.settings.secure;
    let jar = jar.remove(removal_cookie(pending_cookie_name(secure), secure));
    (jar, Redirect::to("/login")).into_response()
}

fn code_page(
    status: StatusCode,
    state: &AppState,
    jar: CookieJar,
    enrolment: Option<(&TotpSecret, &str)>,
    problem: Option<&str>,
) -> Response {
    let (jar, csrf) = pre_session_token(jar, state.settings.secure);
    let mut errors = FieldErrors::default();
    if let Some(problem) = problem {
        errors.add("code", problem);
    }
    let body = views::page(
        None,
        "Second step",
        None,
        &html! {
            div.card.narrow {
                @if let Some((secret, email)) = enrolment {
                    h1 { "Set up a second factor" }
                    p { "An organisation you work for requires a code from an authenticator app, as well as your password. Set it up now to continue." }
                    (enrolment_instructions(secret, email))
                } @else {
                    h1 { "Enter your code" }
                    p { "Open your authenticator app and type the 6-digit code it shows for CHT Portal. Lost your phone? Type one of your recovery codes instead." }
                }
                form method="post" action="/login/second-factor" hx-boost="false" autocomplete="off" {
                    (hidden_csrf(&csrf))
                    (text_field(&TextField { name: "code", label: "Code", kind: "text", value: "", hint: None, required: true, autocomplete: "one-time-code" }, &errors))
                    div.actions { button type="submit" { "Continue" } }
                }
                form method="post" action="/login/second-factor" hx-boost="false" {
                    (hidden_csrf(&csrf))
                    input type="hidden" name="cancel" value="1";
                    button.link type="submit" { "Cancel and sign in again" }
                }
            }
        },
    );
    (status, jar, body).into_response()
}

/// The second-step page: the code form, or enrolment when the person has none yet but must.
pub async fn challenge_page(State(state): State<AppState>, jar: CookieJar) -> AppResult<Response> {
    let Some(pending) = pending_of(&state, &jar).await? else {
        return Ok(start_again(&state, jar));
    };
    let user = users::credentials(&state.db, pending.user_id).await?.user;
    if store::status(&state.db, user.id).await?.enrolled {
        return Ok(code_page(StatusCode::OK, &state, jar, None, None));
    }
    let secret =
        store::enrolment_secret(&state.db, &state.master_key, user.id, state.clock.now()).await?;
    Ok(code_page(
        StatusCode::OK,
        &state,
        jar,
        Some((&secret, &user.email)),
        None,
    ))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    cancel: Option<String>,
}

pub async fn challenge(
    State(state): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    session: axum::Extension<SessionSlot>,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(pending) = pending_of(&state, &jar).await? else {
        return Ok(start_again(&state, jar));
    };
    if form.cancel.is_some() {
        store::end_pending(&state.db, &pending.id_digest).await?;
        return Ok(start_again(&state, jar));
    }
    let now = state.clock.now();
    let user = users::credentials(&state.db, pending.user_id).await?.user;
    if user.disabled {
        store::end_pending(&state.db, &pending.id_digest).await?;
        return Ok(start_again(&state, jar));
    }
    let ctx = audit_context(&state, &meta, Some(&user));
    let policy = state.settings.throttle;
    let mut keys = vec![code_throttle_key(user.id)];
    if let Some(address) = &meta.client_address {
        keys.push(ThrottleKey::Address(address.clone()));
    }
    let enrolled = store::status(&state.db, user.id).await?.enrolled;
    let refuse = |jar: CookieJar, lockout: &throttle::Lockout| {
        let message = lockout_message(lockout, now);
        (
            StatusCode::TOO_MANY_REQUESTS,
            jar,
            views::error_page_markup("Too many attempts", &message),
        )
            .into_response()
    };
    let attempts = match throttle::admit(&state.db, &keys, &policy, now).await? {
        Ok(attempts) => attempts,
        Err(lockout) => return Ok(refuse(jar, &lockout)),
    };

    let (outcome, recovery_codes) = if enrolled {
        let check =
            store::check_code(&state.db, &state.master_key, user.id, &form.code, true, now).await?;
        (check, None)
    } else {
        match store::confirm_enrolment(&state.db, &state.master_key, &ctx, user.id, &form.code)
            .await?
        {
            Some(codes) => (CodeCheck::Accepted, Some(codes)),
            None => (CodeCheck::Wrong, None),
        }
    };

    if matches!(outcome, CodeCheck::Wrong | CodeCheck::Replayed) {
        let reason = if outcome == CodeCheck::Replayed {
            "code_already_used"
        } else {
            "wrong_code"
        };
        audit::record(
            &state.db,
            &ctx,
            AuditRecord::new(AuditAction::SecondFactorFailed)
                .target(TargetKind::User, user.id)
                .details(json!({ "reason": reason, "enrolling": !enrolled })),
        )
        .await?;
        if let Some(lockout) = attempts
            .iter()
            .find(|a| a.is_last())
            .and_then(Attempt::lockout)
        {
            audit::record(
                &state.db,
                &ctx,
                AuditRecord::new(AuditAction::LoginThrottled)
                    .target(TargetKind::User, user.id)
                    .details(json!({ "locked_until": lockout.until, "by": "second_factor" })),
            )
            .await?;
            return Ok(refuse(jar, &lockout));
        }
        let problem = if outcome == CodeCheck::Replayed {
            "This code was already used. Wait for the next code in your app and type that one."
        } else {
            "The code is not correct. Check that your phone's clock is right and type the code the app shows now."
        };
        let secret = if enrolled {
            None
        } else {
            Some(store::enrolment_secret(&state.db, &state.master_key, user.id, now).await?)
        };
        return Ok(code_page(
            StatusCode::UNAUTHORIZED,
            &state,
            jar,
            secret.as_ref().map(|s| (s, user.email.as_str())),
            Some(problem),
        ));
    }

    // Only one request turns this pending sign-in into a session.
    if !store::end_pending(&state.db, &pending.id_digest).await? {
        return Ok(start_again(&state, jar));
    }
    throttle::reset(&state.db, &keys[0]).await?;
    for key in &keys[1..] {
        throttle::refund(&state.db, key, &policy).await?;
    }
    let used = if outcome == CodeCheck::RecoveryCodeUsed {
        audit::record(
            &state.db,
            &ctx,
            AuditRecord::new(AuditAction::RecoveryCodeUsed).target(TargetKind::User, user.id),
        )
        .await?;
        "recovery_code"
    } else {
        "totp"
    };
    audit::record(
        &state.db,
        &ctx,
        AuditRecord::new(AuditAction::SecondFactorPassed)
            .target(TargetKind::User, user.id)
            .details(json!({ "with": used, "enrolled_now": !enrolled })),
    )
    .await?;
    let secure = state.settings.secure;
    let jar = begin_session(
        &state,
        jar,
        &meta,
        &session,
        &user,
        sessions::SignInMethod::Password,
        AuditRecord::new(AuditAction::LoginSucceeded)
            .details(json!({ "method": "password", "second_factor": used })),
    )
    .await?
    .remove(removal_cookie(pending_cookie_name(secure), secure))
    .remove(removal_cookie(
        crate::csrf::pre_session_cookie_name(secure),
        secure,
    ));
    let target = if user.password_must_change {
        "/account/password".to_owned()
    } else {
        pending.next_path
    };
    let Some(codes) = recovery_codes else {
        return Ok((jar, Redirect::to(&target)).into_response());
    };
    let body = views::page(
        None,
        "Second factor set up",
        None,
        &html! {
            div.card.narrow {
                h1 { "Second factor set up" }
                p { "From now on, signing in takes your password and a code from your app." }
                (recovery_codes_list(&codes))
                div.actions { a.button href=(target) { "Continue" } }
            }
        },
    );
    Ok((jar, body).into_response())
}
