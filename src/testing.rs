//! Your own client under `cargo test`: scenario files (yours, and the library bundled in
//! this crate) become named tests of *your* [`ClientUnderTest`].
//!
//! # Setup
//!
//! In `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! wschaos = "0.1"
//!
//! [[test]]
//! name = "wschaos"
//! harness = false
//!
//! # Simulations in debug builds are 10-20x slower without this.
//! [profile.dev.package."*"]
//! opt-level = 2
//! ```
//!
//! In `.cargo/config.toml` (without it every run is refused, see
//! [`crate::sim::NO_TOKIO_UNSTABLE`]: a run would not be a pure function of its seed):
//!
//! ```toml
//! [build]
//! rustflags = ["--cfg", "tokio_unstable"]
//! ```
//!
//! In `tests/wschaos.rs`:
//!
//! ```no_run
//! # struct MyClient;
//! # impl wschaos::sim::ClientUnderTest for MyClient {
//! #     fn start(_: wschaos::sim::ClientEnv) -> Self { MyClient }
//! #     fn subscribe(&self, _: &str) {}
//! #     fn unsubscribe(&self, _: &str) {}
//! #     fn publish(&self, _: &str, _: String) -> Result<u64, String> { Ok(0) }
//! #     fn close(&self) {}
//! #     fn reconnect(&self) {}
//! # }
//! fn main() {
//!     wschaos::testing::Suite::<MyClient>::new()
//!         .library() // every simulated file bundled with wschaos
//!         .files("tests/scenarios") // and your own
//!         .run()
//! }
//! ```
//!
//! `cargo test --test wschaos -- --list` lists one test per file and seed
//! (`wschaos/restarts/short-restart.toml::seed_1`, `tests/scenarios/chat.toml::seed_3`);
//! `cargo test --test wschaos -- restarts/` runs a subset. A failure prints each violation,
//! the timeline around it and the command that replays it exactly, for your client:
//!
//! ```text
//! replay: WSCHAOS_SEED=7 cargo test -p chat --test wschaos -- --exact 'tests/scenarios/chat.toml::seed_7'
//! ```
//!
//! # Seeds
//!
//! Each file runs the seeds it lists. Two environment variables change that for every file:
//! `WSCHAOS_SEED=N` runs only seed N (a replay), `WSCHAOS_SEEDS=A..B` runs seeds A to B-1
//! (a sweep in CI: the failures name their seeds).
//!
//! # One file from a test of your own
//!
//! ```no_run
//! # struct MyClient;
//! # impl wschaos::sim::ClientUnderTest for MyClient {
//! #     fn start(_: wschaos::sim::ClientEnv) -> Self { MyClient }
//! #     fn subscribe(&self, _: &str) {}
//! #     fn unsubscribe(&self, _: &str) {}
//! #     fn publish(&self, _: &str, _: String) -> Result<u64, String> { Ok(0) }
//! #     fn close(&self) {}
//! #     fn reconnect(&self) {}
//! # }
//! #[test]
//! fn survives_a_short_restart() {
//!     wschaos::testing::check_file::<MyClient>("tests/scenarios/chat.toml", 7).assert_passed();
//!     wschaos::testing::check_bundled::<MyClient>("restarts/short-restart.toml", 1).assert_passed();
//! }
//! ```
//!
//! # Exploring with your own client
//!
//! [`crate::explore`] is generic over the client: [`crate::explore::try_seed`] sweeps seeds
//! (drawing fault schedules from a file's `[swarm]` section), [`crate::explore::shrink`]
//! shrinks a failure and [`crate::explore::render`] writes it as a regression file. A small
//! `main` of your own (an example or a bin of your crate) is all it takes:
//!
//! ```no_run
//! # struct MyClient;
//! # impl wschaos::sim::ClientUnderTest for MyClient {
//! #     fn start(_: wschaos::sim::ClientEnv) -> Self { MyClient }
//! #     fn subscribe(&self, _: &str) {}
//! #     fn unsubscribe(&self, _: &str) {}
//! #     fn publish(&self, _: &str, _: String) -> Result<u64, String> { Ok(0) }
//! #     fn close(&self) {}
//! #     fn reconnect(&self) {}
//! # }
//! use std::path::Path;
//! use wschaos::explore;
//!
//! let file = Path::new("tests/scenarios/swarm.toml");
//! let base = wschaos::scenario::load(file).unwrap();
//! for seed in 0..1_000 {
//!     if let Some(failure) = explore::try_seed::<MyClient>(&base, file, seed, true).unwrap() {
//!         let small = explore::shrink::<MyClient>(&failure, 200);
//!         println!("seed {seed}: {}\n{}", failure.violation.message, small.scenario.name);
//!         break;
//!     }
//! }
//! ```

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::cases::{self, Case, Judgement, Outcome};
use crate::report;
use crate::scenario::{self, ScenarioError};
use crate::sim::ClientUnderTest;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/library.rs"));
}

