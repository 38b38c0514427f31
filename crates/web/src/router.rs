use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::pages::staging;
use crate::{AppState, authz, context, csrf, routes, views};

/// No inline script or style anywhere: everything comes from `/assets`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The transport-level cap: the largest upload route's limit, with room for the form around it.
const MAX_REQUEST_BYTES: usize = staging::MAX_UPLOAD_BYTES + 1024 * 1024;

/// Every route of the portal, with its middleware.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let secure = state.settings.secure;
    let trust_request_ids = state.settings.behind_proxy;
    let mut app = Router::new();
    for route in routes::table() {
        // Each route carries its own rule into the authorization layer, which runs after
        // routing, so it knows the matched route and its path parameters.
        let layer = from_fn_with_state((state.clone(), route.rule), authz::authorize);
        app = app.route(route.path, route.endpoint.route_layer(layer));
    }
    let app = app
        // Forms are small; the upload routes above allow more for themselves.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), csrf::verify_csrf))
        .layer(from_fn_with_state(state.clone(), context::load_context))
        .with_state(state);

    let hsts = secure.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    app.layer(
        ServiceBuilder::new()
            .layer(MapRequestLayer::new(move |request: Request| {
                keep_trusted_request_id(request, trust_request_ids)
            }))
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                // The path only: query strings may one day carry search terms or names.
                // Sign-in link tokens are secrets: never in the logs (part A of issue 10).
                let path = crate::pages::invitations::without_link_token(request.uri().path());
                tracing::info_span!("request", method = %request.method(), path = %path, request_id)
            }))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CatchPanicLayer::custom(|_| internal_error_response()))
            .layer(axum::middleware::map_response(explain_too_large))
            .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
            .layer(CompressionLayer::new())
            .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
            .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
            .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
            .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
            .layer(SetResponseHeaderLayer::overriding(HeaderName::from_static("permissions-policy"), HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()")))
            .layer(SetResponseHeaderLayer::overriding(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")))
            .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .layer(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, hsts))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60))),
    )
}

/// A request id from outside lands in logs and the audit trail: accept one only from our own
/// proxy, and only in a plain form; otherwise a fresh one is generated.
fn keep_trusted_request_id(mut request: Request, trusted: bool) -> Request {
    let acceptable = |value: &str| {
        (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let keep = trusted
        && request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .is_some_and(acceptable);
    if !keep {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// The transport-level body limit answers 413 with bare text; say what the limit is instead.
async fn explain_too_large<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let response = response.map(axum::body::Body::new);
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|t| !t.as_bytes().starts_with(b"text/html"));
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE || !plain {
        return response;
    }
    views::error_page(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Nothing was sent",
        &format!(
            "The request is larger than {} MiB, the most the portal accepts. Split the file into \
             several smaller files and upload them one by one.",
            MAX_REQUEST_BYTES >> 20
        ),
    )
}

async fn not_found() -> Response {
    views::error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address. Check the link, or start again from the start page.",
    )
}

fn internal_error_response() -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "The portal could not complete this request.",
    )
        .into_response()
}
