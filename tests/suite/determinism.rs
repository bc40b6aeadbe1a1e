//! A run is a pure function of (scenario, seed): the same seed gives a byte-identical
//! history, and the seed really reaches the run.

use wschaos::{cases, sim};

fn history(file: &str, seed: u64) -> String {
    let scenario = wschaos::scenario::load(file.as_ref()).unwrap();
    sim::run(&scenario, seed).unwrap().to_jsonl()
}

pub fn same_seed_same_bytes_for_a_nontrivial_scenario() {
    // Restarts, a publisher, resume and gaps: thousands of records.
    let a = history("scenarios/restarts/repeated-restarts.toml", 7);
    let b = history("scenarios/restarts/repeated-restarts.toml", 7);
    assert!(
        a.lines().count() > 1000,
        "a nontrivial history ({} lines)",
        a.lines().count()
    );
    assert!(
        a == b,
        "histories differ at line {:?}",
        a.lines().zip(b.lines()).position(|(x, y)| x != y)
    );
}

pub fn same_seed_same_bytes_with_partitions_and_a_herd() {
    for file in [
        "scenarios/partitions/all-partitioned.toml",
        "scenarios/herd/herd-after-restart.toml",
    ] {
        assert_eq!(history(file, 3), history(file, 3), "{file}");
    }
}

pub fn different_seeds_give_different_runs() {
    let a = history("scenarios/restarts/short-restart.toml", 1);
    let b = history("scenarios/restarts/short-restart.toml", 2);
    assert_ne!(a, b, "the seed must reach the jitter and the network");
}

pub fn every_scenario_file_parses() {
    let files = cases::discover(&["scenarios".into()]).unwrap();
    assert!(files.len() >= 20, "{} scenario files", files.len());
    for file in files {
        wschaos::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    }
}