/// The prefix of the bundled files' names, in test names and reports.
pub const LIBRARY: &str = "wschaos";

/// One scenario file bundled with wschaos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bundled {
    /// Its path under wschaos's `scenarios/`, e.g. `restarts/short-restart.toml`.
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

impl Bundled {
    /// The name it goes by in tests and reports: `wschaos/restarts/short-restart.toml`.
    pub fn path(&self) -> PathBuf {
        Path::new(LIBRARY).join(self.name)
    }

    /// The scenario, parsed and validated.
    pub fn scenario(&self) -> Result<scenario::Scenario, ScenarioError> {
        scenario::parse(self.text, self.path())
    }
}

/// Every simulated scenario file bundled with wschaos (the library its own tests run, less
/// the real-network files and the reference client's regression files), sorted by name.
///
/// ```
/// let names: Vec<_> = wschaos::testing::library().map(|b| b.name).collect();
/// assert!(names.contains(&"restarts/short-restart.toml"));
/// ```
pub fn library() -> impl Iterator<Item = Bundled> {
    bundled::FILES
        .iter()
        .map(|&(name, text)| Bundled { name, text })
}

/// Scenario files as named tests of client `C` (see the [module docs](self)).
pub struct Suite<C> {
    library: bool,
    paths: Vec<PathBuf>,
    skip: Vec<String>,
    cargo_args: String,
    declared: Declaration,
    client: PhantomData<fn() -> C>,
}

/// A library file a [`Declaration`] leaves out: (its name, why).
pub type LeftOut = (String, String);

/// What a client under test says it is, so that the bundled library judges it on its own
/// terms ([`Suite::declare`]): by the bounds it promises rather than by each file's policy,
/// and only with the files whose clients and server it can be.
#[derive(Debug, Clone, Default)]
pub struct Declaration {
    /// The bounds it keeps: its delays, multiplier, jitter, attempt budget, timeouts and
    /// heartbeat. The library's groups are given this policy (and judged by it) instead
    /// of their own. `None`: it follows the policy each file hands it in
    /// [`crate::sim::ClientEnv::policy`], as the reference client does.
    pub policy: Option<crate::client::Policy>,
    /// The modes it plays (pub/sub, raw); a library file with a group of another mode is
    /// skipped, with why. Empty: both.
    pub modes: Vec<scenario::Mode>,
    /// The protocols it speaks; a library file whose server speaks another is skipped,
    /// with why. Empty: every built-in one.
    pub protocols: Vec<crate::protocol::Protocol>,
}

