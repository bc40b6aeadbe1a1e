//! `wschaos replay`: one scenario and seed, the whole story. The output is identical on every
//! run and every machine (it shows simulated time only).

use std::path::PathBuf;

use wschaos::cases;
use wschaos::report;

use super::{Exit, bad_input};

/// Options of `wschaos replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (a regression file names its seed).
    file: PathBuf,
    /// The seed; default: the file's first seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the recorded history (JSON lines) to this file.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write history.jsonl, verdict.json and timeline.html under this folder.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Replays; exit 0 when every invariant holds, 1 on a violation, 2 on bad input.
pub async fn run(args: Args) -> Exit {
    let cases = match cases::cases(&args.file, args.seed) {
        Ok(cases) => cases,
        Err(e) => return bad_input(e),
    };
    let Some(case) = cases.into_iter().next() else {
        return bad_input("the scenario lists no seed");
    };
    if !case.world().replays() {
        return bad_input(format!(
            "{} names client processes: a real-network run does not replay; run it again with `wschaos run {}`",
            args.file.display(),
            args.file.display()
        ));
    }
    let outcome = match tokio::task::spawn_blocking(move || case.run().map(|o| (case, o))).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            eprintln!("wschaos: {e}");
            return Exit::Trouble;
        }
        Err(e) => {
            eprintln!("wschaos: {e}");
            return Exit::Trouble;
        }
    };
    let (case, outcome) = outcome;
    if let Some(path) = &args.history {
        if let Err(e) = std::fs::write(path, outcome.history.to_jsonl()) {
            return bad_input(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(dir) = &args.report {
        match report::write(dir, &case, &outcome) {
            Ok(folder) => eprintln!("report: {}", folder.join("timeline.html").display()),
            Err(e) => {
                return bad_input(format!(
                    "cannot write the report under {}: {e}",
                    dir.display()
                ));
            }
        }
    }
    say_raw!(
        "{}",
        colourize(&report::story(
            &case.scenario,
            &outcome.history,
            &outcome.verdict
        ))
    );
    if outcome.verdict.passed() {
        Exit::Ok
    } else {
        say!("\n{}", report::failure(&case, &outcome));
        Exit::Trouble
    }
}

/// Colours the status lanes on a terminal (unless `NO_COLOR` is set); elsewhere the text
/// is unchanged, so piped output stays byte-identical across runs.
fn colourize(story: &str) -> String {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || std::env::var_os("NO_COLOR").is_some() {
        return story.to_string();
    }
    story
        .lines()
        .map(|line| match line.split_once('|') {
            Some((name, lane)) if lane.ends_with('|') => {
                let painted: String = lane
                    .chars()
                    .map(|c| match c {
                        '=' => "\x1b[32m=\x1b[0m".to_string(),
                        '~' => "\x1b[33m~\x1b[0m".to_string(),
                        '.' => "\x1b[35m.\x1b[0m".to_string(),
                        'x' => "\x1b[31mx\x1b[0m".to_string(),
                        '#' => "\x1b[45m \x1b[0m".to_string(),
                        other => other.to_string(),
                    })
                    .collect();
                format!("{name}|{painted}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}
