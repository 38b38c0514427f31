//! Retry policy and the pure decisions behind it: backoff with full jitter, `Retry-After`,
//! and which failures may be retried for which kind of request.
//!
//! The rule: a request is repeated only when repeating it cannot change the outcome
//! ([`Safety::Idempotent`]), or when it provably never reached CHT (connect failures, 429
//! from the rate limiter, which answers before any handler runs). A non-idempotent create
//! that failed after it was sent has an unknown outcome; the caller resolves it by reading
//! back (see [`crate::outcome`]) instead of posting twice.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
/// Jitter"): the n-th retry sleeps a uniform random time in `[0, min(max_delay, base·2ⁿ)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. 1 disables retries.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A server-sent `Retry-After` is honoured up to this long; beyond it the call fails with
    /// `RateLimited` rather than blocking a UI for minutes.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff ceiling for retry number `retry` (0 = first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Full jitter: `unit` is a uniform sample in `[0, 1)`.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// How long to wait before retry number `retry`, or `None` when the server asks for a
    /// longer pause than we accept.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Option<Duration> {
        match retry_after {
            Some(d) if d > self.max_retry_after => None,
            // The server's pause is a floor; jitter on top spreads clients that got the same value.
            Some(d) => Some(d + self.backoff(0, unit).min(Duration::from_millis(250))),
            None => Some(self.backoff(retry, unit)),
        }
    }
}

/// `Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whether a request may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safety {
    /// Reads, PUT with `_rev`, and server-side merges whose repetition lands in the same state.
    Idempotent,
    /// Idempotent, and a 409 is a transient race inside CHT's own read-merge-put (user and
    /// legacy place updates ignore the client `_rev`, contract §5), so it is retried too.
    IdempotentMerge,
    /// Idempotent by contract although a repeat answers 404 (`DELETE /api/v1/users/{u}`):
    /// a 404 after an attempt with unknown outcome means that attempt landed.
    IdempotentDelete,
    /// Creates something each time it is applied.
    Create,
}

/// How one attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request never left (connection refused, DNS, connect timeout).
    NotSent,
    /// Sent, then no complete answer (timeout, reset): CHT may have applied it.
    Lost,
    /// A complete HTTP answer with this status.
    Status(u16),
}

impl Failure {
    /// Whether CHT may have applied the request.
    pub fn may_have_applied(self) -> bool {
        match self {
            Failure::NotSent => false,
            Failure::Lost => true,
            // 429 comes from the rate limiter before any handler; 5xx may be mid-write.
            Failure::Status(s) => s >= 500,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry,
    /// Give up with this failure's error.
    Fail,
    /// A create may have been applied: stop and let the caller read back.
    Unknown,
    /// Treat as success (an idempotent delete whose earlier attempt landed).
    Done,
}

/// The retry decision after `attempt` (1-based) failed with `failure`.
/// `earlier_unknown` is true when an earlier attempt of this call may have been applied.
pub fn decide(
    safety: Safety,
    failure: Failure,
    attempt: u32,
    max_attempts: u32,
    earlier_unknown: bool,
) -> Decision {
    let can_retry = attempt < max_attempts;
    let retry_or_fail = if can_retry {
        Decision::Retry
    } else {
        Decision::Fail
    };
    match failure {
        Failure::Status(404) if safety == Safety::IdempotentDelete && earlier_unknown => {
            Decision::Done
        }
        Failure::NotSent | Failure::Status(429) => retry_or_fail,
        Failure::Lost | Failure::Status(500..=599) => match safety {
            Safety::Create => Decision::Unknown,
            _ => retry_or_fail,
        },
        Failure::Status(409) if safety == Safety::IdempotentMerge => retry_or_fail,
        Failure::Status(_) => Decision::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = policy();
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(4), Duration::from_secs(1));
        assert_eq!(p.ceiling(40), Duration::from_secs(1));
        // full jitter spans [0, ceiling]
        assert_eq!(p.backoff(2, 0.0), Duration::ZERO);
        assert_eq!(p.backoff(2, 0.5), Duration::from_millis(200));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(2, 7.0), Duration::from_millis(400));
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_gives_up() {
        let p = policy();
        let d = p.delay(3, Some(Duration::from_secs(2)), 0.5).unwrap();
        assert!(
            d >= Duration::from_secs(2) && d <= Duration::from_millis(2250),
            "{d:?}"
        );
        assert_eq!(p.delay(0, Some(Duration::from_secs(60)), 0.5), None);
        assert_eq!(p.delay(1, None, 1.0), Some(Duration::from_millis(200)));
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn creates_are_never_blindly_repeated() {
        use Decision::*;
        use Failure::*;
        let d = |s, f, a| decide(s, f, a, 3, false);
        // a create that may have landed stops for a read-back
        assert_eq!(d(Safety::Create, Lost, 1), Unknown);
        assert_eq!(d(Safety::Create, Status(500), 1), Unknown);
        assert_eq!(d(Safety::Create, Status(503), 3), Unknown);
        // it never left, or the limiter refused it: safe to send again
        assert_eq!(d(Safety::Create, NotSent, 1), Retry);
        assert_eq!(d(Safety::Create, Status(429), 1), Retry);
        assert_eq!(d(Safety::Create, Status(409), 1), Fail);
        assert_eq!(d(Safety::Create, Status(400), 1), Fail);
    }

    #[test]
    fn idempotent_requests_retry_until_exhausted() {
        use Decision::*;
        use Failure::*;
        let d = |s, f, a| decide(s, f, a, 3, false);
        assert_eq!(d(Safety::Idempotent, Lost, 1), Retry);
        assert_eq!(d(Safety::Idempotent, Status(502), 2), Retry);
        assert_eq!(d(Safety::Idempotent, Status(502), 3), Fail);
        assert_eq!(d(Safety::Idempotent, Status(429), 3), Fail);
        // a raw PUT conflict means a stale _rev: repeating cannot help
        assert_eq!(d(Safety::Idempotent, Status(409), 1), Fail);
        assert_eq!(d(Safety::IdempotentMerge, Status(409), 1), Retry);
        assert_eq!(d(Safety::Idempotent, Status(404), 1), Fail);
        assert_eq!(d(Safety::IdempotentDelete, Status(404), 1), Fail);
        assert_eq!(
            decide(Safety::IdempotentDelete, Status(404), 2, 3, true),
            Done
        );
    }

    #[test]
    fn failure_classification() {
        assert!(!Failure::NotSent.may_have_applied());
        assert!(Failure::Lost.may_have_applied());
        assert!(Failure::Status(500).may_have_applied());
        assert!(!Failure::Status(429).may_have_applied());
    }
}
