//! Fault injection for the CHT routes: latency, 5xx, hung requests, 429 bursts, 409 conflicts.
//! Configured at start (flags) and at run time through `/__sim/faults`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::util::SplitMix64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Fixed delay added to every CHT request.
    pub latency_ms: u64,
    /// Extra uniform delay in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Share of requests answered `500 Server error`.
    pub error_rate: f64,
    /// Share of requests accepted and never answered (until the client gives up).
    pub timeout_rate: f64,
    /// The next N requests get `429 Too Many Requests`.
    pub burst_429: u32,
    /// Share of writes (POST/PUT/DELETE) answered with a 409 update conflict.
    pub conflict_rate: f64,
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("error_rate", self.error_rate),
            ("timeout_rate", self.timeout_rate),
            ("conflict_rate", self.conflict_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        *self != FaultConfig::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError,
    Timeout,
    TooManyRequests,
    Conflict,
}

#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    rng: SplitMix64,
}

impl Faults {
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        Self {
            config,
            rng: SplitMix64::new(seed),
        }
    }

    /// Rolls the dice for one request: the delay to add and the fault to inject, if any.
    pub fn decide(&mut self, is_write: bool) -> (Duration, Option<Fault>) {
        let c = &mut self.config;
        let jitter = if c.jitter_ms > 0 {
            self.rng.below(c.jitter_ms + 1)
        } else {
            0
        };
        let delay = Duration::from_millis(c.latency_ms + jitter);
        if c.burst_429 > 0 {
            c.burst_429 -= 1;
            return (delay, Some(Fault::TooManyRequests));
        }
        let roll = |rng: &mut SplitMix64, p: f64| p > 0.0 && rng.unit() < p;
        let fault = if roll(&mut self.rng, c.timeout_rate) {
            Some(Fault::Timeout)
        } else if roll(&mut self.rng, c.error_rate) {
            Some(Fault::ServerError)
        } else if is_write && roll(&mut self.rng, c.conflict_rate) {
            Some(Fault::Conflict)
        } else {
            None
        };
        (delay, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_respected_roughly_and_bursts_exactly() {
        let mut f = Faults::new(
            FaultConfig {
                error_rate: 0.25,
                burst_429: 3,
                ..FaultConfig::default()
            },
            1,
        );
        let first: Vec<_> = (0..3).map(|_| f.decide(false).1).collect();
        assert_eq!(first, vec![Some(Fault::TooManyRequests); 3]);
        let errors = (0..4000)
            .filter(|_| f.decide(false).1 == Some(Fault::ServerError))
            .count();
        assert!((800..1200).contains(&errors), "{errors}");
        assert!(
            FaultConfig {
                error_rate: 1.5,
                ..FaultConfig::default()
            }
            .validate()
            .is_err()
        );
    }
}
