//! `wschaos run`: scenario files through the simulation, one verdict per (file, seed), as
//! lines for people, JSON for scripts or JUnit XML for CI systems.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use wschaos::cases::{self, Case, Judgement, Shard};
use wschaos::check::NotJudged;
use wschaos::report;
use wschaos::world::World;

use super::Exit;

/// Options of `wschaos run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders (every *.toml under a folder). Default: scenarios/
    paths: Vec<PathBuf>,
    /// Run only this seed instead of each scenario's list.
    #[arg(long)]
    seed: Option<u64>,
    /// Run every case twice and report the first event where the two runs differ.
    #[arg(long)]
    check_determinism: bool,
    /// Write history.jsonl, verdict.json and timeline.html per case under this folder.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print one JSON object per scenario and seed instead of lines for people.
    #[arg(long)]
    json: bool,
    /// Also write the results as JUnit XML to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Run only share K of N of the cases (a CI job matrix): the N shares are disjoint and
    /// together are exactly the unsplit run; `wschaos merge` joins their `--json` output.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Fail a case whose run has warnings (a fault that touched no connection tested
    /// nothing), not only one that broke an invariant.
    #[arg(long)]
    strict: bool,
    /// Show every violation of a failing case with its timeline, not only the first of
    /// each invariant (the counts per invariant and client come first either way).
    #[arg(long)]
    all: bool,
    /// Add each case's drawn faults and client actions from the file's [swarm] bounds, as
    /// `explore --swarm` does for that seed (this replays a swarm failure).
    #[arg(long)]
    swarm: bool,
    /// Run simulated files on the real network instead, in real time on 127.0.0.1: every
    /// built-in client becomes a `wschaos connect` process with its group's policy, topics
    /// and workload. Each file runs once (its first seed, or --seed), since real time has no
    /// seed to replay.
    #[arg(long, conflicts_with_all = ["swarm", "check_determinism"])]
    real: bool,
    /// Run each real-network case N times and report its verdict as k of N (real time is
    /// noisy; a simulated case is a pure function of its seed and runs once).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
}

/// One case's result, in every output format.
struct Result {
    file: String,
    seed: u64,
    outcome: &'static str,
    simulated: f64,
    wall: f64,
    detail: String,
    violations: Vec<serde_json::Value>,
    /// A real-network run (in real time), not a simulation.
    real: bool,
    /// What could not be judged, per checker and client, and why.
    not_judged: Vec<NotJudged>,
    /// Which of `--runs N` repeats of a real case this is: (run, of).
    repeat: Option<(u32, u32)>,
    /// What client processes did that the reader must know (exited early, output cut).
    notes: Vec<String>,
    /// Faults that touched no connection: (ms, message).
    warnings: Vec<(u64, String)>,
}

impl Result {
    /// Passed, or failed only as a known, still open failure.
    fn green(&self) -> bool {
        matches!(self.outcome, "pass" | "xfail" | "skip")
    }
}

/// The results grouped by scenario file, in order.
fn by_file(results: &[Result]) -> Vec<(&str, Vec<&Result>)> {
    let mut files: Vec<&str> = results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    files
        .into_iter()
        .map(|f| (f, results.iter().filter(|r| r.file == f).collect()))
        .collect()
}

/// Runs every case; exit 0 when all pass, 1 on a violation, 2 on bad input.
pub async fn run(args: Args) -> Exit {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths.clone()
    };
    let files = match cases::discover(&paths) {
        Ok(files) if files.is_empty() => {
            return super::bad_input("no scenario files (*.toml) found");
        }
        Ok(files) => files,
        Err(e) => return super::bad_input(e),
    };
    // Simulations are single-threaded and CPU-bound: run them off the async runtime.
    tokio::task::spawn_blocking(move || run_files(&files, &args))
        .await
        .unwrap_or(Exit::Trouble)
}

