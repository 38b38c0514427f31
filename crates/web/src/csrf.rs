//! CSRF protection for every state-changing request (POST, PUT, PATCH, DELETE).
//!
//! Three checks, any of which rejects the request:
//! 1. `Sec-Fetch-Site: cross-site`, or an `Origin` whose host differs from `Host`: the browser
//!    says the request came from another site.
//! 2. The synchronizer token: a signed-in session has a random CSRF token stored with it; a
//!    visitor who is not signed in (the sign-in form) gets a random token in a `SameSite=Strict`
//!    cookie (double submit).
//! 3. The request must carry that token, in the `X-CSRF-Token` header (HTMX sends it from the
//!    `hx-headers` attribute of `<body>`), in the `_csrf` field of a url-encoded form, or — for
//!    a file upload (`multipart/form-data`), whose body is not read twice — in the `_csrf`
//!    query parameter of the form's action. Logs record paths without query strings, and the
//!    referrer policy keeps the URL on this site.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use portal_crypto::{Token, constant_time_eq};

use crate::AppState;
use crate::context::SessionSlot;
use crate::error::AppError;

pub const FORM_FIELD: &str = "_csrf";
pub const HEADER: &str = "x-csrf-token";
pub const PRE_SESSION_COOKIE: &str = "portal_csrf";
pub const SECURE_PRE_SESSION_COOKIE: &str = "__Host-portal_csrf";

/// Over HTTPS the `__Host-` prefix stops a sibling sub-domain from planting the cookie.
#[must_use]
pub fn pre_session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_PRE_SESSION_COOKIE
    } else {
        PRE_SESSION_COOKIE
    }
}
/// Forms of this portal are small; file uploads carry the token in the action URL instead.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The pre-session token of this visitor, and the cookie to set when it is new.
pub fn pre_session_token(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    let name = pre_session_cookie_name(secure);
    if let Some(existing) = jar.get(name) {
        if existing.value().len() >= 32 {
            let value = existing.value().to_owned();
            return (jar, value);
        }
    }
    let token = Token::generate().expose().to_owned();
    let cookie = Cookie::build((name, token.clone()))
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

/// `scheme://host[:port]` of a URL, as browsers write it in `Origin`.
fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether the browser says the request came from another site. With `public_url` configured the
/// `Origin` must equal it exactly (a proxy may rewrite `Host`); otherwise its host must equal the
/// request's `Host` (or, in HTTP/2, the authority). A request with an `Origin` and nothing to
/// compare it with is refused rather than waved through.
fn from_another_site(
    headers: &HeaderMap,
    authority: Option<&str>,
    public_origin: Option<&str>,
) -> Option<&'static str> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site")
    {
        return Some("Sec-Fetch-Site says cross-site");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
    let Ok(origin_url) = url::Url::parse(origin) else {
        return Some("Origin is not a URL (for example \"null\")");
    };
    if let Some(expected) = public_origin {
        return (origin_of(&origin_url) != expected).then_some("Origin differs from public_url");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority);
    let Some(host) = host else {
        return Some("Origin present but no Host to compare it with");
    };
    let origin_host = origin_url.host_str().map(|h| {
        origin_url
            .port()
            .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
    });
    match origin_host {
        Some(origin_host) if origin_host.eq_ignore_ascii_case(host) => None,
        _ => Some("Origin does not match Host"),
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

fn is_url_encoded_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub async fn verify_csrf(
    State(state): State<AppState>,
    jar: CookieJar,
    request: Request,
    next: Next,
) -> Response {
    if !is_state_changing(request.method()) {
        return next.run(request).await;
    }
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if let Some(reason) = from_another_site(
        request.headers(),
        authority.as_deref(),
        state.settings.public_origin.as_deref(),
    ) {
        return AppError::Csrf(reason).into_response();
    }
    let expected = match request.extensions().get::<SessionSlot>() {
        Some(SessionSlot(Some(session))) => Some(session.csrf_token.clone()),
        _ => jar
            .get(pre_session_cookie_name(state.settings.secure))
            .map(|c| c.value().to_owned()),
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
        None if is_multipart(request.headers()) => {
            let token = request.uri().query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(name, _)| name == FORM_FIELD)
                    .map(|(_, value)| value.into_owned())
            });
            (request, token)
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

    fn check(pairs: &[(&'static str, &'static str)]) -> Option<&'static str> {
        from_another_site(&headers(pairs), None, None)
    }

    #[test]
    fn same_origin_passes_and_foreign_origin_fails() {
        assert_eq!(
            check(&[("host", "portal.go.ke"), ("origin", "https://portal.go.ke")]),
            None
        );
        assert_eq!(
            check(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]),
            None
        );
        assert!(check(&[("host", "portal.go.ke"), ("origin", "https://evil.example")]).is_some());
        assert!(check(&[("host", "portal.go.ke"), ("origin", "null")]).is_some());
        assert!(check(&[("sec-fetch-site", "cross-site")]).is_some());
        assert_eq!(check(&[("sec-fetch-site", "same-origin")]), None);
        assert_eq!(
            check(&[("host", "x.org")]),
            None,
            "no Origin: older browsers, curl"
        );
    }

    #[test]
    fn without_host_the_authority_or_a_refusal_decides() {
        let h = headers(&[("origin", "https://portal.go.ke")]);
        assert_eq!(from_another_site(&h, Some("portal.go.ke"), None), None);
        assert!(from_another_site(&h, None, None).is_some());
    }

    #[test]
    fn public_url_wins_over_a_rewritten_host() {
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://portal.go.ke"),
        ]);
        assert_eq!(
            from_another_site(&h, None, Some("https://portal.go.ke")),
            None
        );
        let h = headers(&[("host", "portal.go.ke"), ("origin", "http://portal.go.ke")]);
        assert!(
            from_another_site(&h, None, Some("https://portal.go.ke")).is_some(),
            "scheme counts"
        );
    }
}
