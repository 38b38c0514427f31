//! Scoped role-based access control for CHT Portal.
//!
//! casbin decides, with a model of roles within domains (the tenant) and a scope test on the
//! place hierarchy; the policies come from the portal's grants (see [`adapter`]). A scope is a
//! whole tenant, one instance, or a place with everything below it, judged by the lineage the
//! portal caches from CHT: a place moved out of a subtree leaves that subtree's scope.

pub mod adapter;
mod authorizer;
pub mod delegation;
mod holdings;
pub mod scope;

pub use authorizer::{AccessError, Authorizer, HeldScope, InstanceView, MODEL, Principal};
pub use delegation::DelegationError;
pub use holdings::{Holding, Holdings, RoleBook};
pub use scope::Target;
