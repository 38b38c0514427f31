//! Newtypes for values that must never reach a log line or a `Debug` dump.

use std::fmt;

/// A credential (the service account password). `Debug` is redacted and there is no
/// `Display`, so `{:?}` on any struct holding it is safe.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plain value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// The CouchDB `AuthSession` cookie value: a bearer credential valid for a year on CHT.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionCookie(String);

impl SessionCookie {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    pub(crate) fn header_value(&self) -> String {
        format!("AuthSession={}", self.0)
    }
}

impl fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCookie(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        let c = SessionCookie::new("bWVkaWM6NjY".into());
        assert!(!format!("{c:?}").contains("bWVkaWM6NjY"));
        assert_eq!(c.header_value(), "AuthSession=bWVkaWM6NjY");
    }
}
