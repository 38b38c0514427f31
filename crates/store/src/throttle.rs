//! Sign-in throttling per account and per client address, kept in the database so that every
//! portal process enforces the same limits.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set, TransactionTrait};

use crate::Result;
use crate::entity::login_throttle;

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
        match self {
            Self::Account(email) => format!("account:{email}"),
            Self::Address(ip) => format!("address:{ip}"),
        }
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

/// Counts a failed sign-in against each key; returns the lockout it caused, if any.
pub async fn record_failure(
    db: &DatabaseConnection,
    keys: &[ThrottleKey],
    policy: &ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<Option<Lockout>> {
    let txn = db.begin().await?;
    let mut caused = None;
    for key in keys {
        let storage_key = key.storage_key();
        let existing = login_throttle::Entity::find_by_id(storage_key.clone())
            .one(&txn)
            .await?;
        let (failures, window_started_at) = match &existing {
            Some(row) if now - row.window_started_at < policy.window => {
                (row.failures + 1, row.window_started_at)
            }
            _ => (1, now),
        };
        let limit = i32::try_from(key.limit(policy)).unwrap_or(i32::MAX);
        let locked_until = (failures >= limit).then(|| now + policy.lockout);
        if let Some(until) = locked_until {
            caused.get_or_insert(Lockout {
                key: key.clone(),
                until,
            });
        }
        let model = login_throttle::ActiveModel {
            key: Set(storage_key),
            failures: Set(failures),
            window_started_at: Set(window_started_at),
            locked_until: Set(locked_until),
        };
        if existing.is_some() {
            model.update(&txn).await?;
        } else {
            model.insert(&txn).await?;
        }
    }
    txn.commit().await?;
    Ok(caused)
}

/// Forgets the failures of a key (after a successful sign-in).
pub async fn reset(db: &DatabaseConnection, key: &ThrottleKey) -> Result<()> {
    login_throttle::Entity::delete_by_id(key.storage_key())
        .exec(db)
        .await?;
    Ok(())
}
