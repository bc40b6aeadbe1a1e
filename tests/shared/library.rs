//! The scenario library as tests, for `tests/scenarios.rs` (simulated files) and
//! `tests/real_scenarios.rs` (real-network files, which take turns in real time). Every
//! file, for each of its seeds, is its own test. A failure prints the violation, a short
//! timeline around it and the replay command. A real-network file whose `needs` this
//! machine lacks is skipped, and says so, unless `WSCHAOS_REQUIRE_NEEDS=1` (CI).

use std::path::PathBuf;
use std::sync::Mutex;

use libtest_mimic::{Arguments, Failed, Trial};
use wschaos::cases::{self, Case, Judgement};
use wschaos::report;
use wschaos::world::World;

/// Runs the library's cases: the real-network ones when `real`, else the simulated ones.
pub fn run(world: World) {
    let args = Arguments::from_args();
    // cargo runs integration tests from the package root; relative paths keep the
    // replay commands short.
    let root = PathBuf::from("scenarios");
    let files = cases::discover(std::slice::from_ref(&root)).expect("scenarios/ is readable");
    let mut trials = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        match cases::cases(&file, None) {
            Ok(cases) => trials.extend(
                cases
                    .into_iter()
                    .filter(|case| case.world() == world)
                    .map(|case| trial(&name, case)),
            ),
            Err(e) => {
                let message = e.to_string();
                trials.push(Trial::test(format!("{name}::parse"), move || {
                    Err(Failed::from(message))
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Real-time runs take turns.
static REAL: Mutex<()> = Mutex::new(());

fn trial(name: &str, case: Case) -> Trial {
    let missing = wschaos::real::missing_needs(&case.scenario, &wschaos::real::dir_of(&case.file));
    let required = std::env::var_os("WSCHAOS_REQUIRE_NEEDS").is_some_and(|v| v == "1");
    let skip = !missing.is_empty() && !required;
    if skip {
        eprintln!(
            "skipping {name}: needs {} (install it, or set WSCHAOS_REQUIRE_NEEDS=1 to fail instead)",
            missing
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let test = format!("{name}::seed_{}", case.seed);
    Trial::test(test.clone(), move || {
        let _turn = (case.world() == World::RealNetwork)
            .then(|| REAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let outcome = case.run().map_err(|e| Failed::from(e.to_string()))?;
        match case.judge(&outcome) {
            Judgement::Pass | Judgement::KnownFailure(_) => Ok(()),
            Judgement::Unconfirmed { invariant, reason } => {
                // Green: nothing is known either way. Said, so a reader sees it.
                eprintln!("{test}: known failure ({invariant}) not confirmed: {reason}");
                Ok(())
            }
            Judgement::Fixed(invariant) => Err(Failed::from(format!(
                "{}: the known failure ({invariant}) no longer happens: the bug is fixed; delete `failing` from the file",
                case.file.display()
            ))),
            Judgement::Fail => Err(Failed::from(report::failure(&case, &outcome))),
        }
    })
    .with_ignored_flag(skip)
}
