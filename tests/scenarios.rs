//! Every simulated scenario file under `scenarios/`, for each of its seeds, is its own test:
//! `cargo test --test scenarios -- restarts/short` runs a subset, `-- --list` lists them.
//! A failure prints the violation, a short timeline around it and the replay command.
//! Each test also checks, on the run it made, that the history is causal and that the
//! verdict does not depend on names. The real-network files run in `tests/suite/`, beside the other real-time tests.

use std::collections::BTreeSet;

use wschaos::cases::{Case, Outcome};
use wschaos::{check, sim};

#[path = "shared/causal.rs"]
mod causal;
#[path = "shared/library.rs"]
mod library;
#[path = "shared/renaming.rs"]
mod renaming;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = library::trials(wschaos::world::World::Simulated, also);
    libtest_mimic::run(&args, trials.into_iter().map(|(_, t)| t).collect()).exit();
}

/// Each client's records read in causal order, and the same run under other names gets
/// the same verdict (the same invariants fire).
fn also(case: &Case, outcome: &Outcome) -> Result<(), String> {
    let what = format!("{} seed {}", case.file.display(), case.seed);
    if causal::check(&outcome.history, &what) == 0 {
        return Err("no dial, message or gap to check for causal order".into());
    }
    let fired = |v: &check::Verdict| -> BTreeSet<&'static str> {
        v.violations.iter().map(|v| v.invariant).collect()
    };
    let other = renaming::renamed(&case.scenario);
    let history = sim::run(&other, case.seed).map_err(|e| format!("renamed: {e}"))?;
    let (a, b) = (
        fired(&outcome.verdict),
        fired(&check::check(&other, &history)),
    );
    if a != b {
        return Err(format!(
            "renamed hosts and groups change the verdict: {a:?} under its own names, {b:?} renamed"
        ));
    }
    Ok(())
}
