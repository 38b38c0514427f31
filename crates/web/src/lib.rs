//! The HTTP face of CHT Portal: routes, middleware (request ids, tracing, security headers,
//! sessions, CSRF) and the maud + HTMX pages.

mod assets;
pub mod authz;
mod clock;
mod context;
mod csrf;
mod denials;
mod error;
mod extract;
mod pages;
mod router;
pub mod routes;
mod state;
mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

pub use clock::{Clock, ClockControl};
pub use context::{SECURE_SESSION_COOKIE, SESSION_COOKIE};
pub use csrf::{FORM_FIELD as CSRF_FORM_FIELD, HEADER as CSRF_HEADER, PRE_SESSION_COOKIE};
pub use router::router;
pub use state::{AppState, WebSettings};

/// A bound, not yet serving, portal HTTP server. Binding first lets callers (and tests, on
/// port 0) learn the address before serving starts.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: AppState,
}

impl Application {
    pub async fn bind(address: SocketAddr, state: AppState) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let purge = tokio::spawn(purge_expired(self.state.clone()));
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        purge.abort();
        result
    }
}

/// Expired sessions and throttle entries are ignored when read; this keeps the tables from
/// growing forever.
async fn purge_expired(state: AppState) {
    // The first sweep one period after start, not at once: at start-up the sweep's writes would
    // race the first requests' transactions, and on SQLite a deferred transaction that reads and
    // then writes fails ("database is locked") when another write commits in between.
    let period = Duration::from_secs(600);
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let now = state.clock.now();
        match portal_store::sessions::purge_expired(&state.db, state.settings.session, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
            Err(error) => tracing::warn!(%error, "could not purge expired sessions"),
        }
        // Rate-limit windows share the throttle's table: keep each entry its longer window.
        let mut throttle = state.settings.throttle;
        throttle.window = throttle
            .window
            .max(state.settings.oidc_starts.window)
            .max(state.settings.links.reset_requests_per_account.window);
        if let Err(error) = portal_store::throttle::purge_expired(&state.db, &throttle, now).await {
            tracing::warn!(%error, "could not purge old sign-in throttle entries");
        }
        // Sign-ins started at an identity provider and never finished.
        if let Err(error) =
            portal_store::oidc::purge_logins(&state.db, now - chrono::Duration::minutes(10)).await
        {
            tracing::warn!(%error, "could not purge abandoned identity-provider sign-ins");
        }
        // Sign-in links a month past their expiry: until then, opening one says it expired
        // (rather than that it never existed); the audit trail keeps their story.
        if let Err(error) =
            portal_store::invitations::purge_expired(&state.db, now - chrono::Duration::days(30))
                .await
        {
            tracing::warn!(%error, "could not purge expired sign-in links");
        }
    }
}
