//! A simulator of the CHT server API for tests and demos.
//!
//! It implements the user, place and person endpoints, `/_session` and `/medic/login`, and the
//! raw CouchDB reads a portal uses (`_all_docs`, `_bulk_docs`, `contacts_by_type`,
//! `contacts_by_depth`), following the conformance facts of the CHT API contract
//! (`cht-api-contract.md` §16). Start it in-process with [`Simulator::start`] or run the
//! `cht-sim` binary.

mod auth;
mod collate;
mod csv;
mod db;
mod errors;
mod faults;
mod info;
mod people;
mod persist;
mod places;
mod seed;
mod server;
mod session;
mod settings;
mod sim_admin;
mod store;
mod users;
mod util;
mod version;

pub use faults::FaultConfig;
pub use seed::{DEMO_PASSWORD, MAX_SEED_SIZE};
pub use server::{RunningSim, Seed, Sim, SimConfig, Simulator, StartError};
pub use version::Version;