impl Declaration {
    /// `s` as this client is judged by it, with what of the file no longer judges it (a
    /// group's expected statuses, which assume the file's own policy), or why the file
    /// does not apply to this client.
    pub fn apply(
        &self,
        s: &scenario::Scenario,
    ) -> Result<(scenario::Scenario, Vec<String>), String> {
        if let Some(g) =
            (s.clients.iter()).find(|g| !self.modes.is_empty() && !self.modes.contains(&g.mode))
        {
            return Err(format!(
                "group {:?} is a {:?} client; yours declares {:?}",
                g.name, g.mode, self.modes
            ));
        }
        if !self.protocols.is_empty() && !self.protocols.contains(&s.server.protocol) {
            return Err(format!(
                "its server speaks {:?}; yours declares {:?}",
                s.server.protocol, self.protocols
            ));
        }
        let mut s = s.clone();
        let mut unjudged = Vec::new();
        if let Some(policy) = &self.policy {
            for g in &mut s.clients {
                if g.policy == *policy {
                    continue;
                }
                g.policy = policy.clone();
                // The statuses a file expects of a group (`failed` after its third attempt,
                // the exact sequence) follow from that group's policy, not from yours.
                let expected = [
                    ("final", s.expect.final_status.remove(&g.name).is_some()),
                    ("sequence", s.expect.sequence.remove(&g.name).is_some()),
                ];
                for (what, had) in expected {
                    if had {
                        unjudged.push(format!(
                            "the {what} statuses it expects of group {:?} assume the file's policy, not yours",
                            g.name
                        ));
                    }
                }
            }
        }
        Ok((s, unjudged))
    }
}

impl<C: ClientUnderTest> Default for Suite<C> {
    fn default() -> Self {
        Suite {
            library: false,
            paths: Vec::new(),
            skip: Vec::new(),
            cargo_args: String::new(),
            declared: Declaration::default(),
            client: PhantomData,
        }
    }
}

/// Why a suite could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A folder or file given to [`Suite::files`] could not be read.
    #[error("{0}")]
    Files(std::io::Error),
    /// `WSCHAOS_SEED` or `WSCHAOS_SEEDS` is not what it should be.
    #[error("{var}={value:?}: {why}")]
    Seeds {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A scenario file does not parse ([`Suite::cases`]; as tests, it is a failing one).
    #[error("{0}")]
    Scenario(String),
}

impl<C: ClientUnderTest> Suite<C> {
    /// An empty suite: add the bundled library, files of your own, or both.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every bundled simulated file ([`library`]).
    pub fn library(mut self) -> Self {
        self.library = true;
        self
    }

