//! The scenario library as tests, for `tests/scenarios.rs` (simulated files) and
//! `tests/suite/main.rs` (real-network files, beside the other real-time tests, sharing the
//! machine by weight). Every file, for each of its seeds, is its own test. A failure prints
//! the violation, a short timeline around it and the replay command. A real-network file
//! whose `needs` this machine lacks is skipped, and says so, unless `WSCHAOS_REQUIRE_NEEDS=1`
//! (CI).

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, PoisonError};

use libtest_mimic::{Failed, Trial};
use wschaos::cases::{self, Case, Judgement, Outcome};
use wschaos::report;
use wschaos::world::World;

/// What a file's test checks of a run besides its verdict: panics, or says why, when the
/// run is wrong in a way the verdict does not show.
pub type Also = fn(&Case, &Outcome) -> Result<(), String>;

/// The library's cases of `world` as tests, each with its weight ([`Share`]; 0 when
/// simulated, which takes a [`Core`] instead), each checking `also` of its run.
pub fn trials(world: World, also: Also) -> Vec<(usize, Trial)> {
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
                    .map(|case| trial(&name, case, also)),
            ),
            Err(e) => {
                let message = e.to_string();
                trials.push((
                    0,
                    Trial::test(format!("{name}::parse"), move || Err(Failed::from(message))),
                ));
            }
        }
    }
    trials
}

/// Real-time runs share the machine by weight, out of [`CAPACITY`]: a run weighs the
/// processes it starts (clients, and a server command), at most [`HEAVY`]; a browser or a
/// herd weighs [`HEAVY`], so no two of those run at once, but a few light tests may run
/// beside one. A run that does not fit beside those running waits. Each run measures how
/// late the machine woke its timers and widens its tolerance by that (`wschaos::real`), so a
/// run beside another is not blamed for the machine's delay.
///
/// The heavy runs are the longest chain, so they go first: while one runs or waits, light
/// runs together take at most `CAPACITY - HEAVY`, and the next heavy one starts the moment
/// the last one ends instead of waiting for a gap among light runs that may never come.
/// Light runs go heaviest first too, in turn.
pub const CAPACITY: usize = 16;

/// The weight of the heaviest runs: more than half of [`CAPACITY`].
pub const HEAVY: usize = 9;

/// What holds the real-time shares: all of them, the light runs', and the heavy runs
/// waiting or running.
struct Held {
    all: usize,
    light: usize,
    heavy: usize,
    /// Light runs waiting, largest first (weight times seconds), then in the order they
    /// asked: the first goes next, so a long run of several processes neither waits for a
    /// stream of short single ones nor starts last and ends the whole run late.
    waiting: BTreeSet<(Reverse<u64>, u64)>,
    tickets: u64,
}

static HELD: Mutex<Held> = Mutex::new(Held {
    all: 0,
    light: 0,
    heavy: 0,
    waiting: BTreeSet::new(),
    tickets: 0,
});
static FREED: Condvar = Condvar::new();

/// A share of the machine, given back on drop.
pub struct Share(usize);

impl Share {
    /// `weight` of the machine for a run of about `seconds`, once it is this run's turn.
    pub fn take(weight: usize, seconds: u64) -> Share {
        let weight = weight.clamp(1, CAPACITY);
        let heavy = weight >= HEAVY;
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        held.heavy += usize::from(heavy);
        let ticket = (Reverse(weight as u64 * seconds.max(1)), held.tickets);
        held.tickets += 1;
        if !heavy {
            held.waiting.insert(ticket);
        }
        loop {
            let fits = held.all + weight <= CAPACITY
                && (heavy || held.heavy == 0 || held.light + weight <= CAPACITY - HEAVY);
            let next = heavy || held.waiting.first() == Some(&ticket);
            if fits && next {
                break;
            }
            held = FREED.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        held.waiting.remove(&ticket);
        held.all += weight;
        if !heavy {
            held.light += weight;
        }
        Share(weight)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        held.all -= self.0;
        if self.0 >= HEAVY {
            held.heavy -= 1;
        } else {
            held.light -= self.0;
        }
        drop(held);
        FREED.notify_all();
    }
}

/// A core for a simulated test, given back on drop: simulations only compute, so no more
/// of them run at once than the machine has cores, beside real-time runs that mostly wait.
pub struct Core;

static CORES: Mutex<usize> = Mutex::new(0);
static CORE_FREED: Condvar = Condvar::new();

impl Core {
    pub fn take() -> Core {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut used = CORES.lock().unwrap_or_else(PoisonError::into_inner);
        while *used >= cores {
            used = CORE_FREED
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += 1;
        Core
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        *CORES.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        CORE_FREED.notify_all();
    }
}

/// How much of the machine a real-network case takes ([`Share`]).
fn weight(case: &Case) -> usize {
    let s = &case.scenario;
    if (s.clients.iter()).any(|g| g.needs.iter().any(|n| n == "chromium")) {
        return HEAVY;
    }
    let clients: usize = s.clients.iter().map(|g| g.count).sum();
    (clients + usize::from(s.server.command.is_some())).min(HEAVY)
}

fn trial(name: &str, case: Case, also: Also) -> (usize, Trial) {
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
    let weight = match case.world() {
        World::RealNetwork => weight(&case),
        World::Simulated => 0,
    };
    let trial = Trial::test(test.clone(), move || {
        let seconds = case.scenario.duration.as_secs_f64().ceil() as u64;
        let _share = (weight > 0).then(|| Share::take(weight, seconds));
        let _core = (weight == 0).then(Core::take);
        let outcome = case.run().map_err(|e| Failed::from(e.to_string()))?;
        also(&case, &outcome).map_err(|e| Failed::from(format!("{test}: {e}")))?;
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
    .with_ignored_flag(skip);
    (weight, trial)
}
