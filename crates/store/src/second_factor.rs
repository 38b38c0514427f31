//! The second factor (TOTP) of portal passwords: enrolment, checking codes once each, recovery
//! codes, the half-finished sign-ins that wait for a code, and the tenants that require it.
//!
//! The secret is sealed with the master key bound to the user id; it never leaves this module
//! except to be shown once to its owner at enrolment. No function here logs or audits a secret
//! or a code.

use chrono::{DateTime, Duration, Utc};
use portal_crypto::totp::{self, TotpSecret};
use portal_crypto::{MasterKey, Sealed, Token};
use portal_domain::{AuditAction, TargetKind, TenantId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{
    grant, pending_sign_in, second_factor, second_factor_policy, second_factor_recovery_code,
};
use crate::{AuditContext, AuditRecord, Result, StoreError, audit};

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;
/// How long a correct password waits for its second step.
pub const PENDING_LIFETIME_MINUTES: i64 = 10;

fn context(user_id: UserId) -> String {
    format!("second-factor:{user_id}")
}

fn open_secret(key: &MasterKey, user_id: UserId, sealed: &str) -> Result<TotpSecret> {
    let base32 = key.open(&Sealed::from_stored(sealed.to_owned()), &context(user_id))?;
    TotpSecret::from_base32(&base32).ok_or(StoreError::Secret(portal_crypto::SealError::Malformed))
}

/// Where a person stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub enrolled: bool,
    pub unused_recovery_codes: u64,
}

pub async fn status(db: &DatabaseConnection, user_id: UserId) -> Result<Status> {
    let enrolled = second_factor::Entity::find_by_id(user_id.as_uuid())
        .one(db)
        .await?
        .is_some_and(|row| row.confirmed_at.is_some());
    let unused_recovery_codes = if enrolled {
        second_factor_recovery_code::Entity::find()
            .filter(second_factor_recovery_code::Column::UserId.eq(user_id.as_uuid()))
            .filter(second_factor_recovery_code::Column::UsedAt.is_null())
            .count(db)
            .await?
    } else {
        0
    };
    Ok(Status {
        enrolled,
        unused_recovery_codes,
    })
}

/// The secret being enrolled: the one already waiting for its first code, or a new one. Refused
/// when a second factor is already in place (remove it first).
pub async fn enrolment_secret(
    db: &DatabaseConnection,
    key: &MasterKey,
    user_id: UserId,
    now: DateTime<Utc>,
) -> Result<TotpSecret> {
    if let Some(row) = second_factor::Entity::find_by_id(user_id.as_uuid())
        .one(db)
        .await?
    {
        if row.confirmed_at.is_some() {
            return Err(StoreError::Refused(
                "A second factor is already set up for this account; remove it before setting up another."
                    .to_owned(),
            ));
        }
        return open_secret(key, user_id, &row.secret_sealed);
    }
    let secret = TotpSecret::generate();
    second_factor::ActiveModel {
        user_id: Set(user_id.as_uuid()),
        secret_sealed: Set(key
            .seal(&secret.to_base32(), &context(user_id))
            .into_string()),
        created_at: Set(now),
        confirmed_at: Set(None),
        last_step: Set(None),
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// Confirms enrolment with a first correct code: the second factor takes effect, fresh recovery
/// codes replace any old ones, and the enrolment is audited, all in one transaction. Returns the
/// recovery codes (to show once), or `None` when the code is not right.
pub async fn confirm_enrolment(
    db: &DatabaseConnection,
    key: &MasterKey,
    ctx: &AuditContext,
    user_id: UserId,
    code: &str,
) -> Result<Option<Vec<String>>> {
    let Some(row) = second_factor::Entity::find_by_id(user_id.as_uuid())
        .one(db)
        .await?
        .filter(|row| row.confirmed_at.is_none())
    else {
        return Ok(None);
    };
    let secret = open_secret(key, user_id, &row.secret_sealed)?;
    let Some(step) = secret.verify(code, ctx.now.timestamp()) else {
        return Ok(None);
    };
    let txn = db.begin().await?;
    let confirmed = second_factor::Entity::update_many()
        .col_expr(second_factor::Column::ConfirmedAt, Expr::value(ctx.now))
        .col_expr(second_factor::Column::LastStep, Expr::value(step))
        .filter(second_factor::Column::UserId.eq(user_id.as_uuid()))
        .filter(second_factor::Column::ConfirmedAt.is_null())
        .exec(&txn)
        .await?;
    if confirmed.rows_affected != 1 {
        return Ok(None);
    }
    let codes = replace_recovery_codes(&txn, key, user_id).await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::SecondFactorEnrolled)
            .target(TargetKind::User, user_id)
            .details(json!({ "kind": "totp", "recovery_codes": codes.len() })),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(codes))
}

