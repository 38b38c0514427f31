use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// The portal's source of "now". Production reads the system clock; tests move time forward to
/// exercise session timeouts and lockouts through real HTTP without sleeping.
#[derive(Clone)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

/// A handle that moves a [`Clock`] forward.
#[derive(Clone)]
pub struct ClockControl {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    #[must_use]
    pub fn system() -> Self {
        Self {
            offset_seconds: Arc::new(AtomicI64::new(0)),
        }
    }

    /// A clock that starts at the system time and a handle to move it forward.
    #[must_use]
    pub fn controllable() -> (Self, ClockControl) {
        let clock = Self::system();
        let control = ClockControl {
            offset_seconds: Arc::clone(&clock.offset_seconds),
        };
        (clock, control)
    }

    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }
}

impl ClockControl {
    pub fn advance(&self, by: Duration) {
        self.offset_seconds
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}
