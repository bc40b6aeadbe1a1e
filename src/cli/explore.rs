//! `wschaos explore`: sweep seeds in parallel (one simulation per worker thread; each
//! simulation is single-threaded and deterministic), shrink what fails, write regressions.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use wschaos::cases::{self, Shard};
use wschaos::explore::{self, Failure};
use wschaos::report;
use wschaos::scenario::Scenario;
use wschaos::sim::ReferenceClient;
use wschaos::world::World;

use super::{Exit, bad_input};

/// Options of `wschaos explore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders. Default: scenarios/ (regression files excluded).
    paths: Vec<PathBuf>,
    /// Seeds per scenario.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// Stop after this much wall time instead of a number of seeds (e.g. 5m).
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    for_: Option<Duration>,
    /// Worker threads. Default: the number of cores.
    #[arg(long)]
    jobs: Option<usize>,
    /// Also draw random faults and client actions within each scenario's [swarm] bounds.
    #[arg(long)]
    swarm: bool,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    start: u64,
    /// Where regression files go. Default: the regressions/ folder of the scenarios/ folder
    /// the file is in (the project's, wherever you run from), else next to the file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Report failures without shrinking them or writing files.
    #[arg(long)]
    no_shrink: bool,
    /// Simulations allowed for shrinking one failure.
    #[arg(long, default_value_t = 300)]
    shrink_budget: usize,
    /// Run every case twice and report the first event where the two runs differ.
    #[arg(long)]
    check_determinism: bool,
    /// Write history.jsonl, verdict.json and timeline.html of each shrunk failure here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Sweep only share K of N of the (file, seed) cases (a CI job matrix): the N shares
    /// are disjoint and together are exactly the unsplit sweep; `wschaos merge` joins their
    /// `--json` output.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Print one JSON object per failing case and a summary last, on stdout; the text
    /// for people goes to stderr.
    #[arg(long)]
    json: bool,
}

/// The version of the objects `explore --json` prints (their first field,
/// `wschaos_explore`). `docs/outputs.md`.
pub const EXPLORE_VERSION: u32 = 1;

/// Text for people: stdout, or stderr when stdout carries JSON.
macro_rules! tell {
    ($args:expr, $($arg:tt)*) => {
        if $args.json { eprintln!($($arg)*) } else { say!($($arg)*) }
    };
}

/// What one worker found for one (scenario, seed).
enum Found {
    Clean,
    Failed(Box<Failure>),
    Diverged {
        file: PathBuf,
        seed: u64,
        line: usize,
        first: String,
        second: String,
    },
    Broken(String),
}