    /// Adds a scenario file, or every `*.toml` under a folder. Relative paths are from the
    /// package root (where `cargo test` runs tests).
    pub fn files(mut self, path: impl Into<PathBuf>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Leaves out every test whose name starts with `prefix` (for example
    /// `"wschaos/basics/raw-clients.toml"` for a client without a raw mode). Say why in a
    /// comment: a skipped file tests nothing.
    pub fn skip(mut self, prefix: impl Into<String>) -> Self {
        self.skip.push(prefix.into());
        self
    }

    /// Adds `args` to the `cargo test` command each replay line prints, for what cargo
    /// cannot tell a running test: the features it was built with. A test built with
    /// `--features bug` says
    /// `.cargo_args(if cfg!(feature = "bug") { "--features bug" } else { "" })`, and its
    /// replay lines run that client again, not another build.
    pub fn cargo_args(mut self, args: impl Into<String>) -> Self {
        self.cargo_args = args.into();
        self
    }

    /// Judges the bundled library by what your client declares it is ([`Declaration`]): its
    /// own policy instead of each file's, and only the files whose clients and server it
    /// can be (the others are listed as ignored, and said on stderr, with why). Your own
    /// files are run as written.
    pub fn declare(mut self, declared: Declaration) -> Self {
        self.declared = declared;
        self
    }

    /// The cases this suite runs with your client, after [`Suite::declare`] and
    /// [`Suite::skip`], honouring `WSCHAOS_SEED` / `WSCHAOS_SEEDS`; and the library files
    /// left out, with why. A file that does not parse is an error.
    pub fn cases(&self) -> Result<(Vec<Case>, Vec<LeftOut>), SuiteError> {
        let mut cases = Vec::new();
        let mut left_out = Vec::new();
        for planned in self.plan()? {
            match planned {
                Planned::Run(case) if case.world().runs_your_client() => cases.push(*case),
                Planned::Run(_) => {}
                Planned::LeftOut { name, why } => left_out.push((name, why)),
                Planned::Broken { name, error } => {
                    return Err(SuiteError::Scenario(format!("{name}: {error}")));
                }
            }
        }
        Ok((cases, left_out))
    }

    /// Every file and seed of the suite, as it will run.
    fn plan(&self) -> Result<Vec<Planned>, SuiteError> {
        let seeds = seeds_from_env()?;
        let mut sources: Vec<(PathBuf, bool, Result<scenario::Scenario, ScenarioError>)> =
            Vec::new();
        if self.library {
            sources.extend(library().map(|b| (b.path(), true, b.scenario())));
        }
        let files = cases::discover(&self.paths).map_err(SuiteError::Files)?;
        sources.extend(files.into_iter().map(|f| {
            let parsed = scenario::load(&f);
            (f, false, parsed)
        }));
        let mut out = Vec::new();
        for (file, bundled, parsed) in sources {
            let name = file.display().to_string().replace('\\', "/");
            let scenario = match parsed {
                Ok(s) if bundled => self.declared.apply(&s).map(|(s, unjudged)| {
                    if !unjudged.is_empty() {
                        out.push(Planned::LeftOut {
                            name: format!("{name} (expected statuses)"),
                            why: unjudged.join("; "),
                        });
                    }
                    s
                }),
                Ok(s) => Ok(s),
                Err(e) => {
                    out.push(Planned::Broken {
                        name,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            let scenario = match scenario {
                Ok(s) => s,
                Err(why) => {
                    out.push(Planned::LeftOut { name, why });
                    continue;
                }
            };
            let run_seeds = seeds.clone().unwrap_or_else(|| scenario.seeds.clone());
            for seed in run_seeds {
                let test = format!("{name}::seed_{seed}");
                if self.skip.iter().any(|p| test.starts_with(p.as_str())) {
                    continue;
                }
                out.push(Planned::Run(Box::new(Case {
                    file: file.clone(),
                    scenario: scenario.clone(),
                    seed,
                })));
            }
        }
        Ok(out)
    }

    /// The command that reruns one file and seed of this suite exactly, for this suite's
    /// client: what a regression file of its own should say
    /// ([`crate::explore::render`]'s `replay`).
    pub fn replay_command(&self, file: &Path, seed: u64) -> String {
        let test = format!("{}::seed_{seed}", file.display()).replace('\\', "/");
        Replay::from_env(&self.cargo_args).command(&test, seed)
    }

    /// The tests, one per file and seed, honouring `WSCHAOS_SEED` / `WSCHAOS_SEEDS`; a
    /// library file your [`Declaration`] leaves out is an ignored test, said on stderr.
    pub fn trials(&self) -> Result<Vec<Trial>, SuiteError> {
        let replay = Replay::from_env(&self.cargo_args);
        let mut trials = Vec::new();
        for planned in self.plan()? {
            match planned {
                Planned::Broken { name, error } => {
                    trials.push(Trial::test(format!("{name}::parse"), move || {
                        Err(Failed::from(error))
                    }));
                }
                Planned::LeftOut { name, why } => {
                    eprintln!("wschaos: {name} left out: {why}");
                    trials.push(Trial::test(name, || Ok(())).with_ignored_flag(true));
                }
                Planned::Run(case) => {
                    let name = case.file.display().to_string().replace('\\', "/");
                    let test = format!("{name}::seed_{}", case.seed);
                    let hint = replay.command(&test, case.seed);
                    // A real-network file runs the processes it names, not `C`.
                    let theirs = !case.world().runs_your_client();
                    let trial = Trial::test(test, move || judge::<C>(&case, &hint));
                    trials.push(trial.with_ignored_flag(theirs));
                }
            }
        }
        Ok(trials)
    }

    /// Runs the suite as a `cargo test` target (`harness = false`) and exits with libtest's
    /// code. Takes libtest's arguments (`--list`, a filter, `--exact`, `--ignored`...).
    pub fn run(self) -> ! {
        let args = Arguments::from_args();
        match self.trials() {
            Ok(trials) => libtest_mimic::run(&args, trials).exit(),
            Err(e) => {
                eprintln!("wschaos: {e}");
                std::process::exit(2)
            }
        }
    }
}

fn judge<C: ClientUnderTest>(case: &Case, replay: &str) -> Result<(), Failed> {
    let outcome = case
        .run_with::<C>()
        .map_err(|e| Failed::from(e.to_string()))?;
    verdict(case, &outcome, replay).map_err(Failed::from)
}

/// `Ok` when the outcome is green; else the failure report. With `WSCHAOS_REPORT=DIR` a
/// failing case also writes its `history.jsonl`, `verdict.json` and `timeline.html` under
/// `DIR` (as `wschaos run --report DIR` does), and the report says where; with
/// `WSCHAOS_ALL=1` it shows every violation, not the first of each invariant.
fn verdict(case: &Case, outcome: &Outcome, replay: &str) -> Result<(), String> {
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    match case.judge(outcome) {
        Judgement::Pass | Judgement::KnownFailure(_) | Judgement::Unconfirmed { .. } => Ok(()),
        Judgement::Fixed(invariant) => Err(format!(
            "{}: the known failure ({invariant}) no longer happens: delete `failing` from the file",
            case.file.display()
        )),
        Judgement::Fail => {
            let all = var("WSCHAOS_ALL").is_some();
            let text = report::failure_report(case, outcome, replay, all);
            Err(match var("WSCHAOS_REPORT") {
                None => text,
                Some(dir) => match report::write(Path::new(&dir), case, outcome) {
                    Ok(folder) => format!("{text}\nreport: {}", folder.display()),
                    Err(e) => format!("{text}\nreport: could not write under {dir}: {e}"),
                },
            })
        }
    }
}

/// `WSCHAOS_SEED=N` (one seed) or `WSCHAOS_SEEDS=A..B` (a range); `None` when neither.
fn seeds_from_env() -> Result<Option<Vec<u64>>, SuiteError> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    parse_seeds(
        var("WSCHAOS_SEED").as_deref(),
        var("WSCHAOS_SEEDS").as_deref(),
    )
}

/// The largest sweep `WSCHAOS_SEEDS` may ask for: each seed is a test of every file.
pub const MAX_SEEDS: u64 = 1_000_000;

fn parse_seeds(one: Option<&str>, range: Option<&str>) -> Result<Option<Vec<u64>>, SuiteError> {
    let bad = |var, value: &str, why| SuiteError::Seeds {
        var,
        value: value.to_string(),
        why,
    };
    match (one, range) {
        (Some(_), Some(r)) => Err(bad(
            "WSCHAOS_SEEDS",
            r,
            "give WSCHAOS_SEED (one seed) or WSCHAOS_SEEDS (a range), not both",
        )),
        (Some(s), None) => s
            .trim()
            .parse()
            .map(|seed| Some(vec![seed]))
            .map_err(|_| bad("WSCHAOS_SEED", s, "expected a seed: a whole number")),
        (None, Some(r)) => {
            let shape = "expected a range A..B: seeds A to B-1, e.g. 0..1000";
            let (a, b) = r
                .trim()
                .split_once("..")
                .ok_or_else(|| bad("WSCHAOS_SEEDS", r, shape))?;
            let (a, b): (u64, u64) = match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return Err(bad("WSCHAOS_SEEDS", r, shape)),
            };
            if a >= b {
                return Err(bad("WSCHAOS_SEEDS", r, "the range is empty"));
            }
            if b - a > MAX_SEEDS {
                return Err(bad(
                    "WSCHAOS_SEEDS",
                    r,
                    "more than 1,000,000 seeds: split the sweep (e.g. one range per CI job)",
                ));
            }
            Ok(Some((a..b).collect()))
        }
        (None, None) => Ok(None),
    }
}

/// One file and seed of a suite, as it will run.
enum Planned {
    Run(Box<Case>),
    LeftOut { name: String, why: String },
    Broken { name: String, error: String },
}

/// How to rerun one test of this test binary: cargo's package and test target names, and
/// the arguments the suite says it was built with ([`Suite::cargo_args`]).
struct Replay {
    package: Option<String>,
    target: Option<String>,
    args: String,
}

impl Replay {
    fn from_env(args: &str) -> Replay {
        // cargo sets CARGO_PKG_NAME for the tests it runs; the test binary is
        // `<target>-<16 hex digits>`.
        let target = std::env::current_exe().ok().and_then(|exe| {
            let stem = exe.file_stem()?.to_str()?.to_string();
            let (name, hash) = stem.rsplit_once('-')?;
            (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| name.to_string())
        });
        Replay {
            package: std::env::var("CARGO_PKG_NAME").ok(),
            target,
            args: args.trim().to_string(),
        }
    }

    fn command(&self, test: &str, seed: u64) -> String {
        let mut out = format!("WSCHAOS_SEED={seed} cargo test");
        if let Some(p) = &self.package {
            out.push_str(&format!(" -p {p}"));
        }
        if let Some(t) = &self.target {
            out.push_str(&format!(" --test {t}"));
        }
        if !self.args.is_empty() {
            out.push_str(&format!(" {}", self.args));
        }
        out.push_str(&format!(" -- --exact '{test}'"));
        out
    }
}

/// What [`check_file`] or [`check_bundled`] found.
#[derive(Debug)]
pub struct Checked {
    file: PathBuf,
    seed: u64,
    result: Result<(Case, Outcome), String>,
}

impl Checked {
    /// The outcome, when the file loaded and the run completed.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.result.as_ref().ok().map(|(_, o)| o)
    }

    /// True when the file loaded, the run completed and every invariant held (or only the
    /// file's declared `failing` one broke).
    pub fn passed(&self) -> bool {
        match &self.result {
            Ok((case, outcome)) => case.judge(outcome).green(),
            Err(_) => false,
        }
    }

    /// The report: what failed, the timeline around it, how to replay; or why it could not
    /// run; or a one-line pass.
    pub fn report(&self) -> String {
        let replay = format!(
            "the same call (file {}, seed {}) reruns it exactly",
            self.file.display(),
            self.seed
        );
        match &self.result {
            Err(e) => e.clone(),
            Ok((case, outcome)) => match verdict(case, outcome, &replay) {
                Ok(()) => format!("{} (seed {}): pass", self.file.display(), self.seed),
                Err(report) => report,
            },
        }
    }

    /// Panics with [`Checked::report`] unless [`Checked::passed`].
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("{}", self.report());
        }
    }
}

/// Runs the scenario file at `path` with `seed` against `C` and checks it.
pub fn check_file<C: ClientUnderTest>(path: impl AsRef<Path>, seed: u64) -> Checked {
    let file = path.as_ref().to_path_buf();
    let result = scenario::load(&file).map_err(|e| e.to_string());
    checked::<C>(file, seed, result)
}

/// Runs the bundled file `name` (e.g. `restarts/short-restart.toml`, see [`library`]) with
/// `seed` against `C` and checks it.
pub fn check_bundled<C: ClientUnderTest>(name: &str, seed: u64) -> Checked {
    let file = Path::new(LIBRARY).join(name);
    let result = match library().find(|b| b.name == name) {
        Some(b) => b.scenario().map_err(|e| e.to_string()),
        None => Err(format!(
            "{name}: no such bundled file; they are: {}",
            library().map(|b| b.name).collect::<Vec<_>>().join(", ")
        )),
    };
    checked::<C>(file, seed, result)
}

fn checked<C: ClientUnderTest>(
    file: PathBuf,
    seed: u64,
    scenario: Result<scenario::Scenario, String>,
) -> Checked {
    let result = scenario.and_then(|scenario| {
        let case = Case {
            file: file.clone(),
            scenario,
            seed,
        };
        let outcome = case.run_with::<C>().map_err(|e| e.to_string())?;
        Ok((case, outcome))
    });
    Checked { file, seed, result }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ReferenceClient;

    #[test]
    fn the_bundled_library_is_every_simulated_file_and_each_parses() {
        let bundled: Vec<_> = library().map(|b| b.name.to_string()).collect();
        let on_disk: Vec<String> = cases::discover(&["scenarios".into()])
            .unwrap()
            .into_iter()
            .map(|f| {
                f.strip_prefix("scenarios")
                    .unwrap()
                    .display()
                    .to_string()
                    .replace('\\', "/")
            })
            .filter(|n| !n.starts_with("real/") && !n.starts_with("regressions/"))
            .collect();
        assert_eq!(bundled, on_disk);
        for b in library() {
            let s = b.scenario().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                crate::world::World::of(&s),
                crate::world::World::Simulated,
                "{}",
                b.name
            );
        }
    }

