//! The signed-in person's second factor: set it up (scan, confirm with a first code, keep the
//! recovery codes), or remove it with the password and a current code.
//!
//! Removal is refused while a tenant where the person holds a grant requires a second factor:
//! otherwise, between removal and the next sign-in, the password alone would be enough to
//! enrol a new authenticator. (Platform administrators choose for themselves.)

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_store::second_factor::{self as store, CodeCheck, Status};
use portal_store::throttle;
use portal_store::users;
use serde::Deserialize;

use super::{code_throttle_key, enrolment_instructions, recovery_codes_list, required_of};
use crate::AppState;
use crate::error::AppResult;
use crate::extract::CurrentUser;
use crate::pages::auth::lockout_message;
use crate::views::{self, FieldErrors, TextField, hidden_csrf, text_field};

const PATH: &str = "/account/second-factor";

async fn render(
    state: &AppState,
    current: &CurrentUser,
    status: &Status,
    errors: &FieldErrors,
) -> AppResult<Markup> {
    let required = required_of(state, &current.user).await?;
    let has_password = users::credentials(&state.db, current.user.id)
        .await?
        .password_hash
        .is_some();
    let body = if status.enrolled {
        html! {
            p { "Signing in with your portal password also takes a code from your authenticator app." }
            p.muted { (status.unused_recovery_codes) " unused recovery codes left." }
            @if required {
                div.notice role="status" { "An organisation you work for requires a second factor, so it cannot be removed here." }
            } @else {
                h2 { "Remove the second factor" }
                form method="post" action={ (PATH) "/remove" } autocomplete="off" {
                    (hidden_csrf(&current.csrf_token))
                    (text_field(&TextField { name: "password", label: "Your password", kind: "password", value: "", hint: None, required: true, autocomplete: "current-password" }, errors))
                    (text_field(&TextField { name: "code", label: "Current code from your app", kind: "text", value: "", hint: None, required: true, autocomplete: "one-time-code" }, errors))
                    div.actions { button.danger type="submit" { "Remove second factor" } }
                }
            }
        }
    } else if !has_password {
        html! {
            p { "You sign in through your organisation's identity provider, which handles its own second factor. A second factor here applies to portal passwords only." }
        }
    } else {
        let secret = store::enrolment_secret(
            &state.db,
            &state.master_key,
            current.user.id,
            state.clock.now(),
        )
        .await?;
        html! {
            p { "A second factor protects your account if your password is ever guessed or stolen: signing in will also take a code from an app on your phone." }
            @if required {
                div.notice.warn role="status" { "An organisation you work for requires it." }
            }
            (enrolment_instructions(&secret, &current.user.email))
            form method="post" action=(PATH) autocomplete="off" {
                (hidden_csrf(&current.csrf_token))
                (text_field(&TextField { name: "code", label: "Code from your app", kind: "text", value: "", hint: None, required: true, autocomplete: "one-time-code" }, errors))
                div.actions { button type="submit" { "Turn on second factor" } }
            }
        }
    };
    Ok(views::page(
        Some(current),
        "Second factor",
        None,
        &html! { div.card.narrow { h1 { "Second factor" } (body) } },
    ))
}

pub async fn show(State(state): State<AppState>, current: CurrentUser) -> AppResult<Markup> {
    let status = store::status(&state.db, current.user.id).await?;
    render(&state, &current, &status, &FieldErrors::default()).await
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    code: String,
}

pub async fn enrol(
    State(state): State<AppState>,
    current: CurrentUser,
    Form(form): Form<EnrolForm>,
) -> AppResult<Response> {
    let status = store::status(&state.db, current.user.id).await?;
    if status.enrolled {
        return Ok(Redirect::to(PATH).into_response());
    }
    let confirmed = store::confirm_enrolment(
        &state.db,
        &state.master_key,
        &current.audit(&state),
        current.user.id,
        &form.code,
    )
    .await?;
    let Some(codes) = confirmed else {
        let mut errors = FieldErrors::default();
        errors.add(
            "code",
            "The code is not correct. Check that your phone's clock is right and type the code the app shows now.",
        );
        let page = render(&state, &current, &status, &errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    Ok(views::page(
        Some(&current),
        "Second factor",
        None,
        &html! {
            div.card.narrow {
                h1 { "Second factor turned on" }
                p { "From now on, signing in takes your password and a code from your app." }
                (recovery_codes_list(&codes))
                div.actions { a.button href="/" { "Done" } }
            }
        },
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn remove(
    State(state): State<AppState>,
    current: CurrentUser,
    Form(form): Form<RemoveForm>,
) -> AppResult<Response> {
    let status = store::status(&state.db, current.user.id).await?;
    if !status.enrolled {
        return Ok(Redirect::to(PATH).into_response());
    }
    let mut errors = FieldErrors::default();
    if required_of(&state, &current.user).await? {
        errors.add(
            "code",
            "An organisation you work for requires a second factor, so it cannot be removed.",
        );
        let page = render(&state, &current, &status, &errors).await?;
        return Ok((StatusCode::CONFLICT, page).into_response());
    }
    // The password and the code are both guessing oracles for whoever holds the session: they
    // count in the throttle like sign-in attempts.
    let now = state.clock.now();
    let key = code_throttle_key(current.user.id);
    let attempt = throttle::count_attempt(&state.db, &key, &state.settings.throttle, now).await?;
    if let Some(lockout) = attempt.refusal() {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            views::error_page_markup("Too many attempts", &lockout_message(&lockout, now)),
        )
            .into_response());
    }
    let hash = users::credentials(&state.db, current.user.id)
        .await?
        .password_hash;
    let password = form.password;
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let password_ok = tokio::task::spawn_blocking(move || {
        hash.is_some_and(|h| portal_crypto::verify_password(&password, &h))
    })
    .await
    .map_err(|e| anyhow::anyhow!("password verification task failed: {e}"))?;
    if !password_ok {
        errors.add("password", "The password is not correct.");
    } else {
        // Only a TOTP code from the app: a recovery code is for signing in without the phone.
        let check = store::check_code(
            &state.db,
            &state.master_key,
            current.user.id,
            &form.code,
            false,
            now,
        )
        .await?;
        if check != CodeCheck::Accepted {
            errors.add(
                "code",
                "The code is not correct, or was already used. Type the code the app shows now.",
            );
        }
    }
    if !errors.is_empty() {
        let page = render(&state, &current, &status, &errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    throttle::reset(&state.db, &key).await?;
    store::remove(&state.db, &current.audit(&state), current.user.id).await?;
    Ok(Redirect::to(PATH).into_response())
}
