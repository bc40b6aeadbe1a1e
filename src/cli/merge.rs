//! `wschaos merge`: the `--json` outputs of the shards of one `run` or `explore` sweep (a
//! CI job matrix), joined into one verdict. It refuses what would hide a lost case: a
//! missing or doubled shard, shards of different sweeps, a shard that stopped before its
//! summary or ran fewer cases than it planned, a case reported twice.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::Exit;
use super::explore::EXPLORE_VERSION;
use wschaos::report::RESULT_VERSION;

/// Options of `wschaos merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files of `run --json` or `explore --json` output, one or more shards each; `-` reads
    /// stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print the merged verdict as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Which command the lines came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Run,
    Explore,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Explore => "explore",
        }
    }
}

/// Everything read, before judging.
#[derive(Default)]
struct Read {
    kind: Option<Kind>,
    /// (where, summary object).
    summaries: Vec<(String, Value)>,
    /// (where, case object).
    cases: Vec<(String, Value)>,
}

/// Merges; exit 0 when every shard is there and nothing failed, 1 when a case failed, 2
/// when the inputs do not make one whole sweep.
pub fn run(args: Args) -> Exit {
    let read = match read_all(&args.files) {
        Ok(r) => r,
        Err(e) => return super::bad_input(e),
    };
    match merge(&read) {
        Ok(merged) => {
            show(&merged, args.json);
            if merged.failures.is_empty() {
                Exit::Ok
            } else {
                Exit::Trouble
            }
        }
        Err(e) => super::bad_input(e),
    }
}

fn read_all(files: &[PathBuf]) -> Result<Read, String> {
    let mut read = Read::default();
    for file in files {
        let name = file.display().to_string();
        let text = if name == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("stdin: {e}"))?;
            text
        } else {
            std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            let value: Value =
                serde_json::from_str(line).map_err(|e| format!("{at}: not JSON: {e}"))?;
            let kind = kind_of(&value).map_err(|e| format!("{at}: {e}"))?;
            match read.kind {
                None => read.kind = Some(kind),
                Some(k) if k != kind => {
                    return Err(format!(
                        "{at}: an `{}` line among `{}` lines: merge the shards of one sweep at a time",
                        kind.name(),
                        k.name()
                    ));
                }
                Some(_) => {}
            }
            match value.get("summary") {
                Some(summary) => read.summaries.push((at, summary.clone())),
                None => read.cases.push((at, value)),
            }
        }
    }
    Ok(read)
}

/// The command and format version a line comes from.
fn kind_of(value: &Value) -> Result<Kind, String> {
    let version = |key: &str, want: u32| -> Option<Result<(), String>> {
        let v = value.get(key)?;
        Some(if v.as_u64() == Some(u64::from(want)) {
            Ok(())
        } else {
            Err(format!(
                "{key} {v}: this wschaos reads version {want}; merge with the wschaos that wrote it"
            ))
        })
    };
    if let Some(ok) = version("wschaos_result", RESULT_VERSION) {
        return ok.map(|()| Kind::Run);
    }
    if let Some(ok) = version("wschaos_explore", EXPLORE_VERSION) {
        return ok.map(|()| Kind::Explore);
    }
    Err("not a line of `wschaos run --json` or `wschaos explore --json`".into())
}

/// One whole sweep.
struct Merged {
    kind: Kind,
    shards: u64,
    /// Cases run, over all shards.
    cases: u64,
    /// Cases the shards planned; `None` for a time-bound sweep (`explore --for`).
    planned: Option<u64>,
    /// The failing cases' lines.
    failures: Vec<Value>,
}

fn merge(read: &Read) -> Result<Merged, String> {
    let kind = read.kind.ok_or("no lines to merge")?;
    if read.summaries.is_empty() {
        return Err(
            "no summary line: a shard's output ends with one; an output without it is cut short (did the job finish?)"
                .into(),
        );
    }
    // One sweep: the same key and shard count everywhere.
    let (first_at, first) = &read.summaries[0];
    let (sweep, count) = (&first["sweep"], shard_of(first_at, first)?.1);
    let mut seen = BTreeSet::new();
    let (mut cases, mut planned) = (0u64, Some(0u64));
    for (at, s) in &read.summaries {
        if &s["sweep"] != sweep {
            return Err(format!(
                "{at}: a shard of another sweep (its files, seeds or options differ from {first_at}'s)"
            ));
        }
        let (index, n) = shard_of(at, s)?;
        if n != count {
            return Err(format!(
                "{at}: shard {index}/{n} among shards of {count} ({first_at})"
            ));
        }
        if !seen.insert(index) {
            return Err(format!("{at}: shard {index}/{count} given twice"));
        }
        let ran = s["cases"].as_u64().ok_or(format!("{at}: no `cases`"))?;
        match s["planned"].as_u64() {
            Some(p) if ran != p => {
                return Err(format!(
                    "{at}: shard {index}/{count} ran {ran} of its {p} cases: it stopped early"
                ));
            }
            Some(p) => planned = planned.map(|t| t + p),
            None => planned = None,
        }
        cases += ran;
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !seen.contains(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing shards {} of {count}: the sweep is not whole",
            missing.join(", ")
        ));
    }
    let failures = match kind {
        Kind::Run => run_failures(read, cases)?,
        Kind::Explore => read.cases.iter().map(|(_, v)| v.clone()).collect(),
    };
    Ok(Merged {
        kind,
        shards: count,
        cases,
        planned,
        failures,
    })
}

