//! Property: for random fault schedules and client actions (the swarm generator, drawn
//! within `scenarios/swarm/calm.toml`'s bounds), the reference client keeps every invariant.
//!
//! `PROPTEST_CASES` sets the number of schedules (default here: 24). A failing seed is
//! saved in `tests/properties.proptest-regressions`, which is committed and replayed first.

use proptest::prelude::*;
use wschaos::{check, explore, scenario, sim};

fn calm() -> scenario::Scenario {
    scenario::load("scenarios/swarm/calm.toml".as_ref()).unwrap()
}

pub fn the_reference_client_keeps_every_invariant_under_random_schedules() {
    let config = ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(24),
        ..ProptestConfig::default()
    };
    proptest!(config, |(seed in any::<u64>())| {
        let drawn = explore::swarm(&calm(), seed);
        let history = sim::run(&drawn, seed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let verdict = check::check(&drawn, &history);
        prop_assert!(
            verdict.passed(),
            "seed {seed}: {:?}\nreplay: cargo run --release -- explore scenarios/swarm/calm.toml --swarm --start {seed} --seeds 1",
            verdict.violations.first()
        );
    });
}
