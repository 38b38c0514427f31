//! Integration tests: the real portal on port 0, a fresh database per test, real HTTP.
//!
//! `PORTAL_TEST_DATABASE=postgres` runs every test on PostgreSQL (a database per test, dropped
//! afterwards); the default is a SQLite file per test. `.ci/run` runs this binary both ways.

mod support;
mod world;

mod audit;
mod auth;
mod authz;
mod browser;
mod cli;
mod connection;
mod csrf;
mod health;
mod instances;
mod migrations;
mod oidc;
mod sessions;
mod staging;
mod tenants;
