//! The append-only audit trail. Later issues add screens and exports on top of [`list`].

use chrono::{DateTime, Utc};
use portal_domain::{AuditAction, TargetKind, TenantId, UserId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::Result;
use crate::entity::audit_event;

/// Who did something, from where: carried from the request into every write.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor_user_id: Option<UserId>,
    /// The actor's email, or a description such as `cli` or `anonymous`.
    pub actor_label: String,
    pub client_address: Option<String>,
    pub request_id: Option<String>,
    pub now: DateTime<Utc>,
}

impl AuditContext {
    /// A change made from the command line by an operator on the server.
    #[must_use]
    pub fn command_line(now: DateTime<Utc>) -> Self {
        Self {
            actor_user_id: None,
            actor_label: "command line".to_owned(),
            client_address: None,
            request_id: None,
            now,
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub action: AuditAction,
    pub tenant_id: Option<TenantId>,
    pub target: Option<(TargetKind, String)>,
    /// What changed. Never secrets: callers pass field names, not password values.
    pub details: Value,
}

impl AuditRecord {
    #[must_use]
    pub fn new(action: AuditAction) -> Self {
        Self {
            action,
            tenant_id: None,
            target: None,
            details: Value::Object(serde_json::Map::new()),
        }
    }

    #[must_use]
    pub fn tenant(mut self, tenant_id: TenantId) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    #[must_use]
    pub fn target(mut self, kind: TargetKind, id: impl ToString) -> Self {
        self.target = Some((kind, id.to_string()));
        self
    }

    #[must_use]
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Appends one event, in the caller's transaction when `db` is one.
pub async fn record(
    db: &impl ConnectionTrait,
    ctx: &AuditContext,
    event: AuditRecord,
) -> Result<()> {
    let (target_kind, target_id) = match event.target {
        Some((kind, id)) => (Some(kind.as_str().to_owned()), Some(id)),
        None => (None, None),
    };
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(ctx.now),
        tenant_id: Set(event.tenant_id.map(Uuid::from)),
        actor_user_id: Set(ctx.actor_user_id.map(Uuid::from)),
        actor_label: Set(truncate(&ctx.actor_label, 320)),
        action: Set(event.action.as_str().to_owned()),
        target_kind: Set(target_kind),
        target_id: Set(target_id),
        client_address: Set(ctx.client_address.as_deref().map(|a| truncate(a, 64))),
        request_id: Set(ctx.request_id.as_deref().map(|r| truncate(r, 64))),
        details: Set(event.details),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The most recent events, newest first.
pub async fn list_recent(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<audit_event::Model>> {
    Ok(audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Cuts text that comes from outside (an email typed at sign-in, a proxy's request id) to the
/// column's width, so an over-long value can never make the audit write, and the action, fail.
fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
