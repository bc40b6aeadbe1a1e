//! The `wschaos` binary as a user runs it: exit codes, error messages, JSON lines.

use std::process::{Command, Output};

fn wschaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wschaos"))
        .args(args)
        .output()
        .expect("run wschaos")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn demo_recovers_from_two_restarts_and_says_so() {
    let out = wschaos(&["demo", "--downtime", "100ms", "--messages", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
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

#[test]
fn bad_input_exits_2_with_a_reason() {
    for (args, needle) in [
        (
            &["connect", "http://127.0.0.1:1/"][..],
            "not a WebSocket scheme",
        ),
        (&["connect", "wss://127.0.0.1:1/"][..], "not supported yet"),
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

#[test]
fn connect_gives_up_with_exit_1_after_max_attempts() {
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
