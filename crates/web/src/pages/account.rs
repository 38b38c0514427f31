//! The signed-in person's own account: changing the password (required after a one-time
//! password from `cht-portal admin create`).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use portal_domain::NewPassword;
use portal_store::throttle::{self, ThrottleKey};
use portal_store::{sessions, users};

use super::auth::{lockout_message, session_cookie};
use serde::Deserialize;

use crate::AppState;
use crate::error::AppResult;
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice, TextField, hidden_csrf, text_field};

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

fn password_page(current: &CurrentUser, errors: &FieldErrors) -> Markup {
    let must = current.user.password_must_change;
    views::page(
        Some(current),
        "Change password",
        None,
        &html! {
            div.card.narrow {
                h1 { "Change your password" }
                @if must {
                    div.notice.warn role="status" { "You signed in with a one-time password. Choose your own password to continue." }
                }
                form method="post" action="/account/password" {
                    (hidden_csrf(&current.csrf_token))
                    (text_field(&TextField { name: "current_password", label: "Current password", kind: "password", value: "", hint: None, required: true, autocomplete: "current-password" }, errors))
                    (text_field(&TextField { name: "new_password", label: "New password", kind: "password", value: "", hint: Some("At least 12 characters. A few unrelated words make a strong password that is easy to type."), required: true, autocomplete: "new-password" }, errors))
                    (text_field(&TextField { name: "confirm_password", label: "New password again", kind: "password", value: "", hint: None, required: true, autocomplete: "new-password" }, errors))
                    div.actions { button type="submit" { "Change password" } }
                }
                p.muted { a href="/account/second-factor" { "Second factor" } ": a code from an authenticator app as well as your password." }
            }
        },
    )
}

pub async fn show(current: CurrentUser) -> Markup {
    password_page(&current, &FieldErrors::default())
}

pub async fn change(
    State(state): State<AppState>,
    jar: CookieJar,
    current: CurrentUser,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let stored = users::credentials(&state.db, current.user.id).await?;
    let mut errors = FieldErrors::default();
    // The current-password check is a guessing oracle for whoever holds a session: it shares
    // the account's sign-in throttle.
    let now = state.clock.now();
    let key = ThrottleKey::Account(current.user.email.clone());
    let attempt = throttle::count_attempt(&state.db, &key, &state.settings.throttle, now).await?;
    if let Some(lockout) = attempt.refusal() {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            views::error_page_markup("Too many attempts", &lockout_message(&lockout, now)),
        )
            .into_response());
    }
    let current_password = form.current_password;
    let hash = stored.password_hash.clone();
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let current_ok = tokio::task::spawn_blocking(move || {
        hash.is_some_and(|h| portal_crypto::verify_password(&current_password, &h))
    })
    .await
    .map_err(|e| anyhow::anyhow!("password verification task failed: {e}"))?;
    if current_ok {
        throttle::reset(&state.db, &key).await?;
    } else {
        errors.add("current_password", "The current password is not correct.");
    }
    let new_password = match NewPassword::parse(&form.new_password, &current.user.email) {
        Ok(password) => Some(password),
        Err(problem) => {
            errors.add("new_password", problem.to_string());
            None
        }
    };
    if form.new_password != form.confirm_password {
        errors.add(
            "confirm_password",
            "The two new passwords are different; type the same password twice.",
        );
    }
    let Some(new_password) = new_password.filter(|_| errors.is_empty()) else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            password_page(&current, &errors),
        )
            .into_response());
    };
    let hash =
        tokio::task::spawn_blocking(move || portal_crypto::hash_password(new_password.expose()))
            .await
            .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
            .map_err(|e| anyhow::anyhow!(e))?;
    users::change_password(&state.db, &current.audit(&state), current.user.id, hash).await?;
    // Every session ended with the old password, this one too: a stolen copy of it is useless
    // now. The person who changed it gets a fresh session (and CSRF token).
    let fresh = sessions::create(
        &state.db,
        current.user.id,
        state.settings.session,
        state.clock.now(),
        current.meta.client_address.clone(),
        current.meta.user_agent.clone(),
        // The new session keeps the old one's origin (and with it, its tenant restriction).
        match (current.via_provider, current.via_cht) {
            (Some((provider_id, _)), _) => sessions::SignInMethod::Oidc { provider_id },
            (None, Some((instance_id, _))) => sessions::SignInMethod::ChtAccount { instance_id },
            (None, None) => sessions::SignInMethod::Password,
        },
    )
    .await?;
    let jar = jar.add(session_cookie(state.settings.secure, &fresh.token));
    Ok((
        jar,
        Redirect::to(&format!("/?notice={}", Notice::PasswordChanged.code())),
    )
        .into_response())
}
