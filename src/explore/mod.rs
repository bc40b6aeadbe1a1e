//! Finding flaky reconnect bugs on demand: sweep seeds (optionally randomising the fault
//! schedule, "swarm"), shrink a failure to a small scenario, write it as a regression file.
//!
//! Everything here is generic over the client under test, so wschaos's own tests can prove
//! that exploring finds each deliberate defect from a clean scenario.

mod generate;
mod regression;
mod shrink;

pub use generate::swarm;
pub use regression::{cli_replay, file_name, render};
pub use shrink::{Shrunk, shrink};

use std::path::Path;

use crate::cases::Case;
use crate::check::{self, Violation};
use crate::scenario::Scenario;
use crate::sim::{self, ClientUnderTest, SimError};

/// A case that broke an invariant.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The case as run (with its drawn steps, in swarm mode).
    pub case: Case,
    /// The first violation.
    pub violation: Violation,
}

/// Runs seed `seed` of `base` (with a drawn schedule when `swarm`) against `C`.
pub fn try_seed<C: ClientUnderTest>(
    base: &Scenario,
    file: &Path,
    seed: u64,
    swarm_mode: bool,
) -> Result<Option<Failure>, SimError> {
    let scenario = if swarm_mode {
        swarm(base, seed)
    } else {
        base.clone()
    };
    let history = sim::run_with::<C>(&scenario, seed)?;
    let verdict = check::check(&scenario, &history);
    let known = scenario.expect.failing.clone();
    let violation = verdict
        .violations
        .into_iter()
        .find(|v| known.as_deref() != Some(v.invariant));
    Ok(violation.map(|violation| Failure {
        case: Case {
            file: file.to_path_buf(),
            scenario,
            seed,
        },
        violation,
    }))
}

/// True when `scenario` with `seed` still breaks `invariant` with client `C`.
pub fn still_fails<C: ClientUnderTest>(scenario: &Scenario, seed: u64, invariant: &str) -> bool {
    fired::<C>(scenario, seed).is_some_and(|f| f.contains(invariant))
}

/// The invariants a run of `scenario` with `seed` breaks; `None` when it could not run.
pub fn fired<C: ClientUnderTest>(
    scenario: &Scenario,
    seed: u64,
) -> Option<std::collections::BTreeSet<&'static str>> {
    sim::run_with::<C>(scenario, seed).ok().map(|h| {
        check::check(scenario, &h)
            .violations
            .iter()
            .map(|v| v.invariant)
            .collect()
    })
}
