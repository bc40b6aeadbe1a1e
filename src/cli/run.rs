//! `wschaos run`: scenario files through the simulation, one verdict line per (file, seed).

use std::path::PathBuf;
use std::time::Instant;

use wschaos::cases::{self, Case, Judgement};
use wschaos::report;

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
    let (seed, check_determinism) = (args.seed, args.check_determinism);
    let (mut passed, mut failed, mut bad) = (0, 0, 0);
    for file in files {
        let cases = match cases::cases(file, seed) {
            Ok(cases) => cases,
            Err(e) => {
                eprintln!("{e}\n");
                bad += 1;
                continue;
            }
        };
        for case in cases {
            if run_case(&case, args.report.as_deref())
                && (!check_determinism || deterministic(&case))
            {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }
    println!(
        "\n{passed} passed, {failed} failed{}",
        if bad > 0 {
            format!(", {bad} bad files")
        } else {
            String::new()
        }
    );
    match (bad, failed) {
        (0, 0) => Exit::Ok,
        (0, _) => Exit::Trouble,
        _ => Exit::BadInput,
    }
}

/// Runs one case and prints its line (and its failure report). True when it passed.
fn run_case(case: &Case, report_dir: Option<&std::path::Path>) -> bool {
    let started = Instant::now();
    let outcome = case.run();
    let wall = started.elapsed().as_secs_f64();
    let simulated = case.scenario.duration.as_secs_f64();
    let speed = format!(
        "{simulated:.1}s simulated in {wall:.2}s ({:.0}x)",
        simulated / wall.max(1e-9)
    );
    let name = format!("{} seed {}", case.file.display(), case.seed);
    if let (Some(dir), Ok(o)) = (report_dir, &outcome) {
        if let Err(e) = report::write(dir, case, o) {
            eprintln!(
                "wschaos: cannot write the report under {}: {e}",
                dir.display()
            );
        }
    }
    match outcome {
        Ok(o) => match case.judge(&o) {
            Judgement::Pass => {
                println!("PASS  {name:<60} {speed}");
                true
            }
            Judgement::KnownFailure(invariant) => {
                println!("XFAIL {name:<60} {speed} (known failure: {invariant})");
                true
            }
            Judgement::Fixed(invariant) => {
                println!("FIXED {name:<60} {speed}");
                println!(
                    "      the known failure ({invariant}) no longer happens: delete `failing` from the file\n"
                );
                false
            }
            Judgement::Fail => {
                println!("FAIL  {name:<60} {speed}");
                println!("{}\n", indent(&report::failure(case, &o)));
                false
            }
        },
        Err(e) => {
            println!("FAIL  {name:<60} {e}");
            false
        }
    }
}

/// Runs the case twice; prints where the runs differ, if they do.
fn deterministic(case: &Case) -> bool {
    match case.divergence() {
        Ok(None) => true,
        Ok(Some(d)) => {
            println!(
                "NONDETERMINISTIC {} seed {}: the runs differ at history line {}",
                case.file.display(),
                case.seed,
                d.line
            );
            println!("      first:  {}\n      second: {}", d.first, d.second);
            false
        }
        Err(e) => {
            println!("FAIL  {}: {e}", case.file.display());
            false
        }
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
