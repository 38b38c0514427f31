//! How a person gets in, and sign-in links from the access page.
//!
//! [`way_in`] decides, from what is known about a person and the tenant, how they will sign in:
//! with their portal password, through the tenant's identity provider, with a link still waiting
//! to be used, or not at all. The access page says so beside each person, and giving access to
//! someone with no way in issues an invitation link.
//!
//! A link lets whoever holds it set the person's password, so it is shown to the person who
//! issued it only when that person could take the same access away anyway ([`may_manage`], the
//! rules of revoking): every grant the person holds, in any tenant, is one the issuer may revoke,
//! and the person is no platform administrator. With SMTP configured the link is e-mailed to the
//! person and not shown (shown only if e-mail fails and the issuer may manage them).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use portal_domain::{AuditAction, TargetKind, TenantId, UserId};
use portal_store::invitations::{self, IssuedLink, LinkPurpose};
use portal_store::users::User;
use portal_store::{AuditRecord, access, audit};
use serde_json::json;

use super::{Authorized, visible_grants};
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views;

/// How a person will get into the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayIn {
    /// They have a portal password.
    Password,
    /// The tenant's identity provider (its display name).
    Provider(String),
    /// Their CHT account on this instance of the tenant (its name), where the tenant allows
    /// sign-in with a CHT account (`pages::cht_sign_in`).
    ChtAccount(String),
    /// An invitation link, unused, that works until then.
    PendingLink(DateTime<Utc>),
    /// No way in: they cannot sign in until someone gives them a link.
    Nothing,
}

/// What [`way_in`] decides from. Part C (sign-in with a CHT account) adds its fact here.
#[derive(Debug, Clone, Default)]
pub struct WayInFacts {
    pub has_password: bool,
    /// The tenant's enabled identity provider, by its display name.
    pub provider: Option<String>,
    pub pending_invitation: Option<DateTime<Utc>>,
    /// The instance (its name) of a CHT username the person is bound to, where the tenant
    /// allows sign-in with a CHT account.
    pub cht_account: Option<String>,
}

/// The one place that decides how a person gets in.
#[must_use]
pub fn way_in(facts: &WayInFacts) -> WayIn {
    if facts.has_password {
        WayIn::Password
    } else if let Some(instance) = &facts.cht_account {
        // Before the provider: a person given access by CHT username has no address the
        // provider could vouch for.
        WayIn::ChtAccount(instance.clone())
    } else if let Some(provider) = &facts.provider {
        WayIn::Provider(provider.clone())
    } else if let Some(until) = facts.pending_invitation {
        WayIn::PendingLink(until)
    } else {
        WayIn::Nothing
    }
}

impl WayIn {
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Password => "Portal password".to_owned(),
            Self::Provider(name) => format!("Signs in with {name}"),
            Self::ChtAccount(instance) => format!("Signs in with their CHT account on {instance}"),
            Self::PendingLink(until) => format!(
                "Invitation link not used yet (works until {})",
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            Self::Nothing => "No way in yet: give them a new link".to_owned(),
        }
    }
}

/// The tenant's enabled identity provider, by display name.
async fn enabled_provider(state: &AppState, tenant: TenantId) -> AppResult<Option<String>> {
    Ok(portal_store::oidc::provider_for_tenant(&state.db, tenant)
        .await?
        .filter(|p| p.enabled)
        .map(|p| p.display_name))
}

/// How each of `people` gets into `tenant` now.
pub(crate) async fn ways_in(
    state: &AppState,
    tenant: TenantId,
    people: &[UserId],
) -> AppResult<HashMap<UserId, WayIn>> {
    let now = state.clock.now();
    let provider = enabled_provider(state, tenant).await?;
    let with_password = invitations::with_password(&state.db, people).await?;
    let pending = invitations::pending_invitations(&state.db, people, now).await?;
    let cht_accounts = super::cht_grantee::accounts(state, tenant, people).await?;
    Ok(people
        .iter()
        .map(|id| {
            let facts = WayInFacts {
                has_password: with_password.contains(id),
                provider: provider.clone(),
                pending_invitation: pending.get(id).copied(),
                cht_account: cht_accounts.get(id).cloned(),
            };
            (*id, way_in(&facts))
        })
        .collect())
}

