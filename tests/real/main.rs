//! The tests on the real network, one binary: the client and the server on loopback
//! (`network`, `hostile`), real-network scenario runs with processes (`real_runs`,
//! `foreign_server`, `signals`), the HTML timeline in a browser (`browser`) and a small soak.
//! Kept apart from `tests/suite/` so that their real-time waits do not share a process with
//! the CPU-bound simulated tests.

#[allow(dead_code)]
mod support;

mod browser;
mod foreign_server;
mod hostile;
mod network;
mod real_runs;
mod signals;
mod soak;
