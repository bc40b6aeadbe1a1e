//! The scenario library as tests, for `tests/scenarios.rs` (simulated files) and
//! `tests/real_scenarios.rs` (real-network files, which share the machine by weight). Every
//! file, for each of its seeds, is its own test. A failure prints the violation, a short
//! timeline around it and the replay command. A real-network file whose `needs` this
//! machine lacks is skipped, and says so, unless `WSCHAOS_REQUIRE_NEEDS=1` (CI).

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, PoisonError};

use libtest_mimic::{Arguments, Failed, Trial};
use wschaos::cases::{self, Case, Judgement};
use wschaos::report;
use wschaos::world::World;

/// Runs the library's cases: the real-network ones when `real`, else the simulated ones.
pub fn run(world: World) {
    let mut args = Arguments::from_args();
    if world == World::RealNetwork && args.test_threads.is_none() {
        // Real runs mostly wait in real time: more of them than cores may run, as far
        // as the gate below lets them.
        args.test_threads = Some(3);
    }
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

/// Real-time runs share the machine by weight, out of [`CAPACITY`]: a file weighs its
/// processes (clients, and a server command), a browser the whole machine; one that does
/// not fit beside those running waits. Each run measures how late the machine woke its
/// timers and widens its tolerance by that (`wschaos::real`), so a run beside another is
/// not blamed for the machine's delay; a herd of twenty runs alone.
const CAPACITY: usize = 6;

static USED: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// A share of the machine, given back on drop.
struct Share(usize);

impl Share {
    fn take(weight: usize) -> Share {
        let weight = weight.clamp(1, CAPACITY);
        let mut used = USED.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + weight > CAPACITY {
            used = FREED.wait(used).unwrap_or_else(PoisonError::into_inner);
        }
        *used += weight;
        Share(weight)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        *USED.lock().unwrap_or_else(PoisonError::into_inner) -= self.0;
        FREED.notify_all();
    }
}

/// How much of the machine a real-network case takes ([`Share`]).
fn weight(case: &Case) -> usize {
    let s = &case.scenario;
    if (s.clients.iter()).any(|g| g.needs.iter().any(|n| n == "chromium")) {
        return CAPACITY;
    }
    let clients: usize = s.clients.iter().map(|g| g.count).sum();
    clients + usize::from(s.server.command.is_some())
}

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
        let _share = (case.world() == World::RealNetwork).then(|| Share::take(weight(&case)));
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
