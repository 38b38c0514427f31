//! The `cht-portal` program: command line, start-up and wiring of the crates in `crates/`.
//! See docs/architecture.md for how the pieces fit.

pub mod cli;
pub mod commands;
pub mod startup;
pub mod telemetry;
