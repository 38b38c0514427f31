//! Typed async client for the CHT server API, one [`ChtClient`] per CHT instance.
//!
//! - Session: logs in with the service account (`POST /_session`), keeps the `AuthSession`
//!   cookie, and logs in once more on a 401 before retrying the request.
//! - Transport: `Accept: application/json` and exactly `Content-Type: application/json` on
//!   every request, connect and request timeouts, a per-instance concurrency limit shared by
//!   all clones, retries with exponential backoff and full jitter for requests that are safe
//!   to repeat ([`transport`]), and read-back resolution of creates whose outcome is unknown
//!   ([`outcome`]).
//! - Version adaptation: detected from `/api/v2/monitoring` or `/api/info`; v1 vs v3 user
//!   creates, user filters before 4.7, `facility_id` string vs array, 5.2 endpoints.
//! - Errors: one [`ChtError`] carrying CHT's message, translation key and the endpoint.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cht_client::ChtError> {
//! use cht_client::{ChtClient, ChtConfig};
//! let client = ChtClient::new(ChtConfig::new("https://cht.example.org", "portal", "s3cret!Pw")?)?;
//! let report = client.test_connection().await?;
//! println!("CHT {} missing {:?}", report.info.version, report.permissions.missing);
//! # Ok(()) }
//! ```

mod client;
mod config;
mod credentials;
pub mod docs;
mod errors;
mod info;
pub mod outcome;
pub mod places;
mod secret;
pub mod settings;
pub mod transport;
pub mod users;
mod version;

pub use client::{ChtClient, ClientStats, SessionUser};
pub use config::ChtConfig;
pub use credentials::CredentialCheck;
pub use docs::{
    AllDocsRow, BulkResult, ContactDoc, ContactLink, DepthRange, DepthValue, DocRef, FacilityIds,
    Lineage, PageRequest, UserSettingsDoc, ViewCursor, ViewPage, ViewRow,
};
pub use errors::{ChtError, Endpoint, ErrorBody, parse_error_body};
pub use outcome::Resolved;
pub use places::{CreatedContact, NewPerson, NewPlace, PlaceContact, PlaceUpdate};
pub use secret::Secret;
pub use settings::{
    AppSettings, ConnectionReport, ContactType, Permission, PermissionReport, RoleConfig,
};
pub use transport::RetryPolicy;
pub use users::{
    ChtUser, CreatedUser, NewUser, UpdatedUser, UserContact, UserFilter, UserPlace, UserUpdate,
};
pub use version::{ChtInfo, ChtVersion, VersionSource};
