//! sea-orm entities, one per table of `portal-migrations`. Behaviour lives in the repository
//! modules beside this one, not here.

pub mod audit_event;
pub mod authz_revision;
pub mod cht_identity;
pub mod cht_instance;
pub mod cht_sign_in_instance;
pub mod deployment_config;
pub mod grant;
pub mod login_throttle;
pub mod oidc_identity;
pub mod oidc_login;
pub mod oidc_provider;
pub mod pending_sign_in;
pub mod person;
pub mod place;
pub mod place_sync;
pub mod place_type_gap;
pub mod portal_user;
pub mod role;
pub mod second_factor;
pub mod second_factor_policy;
pub mod second_factor_recovery_code;
pub mod session;
pub mod sign_in_link;
pub mod staged_row;
pub mod staging_batch;
pub mod tenant;
