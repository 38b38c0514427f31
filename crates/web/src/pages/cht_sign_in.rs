//! Sign-in with a CHT account (issue 10, part C), as the User Management Tool does it, but with
//! the portal's rules: CHT only checks the password (`POST /_session` on the chosen instance,
//! once); the person must be bound to that CHT username by a grant in the portal and hold a grant
//! in force in the instance's tenant; their scope comes from their grants, never from CHT (no
//! CHT permission gate, no special power for CHT admins); the session acts in that tenant only.
//!
//! Order: the throttle counts the attempt (per CHT username on the instance and per address)
//! before anything else, so a locked key never reaches CHT. The password is sent to CHT and
//! dropped: never stored, logged or audited. Every failure but "CHT unreachable" shows the
//! same message; the audit event says which it was.
//!
//! The tenant's setting (which instances allow it) is a section of the sign-in settings page.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use cht_client::{CredentialCheck, Secret};
use maud::{Markup, html};
use portal_domain::{AuditAction, InstanceId, TargetKind, TenantId};
use portal_store::cht_identities::{self, ChtUsername, SignInInstance};
use portal_store::throttle::{self, Attempt, Lockout, ThrottleKey};
use portal_store::{AuditContext, AuditRecord, audit, instances, sessions, users};
use serde::Deserialize;
use serde_json::json;

use super::auth::{begin_session, lockout_message, removal_cookie, safe_next};
use crate::AppState;
use crate::authz::Authorized;
use crate::context::{RequestMeta, SessionSlot};
use crate::csrf::{pre_session_cookie_name, pre_session_token};
use crate::error::{AppError, AppResult};
use crate::extract::{CurrentUser, audit_context};
use crate::views::{self, FieldErrors, Notice, TextField, hidden_csrf, text_field};

/// The one message for every refusal: it must not tell which of instance, username, password
/// or grant was wrong.
const REFUSED: &str = "Sign-in failed: the CHT username or password is not correct, or this CHT account has not been given access to the portal. Check them, or ask the person who manages access for you.";

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    next: Option<String>,
}

/// No `Debug`: it holds the CHT password.
#[derive(Deserialize)]
pub struct ChtSignInForm {
    #[serde(default)]
    instance: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// The instances offered on the sign-in page. A database hiccup hides the option rather than the
/// page.
pub async fn offered_instances(state: &AppState) -> Vec<SignInInstance> {
    match cht_identities::sign_in_instances(&state.db).await {
        Ok(list) => list,
        Err(error) => {
            tracing::warn!(%error, "could not list the instances that allow CHT-account sign-in");
            Vec::new()
        }
    }
}

/// The link to this form on the password sign-in page, when some instance allows it.
#[must_use]
pub fn link_on_login_page(instances: &[SignInInstance], encoded_next: &str) -> Markup {
    html! {
        @if !instances.is_empty() {
            p { a href={ "/login/cht?next=" (encoded_next) } { "Sign in with your CHT account" } }
        }
    }
}

struct Shown<'a> {
    instance: &'a str,
    username: &'a str,
    next: &'a str,
    problem: Option<&'a str>,
}

fn render(
    status: StatusCode,
    jar: CookieJar,
    secure: bool,
    instances: &[SignInInstance],
    shown: &Shown<'_>,
) -> Response {
    let (jar, csrf) = pre_session_token(jar, secure);
    let encoded_next: String =
        url::form_urlencoded::byte_serialize(shown.next.as_bytes()).collect();
    let body = views::page(
        None,
        "Sign in with your CHT account",
        None,
        &html! {
            div.card.narrow {
                h1 { "Sign in with your CHT account" }
                @if let Some(problem) = shown.problem {
                    div.notice.error role="alert" { (problem) }
                }
                @if instances.is_empty() {
                    p { "No CHT instance allows signing in with a CHT account." }
                } @else {
                    p.muted { "Use the username and password you use on CHT. You get the access the portal gave you, whatever your CHT roles." }
                    form method="post" action="/login/cht" hx-boost="false" autocomplete="off" {
                        (hidden_csrf(&csrf))
                        input type="hidden" name="next" value=(shown.next);
                        div.field {
                            label for="instance" { "CHT instance" }
                            select #instance name="instance" required {
                                @for option in instances {
                                    option value=(option.instance_id) selected[option.instance_id.to_string() == shown.instance] {
                                        (option.instance_name) " (" (option.tenant_name) ")"
                                    }
                                }
                            }
                        }
                        (text_field(&TextField { name: "username", label: "CHT username", kind: "text", value: shown.username, hint: None, required: true, autocomplete: "username" }, &FieldErrors::default()))
                        (text_field(&TextField { name: "password", label: "CHT password", kind: "password", value: "", hint: None, required: true, autocomplete: "current-password" }, &FieldErrors::default()))
                        div.actions { button type="submit" { "Sign in" } }
                    }
                }
                p { a href={ "/login?next=" (encoded_next) } { "Sign in another way" } }
            }
        },
    );
    (status, jar, body).into_response()
}

