//! Portal user accounts (people who sign in to the portal, not CHT users).

use chrono::{DateTime, Utc};
use portal_domain::{AuditAction, Email, TargetKind, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;

use crate::entity::{portal_user, session};
use crate::{AuditContext, AuditRecord, Result, StoreError, audit, conflict_on_unique};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_must_change: bool,
    pub is_platform_admin: bool,
    pub disabled: bool,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<portal_user::Model> for User {
    fn from(m: portal_user::Model) -> Self {
        Self {
            id: UserId::from_uuid(m.id),
            email: m.email,
            display_name: m.display_name,
            password_must_change: m.password_must_change,
            is_platform_admin: m.is_platform_admin,
            disabled: m.disabled,
            last_login_at: m.last_login_at,
        }
    }
}

/// A user with their password hash, for sign-in only. `Debug` leaves the hash out.
#[derive(Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub password_hash: String,
    pub password_must_change: bool,
    pub is_platform_admin: bool,
}

pub async fn create(db: &DatabaseConnection, ctx: &AuditContext, new: NewUser) -> Result<User> {
    let id = UserId::new();
    let txn = db.begin().await?;
    let model = portal_user::ActiveModel {
        id: Set(id.as_uuid()),
        email: Set(new.email.as_str().to_owned()),
        display_name: Set(new.display_name.clone()),
        password_hash: Set(Some(new.password_hash)),
        password_must_change: Set(new.password_must_change),
        is_platform_admin: Set(new.is_platform_admin),
        disabled: Set(false),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
        last_login_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            format!("A portal user with the email {} already exists.", new.email)
        })
    })?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::UserCreated)
            .target(TargetKind::User, id)
            .details(json!({
                "email": new.email.as_str(),
                "display_name": new.display_name,
                "platform_admin": new.is_platform_admin,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

pub async fn credentials_by_email(
    db: &DatabaseConnection,
    email: &Email,
) -> Result<Option<Credentials>> {
    Ok(portal_user::Entity::find()
        .filter(portal_user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .map(|m| Credentials {
            password_hash: m.password_hash.clone(),
            user: m.into(),
        }))
}

pub async fn credentials(db: &DatabaseConnection, id: UserId) -> Result<Credentials> {
    let model = portal_user::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("user"))?;
    Ok(Credentials {
        password_hash: model.password_hash.clone(),
        user: model.into(),
    })
}

pub async fn record_login(db: &DatabaseConnection, id: UserId, now: DateTime<Utc>) -> Result<()> {
    portal_user::ActiveModel {
        id: Set(id.as_uuid()),
        last_login_at: Set(Some(now)),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Sets a new password and ends every session of the user, in one transaction (the caller
/// issues a fresh session to the person who changed it).
pub async fn change_password(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    id: UserId,
    password_hash: String,
) -> Result<()> {
    let txn = db.begin().await?;
    portal_user::ActiveModel {
        id: Set(id.as_uuid()),
        password_hash: Set(Some(password_hash)),
        password_must_change: Set(false),
        updated_at: Set(ctx.now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(id.as_uuid()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::PasswordChanged).target(TargetKind::User, id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
