//! Server-side sessions. The cookie holds a random token; the table holds its SHA-256, the user,
//! a CSRF token, and the times that bound the session's life, so any portal process can check
//! and end any session.

use chrono::{DateTime, Duration, Utc};
use portal_crypto::Token;
use portal_domain::{InstanceId, TenantId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set,
};

use crate::Result;
use crate::entity::{oidc_provider, portal_user, session};
use crate::users::User;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

/// A session just created: the cookie value and the CSRF token to embed in pages.
#[derive(Debug)]
pub struct NewSession {
    pub token: Token,
    pub csrf_token: String,
}

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id_digest: String,
    pub csrf_token: String,
    pub user: User,
    pub last_seen_at: DateTime<Utc>,
    /// For a session begun at a tenant's identity provider: that provider and its tenant. Such
    /// a session acts in that tenant only.
    pub via_provider: Option<(uuid::Uuid, TenantId)>,
    /// For a session begun with a CHT account: that instance and its tenant. Such a session,
    /// too, acts in that tenant only.
    pub via_cht: Option<(InstanceId, TenantId)>,
}

/// How the person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    Oidc { provider_id: uuid::Uuid },
    ChtAccount { instance_id: InstanceId },
}

/// Touching `last_seen_at` on every request would turn every page view into a write; a minute's
/// resolution is plenty for a 30-minute idle timeout.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

pub async fn create(
    db: &DatabaseConnection,
    user_id: UserId,
    policy: SessionPolicy,
    now: DateTime<Utc>,
    client_address: Option<String>,
    user_agent: Option<String>,
    method: SignInMethod,
) -> Result<NewSession> {
    let token = Token::generate();
    let csrf_token = Token::generate().expose().to_owned();
    session::ActiveModel {
        id_digest: Set(token.digest_hex()),
        user_id: Set(user_id.as_uuid()),
        csrf_token: Set(csrf_token.clone()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + policy.absolute_timeout),
        client_address: Set(client_address),
        user_agent: Set(user_agent.map(|ua| ua.chars().take(512).collect())),
        oidc_provider_id: Set(match method {
            SignInMethod::Oidc { provider_id } => Some(provider_id),
            SignInMethod::Password | SignInMethod::ChtAccount { .. } => None,
        }),
        cht_instance_id: Set(match method {
            SignInMethod::ChtAccount { instance_id } => Some(instance_id.as_uuid()),
            SignInMethod::Password | SignInMethod::Oidc { .. } => None,
        }),
    }
    .insert(db)
    .await?;
    Ok(NewSession { token, csrf_token })
}

/// Finds the live session for a cookie value. Expired sessions (idle or absolute), and sessions
/// of disabled users, are deleted and not returned.
pub async fn find_active(
    db: &DatabaseConnection,
    token: &Token,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Option<ActiveSession>> {
    let digest = token.digest_hex();
    let Some((record, Some(user))) = session::Entity::find_by_id(digest.clone())
        .find_also_related(portal_user::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let expired = now >= record.expires_at || now - record.last_seen_at >= policy.idle_timeout;
    if expired || user.disabled {
        delete(db, &digest).await?;
        return Ok(None);
    }
    if (now - record.last_seen_at).num_seconds() >= TOUCH_INTERVAL_SECONDS {
        // The row may have been deleted meanwhile (sign-out in another tab, another process):
        // then the request is simply not signed in.
        let touched = session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::IdDigest.eq(digest.clone()))
            .exec(db)
            .await?;
        if touched.rows_affected == 0 {
            return Ok(None);
        }
    }
    let via_provider = match record.oidc_provider_id {
        None => None,
        Some(provider_id) => {
            let Some(provider) = oidc_provider::Entity::find_by_id(provider_id)
                .one(db)
                .await?
                .filter(|p| p.enabled)
            else {
                // The provider was removed or turned off: so are the sessions it vouched for.
                delete(db, &digest).await?;
                return Ok(None);
            };
            Some((provider_id, TenantId::from_uuid(provider.tenant_id)))
        }
    };
    let via_cht = match record.cht_instance_id {
        None => None,
        Some(instance_id) => {
            let instance_id = InstanceId::from_uuid(instance_id);
            let Some(tenant) = crate::cht_identities::allowed_tenant(db, instance_id).await? else {
                // CHT-account sign-in was turned off on the instance (or it was deleted): so
                // are the sessions it let in.
                delete(db, &digest).await?;
                return Ok(None);
            };
            Some((instance_id, tenant))
        }
    };
    Ok(Some(ActiveSession {
        id_digest: digest,
        csrf_token: record.csrf_token,
        last_seen_at: record.last_seen_at,
        user: user.into(),
        via_provider,
        via_cht,
    }))
}

pub async fn delete(db: &DatabaseConnection, id_digest: &str) -> Result<()> {
    session::Entity::delete_by_id(id_digest.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Removes sessions past their absolute or idle limit; returns how many.
pub async fn purge_expired(
    db: &DatabaseConnection,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> Result<u64> {
    let result = session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(session::Column::ExpiresAt.lte(now))
                .add(session::Column::LastSeenAt.lte(now - policy.idle_timeout)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