pub async fn page(
    State(state): State<AppState>,
    jar: CookieJar,
    session: axum::Extension<SessionSlot>,
    Query(query): Query<PageQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    if session.0.0.is_some() {
        return Redirect::to(&next).into_response();
    }
    let instances = offered_instances(&state).await;
    let shown = Shown {
        instance: "",
        username: "",
        next: &next,
        problem: None,
    };
    render(
        StatusCode::OK,
        jar,
        state.settings.secure,
        &instances,
        &shown,
    )
}

/// Why a sign-in was refused, for the audit trail only.
enum Refusal {
    InstanceNotAllowed,
    InvalidUsername,
    ChtRefused,
    NoPortalPerson,
    Disabled,
    NoGrant,
}

impl Refusal {
    const fn reason(&self) -> &'static str {
        match self {
            Self::InstanceNotAllowed => "instance_not_allowed",
            Self::InvalidUsername => "invalid_username",
            Self::ChtRefused => "cht_refused_password",
            Self::NoPortalPerson => "no_portal_person",
            Self::Disabled => "account_disabled",
            Self::NoGrant => "no_grant",
        }
    }
}

/// What came of checking the person, short of the session.
enum Checked {
    SignedIn {
        user: users::User,
        tenant: TenantId,
    },
    Refused(Refusal, Option<users::User>),
    /// CHT could not say (unreachable, timed out, rate limiting): the instance's name and the
    /// error.
    Unreachable(String, cht_client::ChtError),
}

async fn check(
    state: &AppState,
    instance_id: Option<InstanceId>,
    username: &str,
    password: Secret,
) -> AppResult<(Checked, Option<TenantId>)> {
    let allowed = match instance_id {
        Some(id) => cht_identities::allowed_tenant(&state.db, id)
            .await?
            .map(|tenant| (id, tenant)),
        None => None,
    };
    let Some((instance_id, tenant)) = allowed else {
        return Ok((Checked::Refused(Refusal::InstanceNotAllowed, None), None));
    };
    let Ok(username) = ChtUsername::parse(username) else {
        return Ok((
            Checked::Refused(Refusal::InvalidUsername, None),
            Some(tenant),
        ));
    };
    let instance = instances::get(&state.db, tenant, instance_id).await?;
    let client = state.cht.for_instance(&instance).await?;
    let checked = match client.check_credentials(username.as_str(), &password).await {
        Err(error) => Checked::Unreachable(instance.name, error),
        Ok(CredentialCheck::Refused) => Checked::Refused(Refusal::ChtRefused, None),
        Ok(CredentialCheck::Accepted(_)) => {
            match cht_identities::user_for(&state.db, instance_id, &username).await? {
                None => Checked::Refused(Refusal::NoPortalPerson, None),
                Some(user) if user.disabled => Checked::Refused(Refusal::Disabled, Some(user)),
                Some(user) => {
                    let now = state.clock.now();
                    let in_tenant = portal_store::access::user_tenants(&state.db, user.id, now)
                        .await?
                        .contains(&tenant);
                    if in_tenant {
                        Checked::SignedIn { user, tenant }
                    } else {
                        Checked::Refused(Refusal::NoGrant, Some(user))
                    }
                }
            }
        }
    };
    Ok((checked, Some(tenant)))
}

