//! Sign-in throttling per account and per client address, kept in the database so that every
//! portal process enforces the same limits.
//!
//! Each attempt is counted *before* the password is checked, with single-statement updates that
//! both databases apply atomically. So however many attempts arrive at once, only `limit` of them
//! in a window ever reach the password check.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::Result;
use crate::entity::login_throttle::{self, Column};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
    pub lockout: Duration,
}

/// What a throttle key counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleKey {
    Account(String),
    Address(String),
}

impl ThrottleKey {
    fn storage_key(&self) -> String {
        let key = match self {
            Self::Account(email) => format!("account:{email}"),
            Self::Address(ip) => format!("address:{ip}"),
        };
        key.chars().take(320).collect()
    }

    fn limit(&self, policy: &ThrottlePolicy) -> u32 {
        match self {
            Self::Account(_) => policy.max_failures_per_account,
            Self::Address(_) => policy.max_failures_per_address,
        }
    }
}

/// A key that is locked, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub key: ThrottleKey,
    pub until: DateTime<Utc>,
}

/// One counted attempt: its number in the current window, and the key's lock if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub key: ThrottleKey,
    pub number: u32,
    pub limit: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Attempt {
    /// Over the limit: refuse without checking the password, citing this lock.
    /// ([`count_attempt`] locks a key as soon as an attempt reaches the limit, so an attempt
    /// over it always carries its lock.)
    #[must_use]
    pub fn refusal(&self) -> Option<Lockout> {
        (self.number > self.limit).then(|| self.lockout()).flatten()
    }

    /// This attempt used the last try of the window (a failure now means a lock).
    #[must_use]
    pub fn is_last(&self) -> bool {
        self.number == self.limit
    }

    #[must_use]
    pub fn lockout(&self) -> Option<Lockout> {
        self.locked_until.map(|until| Lockout {
            key: self.key.clone(),
            until,
        })
    }
}

/// The first of `keys` that is locked at `now`, if any.
pub async fn locked(
    db: &DatabaseConnection,
    keys: &[ThrottleKey],
    now: DateTime<Utc>,
) -> Result<Option<Lockout>> {
    for key in keys {
        if let Some(row) = login_throttle::Entity::find_by_id(key.storage_key())
            .one(db)
            .await?
        {
            if let Some(until) = row.locked_until.filter(|until| *until > now) {
                return Ok(Some(Lockout {
                    key: key.clone(),
                    until,
                }));
            }
        }
    }
    Ok(None)
}

/// Admits one attempt under every key, or says which lock refuses it. A key already locked
/// refuses without any write, so hammering a lock costs nothing and cannot fill the
/// (append-only) audit trail; otherwise the attempt is counted under each key, atomically,
/// before the secret is checked, and the counts are returned for the caller's follow-up
/// (`Attempt::is_last`, the lock a failure now starts).
pub async fn admit(
    db: &DatabaseConnection,
    keys: &[ThrottleKey],
    policy: &ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Vec<Attempt>, Lockout>> {
    if let Some(lockout) = locked(db, keys, now).await? {
        return Ok(Err(lockout));
    }
    let mut attempts = Vec::with_capacity(keys.len());
    for key in keys {
        attempts.push(count_attempt(db, key, policy, now).await?);
    }
    match attempts.iter().find_map(Attempt::refusal) {
        Some(lockout) => Ok(Err(lockout)),
        None => Ok(Ok(attempts)),
    }
}

/// Counts one attempt against `key`; locks the key when the attempt reaches its limit.
pub async fn count_attempt(
    db: &DatabaseConnection,
    key: &ThrottleKey,
    policy: &ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<Attempt> {
    let storage_key = key.storage_key();
    let limit = key.limit(policy);
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(storage_key.clone()),
        failures: Set(0),
        window_started_at: Set(now),
        locked_until: Set(None),
    })
    .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;

    // The window goes on while it is young and any lock on it still holds; otherwise (first
    // attempt, old window, or a lock that has ended) counting starts again at 1.
    let going_on = || {
        Condition::all()
            .add(Column::WindowStartedAt.gt(now - policy.window))
            .add(
                Condition::any()
                    .add(Column::LockedUntil.is_null())
                    .add(Column::LockedUntil.gt(now)),
            )
    };
    // RETURNING gives this attempt its own number even when others update the row meanwhile.
    let counted = login_throttle::Entity::update_many()
        .col_expr(
            Column::Failures,
            Expr::case(going_on(), Expr::col(Column::Failures).add(1))
                .finally(1)
                .into(),
        )
        .col_expr(
            Column::WindowStartedAt,
            Expr::case(going_on(), Expr::col(Column::WindowStartedAt))
                .finally(now)
                .into(),
        )
        .col_expr(
            Column::LockedUntil,
            Expr::case(going_on(), Expr::col(Column::LockedUntil))
                .finally(Expr::null())
                .into(),
        )
        .filter(Column::Key.eq(storage_key.clone()))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next()
        .ok_or(crate::StoreError::NotFound("throttle entry"))?;
    let number = u32::try_from(counted.failures).unwrap_or(0);
    let mut locked_until = counted.locked_until.filter(|until| *until > now);
    if number >= limit && locked_until.is_none() {
        let until = now + policy.lockout;
        login_throttle::Entity::update_many()
            .col_expr(Column::LockedUntil, Expr::value(until))
            .filter(Column::Key.eq(storage_key))
            .filter(no_lock_in_force(now))
            .exec(db)
            .await?;
        locked_until = Some(until);
    }
    Ok(Attempt {
        key: key.clone(),
        number,
        limit,
        locked_until,
    })
}

/// The key has no lock, or its lock has ended.
fn no_lock_in_force(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::LockedUntil.is_null())
        .add(Column::LockedUntil.lte(now))
}

/// Forgets the attempts of a key (the account, after a successful sign-in).
pub async fn reset(db: &DatabaseConnection, key: &ThrottleKey) -> Result<()> {
    login_throttle::Entity::delete_by_id(key.storage_key())
        .exec(db)
        .await?;
    Ok(())
}

/// Takes back one counted attempt that succeeded (the address: colleagues behind one clinic's
/// router all sign in from the same address), lifting a lock it no longer justifies.
pub async fn refund(
    db: &DatabaseConnection,
    key: &ThrottleKey,
    policy: &ThrottlePolicy,
) -> Result<()> {
    let limit = i64::from(key.limit(policy));
    login_throttle::Entity::update_many()
        .col_expr(
            Column::LockedUntil,
            Expr::case(Column::Failures.lte(limit), Expr::null())
                .finally(Expr::col(Column::LockedUntil))
                .into(),
        )
        .col_expr(
            Column::Failures,
            Expr::case(Column::Failures.gt(0), Expr::col(Column::Failures).sub(1))
                .finally(0)
                .into(),
        )
        .filter(Column::Key.eq(key.storage_key()))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes entries whose window and lock have both ended; returns how many.
pub async fn purge_expired(
    db: &DatabaseConnection,
    policy: &ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<u64> {
    let result = login_throttle::Entity::delete_many()
        .filter(Column::WindowStartedAt.lte(now - policy.window))
        .filter(no_lock_in_force(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