async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    key: &MasterKey,
    user_id: UserId,
) -> Result<Vec<String>> {
    second_factor_recovery_code::Entity::delete_many()
        .filter(second_factor_recovery_code::Column::UserId.eq(user_id.as_uuid()))
        .exec(db)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| totp::generate_recovery_code())
        .collect();
    second_factor_recovery_code::Entity::insert_many(codes.iter().map(|code| {
        second_factor_recovery_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id.as_uuid()),
            code_digest: Set(totp::recovery_code_digest(key, &user_id.to_string(), code)),
            used_at: Set(None),
        }
    }))
    .exec(db)
    .await?;
    Ok(codes)
}

/// What a typed code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    /// Right code, but its time step (or a later one) was already used.
    Replayed,
    /// Used one of the recovery codes (now spent).
    RecoveryCodeUsed,
    Wrong,
}

/// Checks a code (or, with `allow_recovery`, a recovery code) of an enrolled person. A TOTP code is accepted only if its
/// time step is later than the last accepted one, by a single conditional update, so two
/// requests racing with the same code cannot both pass.
pub async fn check_code(
    db: &DatabaseConnection,
    key: &MasterKey,
    user_id: UserId,
    typed: &str,
    allow_recovery: bool,
    now: DateTime<Utc>,
) -> Result<CodeCheck> {
    let Some(row) = second_factor::Entity::find_by_id(user_id.as_uuid())
        .one(db)
        .await?
        .filter(|row| row.confirmed_at.is_some())
    else {
        return Ok(CodeCheck::Wrong);
    };
    let secret = open_secret(key, user_id, &row.secret_sealed)?;
    if let Some(step) = secret.verify(typed, now.timestamp()) {
        let advanced = second_factor::Entity::update_many()
            .col_expr(second_factor::Column::LastStep, Expr::value(step))
            .filter(second_factor::Column::UserId.eq(user_id.as_uuid()))
            .filter(
                Condition::any()
                    .add(second_factor::Column::LastStep.is_null())
                    .add(second_factor::Column::LastStep.lt(step)),
            )
            .exec(db)
            .await?;
        return Ok(if advanced.rows_affected == 1 {
            CodeCheck::Accepted
        } else {
            CodeCheck::Replayed
        });
    }
    if !allow_recovery {
        return Ok(CodeCheck::Wrong);
    }
    let digest = totp::recovery_code_digest(key, &user_id.to_string(), typed);
    let spent = second_factor_recovery_code::Entity::update_many()
        .col_expr(
            second_factor_recovery_code::Column::UsedAt,
            Expr::value(now),
        )
        .filter(second_factor_recovery_code::Column::UserId.eq(user_id.as_uuid()))
        .filter(second_factor_recovery_code::Column::CodeDigest.eq(digest))
        .filter(second_factor_recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(if spent.rows_affected == 1 {
        CodeCheck::RecoveryCodeUsed
    } else {
        CodeCheck::Wrong
    })
}

/// Removes the second factor and its recovery codes, with its audit event, in one transaction.
pub async fn remove(db: &DatabaseConnection, ctx: &AuditContext, user_id: UserId) -> Result<()> {
    let txn = db.begin().await?;
    second_factor_recovery_code::Entity::delete_many()
        .filter(second_factor_recovery_code::Column::UserId.eq(user_id.as_uuid()))
        .exec(&txn)
        .await?;
    second_factor::Entity::delete_by_id(user_id.as_uuid())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::SecondFactorRemoved).target(TargetKind::User, user_id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether a tenant requires a second factor of password sign-ins.
pub async fn tenant_requires(db: &DatabaseConnection, tenant_id: TenantId) -> Result<bool> {
    Ok(
        second_factor_policy::Entity::find_by_id(tenant_id.as_uuid())
            .one(db)
            .await?
            .is_some(),
    )
}

/// Turns a tenant's requirement on or off, with its audit event, in one transaction.
pub async fn set_tenant_requirement(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant_id: TenantId,
    required: bool,
) -> Result<()> {
    let txn = db.begin().await?;
    second_factor_policy::Entity::delete_by_id(tenant_id.as_uuid())
        .exec(&txn)
        .await?;
    if required {
        second_factor_policy::ActiveModel {
            tenant_id: Set(tenant_id.as_uuid()),
            required_since: Set(ctx.now),
        }
        .insert(&txn)
        .await?;
    }
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::SecondFactorRequirementChanged)
            .tenant(tenant_id)
            .target(TargetKind::Tenant, tenant_id)
            .details(json!({ "required": required })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether a person signing in with a portal password must have a second factor: when any
/// tenant where they hold a live grant requires it.
pub async fn required_for(
    db: &DatabaseConnection,
    user_id: UserId,
    now: DateTime<Utc>,
) -> Result<bool> {
    let tenant_ids: Vec<Uuid> = grant::Entity::find()
        .select_only()
        .column(grant::Column::TenantId)
        .filter(grant::Column::UserId.eq(user_id.as_uuid()))
        .filter(grant::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(grant::Column::ExpiresAt.is_null())
                .add(grant::Column::ExpiresAt.gt(now)),
        )
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    if tenant_ids.is_empty() {
        return Ok(false);
    }
    Ok(second_factor_policy::Entity::find()
        .filter(second_factor_policy::Column::TenantId.is_in(tenant_ids))
        .count(db)
        .await?
        > 0)
}

/// A correct password waiting for its second step.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub id_digest: String,
    pub user_id: UserId,
    pub next_path: String,
}

/// Starts the wait for a second step; returns the token for the pending cookie. Expired waits
/// of anyone are cleared here, so the table stays small.
pub async fn begin_pending(
    db: &DatabaseConnection,
    user_id: UserId,
    next_path: &str,
    now: DateTime<Utc>,
) -> Result<Token> {
    pending_sign_in::Entity::delete_many()
        .filter(pending_sign_in::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    let token = Token::generate();
    pending_sign_in::ActiveModel {
        id_digest: Set(token.digest_hex()),
        user_id: Set(user_id.as_uuid()),
        next_path: Set(next_path.chars().take(2048).collect()),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(PENDING_LIFETIME_MINUTES)),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The live wait for a pending cookie's value, if any.
pub async fn find_pending(
    db: &DatabaseConnection,
    token: &Token,
    now: DateTime<Utc>,
) -> Result<Option<PendingSignIn>> {
    Ok(pending_sign_in::Entity::find_by_id(token.digest_hex())
        .one(db)
        .await?
        .filter(|row| row.expires_at > now)
        .map(|row| PendingSignIn {
            id_digest: row.id_digest,
            user_id: UserId::from_uuid(row.user_id),
            next_path: row.next_path,
        }))
}

/// Ends a wait; `false` when it was already ended (by a parallel request), so only one request
/// turns a wait into a session.
pub async fn end_pending(db: &DatabaseConnection, id_digest: &str) -> Result<bool> {
    Ok(pending_sign_in::Entity::delete_by_id(id_digest.to_owned())
        .exec(db)
        .await?
        .rows_affected
        == 1)
}
