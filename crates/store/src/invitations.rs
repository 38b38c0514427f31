//! Sign-in links: single-use, expiring links where an invited person sets their first password
//! (`invitation`) or a person sets a new one (`password_reset`).
//!
//! The link carries a random [`Token`]; only its SHA-256 is stored. Issuing a link for a person
//! and purpose deletes their older unused ones, so only the newest works. Using a link is one
//! `UPDATE … WHERE used_at IS NULL AND expires_at > now`: of two uses, even at the same moment,
//! exactly one changes the row, and only that one sets the password (in the same transaction).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use portal_crypto::Token;
use portal_domain::{AuditAction, TargetKind, TenantId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::json;

use crate::entity::{portal_user, session, sign_in_link};
use crate::users::User;
use crate::{AuditContext, AuditRecord, Result, audit};

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Set the first password of an account given access by someone else.
    Invitation,
    /// Set a new password in place of a forgotten one.
    PasswordReset,
}

impl LinkPurpose {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::PasswordReset => "password_reset",
        }
    }

    fn parse(raw: &str) -> Self {
        if raw == "invitation" {
            Self::Invitation
        } else {
            Self::PasswordReset
        }
    }
}

/// A link just issued: the token to put in the URL (shown or sent once, never stored).
#[derive(Debug)]
pub struct IssuedLink {
    pub id: uuid::Uuid,
    pub token: Token,
    pub expires_at: DateTime<Utc>,
}

/// A stored link, as looked up by its token (to show the set-password form).
#[derive(Debug, Clone)]
pub struct Link {
    pub id: uuid::Uuid,
    pub purpose: LinkPurpose,
    pub user: User,
    pub tenant_id: Option<TenantId>,
    pub issued_by_label: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// Why a link cannot be used; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No such link (never issued, replaced by a newer one, purged, or mistyped).
    Unknown,
    Used(DateTime<Utc>),
    Expired(DateTime<Utc>),
}