pub async fn sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    session: axum::Extension<SessionSlot>,
    Form(form): Form<ChtSignInForm>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let secure = state.settings.secure;
    let next = safe_next(form.next.as_deref());
    let instances = offered_instances(&state).await;
    let instance_id: Option<InstanceId> = form.instance.trim().parse().ok();
    let typed_username: String = form
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(60)
        .collect();
    // What is not a CHT username is kept nowhere (throttle key, audit): people do type their
    // password into the username field.
    let valid_username = ChtUsername::parse(&typed_username).ok();
    let recorded_username = valid_username
        .as_ref()
        .map_or("(not a CHT username)", ChtUsername::as_str);
    let shown = Shown {
        instance: form.instance.trim(),
        username: &typed_username,
        next: &next,
        problem: None,
    };
    // Counted per CHT username on that instance (never clashes with an email key) and per address.
    let mut keys = vec![ThrottleKey::Account(format!(
        "cht:{}:{recorded_username}",
        form.instance.trim().chars().take(40).collect::<String>()
    ))];
    if let Some(address) = &meta.client_address {
        keys.push(ThrottleKey::Address(address.clone()));
    }
    let mut labelled = audit_context(&state, &meta, None);
    labelled.actor_label = format!("CHT user {recorded_username}");
    let refuse = |jar: CookieJar, lockout: &Lockout| {
        let message = lockout_message(lockout, now);
        let shown = Shown {
            problem: Some(&message),
            ..shown
        };
        render(
            StatusCode::TOO_MANY_REQUESTS,
            jar,
            secure,
            &instances,
            &shown,
        )
    };
    let attempts = match throttle::admit(&state.db, &keys, &state.settings.throttle, now).await? {
        Ok(attempts) => attempts,
        Err(lockout) => {
            tracing::info!(until = %lockout.until, "CHT-account sign-in refused: throttled");
            return Ok(refuse(jar, &lockout));
        }
    };

    let password = Secret::new(form.password);
    let (checked, tenant) = check(&state, instance_id, &typed_username, password).await?;
    let details = |reason: Option<&str>| {
        let mut details = json!({
            "method": "cht_account",
            "instance_id": instance_id.map(|i| i.to_string()),
            "cht_username": valid_username.as_ref().map(ChtUsername::as_str),
        });
        if let (Some(reason), Some(map)) = (reason, details.as_object_mut()) {
            map.insert("reason".to_owned(), json!(reason));
        }
        details
    };
    let with_tenant = |record: AuditRecord| match tenant {
        Some(tenant) => record.tenant(tenant),
        None => record,
    };
    match checked {
        Checked::SignedIn { user, tenant } => {
            throttle::reset(&state.db, &keys[0]).await?;
            for key in &keys[1..] {
                throttle::refund(&state.db, key, &state.settings.throttle).await?;
            }
            let Some(instance_id) = instance_id else {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "CHT sign-in succeeded without an instance"
                )));
            };
            let jar = begin_session(
                &state,
                jar,
                &meta,
                &session,
                &user,
                sessions::SignInMethod::ChtAccount { instance_id },
                AuditRecord::new(AuditAction::LoginSucceeded)
                    .tenant(tenant)
                    .details(details(None)),
            )
            .await?
            .remove(removal_cookie(pre_session_cookie_name(secure), secure));
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Checked::Unreachable(instance_name, error) => {
            // CHT checked nothing: the attempt does not count against the person.
            for key in &keys {
                throttle::refund(&state.db, key, &state.settings.throttle).await?;
            }
            tracing::warn!(%error, instance = %instance_name, "CHT-account sign-in: CHT could not be reached");
            audit::record(
                &state.db,
                &labelled,
                with_tenant(AuditRecord::new(AuditAction::LoginFailed)).details(details(Some(
                    match error {
                        cht_client::ChtError::RateLimited { .. } => "cht_rate_limited",
                        cht_client::ChtError::Timeout { .. } => "cht_timeout",
                        _ => "cht_unreachable",
                    },
                ))),
            )
            .await?;
            let message = match error {
                cht_client::ChtError::RateLimited { .. } => format!(
                    "{instance_name} is refusing sign-in checks for the moment (too many attempts on CHT). Try again in a few minutes, or sign in another way."
                ),
                _ => format!(
                    "Could not reach {instance_name} to check your CHT password. Try again in a few minutes, or sign in another way."
                ),
            };
            let shown = Shown {
                problem: Some(&message),
                ..shown
            };
            Ok(render(
                StatusCode::BAD_GATEWAY,
                jar,
                secure,
                &instances,
                &shown,
            ))
        }
        Checked::Refused(refusal, user) => {
            let mut record = with_tenant(AuditRecord::new(AuditAction::LoginFailed))
                .details(details(Some(refusal.reason())));
            if let Some(user) = &user {
                record = record.target(TargetKind::User, user.id);
            }
            audit::record(&state.db, &labelled, record).await?;
            let (status, message) = match lock_after_failure(&state, &labelled, &attempts).await? {
                Some(lockout) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    lockout_message(&lockout, now),
                ),
                None => (StatusCode::UNAUTHORIZED, REFUSED.to_owned()),
            };
            let shown = Shown {
                problem: Some(&message),
                ..shown
            };
            Ok(render(status, jar, secure, &instances, &shown))
        }
    }
}

