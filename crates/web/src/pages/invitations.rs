//! Opening a sign-in link: `/invite/{token}` (choose a first password) and
//! `/reset-password/{token}` (choose a new one). Public: the token is the proof.
//!
//! The form shows the e-mail (read only) and asks for the password twice, under the portal's
//! password rules. Posting it uses the link once (`portal_store::invitations::use_link`: link
//! marked used, password set, every session of the person ended, audited, in one transaction)
//! and signs the person in on a fresh session. A used, expired or unknown link changes nothing
//! and says what to do.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use portal_crypto::Token;
use portal_domain::{AuditAction, NewPassword, TargetKind};
use portal_store::invitations::{self, Link, LinkPurpose, LinkRefusal};
use portal_store::throttle::{self, ThrottleKey};
use portal_store::{AuditRecord, audit, sessions};
use serde::Deserialize;
use serde_json::json;

use super::auth::{begin_session, removal_cookie};
use crate::AppState;
use crate::context::{RequestMeta, SessionSlot};
use crate::csrf::{pre_session_cookie_name, pre_session_token};
use crate::error::AppResult;
use crate::extract::audit_context;
use crate::views::{self, FieldErrors, Notice, TextField, hidden_csrf, text_field};

#[derive(Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `path` with a sign-in link's token replaced, for logs: the token sets a password.
#[must_use]
pub fn without_link_token(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in ["/invite/", "/reset-password/"] {
        if path.starts_with(prefix) && path.len() > prefix.len() {
            return format!("{prefix}<token>").into();
        }
    }
    path.into()
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d at %H:%M UTC").to_string()
}

/// The page for a link that cannot be used, with the status that fits.
fn refusal_page(refusal: &LinkRefusal, link: Option<&Link>) -> Response {
    let ask = link.map_or_else(
        || "the person who gave you access".to_owned(),
        |l| l.issued_by_label.clone(),
    );
    let forgot =
        "To choose a new password yourself, use \"Forgot your password?\" on the sign-in page.";
    let (status, title, message) = match refusal {
        LinkRefusal::Unknown => (
            StatusCode::NOT_FOUND,
            "Link not valid",
            format!(
                "This link is not valid: it may be mistyped, or replaced by a newer one. Ask the person who sent it for a new link. {forgot}"
            ),
        ),
        LinkRefusal::Used(at) => (
            StatusCode::GONE,
            "Link already used",
            format!(
                "This link was already used (on {}) and works only once. If you chose your password then, sign in with it. Otherwise ask {ask} for a new link. {forgot}",
                when(*at)
            ),
        ),
        LinkRefusal::Expired(at) => (
            StatusCode::GONE,
            "Link expired",
            format!(
                "This link expired on {}. Ask {ask} for a new one. {forgot}",
                when(*at)
            ),
        ),
    };
    views::error_page(status, title, &message)
}

fn form_page(link: &Link, path: &str, csrf: &str, errors: &FieldErrors) -> Markup {
    let (title, intro) = match link.purpose {
        LinkPurpose::Invitation => (
            "Choose your password",
            "Welcome to CHT Portal. Choose the password you will sign in with.",
        ),
        LinkPurpose::PasswordReset => (
            "Choose a new password",
            "Choose a new password. Your other sessions will be signed out.",
        ),
    };
    views::page(
        None,
        title,
        None,
        &html! {
            div.card.narrow {
                h1 { (title) }
                p { (intro) }
                form method="post" action=(path) hx-boost="false" {
                    (hidden_csrf(csrf))
                    div.field {
                        label for="email" { "Email" }
                        input #email type="email" name="email" value=(link.user.email) readonly autocomplete="username";
                    }
                    (text_field(&TextField { name: "new_password", label: "Password", kind: "password", value: "", hint: Some("At least 12 characters. A few unrelated words make a strong password that is easy to type."), required: true, autocomplete: "new-password" }, errors))
                    (text_field(&TextField { name: "confirm_password", label: "Password again", kind: "password", value: "", hint: None, required: true, autocomplete: "new-password" }, errors))
                    div.actions { button type="submit" { "Set password and sign in" } }
                }
                p.muted { "This link works once, until " (when(link.expires_at)) "." }
            }
        },
    )
}

/// The link `token` names for `purpose`, if it can be used now.
async fn usable(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
) -> AppResult<Result<Link, (LinkRefusal, Option<Link>)>> {
    let found = invitations::find(&state.db, &Token::from_client(token))
        .await?
        .filter(|l| l.purpose == purpose);
    let Some(link) = found else {
        return Ok(Err((LinkRefusal::Unknown, None)));
    };
    if link.user.disabled {
        return Ok(Err((LinkRefusal::Unknown, None)));
    }
    match invitations::check(&link, state.clock.now()) {
        Ok(()) => Ok(Ok(link)),
        Err(refusal) => Ok(Err((refusal, Some(link)))),
    }
}

fn path_for(purpose: LinkPurpose, token: &str) -> String {
    match purpose {
        LinkPurpose::Invitation => format!("/invite/{token}"),
        LinkPurpose::PasswordReset => format!("/reset-password/{token}"),
    }
}

/// The CSRF token the form must carry: the session's when this browser is signed in (someone
/// opening a link in a signed-in browser), else the pre-session cookie's.
fn csrf_for(jar: CookieJar, session: &SessionSlot, secure: bool) -> (CookieJar, String) {
    match &session.0 {
        Some(active) => (jar, active.csrf_token.clone()),
        None => pre_session_token(jar, secure),
    }
}

