//! Resolving creates whose outcome is unknown.
//!
//! A create that timed out or got a 5xx after it was sent may have been applied. Posting it
//! again could create a second user or contact, so the client reads back first (by the
//! deterministic id it chose for places and people, by username for users):
//!
//! | read-back finds            | action                                               |
//! |----------------------------|------------------------------------------------------|
//! | our object                 | success (`recovered`), nothing is re-sent            |
//! | nothing                    | the create did not land: send it again               |
//! | someone else's object      | `Conflict`                                           |
//! | read-back itself fails     | `OutcomeUnknown`, nothing is re-sent                 |
//!
//! A create that was slow rather than lost can land after the read-back saw nothing; the
//! repeated create then fails with a conflict ("already taken"), which is resolved by one
//! more read-back rather than reported.

use crate::errors::ChtError;

/// What reading back found after an unknown outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadBack<T> {
    /// Nothing under that id / username.
    Absent,
    /// An object that matches what we sent: our create landed.
    Ours(T),
    /// An object that exists but does not match what we sent.
    Foreign(String),
}

/// The result of a create, with whether it was recovered by reading back.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<T> {
    pub value: T,
    /// True when the create's answer was lost and its success was established by reading back.
    pub recovered: bool,
}

fn is_duplicate(e: &ChtError) -> bool {
    match e {
        ChtError::Conflict { .. } => true,
        ChtError::Validation {
            translation_key, ..
        } => translation_key.as_deref() == Some("username.taken"),
        _ => false,
    }
}

