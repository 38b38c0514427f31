//! Per-request context: request id, client address, and the signed-in session, loaded once by
//! middleware and read by extractors.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use portal_crypto::Token;
use portal_store::sessions::{self, ActiveSession};

use crate::AppState;
use crate::error::AppError;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, for error pages and audit events.
#[must_use]
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub path_and_query: String,
}

/// The session found for the request's cookie, if any.
#[derive(Debug, Clone)]
pub struct SessionSlot(pub Option<ActiveSession>);

pub const SESSION_COOKIE: &str = "portal_session";
pub const SECURE_SESSION_COOKIE: &str = "__Host-portal_session";

/// Secure deployments use the `__Host-` prefix, which browsers only accept with `Secure`,
/// `Path=/` and no `Domain`: a sibling sub-domain cannot plant a session cookie.
#[must_use]
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

fn client_address(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    behind_proxy: bool,
) -> Option<String> {
    if behind_proxy {
        // Our proxy appends the address it saw; earlier entries are whatever the client claimed.
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        if let Some(address) = forwarded {
            return Some(address.chars().take(64).collect());
        }
    }
    peer.map(|p| p.ip().to_string())
}

pub async fn load_context(
    State(state): State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let meta = RequestMeta {
        request_id: request_id.clone(),
        client_address: client_address(headers, peer, state.settings.behind_proxy),
        user_agent: headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        path_and_query: request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), ToString::to_string),
    };
    let session = match jar.get(session_cookie_name(state.settings.secure)) {
        Some(cookie) => {
            let token = Token::from_client(cookie.value());
            match sessions::find_active(
                &state.db,
                &token,
                state.settings.session,
                state.clock.now(),
            )
            .await
            {
                Ok(found) => found,
                Err(error) => {
                    return REQUEST_ID
                        .scope(request_id.unwrap_or_default(), async {
                            AppError::from(error).into_response()
                        })
                        .await;
                }
            }
        }
        None => None,
    };
    request.extensions_mut().insert(meta);
    request.extensions_mut().insert(SessionSlot(session));
    REQUEST_ID
        .scope(request_id.unwrap_or_default(), next.run(request))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_address_is_used_only_behind_a_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 10.1.2.3".parse().unwrap());
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        assert_eq!(
            client_address(&headers, peer, true).as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            client_address(&headers, peer, false).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            client_address(&HeaderMap::new(), peer, true).as_deref(),
            Some("127.0.0.1")
        );
    }
}
