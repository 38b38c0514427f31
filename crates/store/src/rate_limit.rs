//! Rate limits on public actions that cost the portal something (a row, a call to another
//! server), per client address, in fixed windows. Counted in the sign-in throttle's table under
//! keys of their own, so every portal process enforces the same limit.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::Result;
use crate::entity::login_throttle::{self, Column};

/// At most `limit` uses per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

/// What is limited, for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// Starting a sign-in at an identity provider, from one client address (`None`: unknown,
    /// counted together).
    OidcStart(Option<String>),
    /// Asking for a password-reset link for one typed e-mail address (lower case).
    PasswordResetAccount(String),
    /// Asking for password-reset links from one client address.
    PasswordResetAddress(Option<String>),
}

impl RateKey {
    /// Distinct from the sign-in throttle's `account:` and `address:` keys.
    fn storage_key(&self) -> String {
        let key = match self {
            Self::OidcStart(address) => {
                format!("oidc_start:{}", address.as_deref().unwrap_or("unknown"))
            }
            Self::PasswordResetAccount(email) => format!("reset_account:{email}"),
            Self::PasswordResetAddress(address) => {
                format!("reset_address:{}", address.as_deref().unwrap_or("unknown"))
            }
        };
        key.chars().take(320).collect()
    }
}

/// Counts one use of `key` at `now`. `Ok(Err(until))` when the window already holds `limit`
/// uses: refuse, and say it may be tried again at `until`. A refused use is not counted, so
/// hammering the limit costs one read.
pub async fn count_use(
    db: &DatabaseConnection,
    key: &RateKey,
    rule: &RateLimit,
    now: DateTime<Utc>,
) -> Result<Result<(), DateTime<Utc>>> {
    let storage_key = key.storage_key();
    let limit = i32::try_from(rule.limit).unwrap_or(i32::MAX);
    let window_open_since = now - rule.window;
    if let Some(row) = login_throttle::Entity::find_by_id(storage_key.clone())
        .one(db)
        .await?
        .filter(|row| row.window_started_at > window_open_since && row.failures >= limit)
    {
        return Ok(Err(row.window_started_at + rule.window));
    }
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(storage_key.clone()),
        failures: Set(0),
        window_started_at: Set(now),
        locked_until: Set(None),
    })
    .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    // One statement counts the use or opens a new window; RETURNING gives this use its own
    // number when others count at the same time, so parallel uses cannot exceed the limit.
    let young = || Column::WindowStartedAt.gt(window_open_since);
    let counted = login_throttle::Entity::update_many()
        .col_expr(
            Column::Failures,
            Expr::case(young(), Expr::col(Column::Failures).add(1))
                .finally(1)
                .into(),
        )
        .col_expr(
            Column::WindowStartedAt,
            Expr::case(young(), Expr::col(Column::WindowStartedAt))
                .finally(now)
                .into(),
        )
        .filter(Column::Key.eq(storage_key))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next()
        .ok_or(crate::StoreError::NotFound("rate limit entry"))?;
    if counted.failures > limit {
        return Ok(Err(counted.window_started_at + rule.window));
    }
    Ok(Ok(()))
}
