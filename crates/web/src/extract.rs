//! Extractors that turn the request context into what handlers need, refusing early.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use portal_store::AuditContext;
use portal_store::users::User;

use crate::AppState;
use crate::context::{RequestMeta, SessionSlot};
use crate::error::AppError;

/// Paths a user who must change their password may still reach.
const ALLOWED_BEFORE_PASSWORD_CHANGE: [&str; 2] = ["/account/password", "/logout"];

/// The signed-in user. Handlers that take it are reachable only with a live session; anyone
/// else is sent to the sign-in page and brought back afterwards.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session_digest: String,
    pub csrf_token: String,
    pub meta: RequestMeta,
    /// Set when the session began at a tenant's identity provider (see `authz::principal`).
    pub via_provider: Option<(uuid::Uuid, portal_domain::TenantId)>,
    /// Set when the session began with a CHT account on that instance (`pages::cht_sign_in`).
    pub via_cht: Option<(portal_domain::InstanceId, portal_domain::TenantId)>,
}

impl CurrentUser {
    /// The one tenant a session begun at a tenant's identity provider, or with a CHT account on
    /// one of its instances, acts in (`None`: not restricted).
    #[must_use]
    pub fn restricted_tenant(&self) -> Option<portal_domain::TenantId> {
        self.via_provider
            .map(|(_, tenant)| tenant)
            .or(self.via_cht.map(|(_, tenant)| tenant))
    }

    /// The audit context for a change this user makes now.
    #[must_use]
    pub fn audit(&self, state: &AppState) -> AuditContext {
        audit_context(state, &self.meta, Some(&self.user))
    }
}

#[must_use]
pub fn audit_context(state: &AppState, meta: &RequestMeta, user: Option<&User>) -> AuditContext {
    AuditContext {
        actor_user_id: user.map(|u| u.id),
        actor_label: user.map_or_else(|| "anonymous".to_owned(), |u| u.email.clone()),
        client_address: meta.client_address.clone(),
        request_id: meta.request_id.clone(),
        now: state.clock.now(),
    }
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, AppError> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("request context middleware is missing"))
        })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let meta = RequestMeta::from_request_parts(parts, state).await?;
        let Some(SessionSlot(Some(session))) = parts.extensions.get::<SessionSlot>().cloned()
        else {
            // A correct password waiting for its code has no session at all; its browser is
            // sent back to the code page rather than to the sign-in form.
            let pending = crate::pages::second_factor::pending_cookie_name(state.settings.secure);
            if axum_extra::extract::CookieJar::from_headers(&parts.headers)
                .get(pending)
                .is_some()
            {
                return Err(AppError::SecondFactorPending);
            }
            // Only send people back to pages, never to the target of a form post.
            let next = if parts.method == http::Method::GET {
                meta.path_and_query
            } else {
                "/".to_owned()
            };
            let htmx = parts.headers.contains_key("hx-request");
            return Err(AppError::SignInRequired { next, htmx });
        };
        if session.user.password_must_change
            && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&parts.uri.path())
        {
            return Err(AppError::PasswordChangeRequired);
        }
        Ok(Self {
            user: session.user,
            session_digest: session.id_digest,
            csrf_token: session.csrf_token,
            via_provider: session.via_provider,
            via_cht: session.via_cht,
            meta,
        })
    }
}

/// A signed-in platform administrator: creates, renames and deletes tenants. The route rules
/// (`routes::table`) require the same; the extractor keeps handlers honest on their own.
#[derive(Debug, Clone)]
pub struct PlatformAdmin(pub CurrentUser);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        if !current.user.is_platform_admin {
            return Err(AppError::Forbidden("manage tenants and CHT instances"));
        }
        Ok(Self(current))
    }
}