/// The attempt was counted before the check; a failure on the last try starts a lock (audited).
async fn lock_after_failure(
    state: &AppState,
    labelled: &AuditContext,
    attempts: &[Attempt],
) -> AppResult<Option<Lockout>> {
    let lock = attempts
        .iter()
        .find(|a| a.is_last())
        .and_then(Attempt::lockout);
    if let Some(lockout) = &lock {
        audit::record(
            &state.db,
            labelled,
            AuditRecord::new(AuditAction::LoginThrottled).details(json!({
                "method": "cht_account",
                "locked_until": lockout.until,
                "by": match lockout.key { ThrottleKey::Account(_) => "account", ThrottleKey::Address(_) => "address" },
            })),
        )
        .await?;
    }
    Ok(lock)
}

// ---- The tenant's setting: a section of the sign-in settings page ----

/// The section of the sign-in settings page: which of the tenant's instances allow it.
pub async fn settings_section(state: &AppState, csrf: &str, tenant: TenantId) -> AppResult<Markup> {
    let all = instances::list_for_tenant(&state.db, tenant).await?;
    let allowed = cht_identities::allowed_in_tenant(&state.db, tenant).await?;
    Ok(html! {
        h2 { "Sign-in with a CHT account" }
        form.card method="post" action={ "/tenants/" (tenant) "/sign-in/cht-accounts" } {
            (hidden_csrf(csrf))
            p { "People can sign in with their username and password on one of these CHT instances, checked by the instance itself. Only people given access here by their CHT username on that instance get in, with the access they were given here, whatever their CHT roles. The CHT password is never stored." }
            @if all.is_empty() {
                p.muted { "This tenant has no CHT instance yet." }
            }
            @for instance in &all {
                label { input type="checkbox" name="instance" value=(instance.id) checked[allowed.contains(&instance.id)]; " " (instance.name) }
            }
            div.actions { button type="submit" { "Save CHT-account sign-in" } }
        }
    })
}

pub async fn save_settings(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    super::sign_in::require_whole_tenant(&state, &authorized).await?;
    let mut wanted = BTreeSet::new();
    for (name, value) in &pairs {
        if name == "instance" {
            let id: InstanceId = value
                .parse()
                .map_err(|_| AppError::BadRequest("instance is not an instance id".to_owned()))?;
            wanted.insert(id);
        }
    }
    match cht_identities::set_allowed(
        &state.db,
        &current.audit(&state),
        authorized.tenant.id,
        &wanted,
    )
    .await
    {
        Ok(()) => {}
        Err(portal_store::StoreError::Refused(message)) => {
            return Err(AppError::BadRequest(message));
        }
        Err(other) => return Err(other.into()),
    }
    Ok(Redirect::to(&format!(
        "/tenants/{}/sign-in?notice={}",
        authorized.tenant.id,
        Notice::SignInSaved.code()
    ))
    .into_response())
}