/// Whether the signed-in person may issue links for `person` (the rules of revoking): not
/// themselves, not a platform administrator, and every grant `person` holds in force, in any
/// tenant, is in this one and one they may revoke. `Err` says why not.
pub(super) async fn may_manage(
    state: &AppState,
    authorized: &Authorized,
    person: &User,
) -> AppResult<Result<(), &'static str>> {
    if person.id == authorized.principal.user_id {
        return Ok(Err(
            "You cannot issue a sign-in link for yourself. Use \"Forgot your password?\" on the sign-in page, or ask another administrator.",
        ));
    }
    if person.is_platform_admin {
        return Ok(Err(
            "Platform administrators' passwords are managed on the server (cht-portal admin), not from a tenant's access page.",
        ));
    }
    let now = state.clock.now();
    let tenants = access::user_tenants(&state.db, person.id, now).await?;
    if tenants.iter().any(|t| *t != authorized.tenant.id) {
        return Ok(Err(
            "This person also has access in another tenant: only an administrator who manages all of their access can issue them a link.",
        ));
    }
    let roles = access::roles(&state.db, authorized.tenant.id).await?;
    let visible = visible_grants(state, authorized, &roles).await?;
    let held: Vec<_> = access::tenant_grants(&state.db, authorized.tenant.id, false)
        .await?
        .into_iter()
        .filter(|l| l.user.id == person.id && l.grant.is_active(now))
        .collect();
    let all_revocable = !held.is_empty()
        && held.iter().all(|l| {
            visible
                .iter()
                .any(|(v, revocable)| *revocable && v.grant.id == l.grant.id)
        });
    if !all_revocable {
        return Ok(Err(
            "This person holds access outside the area where you manage access: ask an administrator who manages all of their access.",
        ));
    }
    Ok(Ok(()))
}

/// Where links point: `public_url`, which production always has; else (development) the
/// request's `Host`.
pub(crate) fn link_url(state: &AppState, headers: &HeaderMap, path: &str) -> String {
    let origin = state.settings.public_origin.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if state.settings.secure {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    });
    format!("{origin}{path}")
}

/// The path of a link: `/invite/…` to set a first password, `/reset-password/…` for a new one.
#[must_use]
pub fn link_path(purpose: LinkPurpose, link: &IssuedLink) -> String {
    match purpose {
        LinkPurpose::Invitation => format!("/invite/{}", link.token.expose()),
        LinkPurpose::PasswordReset => format!("/reset-password/{}", link.token.expose()),
    }
}

/// How a link reached its person.
#[derive(Debug)]
pub enum Delivery {
    Emailed,
    /// Shown to the issuer (no SMTP, or e-mail failed), with the full address.
    Shown {
        url: String,
        email_failed: bool,
    },
    /// Neither: no SMTP (or it failed) and the issuer may not see the link.
    NotDelivered {
        email_failed: bool,
    },
}

/// The e-mail that carries a link.
pub(crate) fn link_message(
    to: &User,
    purpose: LinkPurpose,
    url: &str,
    expires_at: DateTime<Utc>,
    issued_by: &str,
) -> portal_mail::Outgoing {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let (subject, why) = match purpose {
        LinkPurpose::Invitation => (
            "Your access to CHT Portal",
            format!("{issued_by} gave you access to CHT Portal. To sign in, choose your password here:"),
        ),
        LinkPurpose::PasswordReset => (
            "Set a new CHT Portal password",
            "Someone (hopefully you) asked to set a new password for your CHT Portal account. To choose one, open:".to_owned(),
        ),
    };
    portal_mail::Outgoing {
        to: to.email.clone(),
        subject: subject.to_owned(),
        body: format!(
            "Hello {},\r\n\r\n{why}\r\n\r\n{url}\r\n\r\nThe link works once, until {until}. If you did not expect this message, you can ignore it.\r\n",
            to.display_name
        ),
    }
}

/// A link just issued, on its way to its person.
pub(crate) struct LinkToDeliver<'a> {
    /// The tenant whose access page issued it (none for a forgotten password).
    pub tenant: Option<TenantId>,
    pub person: &'a User,
    pub purpose: LinkPurpose,
    pub link: &'a IssuedLink,
    pub url: String,
    /// Whether the issuer may see the link (see [`may_manage`]).
    pub may_show: bool,
}

/// Sends the link by e-mail when SMTP is configured; otherwise (or when that fails) shows it to
/// the issuer if `may_show`. Records `auth.link_delivered` either way.
pub(crate) async fn deliver(
    state: &AppState,
    ctx: &portal_store::AuditContext,
    outgoing: LinkToDeliver<'_>,
) -> AppResult<Delivery> {
    let LinkToDeliver {
        tenant,
        person,
        purpose,
        link,
        url,
        may_show,
    } = outgoing;
    let mut email_failed = false;
    if let Some(mailer) = &state.settings.links.mailer {
        let message = link_message(person, purpose, &url, link.expires_at, &ctx.actor_label);
        match mailer.send(&message).await {
            Ok(()) => email_failed = false,
            Err(error) => {
                tracing::warn!(%error, user = %person.id, "could not e-mail a sign-in link");
                email_failed = true;
            }
        }
        if !email_failed {
            record_delivery(state, ctx, tenant, person, link, "email", true).await?;
            return Ok(Delivery::Emailed);
        }
    }
    if may_show {
        record_delivery(state, ctx, tenant, person, link, "shown", !email_failed).await?;
        Ok(Delivery::Shown { url, email_failed })
    } else {
        record_delivery(state, ctx, tenant, person, link, "none", false).await?;
        Ok(Delivery::NotDelivered { email_failed })
    }
}

