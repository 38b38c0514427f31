//! CHT's error envelopes. Handlers return [`ApiError`]; the request pipeline renders it with the
//! request's `Accept` and `User-Agent`, which an `IntoResponse` impl alone cannot see.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::util::encode_uri_component;
use crate::version::Version;

/// The `error` member: a string, or the user-management `error400` object.
#[derive(Debug, Clone)]
pub enum ErrorValue {
    Text(String),
    Translated {
        message: String,
        key: String,
        params: Option<Value>,
    },
}

impl ErrorValue {
    pub fn to_json(&self) -> Value {
        match self {
            ErrorValue::Text(s) => Value::String(s.clone()),
            ErrorValue::Translated {
                message,
                key,
                params,
            } => {
                let mut o = json!({"message": message, "translationKey": key});
                if let Some(p) = params {
                    o["translationParams"] = p.clone();
                }
                o
            }
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ErrorValue::Text(s) => s,
            ErrorValue::Translated { message, .. } => message,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ApiError {
    /// `{code, error, details?}` or text, chosen by content negotiation.
    Cht {
        status: u16,
        error: ErrorValue,
        details: Option<Value>,
    },
    /// The API's "not logged in" response (JSON 401, redirect or Basic prompt).
    NotLoggedIn,
    /// CouchDB's own `{error, reason}` body, used on proxied raw paths.
    Couch {
        status: u16,
        error: String,
        reason: String,
    },
    /// A fixed JSON body regardless of `Accept` (e.g. `/medic/login`, `/_session`).
    Json { status: u16, body: Value },
    /// A fixed text body.
    Text { status: u16, body: String },
}

impl ApiError {
    pub fn status(status: u16, msg: impl Into<String>) -> Self {
        ApiError::Cht {
            status,
            error: ErrorValue::Text(msg.into()),
            details: None,
        }
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::status(400, msg)
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::status(404, msg)
    }

    pub fn translated(msg: impl Into<String>, key: &str, params: Option<Value>) -> Self {
        ApiError::Cht {
            status: 400,
            error: ErrorValue::Translated {
                message: msg.into(),
                key: key.to_string(),
                params,
            },
            details: None,
        }
    }

    pub fn insufficient_privileges() -> Self {
        Self::status(403, "Insufficient privileges")
    }

    pub fn offline_firewall() -> Self {
        ApiError::Cht {
            status: 403,
            error: ErrorValue::Text("forbidden".into()),
            details: Some(Value::String(
                "Offline users are not allowed access to this endpoint".into(),
            )),
        }
    }

    pub fn server_error() -> Self {
        Self::status(500, "Server error")
    }

    pub fn couch(status: u16, error: &str, reason: &str) -> Self {
        ApiError::Couch {
            status,
            error: error.into(),
            reason: reason.into(),
        }
    }

    pub fn couch_conflict() -> Self {
        Self::couch(409, "conflict", "Document update conflict.")
    }

    pub fn couch_unauthorized() -> Self {
        Self::couch(401, "unauthorized", "Authentication required.")
    }

    pub fn content_type_json() -> Self {
        Self::bad_request("Content-Type must be application/json")
    }

    pub fn empty_body() -> Self {
        Self::bad_request(
            "Request body is empty or Content-Type header was not set to application/json.",
        )
    }

    /// The error as it appears inside a bulk result item (`{error: …}`).
    pub fn item_value(&self) -> Value {
        match self {
            ApiError::Cht { error, .. } => error.to_json(),
            ApiError::NotLoggedIn => Value::String("unauthorized".into()),
            ApiError::Couch { reason, .. } => Value::String(reason.clone()),
            ApiError::Json { body, .. } => body.get("error").cloned().unwrap_or(Value::Null),
            ApiError::Text { body, .. } => Value::String(body.clone()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        res.extensions_mut().insert(Arc::new(self));
        res
    }
}

/// What the renderer needs to know about the request.
#[derive(Debug, Clone)]
pub struct RenderCtx {
    pub wants_json: bool,
    /// A non-JSON client with a browser-like User-Agent is redirected to the login page.
    pub human: bool,
    pub original_url: String,
    /// `/api/v1/settings` always answers 401 with the Basic prompt.
    pub basic_prompt: bool,
}

fn status_code(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut res = (status_code(status), body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

pub fn text_response(status: u16, body: String) -> Response {
    let mut res = (status_code(status), body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

pub fn render(err: &ApiError, ctx: &RenderCtx) -> Response {
    match err {
        ApiError::Cht {
            status,
            error,
            details,
        } => {
            if ctx.wants_json {
                let mut body = json!({"code": status, "error": error.to_json()});
                if let Some(d) = details {
                    body["details"] = d.clone();
                }
                json_response(*status, &body)
            } else {
                let mut msg = error.message().to_string();
                if let Some(d) = details {
                    msg.push_str(": ");
                    msg.push_str(&d.to_string());
                }
                text_response(*status, msg)
            }
        }
        ApiError::NotLoggedIn => not_logged_in(ctx),
        ApiError::Couch {
            status,
            error,
            reason,
        } => json_response(*status, &json!({"error": error, "reason": reason})),
        ApiError::Json { status, body } => json_response(*status, body),
        ApiError::Text { status, body } => text_response(*status, body.clone()),
    }
}

fn not_logged_in(ctx: &RenderCtx) -> Response {
    let mut res = if ctx.basic_prompt || (!ctx.wants_json && !ctx.human) {
        let mut r = text_response(401, "not logged in".into());
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Medic Web Services\""),
        );
        r
    } else if ctx.wants_json {
        json_response(401, &json!({"code": 401, "error": "unauthorized"}))
    } else {
        let target = format!(
            "/medic/login?redirect={}",
            encode_uri_component(&ctx.original_url)
        );
        let mut r = text_response(302, format!("Found. Redirecting to {target}"));
        if let Ok(v) = HeaderValue::from_str(&target) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static("login=force; Path=/"),
        );
        r
    };
    res.headers_mut().insert(
        "logout-authorization",
        HeaderValue::from_static("CHT-Core API"),
    );
    res
}

/// Whether the error body should be JSON. 4.5+ runs Express negotiation over `text` then
/// `json`; earlier versions required an exact `Accept: application/json`.
pub fn prefers_json(accept: Option<&str>, version: Version) -> bool {
    if version < Version::V4_5 {
        return accept == Some("application/json");
    }
    let Some(accept) = accept else {
        return false; // no header: the first candidate, text, wins
    };
    let entries: Vec<(String, String, f64)> = accept
        .split(',')
        .filter_map(|part| {
            let mut params = part.split(';');
            let media = params.next()?.trim().to_ascii_lowercase();
            let (t, s) = media.split_once('/')?;
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .next()
                .and_then(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            Some((t.to_string(), s.to_string(), q))
        })
        .collect();
    // negotiator: per candidate, the most specific matching entry; then q desc, specificity
    // desc, entry order asc, candidate order asc.
    let best = |t: &str, s: &str| -> Option<(f64, u8, usize)> {
        let mut best: Option<(f64, u8, usize)> = None;
        for (i, (et, es, q)) in entries.iter().enumerate() {
            let mut spec = 0;
            if et == t {
                spec |= 4;
            } else if et != "*" {
                continue;
            }
            if es == s {
                spec |= 2;
            } else if es != "*" {
                continue;
            }
            let better = match best {
                None => true,
                Some((bq, bs, bo)) => {
                    (spec, *q, std::cmp::Reverse(i)) > (bs, bq, std::cmp::Reverse(bo))
                }
            };
            if better {
                best = Some((*q, spec, i));
            }
        }
        best.filter(|(q, _, _)| *q > 0.0)
    };
    let text = best("text", "plain");
    let json = best("application", "json");
    match (text, json) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some((tq, ts, to)), Some((jq, js, jo))) => {
            // ties go to the earlier candidate, text
            (jq, js, std::cmp::Reverse(jo)) > (tq, ts, std::cmp::Reverse(to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_table_from_contract() {
        let v = Version::V5_2;
        assert!(prefers_json(Some("application/json"), v));
        assert!(prefers_json(Some("application/json, text/plain, */*"), v));
        assert!(prefers_json(Some("application/*"), v));
        assert!(!prefers_json(None, v));
        assert!(!prefers_json(Some("*/*"), v));
        assert!(!prefers_json(
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            v
        ));
        assert!(!prefers_json(Some("text/plain, application/json"), v));
        assert!(prefers_json(Some("text/plain;q=0.5, application/json"), v));
    }
}
