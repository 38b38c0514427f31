//! sea-orm entities, one per table of `portal-migrations`. Behaviour lives in the repository
//! modules beside this one, not here.

pub mod audit_event;
pub mod cht_instance;
pub mod login_throttle;
pub mod portal_user;
pub mod session;
pub mod tenant;
