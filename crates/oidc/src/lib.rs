//! OpenID Connect sign-in through each tenant's own identity provider (Keycloak, Azure AD,
//! Google…): the authorization code flow with PKCE, over openidconnect 4 and reqwest 0.13.
//!
//! The portal owns the routes, the session and the clock; this crate owns the protocol:
//! - [`OidcClient::begin`] discovers the provider (cached per issuer, [`DEFAULT_METADATA_TTL`])
//!   and returns the URL to send the browser to, with the `state`, `nonce` and PKCE verifier
//!   to keep in the pre-sign-in session.
//! - [`OidcClient::complete`] exchanges the code and verifies the ID token against the
//!   portal's `now`, re-fetching the provider's keys once when a token names an unknown key.
//! - [`OidcClient::end_session_url`] builds the RP-initiated logout URL.
//!
//! The back channel never follows redirects, keeps no cookies and is bounded by a timeout and
//! a body size limit. Secrets (client secret, PKCE verifier, ID token) are hidden from `Debug`
//! and never appear in [`OidcError`] messages.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portal_oidc::OidcError> {
//! use portal_oidc::{OidcClient, ProviderSettings};
//! let client = OidcClient::new(std::time::Duration::from_secs(10));
//! let settings = ProviderSettings {
//!     issuer_url: "https://login.example.org/realms/moh".into(),
//!     client_id: "cht-portal".into(),
//!     client_secret: "from the sealed column".into(),
//!     redirect_url: "https://portal.example.org/auth/oidc/callback".into(),
//! };
//! let started = client.begin(&settings, Some("nurse@moh.example.org")).await?;
//! // … redirect to started.url; on the callback, compare `state`, then:
//! let who = client
//!     .complete(&settings, "code from the callback", &started.pkce_verifier, &started.nonce, chrono::Utc::now())
//!     .await?;
//! println!("{} <{:?}>", who.subject, who.email);
//! # Ok(()) }
//! ```

mod client;
mod error;
mod http;
mod settings;

pub use client::{Authorization, CLOCK_SKEW, DEFAULT_METADATA_TTL, OidcClient, VerifiedIdentity};
pub use error::OidcError;
pub use settings::ProviderSettings;