/// `run` prints every case: each once, as many as the summaries say; the failures are the
/// ones not green.
fn run_failures(read: &Read, cases: u64) -> Result<Vec<Value>, String> {
    let mut seen = BTreeSet::new();
    for (at, v) in &read.cases {
        let key = (v["file"].to_string(), v["seed"].to_string());
        if !seen.insert(key) {
            return Err(format!(
                "{at}: {} seed {} reported twice",
                v["file"], v["seed"]
            ));
        }
    }
    if read.cases.len() as u64 != cases {
        return Err(format!(
            "{} case lines, but the summaries count {cases}: lines were lost",
            read.cases.len()
        ));
    }
    Ok(read
        .cases
        .iter()
        .filter(|(_, v)| !matches!(v["outcome"].as_str(), Some("pass" | "xfail" | "skip")))
        .map(|(_, v)| v.clone())
        .collect())
}

fn shard_of(at: &str, summary: &Value) -> Result<(u64, u64), String> {
    let text = summary["shard"]
        .as_str()
        .ok_or(format!("{at}: the summary names no shard"))?;
    let shard: wschaos::cases::Shard = text.parse().map_err(|e| format!("{at}: {e}"))?;
    Ok((shard.index, shard.count))
}

fn show(m: &Merged, as_json: bool) {
    if as_json {
        say!(
            "{}",
            json!({
                "wschaos_merge": 1,
                "command": m.kind.name(),
                "shards": m.shards,
                "cases": m.cases,
                "planned": m.planned,
                "failed": m.failures.len(),
                "failures": m.failures,
            })
        );
        return;
    }
    for f in &m.failures {
        let what = match (f["invariant"].as_str(), f["outcome"].as_str()) {
            (Some(inv), _) => format!("[{inv}] {}", f["message"].as_str().unwrap_or("")),
            (None, Some(o)) => o.to_string(),
            (None, None) => String::new(),
        };
        say!(
            "FAIL {} seed {}: {what}",
            f["file"].as_str().unwrap_or("?"),
            f["seed"]
        );
        if let Some(replay) = f["replay"].as_str() {
            say!("  replay: {replay}");
        }
    }
    let whole = match m.planned {
        Some(_) => "every case of the sweep",
        None => "a time-bound sweep: no fixed set of cases",
    };
    say!(
        "{} shard{} of one `{}` sweep ({whole}): {} cases, {} failed",
        m.shards,
        if m.shards == 1 { "" } else { "s" },
        m.kind.name(),
        m.cases,
        m.failures.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(kind: &str, shard: &str, planned: u64, cases: u64) -> String {
        let version = if kind == "run" {
            format!("\"wschaos_result\":{RESULT_VERSION}")
        } else {
            format!("\"wschaos_explore\":{EXPLORE_VERSION}")
        };
        format!(
            "{{{version},\"summary\":{{\"shard\":\"{shard}\",\"planned\":{planned},\"cases\":{cases},\"sweep\":{{\"command\":\"{kind}\",\"files\":[\"a.toml\"]}}}}}}"
        )
    }

    fn run_case(seed: u64, outcome: &str) -> String {
        format!(
            "{{\"wschaos_result\":{RESULT_VERSION},\"file\":\"a.toml\",\"seed\":{seed},\"outcome\":\"{outcome}\"}}"
        )
    }

    fn merged(lines: &[String]) -> Result<Merged, String> {
        let mut read = Read::default();
        for (i, line) in lines.iter().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            read.kind = Some(kind_of(&v)?);
            match v.get("summary") {
                Some(s) => read.summaries.push((format!("l{i}"), s.clone())),
                None => read.cases.push((format!("l{i}"), v)),
            }
        }
        merge(&read)
    }

    #[test]
    fn whole_sweeps_merge_and_count_their_failures() {
        let m = merged(&[
            run_case(1, "pass"),
            run_case(3, "fail"),
            summary("run", "1/2", 2, 2),
            run_case(2, "pass"),
            summary("run", "2/2", 1, 1),
        ])
        .unwrap();
        assert_eq!((m.shards, m.cases, m.planned), (2, 3, Some(3)));
        assert_eq!(m.failures.len(), 1);
        assert_eq!(m.failures[0]["seed"], 3);
    }

    #[test]
    fn what_would_hide_a_lost_case_is_refused() {
        let cases = [
            (
                vec![run_case(1, "pass"), summary("run", "1/2", 1, 1)],
                "missing shards 2 of 2",
            ),
            (
                vec![
                    summary("explore", "1/2", 5, 5),
                    summary("explore", "1/2", 5, 5),
                ],
                "given twice",
            ),
            (
                vec![
                    summary("explore", "1/2", 5, 5),
                    summary("explore", "2/3", 5, 5),
                ],
                "among shards of 2",
            ),
            (vec![summary("explore", "1/1", 5, 4)], "stopped early"),
            (vec![run_case(1, "pass")], "no summary line"),
            (
                vec![run_case(1, "pass"), summary("run", "1/1", 2, 2)],
                "lines were lost",
            ),
            (
                vec![
                    run_case(1, "pass"),
                    run_case(1, "pass"),
                    summary("run", "1/1", 2, 2),
                ],
                "reported twice",
            ),
        ];
        for (lines, why) in cases {
            let e = merged(&lines).err().unwrap_or_default();
            assert!(e.contains(why), "{why}: got {e:?}");
        }
        let other = summary("explore", "2/2", 5, 5).replace("a.toml", "b.toml");
        let e = merged(&[summary("explore", "1/2", 5, 5), other])
            .err()
            .unwrap_or_default();
        assert!(e.contains("another sweep"), "{e}");
    }

    #[test]
    fn lines_of_another_format_version_are_refused_by_name() {
        let v: Value = serde_json::from_str("{\"wschaos_result\":99}").unwrap();
        assert!(kind_of(&v).unwrap_err().contains("reads version"));
        let v: Value = serde_json::from_str("{\"ts\":1}").unwrap();
        assert!(kind_of(&v).unwrap_err().contains("not a line of"));
    }
}
