//! The real-network files of the library (`scenarios/real/`), each run as a test of its own,
//! one at a time, in a binary of their own: cargo runs test binaries one after another, so
//! no simulation competes with them for the CPU (a busy machine is a noisy clock). A file
//! whose `needs` this machine lacks (Node, Chromium, the example clients' `npm ci`) is
//! skipped and says so, unless `WSCHAOS_REQUIRE_NEEDS=1` (CI), where it fails.

#[path = "shared/library.rs"]
mod library;

fn main() {
    library::run(wschaos::world::World::RealNetwork);
}