fn run_files(files: &[PathBuf], args: &Args) -> Exit {
    let mut results = Vec::new();
    let mut bad = 0;
    let mut real_left_out = 0;
    let shard = args.shard.unwrap_or(Shard::ALL);
    // Each case's position in the unsplit run, which decides its shard.
    let mut position = 0u64;
    for file in files {
        match cases::cases(file, args.seed) {
            Ok(mut cases) => {
                let mut linted = false;
                if args.real {
                    cases.truncate(1);
                }
                for mut case in cases {
                    if args.real && case.world() == World::Simulated {
                        match wschaos::real::on_real_network(&case.scenario) {
                            Ok(mut real) => {
                                // This binary is the `wschaos connect` the clients run.
                                if let Ok(me) = std::env::current_exe() {
                                    for g in &mut real.clients {
                                        g.env
                                            .entry("WSCHAOS".into())
                                            .or_insert_with(|| me.display().to_string());
                                    }
                                }
                                case.scenario = real;
                            }
                            Err(why) => {
                                eprintln!(
                                    "{}: cannot run on the real network: {why}\n",
                                    file.display()
                                );
                                bad += 1;
                                continue;
                            }
                        }
                    }
                    // The default run is the simulated library; files of client processes
                    // take real time and run when named (`wschaos run scenarios/real/`).
                    if args.paths.is_empty() && !case.world().in_default_run() {
                        real_left_out += 1;
                        continue;
                    }
                    position += 1;
                    if !shard.has(position - 1) {
                        continue;
                    }
                    if !std::mem::replace(&mut linted, true) && !args.json {
                        for line in unjudgeable(&case) {
                            say!("{}: {}: {line}", paint("note", "33"), file.display());
                        }
                    }
                    if args.swarm && case.world().replays() {
                        case.scenario = wschaos::explore::swarm(&case.scenario, case.seed);
                    }
                    let runs = case.world().runs_per_case(args.runs);
                    for run in 1..=runs {
                        let repeat = (runs > 1).then_some((run, runs));
                        let mut result = run_case(&case, args, repeat);
                        result.repeat = repeat;
                        show(&result, args.json);
                        results.push(result);
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}\n");
                bad += 1;
            }
        }
    }
    let failed = results.iter().filter(|r| !r.green()).count();
    // Green, but with checks it could not judge: not counted as passed.
    let partly = results
        .iter()
        .filter(|r| r.green() && r.outcome != "skip" && !r.not_judged.is_empty())
        .count();
    let passed = results.iter().filter(|r| r.outcome != "skip").count() - failed - partly;
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit(&results)) {
            eprintln!("wschaos: cannot write {}: {e}", path.display());
            bad += 1;
        }
    }
    if args.json {
        let count = |o: &str| results.iter().filter(|r| r.outcome == o).count();
        say!(
            "{}",
            json!({
                "wschaos_result": report::RESULT_VERSION,
                "summary": {
                    "shard": shard.to_string(),
                    "planned": (0..position).filter(|&p| shard.has(p)).count(),
                    "cases": results.len(),
                    "passed": passed,
                    "failed": failed,
                    "not_judged": partly,
                    "skipped": count("skip"),
                    "bad_files": bad,
                    "sweep": sweep_key(files, args),
                }
            })
        );
    } else {
        summary(&results);
        let bad_files = if bad > 0 {
            format!(", {}", report::count(bad, "bad file"))
        } else {
            String::new()
        };
        let skipped = results.iter().filter(|r| r.outcome == "skip").count();
        let skipped = if skipped > 0 {
            format!(", {skipped} skipped (missing `needs`)")
        } else {
            String::new()
        };
        let partly = if partly > 0 {
            format!(", {partly} not fully judged (see `not judged` above; `--strict` fails them)")
        } else {
            String::new()
        };
        say!("\n{passed} passed, {failed} failed{partly}{skipped}{bad_files}");
        if real_left_out > 0 {
            say!(
                "({real_left_out} real-network runs left out: they take real time; run them with `wschaos run scenarios/real/`)"
            );
        }
    }
    match (bad, failed) {
        (0, 0) => Exit::Ok,
        (0, _) => Exit::Trouble,
        _ => Exit::BadInput,
    }
}

/// What makes two shards parts of the same run: the files and how their seeds were chosen.
/// `wschaos merge` refuses to join shards whose keys differ.
fn sweep_key(files: &[PathBuf], args: &Args) -> serde_json::Value {
    json!({
        "command": "run",
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "seed": args.seed,
        "swarm": args.swarm,
        "real": args.real,
    })
}

