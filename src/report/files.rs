//! `--report DIR`: per scenario and seed, `history.jsonl`, `verdict.json` and
//! `timeline.html` under `DIR/NAME/seed-N/` (`seed-N/run-K/` for the repeats of
//! `wschaos run --runs`), and after a real run what each process printed, under `logs/`.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::cases::{Case, Outcome};

/// Writes the files of one case; returns their folder.
pub fn write(dir: &Path, case: &Case, outcome: &Outcome) -> io::Result<PathBuf> {
    write_in(folder(dir, case), case, outcome)
}

/// As [`write()`], for run `run` of a case run several times (`wschaos run --runs N`), in a
/// folder of its own under the seed's, so that no run overwrites another.
pub fn write_run(dir: &Path, case: &Case, outcome: &Outcome, run: u32) -> io::Result<PathBuf> {
    write_in(folder(dir, case).join(format!("run-{run}")), case, outcome)
}

fn folder(dir: &Path, case: &Case) -> PathBuf {
    dir.join(safe(&case.scenario.name))
        .join(format!("seed-{}", case.seed))
}

fn write_in(folder: PathBuf, case: &Case, outcome: &Outcome) -> io::Result<PathBuf> {
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("history.jsonl"), outcome.history.to_jsonl())?;
    std::fs::write(folder.join("verdict.json"), verdict_json(case, outcome))?;
    std::fs::write(
        folder.join("timeline.html"),
        super::html::timeline(&case.scenario, &outcome.history, &outcome.verdict),
    )?;
    let logs = (outcome.logs.iter().map(|(name, log)| (name.as_str(), log)))
        .chain(outcome.server_log.iter().map(|log| ("server", log)));
    for (name, log) in logs {
        let dir = folder.join("logs");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{}.log", safe(name))), log_text(log))?;
    }
    Ok(folder)
}

/// What a process printed, as the run kept it: the lines dropped first said, its exit last.
fn log_text(log: &crate::real::Log) -> String {
    let mut text = String::new();
    if log.dropped > 0 {
        text += &format!("[{} earlier lines not kept]\n", log.dropped);
    }
    for line in &log.lines {
        text += line;
        text.push('\n');
    }
    if let Some((t, how)) = &log.exited {
        text += &format!("[exited by itself at {t} ms: {how}]\n");
    }
    text
}

/// The version of `verdict.json`'s format (its first field, `wschaos_verdict`); it grows
/// when a field changes meaning or goes away, not when one is added. `docs/outputs.md`.
/// 2: `not_applicable` (real runs only) gave way to `not_judged`, in every world.
pub const VERDICT_VERSION: u32 = 2;

/// The version of the objects `wschaos run --json` prints (their first field,
/// `wschaos_result`), on the same terms. 2: a last line, `summary`, closes the output. 3:
/// `not_judged` on every result and in the summary, which no longer counts such cases passed.
pub const RESULT_VERSION: u32 = 3;

/// The verdict as JSON: the case, the invariants checked, each violation with its events.
pub fn verdict_json(case: &Case, outcome: &Outcome) -> String {
    let violations: Vec<serde_json::Value> = outcome
        .verdict
        .violations
        .iter()
        .map(|v| {
            let events: Vec<serde_json::Value> = v
                .events
                .iter()
                .map(|i| json!({ "index": i, "t": outcome.history.records[*i].t, "line": i + 2, "text": super::describe(&outcome.history.records[*i]) }))
                .collect();
            json!({ "invariant": v.invariant, "client": v.client, "t": v.t, "message": v.message, "events": events })
        })
        .collect();
    let value = json!({
        "wschaos_verdict": VERDICT_VERSION,
        "scenario": case.scenario.name,
        "file": case.file.display().to_string(),
        "seed": case.seed,
        "passed": outcome.verdict.passed(),
        "checked": outcome.verdict.checked,
        "violations": violations,
        "not_judged": outcome.verdict.not_judged,
        "warnings": outcome.verdict.warnings,
        "replay": case.replay_command(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
