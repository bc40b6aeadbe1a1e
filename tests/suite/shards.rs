//! Sweeps split over machines: `run --shard K/N` and `explore --shard K/N` take disjoint
//! shares that together are exactly the unsplit sweep, and `merge` joins their `--json`
//! output into one verdict, refusing a sweep with a shard missing.

use crate::support::Scratch;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wschaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wschaos"))
        .args(args)
        .output()
        .expect("run wschaos")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Two small scenario files, seven and three seeds; the second always fails.
fn library(tag: &str) -> Scratch {
    let dir = Scratch::new(&format!("shards-{tag}"));
    let tiny = "name = \"tiny\"\nduration = \"10s\"\n[[clients]]\nname = \"subs\"\ntopics = [\"news\"]\n[[timeline]]\nat = \"3s\"\ndo = \"restart\"\ndown = \"1s\"\n";
    std::fs::write(
        dir.join("a.toml"),
        format!("seeds = [1, 2, 3, 4, 5, 6, 7]\n{tiny}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("b.toml"),
        format!("seeds = [8, 9, 10]\n{tiny}[expect]\nfinal = {{ subs = \"failed\" }}\n"),
    )
    .unwrap();
    dir
}

/// (file, seed) of every case line.
fn cases(lines: &[serde_json::Value]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter(|l| l.get("summary").is_none())
        .map(|l| {
            let file = Path::new(l["file"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, l["seed"].as_u64().unwrap())
        })
        .collect()
}

pub fn run_shards_are_disjoint_cover_the_run_exactly_and_merge_into_its_verdict() {
    let dir = library("run");
    let d = dir.to_str().unwrap();
    let whole = wschaos(&["run", d, "--json"]);
    assert_eq!(whole.status.code(), Some(1), "{}", text(&whole));
    let all: BTreeSet<(String, u64)> = cases(&json_lines(&whole)).into_iter().collect();
    assert_eq!(all.len(), 10);

    let mut union = BTreeSet::new();
    let mut files = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = wschaos(&["run", d, "--json", "--shard", &shard]);
        let lines = json_lines(&out);
        let mine = cases(&lines);
        assert!(
            (3..=4).contains(&mine.len()),
            "shard {shard}: {mine:?} (an even share)"
        );
        for case in mine {
            assert!(union.insert(case.clone()), "{case:?} in two shards");
        }
        let summary = &lines.last().unwrap()["summary"];
        assert_eq!(summary["shard"], shard.as_str());
        let path = dir.join(format!("shard-{k}.jsonl"));
        std::fs::write(&path, &out.stdout).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    assert_eq!(union, all, "the shards together are the whole run");

    let merged = wschaos(&["merge", &files[0], &files[1], &files[2]]);
    let said = text(&merged);
    assert_eq!(merged.status.code(), Some(1), "{said}");
    assert!(
        said.contains("3 shards of one `run` sweep (every case of the sweep): 10 cases, 3 failed"),
        "{said}"
    );
    assert_eq!(said.matches("FAIL ").count(), 3, "{said}");

    let partial = wschaos(&["merge", &files[0], &files[2]]);
    assert_eq!(partial.status.code(), Some(2), "{}", text(&partial));
    assert!(
        text(&partial).contains("missing shards 2 of 3"),
        "{}",
        text(&partial)
    );
}

pub fn explore_shards_sweep_every_seed_once_and_merge() {
    let dir = library("explore");
    let d = dir.to_str().unwrap();
    let mut files = Vec::new();
    let mut total = 0;
    let mut failing = BTreeSet::new();
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let out = wschaos(&[
            "explore",
            d,
            "--seeds",
            "5",
            "--no-shrink",
            "--jobs",
            "1",
            "--json",
            "--shard",
            &shard,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let lines = json_lines(&out);
        let summary = &lines.last().unwrap()["summary"];
        assert_eq!(summary["cases"], summary["planned"], "{summary}");
        total += summary["cases"].as_u64().unwrap();
        for (file, seed) in cases(&lines) {
            assert_eq!(file, "b.toml", "only b fails");
            assert!(failing.insert(seed), "seed {seed} in two shards");
        }
        let path = dir.join(format!("explore-{k}.jsonl"));
        std::fs::write(&path, &out.stdout).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    // 2 files x 5 seeds from seed 1; every seed of b fails.
    assert_eq!(total, 10);
    assert_eq!(failing, (1..=5).collect());
    let merged = wschaos(&["merge", "--json", &files[0], &files[1]]);
    assert_eq!(merged.status.code(), Some(1), "{}", text(&merged));
    let m = &json_lines(&merged)[0];
    assert_eq!((&m["cases"], &m["failed"]), (&10.into(), &5.into()), "{m}");
}

pub fn run_swarm_draws_the_schedule_explore_swarm_draws_for_that_seed() {
    // calm.toml has no timeline of its own: every fault in the history was drawn.
    let report = Scratch::new("swarm-run");
    let faults = |swarm: bool| {
        let _ = std::fs::remove_dir_all(&*report);
        let mut args = vec![
            "run",
            "scenarios/swarm/calm.toml",
            "--seed",
            "3",
            "--report",
            report.to_str().unwrap(),
        ];
        if swarm {
            args.push("--swarm");
        }
        let out = wschaos(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let history = walk(&report)
            .into_iter()
            .find(|p| p.ends_with("history.jsonl"))
            .expect("a history");
        std::fs::read_to_string(history)
            .unwrap()
            .matches("\"kind\":\"fault\"")
            .count()
    };
    assert_eq!(faults(false), 0);
    let scenario = wschaos::scenario::load(Path::new("scenarios/swarm/calm.toml")).unwrap();
    let drawn = wschaos::explore::swarm(&scenario, 3);
    assert!(drawn.timeline.len() > scenario.timeline.len());
    assert!(faults(true) > 0, "the drawn faults ran");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