fn run_case(case: &Case, args: &Args, repeat: Option<(u32, u32)>) -> Result {
    let missing = wschaos::real::missing_needs(&case.scenario, &wschaos::real::dir_of(&case.file));
    if !missing.is_empty() {
        let what: Vec<String> = missing
            .iter()
            .map(|(group, need)| format!("group {group:?} needs {need:?}"))
            .collect();
        return Result {
            file: case.file.display().to_string(),
            seed: case.seed,
            outcome: "skip",
            simulated: 0.0,
            wall: 0.0,
            detail: format!("skipped: {}, which is not here", what.join("; ")),
            violations: Vec::new(),
            real: true,
            not_judged: Vec::new(),
            repeat: None,
            notes: Vec::new(),
            warnings: Vec::new(),
        };
    }
    let started = Instant::now();
    let outcome = case.run();
    let wall = started.elapsed().as_secs_f64();
    let mut result = Result {
        file: case.file.display().to_string(),
        seed: case.seed,
        outcome: "error",
        simulated: case.scenario.duration.as_secs_f64(),
        wall,
        detail: String::new(),
        violations: Vec::new(),
        real: !case.world().replays(),
        not_judged: Vec::new(),
        repeat: None,
        notes: Vec::new(),
        warnings: Vec::new(),
    };
    let o = match outcome {
        Ok(o) => o,
        Err(e) => {
            result.detail = e.to_string();
            return result;
        }
    };
    if let Some(dir) = &args.report {
        let written = match repeat {
            Some((run, _)) => report::write_run(dir, case, &o, run),
            None => report::write(dir, case, &o),
        };
        if let Err(e) = written {
            eprintln!(
                "wschaos: cannot write the report under {}: {e}",
                dir.display()
            );
        }
    }
    result.violations = o
        .verdict
        .violations
        .iter()
        .map(|v| json!({ "invariant": v.invariant, "client": v.client, "t": v.t, "message": v.message, "events": v.events }))
        .collect();
    result.not_judged = o.verdict.not_judged.clone();
    result.notes = notes(&o);
    result.warnings = o
        .verdict
        .warnings
        .iter()
        .map(|w| (w.t, w.message.clone()))
        .collect();
    (result.outcome, result.detail) = match case.judge(&o) {
        Judgement::Pass => ("pass", String::new()),
        Judgement::KnownFailure(invariant) => ("xfail", format!("known failure: {invariant}")),
        Judgement::Unconfirmed { invariant, reason } => (
            "xfail",
            format!(
                "known failure ({invariant}) not confirmed: the run could not judge it ({reason})"
            ),
        ),
        Judgement::Fixed(invariant) => (
            "fixed",
            format!(
                "the known failure ({invariant}) no longer happens: delete `failing` from the file"
            ),
        ),
        Judgement::Fail => {
            let mut replay = case.replay_command();
            if args.swarm && case.world().replays() {
                replay.push_str(" --swarm");
            }
            ("fail", report::failure_report(case, &o, &replay, args.all))
        }
    };
    if args.check_determinism && result.green() && !result.real {
        determinism(case, &mut result);
    }
    if args.strict && result.green() && result.outcome != "skip" {
        let (mut counts, mut why) = (Vec::new(), Vec::new());
        if !result.warnings.is_empty() {
            counts.push(report::count(result.warnings.len(), "warning"));
            why.push("a fault that touched no connection tested nothing");
        }
        if !result.not_judged.is_empty() {
            counts.push(format!(
                "{} not judged",
                report::count(result.not_judged.len(), "check")
            ));
            why.push("the run could not tell whether they hold");
        }
        if !counts.is_empty() {
            result.outcome = "fail";
            result.detail = format!(
                "{} under --strict: {}",
                counts.join(" and "),
                why.join("; ")
            );
        }
    }
    result
}

/// What a run of `case`'s file will not be able to judge (a fault too late for a client's
/// declared bounds), in the world it runs in.
fn unjudgeable(case: &Case) -> Vec<String> {
    wschaos::check::unjudgeable(&case.world().context_before_run(&case.scenario))
}

/// What the reader of a real run must know about its client processes beyond the verdict
/// (an early exit is a violation, `process_exited`): whose log lost lines.
fn notes(o: &wschaos::cases::Outcome) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(log) = o.server_log.as_ref().filter(|l| l.dropped > 0) {
        out.push(format!(
            "server command: {} log lines dropped (only the last {} are kept)",
            log.dropped,
            wschaos::real::MAX_LOG
        ));
    }
    for (name, log) in &o.logs {
        if log.dropped > 0 {
            out.push(format!(
                "client {name}: {} log lines dropped (only the last {} are kept)",
                log.dropped,
                wschaos::real::MAX_LOG
            ));
        }
    }
    out
}

/// Runs the case twice; a difference fails it with the first differing history line.
fn determinism(case: &Case, result: &mut Result) {
    match case.divergence() {
        Ok(None) => {}
        Ok(Some(d)) => {
            result.outcome = "nondeterministic";
            result.detail = format!(
                "the runs differ at history line {}\n  first:  {}\n  second: {}",
                d.line, d.first, d.second
            );
        }
        Err(e) => {
            result.outcome = "error";
            result.detail = e.to_string();
        }
    }
}

