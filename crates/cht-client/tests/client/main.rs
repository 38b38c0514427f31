//! Integration tests: the client against the in-process CHT simulator over real HTTP.

mod common;
mod credentials;
mod docs;
mod errors;
mod faults;
mod permissions;
mod places;
mod session;
mod users;
mod version;
