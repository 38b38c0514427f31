//! CSRF protection for every state-changing request (POST, PUT, PATCH, DELETE).
//!
//! Three checks, any of which rejects the request:
//! 1. `Sec-Fetch-Site: cross-site`, or an `Origin` whose host differs from `Host`: the browser
//!    says the request came from another site.
//! 2. The synchronizer token: a signed-in session has a random CSRF token stored with it; a
//!    visitor who is not signed in (the sign-in form) gets a random token in a `SameSite=Strict`
//!    cookie (double submit).
//! 3. The request must carry that token, in the `X-CSRF-Token` header (HTMX sends it from the
//!    `hx-headers` attribute of `<body>`) or in the `_csrf` field of a url-encoded form.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use portal_crypto::{Token, constant_time_eq};

use crate::context::SessionSlot;
use crate::error::AppError;

pub const FORM_FIELD: &str = "_csrf";
pub const HEADER: &str = "x-csrf-token";
pub const PRE_SESSION_COOKIE: &str = "portal_csrf";
/// Forms of this portal are small; file uploads carry the token in the header instead.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The pre-session token of this visitor, and the cookie to set when it is new.
pub fn pre_session_token(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(existing) = jar.get(PRE_SESSION_COOKIE) {
        if existing.value().len() >= 32 {
            let value = existing.value().to_owned();
            return (jar, value);
        }
    }
    let token = Token::generate().expose().to_owned();
    let cookie = Cookie::build((PRE_SESSION_COOKIE, token.clone()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), token)
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn from_another_site(headers: &HeaderMap) -> Option<&'static str> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site")
    {
        return Some("Sec-Fetch-Site says cross-site");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let origin_host = url::Url::parse(origin).ok().and_then(|u| {
        u.host_str().map(|h| {
            u.port()
                .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
        })
    });
    match origin_host {
        Some(origin_host) if origin_host.eq_ignore_ascii_case(host) => None,
        _ => Some("Origin does not match Host"),
    }
}

fn is_url_encoded_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub async fn verify_csrf(jar: CookieJar, request: Request, next: Next) -> Response {
    if !is_state_changing(request.method()) {
        return next.run(request).await;
    }
    if let Some(reason) = from_another_site(request.headers()) {
        return AppError::Csrf(reason).into_response();
    }
    let expected = match request.extensions().get::<SessionSlot>() {
        Some(SessionSlot(Some(session))) => Some(session.csrf_token.clone()),
        _ => jar.get(PRE_SESSION_COOKIE).map(|c| c.value().to_owned()),
    };
    let Some(expected) = expected.filter(|t| !t.is_empty()) else {
        return AppError::Csrf("no CSRF token was issued to this client").into_response();
    };
    let header_token = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (request, provided) = match header_token {
        Some(token) => (request, Some(token)),
        None if is_url_encoded_form(request.headers()) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
                return AppError::Csrf("form too large to check").into_response();
            };
            let token = url::form_urlencoded::parse(&bytes)
                .find(|(name, _)| name == FORM_FIELD)
                .map(|(_, value)| value.into_owned());
            (Request::from_parts(parts, Body::from(bytes)), token)
        }
        None => (request, None),
    };
    match provided {
        Some(token) if constant_time_eq(&token, &expected) => next.run(request).await,
        Some(_) => AppError::Csrf("token does not match").into_response(),
        None => AppError::Csrf("no token in the request").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_passes_and_foreign_origin_fails() {
        assert_eq!(
            from_another_site(&headers(&[
                ("host", "portal.go.ke"),
                ("origin", "https://portal.go.ke")
            ])),
            None
        );
        assert_eq!(
            from_another_site(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ])),
            None
        );
        assert!(
            from_another_site(&headers(&[
                ("host", "portal.go.ke"),
                ("origin", "https://evil.example")
            ]))
            .is_some()
        );
        assert!(
            from_another_site(&headers(&[("host", "portal.go.ke"), ("origin", "null")])).is_some()
        );
        assert!(from_another_site(&headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert_eq!(
            from_another_site(&headers(&[("sec-fetch-site", "same-origin")])),
            None
        );
    }
}