fn show(r: &Result, as_json: bool) {
    if as_json {
        let mut value = json!({
            "wschaos_result": report::RESULT_VERSION,
            "file": r.file, "seed": r.seed, "run": r.repeat.map(|(k, _)| k), "outcome": r.outcome, "simulated_s": r.simulated,
            "wall_s": r.wall, "violations": r.violations, "detail": r.detail,
            "warnings": r.warnings.iter().map(|(t, m)| json!({ "t": t, "message": m })).collect::<Vec<_>>(),
            "not_judged": r.not_judged,
        });
        if r.real {
            value["real"] = json!(true);
            value["notes"] = json!(r.notes);
        }
        say!("{value}");
        return;
    }
    let speed = if r.real {
        format!("{:.1}s real time (real network)", r.wall)
    } else {
        format!(
            "{:.1}s simulated in {:.2}s ({:.0}x)",
            r.simulated,
            r.wall,
            r.simulated / r.wall.max(1e-9)
        )
    };
    let label = format!(
        "{:<5}",
        r.outcome.to_uppercase().chars().take(5).collect::<String>()
    );
    let label = paint(&label, if r.green() { "32" } else { "31" });
    let name = match r.repeat {
        Some((k, n)) => format!("{} seed {} run {k}/{n}", r.file, r.seed),
        None => format!("{} seed {}", r.file, r.seed),
    };
    say!("{label} {name:<60} {speed}");
    for note in &r.notes {
        say!("      note: {note}");
    }
    for (_, warning) in &r.warnings {
        say!("      {}: {warning}", paint("warning", "33"));
    }
    for line in report::not_judged(&r.not_judged) {
        say!("      {}: {line}", paint("not judged", "33"));
    }
    if !r.detail.is_empty() {
        say!(
            "{}\n",
            r.detail
                .lines()
                .map(|l| format!("      {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A table: one row per scenario file with its seeds, passes, failures and times.
fn summary(results: &[Result]) {
    say!(
        "\n{:<52} {:>5} {:>6} {:>6} {:>10} {:>8}",
        "scenario",
        "runs",
        "passed",
        "failed",
        "simulated",
        "wall"
    );
    for (file, mine) in by_file(results) {
        let failed = mine.iter().filter(|r| !r.green()).count();
        let simulated: f64 = mine.iter().map(|r| r.simulated).sum();
        let wall: f64 = mine.iter().map(|r| r.wall).sum();
        let failed_text = paint(
            &format!("{failed:>6}"),
            if failed == 0 { "32" } else { "31" },
        );
        say!(
            "{file:<52} {:>5} {:>6} {failed_text} {:>9.0}s {:>7.2}s",
            mine.len(),
            mine.len() - failed,
            simulated,
            wall
        );
    }
    // Real time is noisy: a repeated real case's verdict is k of N.
    let mut repeated: Vec<(&str, u64, u32, u32)> = Vec::new();
    for r in results
        .iter()
        .filter(|r| r.repeat.is_some() && r.outcome != "skip")
    {
        let passed = u32::from(r.green());
        match repeated.last_mut() {
            Some((f, seed, k, n)) if *f == r.file && *seed == r.seed => {
                *k += passed;
                *n += 1;
            }
            _ => repeated.push((&r.file, r.seed, passed, 1)),
        }
    }
    if !repeated.is_empty() {
        say!("");
    }
    for (file, seed, k, n) in repeated {
        say!("{file} seed {seed}: passed {k} of {n} runs");
    }
}

/// ANSI colour on a terminal, unless `NO_COLOR` is set.
fn paint(text: &str, code: &str) -> String {
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// JUnit XML: a test suite per scenario file, a test case per seed.
fn junit(results: &[Result]) -> String {
    let failures = results.iter().filter(|r| !r.green()).count();
    let time: f64 = results.iter().map(|r| r.wall).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wschaos\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">\n",
        results.len()
    );
    for (file, mine) in by_file(results) {
        let failed = mine.iter().filter(|r| !r.green()).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">",
            report::escape_markup(file),
            mine.len()
        );
        for r in mine {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"seed_{}{}\" time=\"{:.3}\"",
                report::escape_markup(file),
                r.seed,
                r.repeat
                    .map(|(k, _)| format!("_run_{k}"))
                    .unwrap_or_default(),
                r.wall
            );
            if r.outcome == "skip" {
                let _ = write!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    report::escape_markup(&r.detail)
                );
            } else if r.green() && r.not_judged.is_empty() {
                xml.push_str("/>\n");
            } else if r.green() {
                // Passed what it judged: the rest is said, not hidden (no JUnit status fits).
                let lines = report::not_judged(&r.not_judged)
                    .into_iter()
                    .map(|l| format!("not judged: {l}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let _ = write!(
                    xml,
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    report::escape_markup(&lines)
                );
            } else {
                let message = r
                    .detail
                    .lines()
                    .find(|l| l.starts_with('['))
                    .or(r.detail.lines().next())
                    .unwrap_or(r.outcome);
                let _ = write!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    report::escape_markup(message),
                    r.outcome,
                    report::escape_markup(&r.detail)
                );
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