/// Issues a link for `user`, replacing their unused links of the same purpose, and records
/// `auth.link_issued` (purpose, expiry, tenant; never the token) in the same transaction.
pub async fn issue(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    user: UserId,
    purpose: LinkPurpose,
    tenant: Option<TenantId>,
    lifetime: chrono::Duration,
) -> Result<IssuedLink> {
    let token = Token::generate();
    let id = uuid::Uuid::now_v7();
    let expires_at = ctx.now + lifetime;
    let txn = db.begin().await?;
    let replaced = sign_in_link::Entity::delete_many()
        .filter(sign_in_link::Column::UserId.eq(user.as_uuid()))
        .filter(sign_in_link::Column::Purpose.eq(purpose.as_str()))
        .filter(sign_in_link::Column::UsedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    sign_in_link::ActiveModel {
        id: Set(id),
        user_id: Set(user.as_uuid()),
        purpose: Set(purpose.as_str().to_owned()),
        token_digest: Set(token.digest_hex()),
        tenant_id: Set(tenant.map(|t| t.as_uuid())),
        issued_by: Set(ctx.actor_user_id.map(|u| u.as_uuid())),
        issued_by_label: Set(ctx.actor_label.chars().take(320).collect()),
        created_at: Set(ctx.now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut record = AuditRecord::new(AuditAction::SignInLinkIssued)
        .target(TargetKind::User, user)
        .details(json!({
            "link_id": id,
            "purpose": purpose.as_str(),
            "expires_at": expires_at,
            "replaced_links": replaced,
        }));
    if let Some(tenant) = tenant {
        record = record.tenant(tenant);
    }
    audit::record(&txn, ctx, record).await?;
    txn.commit().await?;
    Ok(IssuedLink {
        id,
        token,
        expires_at,
    })
}

/// The link `token` names, used or not, expired or not (`None`: unknown).
pub async fn find(db: &DatabaseConnection, token: &Token) -> Result<Option<Link>> {
    let Some(row) = sign_in_link::Entity::find()
        .filter(sign_in_link::Column::TokenDigest.eq(token.digest_hex()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(user) = portal_user::Entity::find_by_id(row.user_id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(Link {
        id: row.id,
        purpose: LinkPurpose::parse(&row.purpose),
        user: user.into(),
        tenant_id: row.tenant_id.map(TenantId::from_uuid),
        issued_by_label: row.issued_by_label,
        expires_at: row.expires_at,
        used_at: row.used_at,
    }))
}

/// Whether `link` can still be used at `now`.
pub fn check(link: &Link, now: DateTime<Utc>) -> std::result::Result<(), LinkRefusal> {
    if let Some(at) = link.used_at {
        return Err(LinkRefusal::Used(at));
    }
    if link.expires_at <= now {
        return Err(LinkRefusal::Expired(link.expires_at));
    }
    Ok(())
}

/// Uses the link `token` to set `password_hash` as the person's password: marks the link used,
/// sets the password, ends every session of the person and records `auth.link_used` and
/// `auth.password_changed`, all in one transaction, or changes nothing and says why.
pub async fn use_link(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    token: &Token,
    password_hash: String,
) -> Result<std::result::Result<Link, LinkRefusal>> {
    let Some(link) = find(db, token).await? else {
        return Ok(Err(LinkRefusal::Unknown));
    };
    if let Err(refusal) = check(&link, ctx.now) {
        return Ok(Err(refusal));
    }
    let txn = db.begin().await?;
    // The check that counts: only one use can move `used_at` from NULL.
    let claimed = sign_in_link::Entity::update_many()
        .col_expr(sign_in_link::Column::UsedAt, Expr::value(ctx.now))
        .filter(sign_in_link::Column::Id.eq(link.id))
        .filter(sign_in_link::Column::UsedAt.is_null())
        .filter(sign_in_link::Column::ExpiresAt.gt(ctx.now))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        txn.rollback().await?;
        return Ok(Err(LinkRefusal::Used(ctx.now)));
    }
    let user_id = link.user.id;
    portal_user::ActiveModel {
        id: Set(user_id.as_uuid()),
        password_hash: Set(Some(password_hash)),
        password_must_change: Set(false),
        updated_at: Set(ctx.now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id.as_uuid()))
        .exec(&txn)
        .await?;
    let with_tenant = |record: AuditRecord| match link.tenant_id {
        Some(tenant) => record.tenant(tenant),
        None => record,
    };
    audit::record(
        &txn,
        ctx,
        with_tenant(
            AuditRecord::new(AuditAction::SignInLinkUsed)
                .target(TargetKind::User, user_id)
                .details(json!({ "link_id": link.id, "purpose": link.purpose.as_str() })),
        ),
    )
    .await?;
    audit::record(
        &txn,
        ctx,
        with_tenant(
            AuditRecord::new(AuditAction::PasswordChanged)
                .target(TargetKind::User, user_id)
                .details(json!({ "via": link.purpose.as_str() })),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(link))
}

/// Of `users`, those who have a portal password.
pub async fn with_password(db: &impl ConnectionTrait, users: &[UserId]) -> Result<HashSet<UserId>> {
    if users.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(portal_user::Entity::find()
        .filter(portal_user::Column::Id.is_in(users.iter().map(|u| u.as_uuid())))
        .filter(portal_user::Column::PasswordHash.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .map(|m| UserId::from_uuid(m.id))
        .collect())
}

/// Of `users`, those with an unused, unexpired invitation link, and until when it works.
pub async fn pending_invitations(
    db: &impl ConnectionTrait,
    users: &[UserId],
    now: DateTime<Utc>,
) -> Result<HashMap<UserId, DateTime<Utc>>> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(sign_in_link::Entity::find()
        .filter(sign_in_link::Column::UserId.is_in(users.iter().map(|u| u.as_uuid())))
        .filter(sign_in_link::Column::Purpose.eq(LinkPurpose::Invitation.as_str()))
        .filter(sign_in_link::Column::UsedAt.is_null())
        .filter(sign_in_link::Column::ExpiresAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (UserId::from_uuid(m.user_id), m.expires_at))
        .collect())
}

/// Deletes links that expired before `before` (used ones too): they can do nothing any more,
/// and the audit trail keeps their story.
pub async fn purge_expired(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64> {
    Ok(sign_in_link::Entity::delete_many()
        .filter(sign_in_link::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(used_at: Option<DateTime<Utc>>, expires_at: DateTime<Utc>) -> Link {
        Link {
            id: uuid::Uuid::now_v7(),
            purpose: LinkPurpose::Invitation,
            user: User {
                id: UserId::new(),
                email: "a@health.go.ke".to_owned(),
                display_name: "A".to_owned(),
                password_must_change: false,
                is_platform_admin: false,
                disabled: false,
                last_login_at: None,
            },
            tenant_id: None,
            issued_by_label: "cli".to_owned(),
            expires_at,
            used_at,
        }
    }

    #[test]
    fn a_link_works_once_and_until_it_expires() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(check(&link(None, now + hour), now), Ok(()));
        assert_eq!(
            check(&link(None, now), now),
            Err(LinkRefusal::Expired(now)),
            "expired at the instant it ends"
        );
        // Used says more than expired: it is what the person needs to hear.
        assert_eq!(
            check(&link(Some(now - hour), now - hour), now),
            Err(LinkRefusal::Used(now - hour))
        );
        for purpose in [LinkPurpose::Invitation, LinkPurpose::PasswordReset] {
            assert_eq!(LinkPurpose::parse(purpose.as_str()), purpose);
        }
    }
}
