//! Conformance tests for the CHT API simulator, over real HTTP on port 0. Each numbered fact of
//! the contract (§16) has at least one `fact_NN_*` test; `sim` covers the simulator's own
//! features (seeding, faults, `/__sim`, persistence).

mod support;

mod places;
mod raw;
mod sim;
mod transport;
mod users;
