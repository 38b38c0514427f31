//! Conformance tests for the CHT API simulator, over real HTTP on port 0. Each numbered fact of
//! the contract (§16) has at least one `fact_NN_*` test; `sim` covers the simulator's own
//! features (seeding, faults, `/__sim`, persistence); `sections` holds `section_N_M_*` tests for
//! contract details stated outside the numbered facts.

mod support;

mod places;
mod raw;
mod sections;
mod sim;
mod transport;
mod users;
