//! `ChtError` and the parsing of CHT's error bodies.
//!
//! CHT answers errors in three shapes (contract §5): the API envelope
//! `{"code":N,"error":"text"|{message,translationKey,translationParams},"details"?}`, CouchDB's
//! `{"error","reason"}` on raw `/medic/*` paths, and `text/plain` when the client did not ask
//! for JSON. All three end up in [`ErrorBody`].

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::version::ChtVersion;

/// The request an error belongs to; never carries credentials (they travel in headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub method: String,
    /// Path without the query string (queries may carry view keys, not secrets, but are noisy).
    pub path: String,
}

impl Endpoint {
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let path = path_and_query.split('?').next().unwrap_or("").to_string();
        Self {
            method: method.to_string(),
            path,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn missing_suffix(missing: &[String]) -> String {
    if missing.is_empty() {
        String::new()
    } else {
        format!(" (requires: {})", missing.join(", "))
    }
}

fn key_suffix(key: &Option<String>) -> String {
    key.as_ref().map_or(String::new(), |k| format!(" [{k}]"))
}

/// Everything that can go wrong talking to CHT, in terms a UI can explain.
#[derive(Debug, thiserror::Error)]
pub enum ChtError {
    #[error("{endpoint}: cannot reach CHT at {url}: {cause}")]
    Unreachable {
        endpoint: Endpoint,
        url: String,
        cause: String,
    },
    #[error("{endpoint}: CHT did not answer within {timeout:?}")]
    Timeout {
        endpoint: Endpoint,
        timeout: Duration,
    },
    /// The service account credentials were refused (also after one fresh login).
    #[error("{endpoint}: CHT refused the service account credentials: {message}")]
    Unauthorized { endpoint: Endpoint, message: String },
    #[error("{endpoint}: forbidden: {message}{}", missing_suffix(.missing_permissions))]
    Forbidden {
        endpoint: Endpoint,
        message: String,
        /// The permissions this endpoint requires by contract (§3.3), when known.
        missing_permissions: Vec<String>,
    },
    #[error("{endpoint}: CHT is rate limiting this client (429 Too Many Requests)")]
    RateLimited {
        endpoint: Endpoint,
        retry_after: Option<Duration>,
    },
    #[error("{endpoint}: conflict: {message}")]
    Conflict { endpoint: Endpoint, message: String },
    #[error("{endpoint}: not found: {message}")]
    NotFound { endpoint: Endpoint, message: String },
    #[error("{endpoint}: rejected by CHT: {message}{}", key_suffix(.translation_key))]
    Validation {
        endpoint: Endpoint,
        message: String,
        translation_key: Option<String>,
        /// `translationParams`; boxed to keep `ChtError` small.
        params: Option<Box<Value>>,
    },
    #[error("{endpoint}: CHT server error {status}: {message}")]
    Server {
        endpoint: Endpoint,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: unexpected response (status {status}): {detail}")]
    UnexpectedResponse {
        endpoint: Endpoint,
        status: u16,
        detail: String,
    },
    /// A non-idempotent write may or may not have been applied, and reading back could not
    /// tell. Nothing was re-sent.
    #[error("{endpoint}: outcome unknown, the write may or may not have been applied: {cause}")]
    OutcomeUnknown { endpoint: Endpoint, cause: String },
    #[error("{operation} needs CHT {required} or later; this instance runs {actual}")]
    Unsupported {
        operation: &'static str,
        required: ChtVersion,
        actual: ChtVersion,
    },
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ChtError {
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            ChtError::Unreachable { endpoint, .. }
            | ChtError::Timeout { endpoint, .. }
            | ChtError::Unauthorized { endpoint, .. }
            | ChtError::Forbidden { endpoint, .. }
            | ChtError::RateLimited { endpoint, .. }
            | ChtError::Conflict { endpoint, .. }
            | ChtError::NotFound { endpoint, .. }
            | ChtError::Validation { endpoint, .. }
            | ChtError::Server { endpoint, .. }
            | ChtError::UnexpectedResponse { endpoint, .. }
            | ChtError::OutcomeUnknown { endpoint, .. } => Some(endpoint),
            ChtError::Unsupported { .. } | ChtError::Config(_) => None,
        }
    }

    pub fn translation_key(&self) -> Option<&str> {
        match self {
            ChtError::Validation {
                translation_key, ..
            } => translation_key.as_deref(),
            _ => None,
        }
    }

    /// Builds the error for a non-success HTTP answer.
    pub(crate) fn from_status(
        endpoint: Endpoint,
        status: u16,
        body: ErrorBody,
        retry_after: Option<Duration>,
        required_permissions: &[&str],
    ) -> Self {
        let message = if body.message.is_empty() {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_string()
        } else {
            body.message_with_details()
        };
        match status {
            400 | 413 | 422 => ChtError::Validation {
                endpoint,
                message,
                translation_key: body.translation_key,
                params: body.params.map(Box::new),
            },
            401 => ChtError::Unauthorized { endpoint, message },
            403 => ChtError::Forbidden {
                endpoint,
                message,
                missing_permissions: required_permissions.iter().map(|s| s.to_string()).collect(),
            },
            404 => ChtError::NotFound { endpoint, message },
            409 => ChtError::Conflict { endpoint, message },
            429 => ChtError::RateLimited {
                endpoint,
                retry_after,
            },
            500..=599 => ChtError::Server {
                endpoint,
                status,
                message,
            },
            _ => ChtError::UnexpectedResponse {
                endpoint,
                status,
                detail: message,
            },
        }
    }
}

/// A parsed CHT or CouchDB error body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBody {
    pub message: String,
    pub translation_key: Option<String>,
    pub params: Option<Value>,
    pub details: Option<Value>,
    /// CouchDB's `error` code (`conflict`, `not_found`, …) on raw paths.
    pub couch_error: Option<String>,
}

impl ErrorBody {
    fn message_with_details(&self) -> String {
        match &self.details {
            Some(Value::String(d)) => format!("{}: {d}", self.message),
            Some(Value::Null) | None => self.message.clone(),
            Some(d) => format!("{}: {d}", self.message),
        }
    }
}

const MAX_TEXT: usize = 500;

fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parses any of CHT's error forms. JSON is tried first whatever the content type says, since
/// proxies and old versions mislabel bodies; anything else is kept as (truncated) text.
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    let text = String::from_utf8_lossy(body);
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&text) else {
        return ErrorBody {
            message: truncate(&text),
            ..ErrorBody::default()
        };
    };
    let details = obj.get("details").cloned();
    match obj.get("error") {
        Some(Value::Object(e)) => ErrorBody {
            message: e
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| Value::Object(e.clone()).to_string(), String::from),
            translation_key: e
                .get("translationKey")
                .and_then(Value::as_str)
                .map(String::from),
            params: e.get("translationParams").cloned(),
            details,
            couch_error: None,
        },
        Some(Value::String(code)) => match obj.get("reason").and_then(Value::as_str) {
            // CouchDB `{error, reason}`: the reason is the human part.
            Some(reason) => ErrorBody {
                message: reason.to_string(),
                couch_error: Some(code.clone()),
                details,
                ..ErrorBody::default()
            },
            None => ErrorBody {
                message: code.clone(),
                details,
                ..ErrorBody::default()
            },
        },
        _ => ErrorBody {
            message: truncate(&text),
            details,
            ..ErrorBody::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ep() -> Endpoint {
        Endpoint::new("POST", "/api/v3/users?x=1")
    }

    #[test]
    fn parses_string_error() {
        let b = parse_error_body(br#"{"code":404,"error":"Failed to find place."}"#);
        assert_eq!(b.message, "Failed to find place.");
        assert_eq!(b.translation_key, None);
    }

    #[test]
    fn parses_object_error_with_translation() {
        let b = parse_error_body(
            br#"{"code":400,"error":{"message":"Username \"mary\" already taken.","translationKey":"username.taken","translationParams":{"username":"mary"}}}"#,
        );
        assert_eq!(b.message, "Username \"mary\" already taken.");
        assert_eq!(b.translation_key.as_deref(), Some("username.taken"));
        assert_eq!(b.params, Some(json!({"username": "mary"})));
        let e = ChtError::from_status(ep(), 400, b, None, &[]);
        assert_eq!(e.translation_key(), Some("username.taken"));
        let text = e.to_string();
        assert!(text.starts_with("POST /api/v3/users: "), "{text}");
        assert!(text.contains("already taken"), "{text}");
    }

    #[test]
    fn parses_couch_and_firewall_forms() {
        let b = parse_error_body(br#"{"error":"conflict","reason":"Document update conflict."}"#);
        assert_eq!(b.message, "Document update conflict.");
        assert_eq!(b.couch_error.as_deref(), Some("conflict"));
        let b = parse_error_body(
            br#"{"code":403,"error":"forbidden","details":"Offline users are not allowed access to this endpoint"}"#,
        );
        let e = ChtError::from_status(ep(), 403, b, None, &["can_view_contacts"]);
        match &e {
            ChtError::Forbidden {
                message,
                missing_permissions,
                ..
            } => {
                assert_eq!(
                    message,
                    "forbidden: Offline users are not allowed access to this endpoint"
                );
                assert_eq!(missing_permissions, &vec!["can_view_contacts".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("requires: can_view_contacts"));
    }

    #[test]
    fn parses_text_plain_and_empty() {
        let b = parse_error_body(b"Content-Type must be application/json");
        assert_eq!(b.message, "Content-Type must be application/json");
        let e = ChtError::from_status(ep(), 500, parse_error_body(b""), None, &[]);
        assert!(
            matches!(&e, ChtError::Server { status: 500, message, .. } if message == "Internal Server Error")
        );
        let long = "x".repeat(2000);
        assert!(parse_error_body(long.as_bytes()).message.len() < 600);
    }

    #[test]
    fn rate_limit_is_recognised_in_the_json_envelope_and_as_text() {
        // CHT's rate limiter answers JSON clients with the §5 envelope, others with text.
        for body in [
            &br#"{"code":429,"error":"Too Many Requests"}"#[..],
            b"Too Many Requests",
        ] {
            let parsed = parse_error_body(body);
            assert_eq!(parsed.message, "Too Many Requests");
            let e = ChtError::from_status(ep(), 429, parsed, Some(Duration::from_secs(10)), &[]);
            assert!(
                matches!(e, ChtError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 10),
                "{e:?}"
            );
        }
    }

    #[test]
    fn status_mapping() {
        let m = |s| ChtError::from_status(ep(), s, ErrorBody::default(), None, &[]);
        assert!(matches!(m(401), ChtError::Unauthorized { .. }));
        assert!(matches!(m(404), ChtError::NotFound { .. }));
        assert!(matches!(m(409), ChtError::Conflict { .. }));
        assert!(matches!(m(429), ChtError::RateLimited { .. }));
        assert!(matches!(m(503), ChtError::Server { status: 503, .. }));
        assert!(matches!(
            m(302),
            ChtError::UnexpectedResponse { status: 302, .. }
        ));
    }
}
