//! Integration tests: the real portal on port 0, a fresh database per test, real HTTP.
//!
//! `PORTAL_TEST_DATABASE=postgres` runs every test on PostgreSQL (a database per test, dropped
//! afterwards); the default is a SQLite file per test. `.ci/run` runs this binary both ways.

mod support;
mod world;

mod audit;
mod auth;
mod authz;
mod authz_matrix;
mod batch_area;
mod browser;
mod cht_sign_in;
mod cli;
mod config_warnings;
mod connection;
mod csrf;
mod csv_export;
mod delegation;
mod delegation_chains;
mod denials;
mod health;
mod instance_grants;
mod instances;
mod invitations;
mod migrations;
mod oidc;
mod oidc_limits;
mod place_types;
mod second_factor;
mod sessions;
mod staged_parents;
mod staging;
mod tenants;
mod upload_limits;