async fn record_delivery(
    state: &AppState,
    ctx: &portal_store::AuditContext,
    tenant: Option<TenantId>,
    person: &User,
    link: &IssuedLink,
    by: &str,
    ok: bool,
) -> AppResult<()> {
    let mut record = AuditRecord::new(AuditAction::SignInLinkDelivered)
        .target(TargetKind::User, person.id)
        .details(json!({ "link_id": link.id, "by": by, "email_ok": ok }));
    if let Some(tenant) = tenant {
        record = record.tenant(tenant);
    }
    audit::record(&state.db, ctx, record).await?;
    Ok(())
}

/// What the issuer sees about a link just issued.
pub(crate) fn delivery_markup(
    person: &User,
    delivery: &Delivery,
    expires_at: DateTime<Utc>,
) -> Markup {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    html! {
        @match delivery {
            Delivery::Emailed => {
                p { "We e-mailed " strong { (person.email) } " a link to choose their password. It works once, until " (until) "." }
            }
            Delivery::Shown { url, email_failed } => {
                @if *email_failed {
                    div.notice.warn role="alert" { "The e-mail could not be sent. Give them this link yourself." }
                }
                p { "Send " strong { (person.display_name) } " (" (person.email) ") this link, in a way only they can read. They open it to choose their password. It works once, until " (until) ", and is shown only now." }
                div.field {
                    label for="sign_in_link" { "Sign-in link" }
                    input #sign_in_link type="text" readonly value=(url) autocomplete="off";
                    div.hint { "Select the link and copy it. If it expires, give them a new one from the access page." }
                }
            }
            Delivery::NotDelivered { email_failed } => {
                div.notice.warn role="alert" {
                    @if *email_failed { "The e-mail with their link could not be sent, and " } @else { "The portal does not send e-mail, and " }
                    "you cannot see their link because they hold access you do not manage. Ask an administrator who manages all of their access to give them a new link."
                }
            }
        }
    }
}

/// Issues a link for `person` (invitation without a password, reset with one) and delivers it.
pub(crate) async fn issue_for(
    state: &AppState,
    current: &CurrentUser,
    headers: &HeaderMap,
    tenant: TenantId,
    person: &User,
    may_show: bool,
) -> AppResult<(Delivery, DateTime<Utc>)> {
    let has_password = !invitations::with_password(&state.db, &[person.id])
        .await?
        .is_empty();
    let (purpose, lifetime) = if has_password {
        (
            LinkPurpose::PasswordReset,
            state.settings.links.reset_lifetime,
        )
    } else {
        (
            LinkPurpose::Invitation,
            state.settings.links.invitation_lifetime,
        )
    };
    let ctx = current.audit(state);
    let link =
        invitations::issue(&state.db, &ctx, person.id, purpose, Some(tenant), lifetime).await?;
    let url = link_url(state, headers, &link_path(purpose, &link));
    let delivery = deliver(
        state,
        &ctx,
        LinkToDeliver {
            tenant: Some(tenant),
            person,
            purpose,
            link: &link,
            url,
            may_show,
        },
    )
    .await?;
    Ok((delivery, link.expires_at))
}

/// "New sign-in link" on the access page, for a person the signed-in person may manage.
pub async fn new_link(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, user_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let id: UserId = user_id.parse().map_err(|_| AppError::NotFound("person"))?;
    let person = portal_store::users::credentials(&state.db, id)
        .await
        .map_err(|e| match e {
            portal_store::StoreError::NotFound(_) => AppError::NotFound("person"),
            other => other.into(),
        })?
        .user;
    if let Err(why) = may_manage(&state, &authorized, &person).await? {
        let mut response = views::error_page(axum::http::StatusCode::FORBIDDEN, "Not allowed", why);
        response.extensions_mut().insert(crate::denials::Refused);
        return Ok(response);
    }
    let tenant = &authorized.tenant;
    let (delivery, expires_at) =
        issue_for(&state, &current, &headers, tenant.id, &person, true).await?;
    Ok(views::page(
        Some(&current),
        "Sign-in link",
        None,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / " a href={ "/tenants/" (tenant.id) "/access" } { "Access" } }
            div.card {
                h1 { "A new sign-in link for " (person.display_name) }
                p.muted { "Any earlier link for them no longer works." }
                (delivery_markup(&person, &delivery, expires_at))
                p { a href={ "/tenants/" (tenant.id) "/access" } { "Back to access" } }
            }
        },
    )
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_in_follows_what_the_person_has() {
        let until = Utc::now();
        let with = |has_password, provider: Option<&str>, pending| {
            way_in(&WayInFacts {
                has_password,
                provider: provider.map(str::to_owned),
                pending_invitation: pending,
                ..WayInFacts::default()
            })
        };
        assert_eq!(with(true, Some("eCitizen"), None), WayIn::Password);
        assert_eq!(
            with(false, Some("eCitizen"), Some(until)),
            WayIn::Provider("eCitizen".to_owned())
        );
        assert_eq!(with(false, None, Some(until)), WayIn::PendingLink(until));
        assert_eq!(with(false, None, None), WayIn::Nothing);
        let cht = WayInFacts {
            provider: Some("eCitizen".to_owned()),
            cht_account: Some("Nairobi".to_owned()),
            ..WayInFacts::default()
        };
        assert_eq!(way_in(&cht), WayIn::ChtAccount("Nairobi".to_owned()));
    }
}