    #[test]
    fn seeds_come_from_one_variable_or_a_range_and_bad_values_say_why() {
        assert_eq!(parse_seeds(None, None).unwrap(), None);
        assert_eq!(parse_seeds(Some("7"), None).unwrap(), Some(vec![7]));
        assert_eq!(
            parse_seeds(None, Some("3..6")).unwrap(),
            Some(vec![3, 4, 5])
        );
        for (one, range, why) in [
            (Some("x"), None, "a whole number"),
            (None, Some("5"), "a range A..B"),
            (None, Some("6..6"), "empty"),
            (None, Some("0..2000000"), "split the sweep"),
            (Some("1"), Some("0..2"), "not both"),
        ] {
            let e = parse_seeds(one, range).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn the_replay_command_names_the_seed_the_package_the_target_and_the_exact_test() {
        let mut r = Replay {
            package: Some("chat".into()),
            target: Some("wschaos".into()),
            args: String::new(),
        };
        assert_eq!(
            r.command("tests/scenarios/a.toml::seed_7", 7),
            "WSCHAOS_SEED=7 cargo test -p chat --test wschaos -- --exact 'tests/scenarios/a.toml::seed_7'"
        );
        r.args = "--features bug".into();
        assert_eq!(
            r.command("tests/scenarios/a.toml::seed_7", 7),
            "WSCHAOS_SEED=7 cargo test -p chat --test wschaos --features bug -- --exact 'tests/scenarios/a.toml::seed_7'"
        );
    }

    #[test]
    fn check_bundled_runs_the_reference_client_green_and_names_unknown_files() {
        let ok = check_bundled::<ReferenceClient>("restarts/short-restart.toml", 1);
        assert!(ok.passed(), "{}", ok.report());
        ok.assert_passed();
        let missing = check_bundled::<ReferenceClient>("nope.toml", 1);
        assert!(!missing.passed());
        assert!(missing.report().contains("no such bundled file"));
        let missing = check_file::<ReferenceClient>("scenarios/nope.toml", 1);
        assert!(!missing.passed());
        assert!(
            missing.report().contains("nope.toml"),
            "{}",
            missing.report()
        );
    }

    /// A client that never dials.
    struct Mute;

    impl ClientUnderTest for Mute {
        fn start(_: crate::sim::ClientEnv) -> Self {
            Mute
        }
        fn subscribe(&self, _: &str) {}
        fn unsubscribe(&self, _: &str) {}
        fn publish(&self, _: &str, _: String) -> Result<u64, String> {
            Err("never connected".into())
        }
        fn close(&self) {}
        fn reconnect(&self) {}
    }

    #[test]
    fn a_broken_client_fails_with_the_report_and_how_to_replay_it() {
        let found = check_file::<Mute>("scenarios/restarts/short-restart.toml", 3);
        assert!(!found.passed());
        assert!(
            found
                .outcome()
                .is_some_and(|o| !o.verdict.violations.is_empty())
        );
        let report = found.report();
        assert!(report.contains("violation"), "{report}");
        assert!(
            report.ends_with(
                "replay: the same call (file scenarios/restarts/short-restart.toml, seed 3) reruns it exactly"
            ),
            "{report}"
        );
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| found.assert_passed()))
                .unwrap_err();
        assert_eq!(panic.downcast_ref::<String>(), Some(&report));
    }

    #[test]
    fn a_real_network_file_is_refused_for_a_client_under_test() {
        let found = check_file::<Mute>("scenarios/real/connect-restart.toml", 1);
        assert!(!found.passed());
        assert!(
            found.report().contains("names client processes"),
            "{}",
            found.report()
        );
    }
}