/// Sweeps; exit 0 when nothing failed, 1 when something did, 2 on bad input.
pub async fn run(args: Args) -> Exit {
    let scenarios = match load(&args.paths) {
        Ok(s) if s.is_empty() => return bad_input("no scenario files (*.toml) found"),
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    tokio::task::spawn_blocking(move || sweep(&args, &scenarios))
        .await
        .unwrap_or(Exit::Trouble)
}

fn load(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Scenario)>, String> {
    let default = paths.is_empty();
    let roots = if default {
        vec![PathBuf::from("scenarios")]
    } else {
        paths.to_vec()
    };
    let files = cases::discover(&roots).map_err(|e| e.to_string())?;
    let files = files
        .into_iter()
        .filter(|f| !default || !f.components().any(|c| c.as_os_str() == "regressions"));
    let loaded: Vec<(PathBuf, Scenario)> = files
        .map(|f| {
            wschaos::scenario::load(&f)
                .map(|s| (f, s))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    // Exploring is simulating: files of client processes run in real time and are left out
    // (said once each, so nothing is skipped in silence).
    let (real, simulated): (Vec<_>, Vec<_>) = loaded
        .into_iter()
        .partition(|(_, s)| !World::of(s).replays());
    for (f, _) in &real {
        eprintln!(
            "wschaos: skipping {}: it names client processes (real time); explore simulates",
            f.display()
        );
    }
    if simulated.is_empty() && !real.is_empty() {
        return Err("nothing to explore: every file names client processes".into());
    }
    Ok(simulated)
}

fn sweep(args: &Args, scenarios: &[(PathBuf, Scenario)]) -> Exit {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let total = if args.for_.is_some() {
        u64::MAX
    } else {
        args.seeds.saturating_mul(scenarios.len() as u64)
    };
    let shard = args.shard.unwrap_or(Shard::ALL);
    let deadline = args.for_.map(|d| Instant::now() + d);
    let next = AtomicU64::new(0);
    let (tx, rx) = mpsc::channel::<Found>();
    let started = Instant::now();
    let mut failures: BTreeMap<(PathBuf, &'static str), Failure> = BTreeMap::new();
    // Every failing seed, by file and invariant (the first of each is shrunk).
    let mut seeds: BTreeMap<(PathBuf, &'static str), Vec<u64>> = BTreeMap::new();
    let mut done = 0u64;
    let mut trouble = 0usize;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                loop {
                    // A shard takes every N-th seed, each with every file: its k-th case
                    // is case `k` of the unsplit sweep (seed-major, file-minor).
                    let mine = next.fetch_add(1, Ordering::Relaxed);
                    let files = scenarios.len() as u64;
                    let k = shard
                        .position(mine / files)
                        .saturating_mul(files)
                        .saturating_add(mine % files);
                    if k >= total || deadline.is_some_and(|d| Instant::now() >= d) {
                        return;
                    }
                    let (file, scenario) = &scenarios[(k % scenarios.len() as u64) as usize];
                    let seed = args.start + k / scenarios.len() as u64;
                    if tx.send(one(file, scenario, seed, args)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut progress = Progress::new();
        for found in rx {
            done += 1;
            match found {
                Found::Clean => {}
                Found::Failed(f) => {
                    trouble += 1;
                    if args.json {
                        let v = &f.violation;
                        say!(
                            "{}",
                            json!({
                                "wschaos_explore": EXPLORE_VERSION,
                                "file": f.case.file.display().to_string(),
                                "seed": f.case.seed,
                                "outcome": "fail",
                                "invariant": v.invariant,
                                "client": v.client,
                                "t": v.t,
                                "message": v.message,
                                "replay": replay(&f, args),
                            })
                        );
                    }
                    seeds
                        .entry((f.case.file.clone(), f.violation.invariant))
                        .or_default()
                        .push(f.case.seed);
                    failures
                        .entry((f.case.file.clone(), f.violation.invariant))
                        .or_insert(*f);
                }
                Found::Diverged {
                    file,
                    seed,
                    line,
                    first,
                    second,
                } => {
                    trouble += 1;
                    progress.clear();
                    let detail = format!(
                        "the runs differ at history line {line}\n  first:  {first}\n  second: {second}"
                    );
                    if args.json {
                        say!(
                            "{}",
                            json!({
                                "wschaos_explore": EXPLORE_VERSION,
                                "file": file.display().to_string(),
                                "seed": seed,
                                "outcome": "nondeterministic",
                                "detail": detail,
                            })
                        );
                    }
                    tell!(
                        args,
                        "NONDETERMINISTIC {} seed {seed}: {detail}",
                        file.display()
                    );
                }
                Found::Broken(e) => {
                    trouble += 1;
                    progress.clear();
                    if args.json {
                        say!(
                            "{}",
                            json!({
                                "wschaos_explore": EXPLORE_VERSION,
                                "outcome": "error",
                                "detail": e,
                            })
                        );
                    }
                    tell!(args, "ERROR {e}");
                }
            }
            progress.show(done, started.elapsed(), trouble);
        }
        progress.clear();
    });
    let secs = started.elapsed().as_secs_f64();
    let rate = done as f64 * 60.0 / secs.max(1e-9);
    tell!(
        args,
        "{done} cases in {secs:.1}s ({rate:.0} seeds/min), {trouble} failed{}",
        if shard == Shard::ALL {
            String::new()
        } else {
            format!(" (shard {shard})")
        }
    );
    for (key, failure) in &failures {
        report_failure(failure, args);
        let mut all = seeds.get(key).cloned().unwrap_or_default();
        all.sort_unstable();
        if all.len() > 1 {
            let shown: Vec<String> = all.iter().take(20).map(u64::to_string).collect();
            let more = all.len().saturating_sub(20);
            tell!(
                args,
                "{} seeds break [{}] in {}: {}{}",
                all.len(),
                key.1,
                key.0.display(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }
    if args.json {
        let files = scenarios.len() as u64;
        let planned = (args.for_.is_none())
            .then(|| (0..args.seeds).filter(|&s| shard.has(s)).count() as u64 * files);
        say!(
            "{}",
            json!({
                "wschaos_explore": EXPLORE_VERSION,
                "summary": {
                    "shard": shard.to_string(),
                    "planned": planned,
                    "cases": done,
                    "failed": trouble,
                    "seeds_per_min": rate.round(),
                    "sweep": {
                        "command": "explore",
                        "files": scenarios.iter().map(|(f, _)| f.display().to_string()).collect::<Vec<_>>(),
                        "start": args.start,
                        "seeds": args.for_.is_none().then_some(args.seeds),
                        "swarm": args.swarm,
                    },
                }
            })
        );
    }
    if trouble == 0 {
        Exit::Ok
    } else {
        Exit::Trouble
    }
}

/// The command that replays a failure found by this sweep.
fn replay(failure: &Failure, args: &Args) -> String {
    let command = failure.case.replay_command();
    if args.swarm {
        // The drawn schedule comes from the seed; `run --swarm` draws the same one.
        format!("{command} --swarm")
    } else {
        command
    }
}

fn one(file: &Path, scenario: &Scenario, seed: u64, args: &Args) -> Found {
    if args.check_determinism {
        let s = if args.swarm {
            explore::swarm(scenario, seed)
        } else {
            scenario.clone()
        };
        let case = cases::Case {
            file: file.to_path_buf(),
            scenario: s,
            seed,
        };
        match case.divergence() {
            Ok(None) => {}
            Ok(Some(d)) => {
                return Found::Diverged {
                    file: file.to_path_buf(),
                    seed,
                    line: d.line,
                    first: d.first,
                    second: d.second,
                };
            }
            Err(e) => return Found::Broken(e.to_string()),
        }
    }
    match explore::try_seed::<ReferenceClient>(scenario, file, seed, args.swarm) {
        Ok(None) => Found::Clean,
        Ok(Some(f)) => Found::Failed(Box::new(f)),
        Err(e) => Found::Broken(e.to_string()),
    }
}

fn report_failure(failure: &Failure, args: &Args) {
    let v = &failure.violation;
    tell!(
        args,
        "\nFAIL {} seed {}: [{}] {}",
        failure.case.file.display(),
        failure.case.seed,
        v.invariant,
        v.message
    );
    if args.no_shrink {
        tell!(args, "replay: {}", replay(failure, args));
        return;
    }
    let shrunk = explore::shrink::<ReferenceClient>(failure, args.shrink_budget);
    let name = explore::file_name(
        &failure.case.scenario.name,
        shrunk.invariant,
        failure.case.seed,
    );
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| regressions_for(&failure.case.file));
    let path = out_dir.join(name);
    let origin = format!(
        "{}{}",
        failure.case.file.display(),
        if args.swarm { " (swarm)" } else { "" }
    );
    let text = explore::render(
        &shrunk.scenario,
        (shrunk.invariant, &shrunk.also),
        failure.case.seed,
        &origin,
        (&commit(), &today()),
        &explore::cli_replay(&path.display().to_string(), failure.case.seed),
    );
    // What is written must load: a file validation refuses is no regression file.
    if let Err(e) = wschaos::scenario::parse(&text, path.display().to_string()) {
        tell!(
            args,
            "shrunk in {} runs, but the file would not load, so it was not written ({e}); replay: {}",
            shrunk.runs,
            replay(failure, args)
        );
        return;
    }
    let written = std::fs::create_dir_all(&out_dir).and_then(|()| std::fs::write(&path, text));
    let (before, after) = (
        failure.case.scenario.timeline.len(),
        shrunk.scenario.timeline.len(),
    );
    match written {
        Ok(()) => tell!(
            args,
            "shrunk in {} runs: {before} steps -> {after}; wrote {}",
            shrunk.runs,
            path.display()
        ),
        Err(e) => tell!(
            args,
            "shrunk in {} runs: {before} steps -> {after}; could not write {}: {e}",
            shrunk.runs,
            path.display()
        ),
    }
    let case = cases::Case {
        file: path.clone(),
        scenario: shrunk.scenario,
        seed: failure.case.seed,
    };
    if let Ok(outcome) = case.run() {
        if let Some(dir) = &args.report {
            match report::write(dir, &case, &outcome) {
                Ok(folder) => tell!(args, "report: {}", folder.join("timeline.html").display()),
                Err(e) => tell!(
                    args,
                    "could not write the report under {}: {e}",
                    dir.display()
                ),
            }
        }
        // The regression file carries its drawn steps: `replay` shows it, no `--swarm`.
        let replay = format!(
            "cargo run --release -- replay {} --seed {}",
            case.file.display(),
            case.seed
        );
        tell!(
            args,
            "{}",
            report::failure_with_replay(&case, &outcome, &replay)
        );
    }
}

/// The current commit, for the regression header (the CLI runs on a real machine).
fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn today() -> String {
    humantime::format_rfc3339(SystemTime::now())
        .to_string()
        .chars()
        .take(10)
        .collect()
}

/// A progress line on a terminal, a plain line every few seconds otherwise.
struct Progress {
    tty: bool,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: Instant::now(),
        }
    }

    fn show(&mut self, done: u64, elapsed: Duration, failed: usize) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
        if self.tty {
            eprint!("\r{done} cases, {rate:.1} seeds/s, {failed} failed   ");
        } else {
            eprintln!("{done} cases, {rate:.1} seeds/s, {failed} failed");
        }
    }

    fn clear(&self) {
        if self.tty {
            eprint!("\r{:60}\r", "");
        }
    }
}

/// Where a regression of the scenario `file` goes: `regressions/` in the nearest folder
/// named `scenarios` above it (the project's library), else beside the file.
fn regressions_for(file: &Path) -> PathBuf {
    let folder = file.parent().unwrap_or(Path::new("."));
    folder
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "scenarios"))
        .unwrap_or(folder)
        .join("regressions")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    #[test]
    fn regressions_land_in_the_library_of_the_file() {
        let at = |f: &str| super::regressions_for(Path::new(f));
        assert_eq!(
            at("/work/p/scenarios/swarm/calm.toml"),
            PathBuf::from("/work/p/scenarios/regressions")
        );
        assert_eq!(
            at("scenarios/calm.toml"),
            PathBuf::from("scenarios/regressions")
        );
        assert_eq!(at("/tmp/x/calm.toml"), PathBuf::from("/tmp/x/regressions"));
        assert_eq!(at("calm.toml"), PathBuf::from("regressions"));
    }
}
