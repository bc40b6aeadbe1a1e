//! The `wschaos` binary as a user runs it: exit codes, error messages, JSON lines.

use crate::support::Scratch;
use std::process::{Command, Output};

fn wschaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wschaos"))
        .args(args)
        .output()
        .expect("run wschaos")
}

/// Every stdout line parsed as JSON (panics on a line that is not).
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn demo_recovers_from_two_restarts_and_says_so() {
    let out = wschaos(&["demo", "--downtime", "100ms", "--messages", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = json_lines(&stdout);
    assert!(
        lines.iter().all(|l| l["ts"].is_string()),
        "every line has a timestamp"
    );
    let verdict = lines.last().unwrap();
    assert_eq!(verdict["event"], "verdict");
    assert_eq!(verdict["published"], 10);
    assert_eq!(verdict["received"], 10);
    assert_eq!(verdict["exactly_once_in_order"], true);
    let restarts = lines
        .iter()
        .filter(|l| l["step"] == "server restarted")
        .count();
    assert_eq!(restarts, 2);
    let drops = lines
        .iter()
        .filter(|l| l["status"]["reason"]["code"] == 1012)
        .count();
    assert!(
        drops >= 2,
        "alice saw the 1012 close at each restart:\n{stdout}"
    );
}

pub fn bad_input_exits_2_with_a_reason() {
    let dir = Scratch::new("cli-tls");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.to_str().unwrap();
    for (args, needle) in [
        (
            &["connect", "http://127.0.0.1:1/"][..],
            "not a WebSocket scheme",
        ),
        (
            &[
                "connect",
                "wss://127.0.0.1:1/",
                "--ca-cert",
                "/nonexistent.pem",
            ][..],
            "No such file",
        ),
        (
            &["connect", "wss://127.0.0.1:1/", "--ca-cert", junk][..],
            "no CERTIFICATE block",
        ),
        (
            &["serve", "--tls-cert", junk, "--tls-key", junk][..],
            "certificate chain: no CERTIFICATE block",
        ),
        (&["serve", "--tls-cert", junk][..], "--tls-key"),
        (
            &["connect", "ws://127.0.0.1:1/", "--publish", "no-colon"][..],
            "TOPIC:TEXT",
        ),
        (
            &["connect", "ws://127.0.0.1:1/", "--raw", "--subscribe", "t"][..],
            "--raw",
        ),
        (
            &["connect", "ws://127.0.0.1:1/", "--subscribe", ""][..],
            "topic",
        ),
        (&["serve", "--bind", "not-an-address"][..], "invalid"),
    ] {
        let out = wschaos(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

pub fn connect_gives_up_with_exit_1_after_max_attempts() {
    // Port 1 on loopback refuses at once.
    let out = wschaos(&[
        "connect",
        "ws://127.0.0.1:1/",
        "--max-attempts",
        "2",
        "--initial-delay",
        "10ms",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let states: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        states,
        ["connecting", "disconnected", "connecting", "failed"]
    );
}

/// A scratch folder of scenario files for one test, removed when it ends.
fn scenario_dir(name: &str, files: &[(&str, &str)]) -> Scratch {
    Scratch::with(&format!("cli-{name}"), files)
}

const TINY: &str = "name = \"tiny\"\nseeds = [5]\nduration = \"20s\"\n[[clients]]\nname = \"subs\"\ntopics = [\"news\"]\n[[timeline]]\nat = \"5s\"\ndo = \"restart\"\ndown = \"1s\"\n";

pub fn run_passes_fails_and_refuses_with_the_documented_exit_codes() {
    let good = scenario_dir("good", &[("tiny.toml", TINY)]);
    let out = wschaos(&["run", good.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    assert!(
        stdout.contains("PASS")
            && stdout.contains("tiny.toml seed 5")
            && stdout.contains("1 passed, 0 failed"),
        "{stdout}"
    );

    let wrong = TINY.to_string() + "[expect]\nfinal = { subs = \"failed\" }\n";
    let failing = scenario_dir("failing", &[("wrong.toml", &wrong)]);
    let out = wschaos(&["run", failing.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("[expect_final] subs-0")
            && stdout.contains("ended connected, expected failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("replay: cargo run --release -- run") && stdout.contains("--seed 5"),
        "{stdout}"
    );

    let broken = scenario_dir("broken", &[("broken.toml", &TINY.replace("down", "dwon"))]);
    let out = wschaos(&["run", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("broken.toml:10:1: unknown field `dwon`"),
        "{}",
        stderr(&out)
    );

    let out = wschaos(&["run", "no/such/place"]);
    assert_eq!(out.status.code(), Some(2));
}

pub fn run_with_a_seed_replays_one_case() {
    let dir = scenario_dir("seed", &[("tiny.toml", TINY)]);
    let out = wschaos(&[
        "run",
        dir.join("tiny.toml").to_str().unwrap(),
        "--seed",
        "42",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("seed 42") && !stdout.contains("seed 5"),
        "{stdout}"
    );
}

pub fn schema_is_json_describing_the_format() {
    let out = wschaos(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["name", "duration", "clients", "timeline", "expect"] {
        assert!(schema["properties"][key].is_object(), "{key}");
    }
}

/// `calm` with an expectation every swarm run breaks, so exploring has something to find.
fn doomed_calm() -> String {
    let calm = std::fs::read_to_string("scenarios/swarm/calm.toml").unwrap();
    calm.replace(
        "\n[swarm]\n",
        "\n[expect]\nsequence = { edge = [\"connecting\", \"connected\"] }\n\n[swarm]\n",
    )
}

pub fn explore_finds_shrinks_and_writes_a_regression_that_replays() {
    let dir = scenario_dir("explore", &[("calm.toml", &doomed_calm())]);
    let out_dir = dir.join("regressions");
    let out = wschaos(&[
        "explore",
        dir.join("calm.toml").to_str().unwrap(),
        "--swarm",
        "--seeds",
        "6",
        "--jobs",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    assert!(
        stdout.contains("6 cases in") && stdout.contains("[expect_sequence]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("steps ->") && stdout.contains("replay: cargo run --release -- replay"),
        "{stdout}"
    );
    let files: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one regression per (scenario, invariant)");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.starts_with("# Regression found by `wschaos explore` on 20"),
        "{text}"
    );
    assert!(text.contains("failing = \"expect_sequence\""), "{text}");

    // The regression file is an ordinary scenario: `run` counts the open bug as a known failure.
    let out = wschaos(&["run", files[0].to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("XFAIL") && stdout.contains("known failure: expect_sequence"),
        "{stdout}"
    );

    // Replay tells the same story, to the byte, in two separate processes.
    let (h1, h2) = (dir.join("h1.jsonl"), dir.join("h2.jsonl"));
    let a = wschaos(&[
        "replay",
        files[0].to_str().unwrap(),
        "--history",
        h1.to_str().unwrap(),
    ]);
    let b = wschaos(&[
        "replay",
        files[0].to_str().unwrap(),
        "--history",
        h2.to_str().unwrap(),
    ]);
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(a.stdout, b.stdout);
    assert!(
        String::from_utf8_lossy(&a.stdout).contains("edge-0      |"),
        "a status lane per client"
    );
    assert_eq!(std::fs::read(&h1).unwrap(), std::fs::read(&h2).unwrap());
}

pub fn histories_are_identical_across_processes_for_a_nontrivial_scenario() {
    let dir = scenario_dir("processes", &[]);
    let (h1, h2) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    for h in [&h1, &h2] {
        let out = wschaos(&[
            "replay",
            "scenarios/restarts/repeated-restarts.toml",
            "--seed",
            "9",
            "--history",
            h.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let (a, b) = (std::fs::read(&h1).unwrap(), std::fs::read(&h2).unwrap());
    assert!(a.len() > 100_000, "{} bytes of history", a.len());
    assert!(a == b, "two processes, one seed, different histories");
}

pub fn check_determinism_runs_each_case_twice() {
    let out = wschaos(&[
        "run",
        "scenarios/partitions/black-hole.toml",
        "--seed",
        "4",
        "--check-determinism",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        !stdout.contains("NONDETERMINISTIC") && stdout.contains("1 passed, 0 failed"),
        "{stdout}"
    );
    let out = wschaos(&[
        "explore",
        "scenarios/swarm/calm.toml",
        "--swarm",
        "--seeds",
        "3",
        "--check-determinism",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

pub fn run_speaks_json_and_junit_for_ci() {
    let dir = scenario_dir("formats", &[("tiny.toml", TINY)]);
    let junit = dir.join("junit.xml");
    let out = wschaos(&[
        "run",
        dir.to_str().unwrap(),
        "--json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = json_lines(&stdout);
    assert_eq!(
        lines.len(),
        2,
        "one object per scenario and seed, then the summary, nothing else: {stdout}"
    );
    assert_eq!(lines[0]["outcome"], "pass");
    let summary = &lines[1]["summary"];
    assert_eq!(lines[1]["wschaos_result"], wschaos::report::RESULT_VERSION);
    assert_eq!(
        (&summary["shard"], &summary["planned"], &summary["cases"]),
        (&"1/1".into(), &1.into(), &1.into()),
        "{summary}"
    );
    assert_eq!(
        (&summary["passed"], &summary["failed"]),
        (&1.into(), &0.into())
    );
    assert_eq!(lines[0]["seed"], 5);
    // Versioned, with the version first (docs/outputs.md).
    assert_eq!(lines[0]["wschaos_result"], wschaos::report::RESULT_VERSION);
    assert!(stdout.starts_with("{\"wschaos_result\":"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuites name=\"wschaos\" tests=\"1\" failures=\"0\""),
        "{xml}"
    );
    assert!(xml.contains("name=\"seed_5\""), "{xml}");

    let wrong = TINY.to_string() + "[expect]\nfinal = { subs = \"failed\" }\n";
    let failing = scenario_dir("formats-fail", &[("wrong.toml", &wrong)]);
    let out = wschaos(&[
        "run",
        failing.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("<failure message=\"[expect_final] subs-0"),
        "{xml}"
    );
}

pub fn log_lines_of_a_simulated_run_carry_simulated_time() {
    let out = Command::new(env!("CARGO_BIN_EXE_wschaos"))
        .args([
            "run",
            "scenarios/restarts/short-restart.toml",
            "--seed",
            "1",
        ])
        .env("RUST_LOG", "wschaos=debug")
        .output()
        .unwrap();
    let logs = stderr(&out);
    let line = logs
        .lines()
        .find(|l| l.contains("status"))
        .unwrap_or_else(|| panic!("no status log line:\n{logs}"));
    assert!(line.starts_with("sim "), "{line}");
    assert!(!logs.contains('\u{1b}'), "no colour codes off a terminal");
}

pub fn explore_names_every_failing_seed() {
    let wrong = TINY.replace("seeds = [5]\n", "") + "[expect]\nfinal = { subs = \"failed\" }\n";
    let dir = scenario_dir("explore-seeds", &[("wrong.toml", &wrong)]);
    let out = wschaos(&[
        "explore",
        dir.join("wrong.toml").to_str().unwrap(),
        "--seeds",
        "4",
        "--no-shrink",
        "--jobs",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(text.contains("4 cases in"), "{text}");
    assert!(
        text.contains("4 seeds break [expect_final] in ") && text.contains(": 1, 2, 3, 4"),
        "{text}"
    );
}

pub fn help_shows_the_counter_placeholder() {
    // clap turns a literal `{n}` into a line break: the help must show one that survives.
    let out = wschaos(&["connect", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("{count} in TEXT becomes a counter"), "{help}");
    assert!(!help.contains("--every; `"), "{help}");
}

pub fn explore_writes_regressions_into_the_files_own_library_from_anywhere() {
    let dir = scenario_dir("explore-anywhere", &[]);
    let library = dir.join("project/scenarios/swarm");
    std::fs::create_dir_all(&library).unwrap();
    std::fs::write(library.join("calm.toml"), doomed_calm()).unwrap();
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wschaos"))
        .args(["explore", "--swarm", "--seeds", "2", "--jobs", "1"])
        .arg(library.join("calm.toml"))
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        !elsewhere.join("scenarios").exists(),
        "nothing lands where it ran"
    );
    let written: Vec<_> = std::fs::read_dir(dir.join("project/scenarios/regressions"))
        .expect("the project's scenarios/regressions/")
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!written.is_empty());
    // Right after explore writes them, each is a known failure, not a failure.
    for file in written {
        let run = wschaos(&["run", file.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert_eq!(run.status.code(), Some(0), "{}:\n{stdout}", file.display());
        assert!(stdout.contains("XFAIL"), "{stdout}");
    }
}

pub fn report_files_carry_their_format_versions() {
    let dir = scenario_dir("versions", &[("tiny.toml", TINY)]);
    let report = dir.join("report");
    let out = wschaos(&[
        "run",
        dir.join("tiny.toml").to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let case = report.join("tiny/seed-5");
    let verdict = std::fs::read_to_string(case.join("verdict.json")).unwrap();
    assert!(
        verdict.starts_with("{\n  \"wschaos_verdict\": 2,"),
        "{verdict}"
    );
    let history = std::fs::read_to_string(case.join("history.jsonl")).unwrap();
    assert!(history.starts_with("{\"wschaos_history\":3,"), "{history}");
}

pub fn a_fault_that_touched_nothing_is_a_warning_and_strict_makes_it_a_failure() {
    // A flap window while everyone is connected: it affects only new handshakes.
    let flap = TINY.replace(
        "do = \"restart\"\ndown = \"1s\"\n",
        "do = \"flap\"\nfor = \"3s\"\n",
    );
    let dir = scenario_dir("untouched", &[("flap.toml", &flap)]);
    let d = dir.to_str().unwrap();
    let out = wschaos(&["run", d]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: the flap at 5000ms (server closes right after each welcome) touched no connection"),
        "{text}"
    );
    let strict = wschaos(&["run", d, "--strict"]);
    let text = String::from_utf8_lossy(&strict.stdout).into_owned();
    assert_eq!(strict.status.code(), Some(1), "{text}");
    assert!(text.contains("1 warning under --strict"), "{text}");
    let json = wschaos(&["run", d, "--json"]);
    let lines = json_lines(&String::from_utf8(json.stdout).unwrap());
    assert_eq!(lines[0]["warnings"][0]["t"], 5000, "{:?}", lines[0]);
}

pub fn run_real_and_connect_refuse_what_they_cannot_do_with_a_reason() {
    // Real time has no seed to replay and no swarm schedule to draw.
    let out = wschaos(&["run", "--real", "--swarm", "scenarios/basics/presence.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    // `connect`'s policy and workload window.
    for (args, needle) in [
        (
            &["connect", "ws://127.0.0.1:1/", "--policy", "{\"jitter\":"][..],
            "--policy (or WSCHAOS_POLICY)",
        ),
        (
            &[
                "connect",
                "ws://127.0.0.1:1/",
                "--policy",
                "{\"jiter\":0.5}",
            ][..],
            "unknown field",
        ),
        (
            &[
                "connect",
                "ws://127.0.0.1:1/",
                "--publish",
                "news:x",
                "--every",
                "1s",
                "--start",
                "2s",
                "--stop",
                "1s",
            ][..],
            "--stop 1s comes before --start 2s",
        ),
    ] {
        let out = wschaos(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

/// Real time is noisy: `--runs N` repeats a real-network case and reports k of N; a
/// simulated case, a pure function of its seed, runs once.
pub fn runs_repeats_real_cases_and_reports_k_of_n() {
    let real = "name = \"brief\"\nseeds = [4]\nduration = \"1s\"\nsettle = \"500ms\"\n[[clients]]\nname = \"c\"\ncommand = 'echo hello from c >&2; exec \"$WSCHAOS\" connect {url}'\n";
    let dir = scenario_dir("runs", &[("brief.toml", real), ("tiny.toml", TINY)]);
    let (brief, tiny) = (dir.join("brief.toml"), dir.join("tiny.toml"));
    let out = wschaos(&[
        "run",
        "--runs",
        "3",
        "--json",
        brief.to_str().unwrap(),
        tiny.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    let lines = json_lines(&stdout);
    let runs: Vec<_> = (lines.iter())
        .filter(|l| {
            l["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("brief.toml"))
        })
        .map(|l| (l["seed"].as_u64(), l["run"].as_u64(), l["outcome"].as_str()))
        .collect();
    let pass = Some("pass");
    assert_eq!(
        runs,
        [
            (Some(4), Some(1), pass),
            (Some(4), Some(2), pass),
            (Some(4), Some(3), pass)
        ]
    );
    let simulated = (lines.iter())
        .filter(|l| l["file"].as_str().is_some_and(|f| f.ends_with("tiny.toml")))
        .count();
    assert_eq!(simulated, 1);
    let report = dir.join("report");
    let out = wschaos(&[
        "run",
        "--runs",
        "2",
        "--report",
        report.to_str().unwrap(),
        brief.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("seed 4 run 2/2") && stdout.contains("seed 4: passed 2 of 2 runs"),
        "{stdout}"
    );
    // Each run keeps its own report, with what the client process printed.
    for run in ["run-1", "run-2"] {
        let folder = report.join("brief/seed-4").join(run);
        assert!(folder.join("history.jsonl").is_file(), "{folder:?}");
        let log = std::fs::read_to_string(folder.join("logs/c-0.log"))
            .unwrap_or_else(|e| panic!("{folder:?}: {e}"));
        assert!(log.contains("hello from c"), "{log}");
    }
    let out = wschaos(&["run", "--runs", "0", brief.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// A fault too late for the client's bounds: said before the run (with the `duration`
/// that would judge it), then not judged, never passed, in every output; `--strict` fails it.
pub fn what_a_run_cannot_judge_is_said_in_every_output_and_strict_fails_it() {
    let late = "name = \"late\"\nseeds = [5]\nduration = \"20s\"\n[[clients]]\nname = \"subs\"\nhost = \"edge\"\ntopics = [\"news\"]\n[[clients]]\nname = \"pub\"\nhost = \"pubs\"\npublish = { topic = \"news\", every = \"200ms\" }\n[[timeline]]\nat = \"15s\"\ndo = \"partition\"\nbetween = [\"server\", \"pubs\"]\nfor = \"2s\"\n";
    let dir = scenario_dir("notjudged", &[("late.toml", late)]);
    let d = dir.to_str().unwrap();
    let junit = dir.join("junit.xml");
    let out = wschaos(&["run", d, "--junit", junit.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("note: ")
            && text.contains("the partition at 15.0 s cannot be judged for group \"pub\""),
        "{text}"
    );
    assert!(text.contains("lengthen `duration` to"), "{text}");
    assert!(text.contains("not judged: settles for pub-0"), "{text}");
    assert!(
        text.contains("0 passed, 0 failed, 1 not fully judged"),
        "{text}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<system-out>not judged: settles"), "{xml}");
    let json = wschaos(&["run", d, "--json"]);
    let lines = json_lines(&String::from_utf8(json.stdout).unwrap());
    let settles = lines[0]["not_judged"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["invariant"] == "settles")
        .cloned()
        .unwrap_or_default();
    assert_eq!(settles["client"], "pub-0", "{:?}", lines[0]);
    assert_eq!(settles["from"], 15_000, "{:?}", lines[0]);
    assert_eq!(lines[1]["summary"]["not_judged"], 1, "{:?}", lines[1]);
    assert_eq!(lines[1]["summary"]["passed"], 0, "{:?}", lines[1]);
    let strict = wschaos(&["run", d, "--strict"]);
    let text = String::from_utf8_lossy(&strict.stdout).into_owned();
    assert_eq!(strict.status.code(), Some(1), "{text}");
    assert!(text.contains("not judged under --strict"), "{text}");
}