async fn show(
    state: AppState,
    jar: CookieJar,
    session: SessionSlot,
    token: String,
    purpose: LinkPurpose,
) -> AppResult<Response> {
    let link = match usable(&state, &token, purpose).await? {
        Ok(link) => link,
        Err((refusal, link)) => return Ok(refusal_page(&refusal, link.as_ref())),
    };
    let (jar, csrf) = csrf_for(jar, &session, state.settings.secure);
    let page = form_page(
        &link,
        &path_for(purpose, &token),
        &csrf,
        &FieldErrors::default(),
    );
    Ok((jar, page).into_response())
}

#[allow(clippy::too_many_arguments)]
async fn set(
    state: AppState,
    jar: CookieJar,
    meta: RequestMeta,
    session: SessionSlot,
    token: String,
    purpose: LinkPurpose,
    form: SetPasswordForm,
) -> AppResult<Response> {
    let refused = |refusal: LinkRefusal, link: Option<Link>| {
        let state = state.clone();
        let meta = meta.clone();
        async move {
            if let Some(link) = &link {
                let reason = match refusal {
                    LinkRefusal::Used(_) => "used",
                    LinkRefusal::Expired(_) => "expired",
                    LinkRefusal::Unknown => "unknown",
                };
                audit::record(
                    &state.db,
                    &audit_context(&state, &meta, None),
                    AuditRecord::new(AuditAction::SignInLinkRefused)
                        .target(TargetKind::User, link.user.id)
                        .details(json!({ "link_id": link.id, "purpose": link.purpose.as_str(), "reason": reason })),
                )
                .await?;
            }
            AppResult::Ok(refusal_page(&refusal, link.as_ref()))
        }
    };
    let link = match usable(&state, &token, purpose).await? {
        Ok(link) => link,
        Err((refusal, link)) => return refused(refusal, link).await,
    };
    let mut errors = FieldErrors::default();
    let password = match NewPassword::parse(&form.new_password, &link.user.email) {
        Ok(password) => Some(password),
        Err(problem) => {
            errors.add("new_password", problem.to_string());
            None
        }
    };
    if form.new_password != form.confirm_password {
        errors.add(
            "confirm_password",
            "The two passwords are different; type the same password twice.",
        );
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        let (jar, csrf) = csrf_for(jar, &session, state.settings.secure);
        let page = form_page(&link, &path_for(purpose, &token), &csrf, &errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, jar, page).into_response());
    };
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let hash = tokio::task::spawn_blocking(move || portal_crypto::hash_password(password.expose()))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut ctx = audit_context(&state, &meta, Some(&link.user));
    ctx.actor_label = link.user.email.clone();
    let used = invitations::use_link(&state.db, &ctx, &Token::from_client(&token), hash).await?;
    let link = match used {
        Ok(link) => link,
        // Used (or expired) between the check above and now: someone else got there first.
        Err(refusal) => return refused(refusal, Some(link)).await,
    };
    // Part B of issue 10: a link proves the mailbox, not the authenticator. A second factor (the
    // person's own, or one a tenant of theirs requires) still comes before any session.
    let jar =
        match super::second_factor::after_password(&state, jar, &session, &link.user, "/").await? {
            super::second_factor::SecondStep::Needed(response) => return Ok(response),
            super::second_factor::SecondStep::NotNeeded(jar) => jar,
        };
    // A lock from failed sign-ins with the forgotten password would outlive the new one.
    throttle::reset(&state.db, &ThrottleKey::Account(link.user.email.clone())).await?;
    // Signed-in browsers start afresh too: the session is rotated to the person who set it.
    let jar = begin_session(
        &state,
        jar,
        &meta,
        &session,
        &link.user,
        sessions::SignInMethod::Password,
        AuditRecord::new(AuditAction::LoginSucceeded)
            .details(json!({ "method": link.purpose.as_str() })),
    )
    .await?
    .remove(removal_cookie(
        pre_session_cookie_name(state.settings.secure),
        state.settings.secure,
    ));
    Ok((
        jar,
        Redirect::to(&format!("/?notice={}", Notice::PasswordSet.code())),
    )
        .into_response())
}

pub async fn show_invitation(
    State(state): State<AppState>,
    jar: CookieJar,
    session: axum::Extension<SessionSlot>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    show(state, jar, session.0, token, LinkPurpose::Invitation).await
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    session: axum::Extension<SessionSlot>,
    Path(token): Path<String>,
    Form(form): Form<SetPasswordForm>,
) -> AppResult<Response> {
    set(
        state,
        jar,
        meta,
        session.0,
        token,
        LinkPurpose::Invitation,
        form,
    )
    .await
}

pub async fn show_reset(
    State(state): State<AppState>,
    jar: CookieJar,
    session: axum::Extension<SessionSlot>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    show(state, jar, session.0, token, LinkPurpose::PasswordReset).await
}

pub async fn reset(
    State(state): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    session: axum::Extension<SessionSlot>,
    Path(token): Path<String>,
    Form(form): Form<SetPasswordForm>,
) -> AppResult<Response> {
    set(
        state,
        jar,
        meta,
        session.0,
        token,
        LinkPurpose::PasswordReset,
        form,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::without_link_token;

    #[test]
    fn link_tokens_stay_out_of_logged_paths() {
        assert_eq!(without_link_token("/invite/abcDEF_-123"), "/invite/<token>");
        assert_eq!(
            without_link_token("/reset-password/abc"),
            "/reset-password/<token>"
        );
        assert_eq!(without_link_token("/tenants/1/access"), "/tenants/1/access");
        assert_eq!(without_link_token("/invite/"), "/invite/");
    }
}
