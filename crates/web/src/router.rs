use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::pages::{
    access, account, auth, config, connection, health, home, instances, oidc, places, roles,
    sign_in, staging, tenants,
};
use crate::{AppState, assets, authz, context, csrf, views};

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
    let routes = Router::new()
        .route("/", get(home::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/login/oidc/{provider_id}", get(oidc::start))
        .route("/logout", post(auth::logout))
        .route(
            "/account/password",
            get(account::show).post(account::change),
        )
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/tenants/{tenant_id}",
            get(tenants::show).post(tenants::update),
        )
        .route("/tenants/{tenant_id}/delete", post(tenants::delete))
        .route(
            "/tenants/{tenant_id}/access",
            get(access::show).post(access::grant),
        )
        .route("/tenants/{tenant_id}/access/people", get(access::people))
        .route(
            "/tenants/{tenant_id}/access/{grant_id}/revoke",
            post(access::revoke),
        )
        .route(
            "/tenants/{tenant_id}/roles",
            get(roles::show).post(roles::save),
        )
        .route(
            "/tenants/{tenant_id}/roles/{role_key}/delete",
            post(roles::delete),
        )
        .route(
            "/tenants/{tenant_id}/sign-in",
            get(sign_in::show).post(sign_in::save),
        )
        .route("/tenants/{tenant_id}/instances", post(instances::create))
        .route("/tenants/{tenant_id}/instances/new", get(instances::new))
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}",
            get(instances::show).post(instances::update),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/delete",
            post(instances::delete),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/test",
            post(connection::test),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/places",
            get(places::index),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/places/refresh",
            post(places::refresh),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/places/search",
            get(places::search),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/places/{place_id}",
            get(places::show),
        )
        .route(
            "/api/v1/tenants/{tenant_id}/instances/{instance_id}/places",
            get(places::api_search),
        )
        .route(
            "/tenants/{tenant_id}/config",
            get(config::show).post(config::save),
        )
        .route(
            "/tenants/{tenant_id}/config/upload",
            post(config::upload).layer(DefaultBodyLimit::max(config::MAX_CONFIG_BYTES + 64 * 1024)),
        )
        .route("/tenants/{tenant_id}/config/preview", post(config::preview))
        .route(
            "/tenants/{tenant_id}/config/import-domains",
            post(config::import_domains),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging",
            get(staging::index),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/template/{contact_type}",
            get(staging::template),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/upload",
            post(staging::upload)
                .layer(DefaultBodyLimit::max(staging::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/new-row",
            post(staging::new_row),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/refresh",
            post(staging::refresh_type),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}",
            get(staging::show),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows",
            post(staging::add_row),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}",
            post(staging::save_row),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/edit",
            get(staging::edit),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/remove",
            post(staging::remove_row),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/acknowledge",
            post(staging::acknowledge),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/revalidate",
            post(staging::revalidate),
        )
        .route(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/invalid.csv",
            get(staging::invalid_csv),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/assets/{version}/{name}", get(assets::serve))
        // Runs after routing, so it knows the matched route and its path parameters.
        .route_layer(from_fn_with_state(state.clone(), authz::authorize))
        // Forms are small; the upload routes above allow more for themselves.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), csrf::verify_csrf))
        .layer(from_fn_with_state(state.clone(), context::load_context))
        .with_state(state);

    let hsts = secure.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    routes.layer(
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
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
            }))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CatchPanicLayer::custom(|_| internal_error_response()))
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
