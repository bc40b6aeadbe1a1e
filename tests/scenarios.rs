//! Every simulated scenario file under `scenarios/`, for each of its seeds, is its own test:
//! `cargo test --test scenarios -- restarts/short` runs a subset, `-- --list` lists them.
//! A failure prints the violation, a short timeline around it and the replay command.
//! The real-network files run in `tests/real_scenarios.rs`.

#[path = "shared/library.rs"]
mod library;

fn main() {
    library::run(wschaos::world::World::Simulated);
}