/// Drives `attempt` at most `max_rounds` times, resolving each unknown outcome with `read_back`.
/// `attempt` must itself never repeat a create (transport [`crate::transport::Safety::Create`]).
pub async fn create_resolving<T>(
    max_rounds: u32,
    mut attempt: impl AsyncFnMut() -> Result<T, ChtError>,
    mut read_back: impl AsyncFnMut() -> Result<ReadBack<T>, ChtError>,
) -> Result<Resolved<T>, ChtError> {
    let mut uncertain = false;
    let mut round = 0;
    loop {
        round += 1;
        let err = match attempt().await {
            Ok(value) => {
                return Ok(Resolved {
                    value,
                    recovered: false,
                });
            }
            Err(e) => e,
        };
        let unknown = matches!(err, ChtError::OutcomeUnknown { .. });
        if !(unknown || uncertain && is_duplicate(&err)) {
            return Err(err);
        }
        uncertain = true;
        let endpoint = err.endpoint().cloned();
        match read_back().await {
            Ok(ReadBack::Ours(value)) => {
                return Ok(Resolved {
                    value,
                    recovered: true,
                });
            }
            Ok(ReadBack::Foreign(what)) => {
                return Err(match endpoint {
                    Some(endpoint) => ChtError::Conflict {
                        endpoint,
                        message: format!("{what} already exists and differs from the request"),
                    },
                    None => err,
                });
            }
            Ok(ReadBack::Absent) if unknown && round < max_rounds => {}
            // Absent after a duplicate error, or out of rounds: report what we know.
            Ok(ReadBack::Absent) => return Err(err),
            Err(read_err) => {
                return Err(match endpoint {
                    Some(endpoint) if unknown => ChtError::OutcomeUnknown {
                        endpoint,
                        cause: format!("{err}; reading back failed too: {read_err}"),
                    },
                    _ => err,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Endpoint;
    use std::cell::Cell;
    use std::collections::VecDeque;

    fn ep() -> Endpoint {
        Endpoint::new("POST", "/api/v1/places")
    }

    fn unknown() -> ChtError {
        ChtError::OutcomeUnknown {
            endpoint: ep(),
            cause: "timed out".into(),
        }
    }

    struct Script {
        attempts: VecDeque<Result<u32, ChtError>>,
        reads: VecDeque<Result<ReadBack<u32>, ChtError>>,
        sent: Cell<u32>,
        read: Cell<u32>,
    }

    impl Script {
        fn new(
            attempts: Vec<Result<u32, ChtError>>,
            reads: Vec<Result<ReadBack<u32>, ChtError>>,
        ) -> Self {
            Self {
                attempts: attempts.into(),
                reads: reads.into(),
                sent: Cell::new(0),
                read: Cell::new(0),
            }
        }

        async fn run(&mut self, rounds: u32) -> Result<Resolved<u32>, ChtError> {
            let sent = &self.sent;
            let read = &self.read;
            let attempts = &mut self.attempts;
            let reads = &mut self.reads;
            create_resolving(
                rounds,
                async || {
                    sent.set(sent.get() + 1);
                    attempts.pop_front().expect("unexpected extra create")
                },
                async || {
                    read.set(read.get() + 1);
                    reads.pop_front().expect("unexpected extra read-back")
                },
            )
            .await
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn found_after_unknown_is_not_sent_again() {
        let mut s = Script::new(vec![Err(unknown())], vec![Ok(ReadBack::Ours(7))]);
        let r = block_on(s.run(3)).unwrap();
        assert_eq!(
            r,
            Resolved {
                value: 7,
                recovered: true
            }
        );
        assert_eq!((s.sent.get(), s.read.get()), (1, 1));
    }

    #[test]
    fn absent_after_unknown_is_sent_again() {
        let mut s = Script::new(vec![Err(unknown()), Ok(9)], vec![Ok(ReadBack::Absent)]);
        let r = block_on(s.run(3)).unwrap();
        assert_eq!(
            r,
            Resolved {
                value: 9,
                recovered: false
            }
        );
        assert_eq!((s.sent.get(), s.read.get()), (2, 1));
    }

    #[test]
    fn failed_read_back_stops_without_resending() {
        let read_err = ChtError::Timeout {
            endpoint: Endpoint::new("GET", "/medic/x"),
            timeout: std::time::Duration::from_secs(1),
        };
        let mut s = Script::new(vec![Err(unknown())], vec![Err(read_err)]);
        let e = block_on(s.run(3)).unwrap_err();
        assert!(matches!(e, ChtError::OutcomeUnknown { .. }), "{e:?}");
        assert!(e.to_string().contains("reading back failed"));
        assert_eq!(s.sent.get(), 1);
    }

    #[test]
    fn late_landing_duplicate_is_resolved_by_another_read_back() {
        let dup = ChtError::Conflict {
            endpoint: ep(),
            message: "Document update conflict.".into(),
        };
        let mut s = Script::new(
            vec![Err(unknown()), Err(dup)],
            vec![Ok(ReadBack::Absent), Ok(ReadBack::Ours(3))],
        );
        let r = block_on(s.run(3)).unwrap();
        assert!(r.recovered);
        assert_eq!((s.sent.get(), s.read.get()), (2, 2));
    }

    #[test]
    fn foreign_object_is_a_conflict_and_plain_errors_pass_through() {
        let mut s = Script::new(
            vec![Err(unknown())],
            vec![Ok(ReadBack::Foreign("user mary".into()))],
        );
        let e = block_on(s.run(3)).unwrap_err();
        assert!(matches!(&e, ChtError::Conflict { message, .. } if message.contains("user mary")));

        // a duplicate without an earlier unknown outcome is the caller's real error
        let taken = ChtError::Validation {
            endpoint: ep(),
            message: "Username \"mary\" already taken.".into(),
            translation_key: Some("username.taken".into()),
            params: None,
        };
        let mut s = Script::new(vec![Err(taken)], vec![]);
        let e = block_on(s.run(3)).unwrap_err();
        assert_eq!(e.translation_key(), Some("username.taken"));
        assert_eq!(s.read.get(), 0);
    }

    #[test]
    fn rounds_are_bounded() {
        let mut s = Script::new(
            vec![Err(unknown()), Err(unknown())],
            vec![Ok(ReadBack::Absent), Ok(ReadBack::Absent)],
        );
        let e = block_on(s.run(2)).unwrap_err();
        assert!(matches!(e, ChtError::OutcomeUnknown { .. }));
        assert_eq!(s.sent.get(), 2);
    }
}
