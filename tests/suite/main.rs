//! The simulated and command-line tests, one binary (one link of the crate, not fourteen):
//! each former test file is a module, so `cargo test --test suite defects::` runs what
//! `--test defects` ran. Real-network tests, which time real processes, are `tests/real/`;
//! the simulated scenario library is `tests/scenarios.rs` (the real-network files run in
//! `tests/real/`).

#[macro_use]
mod defective;

mod cli;
mod client_restart;
mod defects;
mod determinism;
mod explore;
mod fuzz_scenarios;
mod handover;
mod properties;
mod renaming;
mod scenario_claims;
mod scenario_errors;
mod shards;
mod simulation_smoke;
