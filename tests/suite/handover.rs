//! A graceful restart that hands the listening socket over (`hand_over = true`), in the
//! simulation: no dial is refused while the server restarts, and everyone is back at once;
//! the same file without it has refused dials and late reconnects.

use wschaos::client::{Reason, Status};
use wschaos::history::{Event, History};
use wschaos::scenario::{self, Scenario};
use wschaos::sim;

const FILE: &str = "scenarios/restarts/graceful-handover.toml";

fn scenario(hand_over: bool) -> Scenario {
    let text = std::fs::read_to_string(FILE).unwrap();
    assert!(text.contains("hand_over = true"), "the file hands over");
    let text = text.replace("hand_over = true", &format!("hand_over = {hand_over}"));
    scenario::parse(&text, FILE).unwrap()
}

/// Dials that failed (refused: turmoil names only the address), and how long after the second server's
/// start the last client was connected again (ms).
fn refusals_and_recovery(h: &History) -> (usize, u64) {
    let mut second_up = None;
    let (mut refused, mut last) = (0, 0);
    for r in &h.records {
        match &r.event {
            Event::ServerUp { epoch: 2 } => second_up = Some(r.t),
            Event::Status {
                status:
                    Status::Disconnected {
                        reason: Reason::Dial { .. },
                        ..
                    },
                ..
            } => refused += 1,
            Event::Status {
                status: Status::Connected,
                ..
            } if second_up.is_some() => last = r.t,
            _ => {}
        }
    }
    let up = second_up.expect("the server started again");
    (refused, last.saturating_sub(up))
}

pub fn a_handed_over_restart_refuses_no_dial_and_everyone_is_back_at_once() {
    for seed in [1, 2, 3] {
        let with = sim::run(&scenario(true), seed).unwrap();
        let (refused, back) = refusals_and_recovery(&with);
        assert_eq!(refused, 0, "seed {seed}: no dial refused");
        assert!(
            back <= 100,
            "seed {seed}: everyone back {back} ms after the start"
        );
        let without = sim::run(&scenario(false), seed).unwrap();
        let (refused, back_without) = refusals_and_recovery(&without);
        assert!(refused > 0, "seed {seed}: without it, dials are refused");
        assert!(
            back_without > back,
            "seed {seed}: without it, the last is back later ({back_without} ms vs {back} ms)"
        );
    }
}

pub fn the_fault_record_says_the_socket_was_kept() {
    let h = sim::run(&scenario(true), 1).unwrap();
    let jsonl = h.to_jsonl();
    assert!(
        jsonl.contains(r#""kind":"fault","verb":"shutdown","hand_over":true"#),
        "{}",
        jsonl.lines().find(|l| l.contains("shutdown")).unwrap_or("")
    );
    let plain = sim::run(&scenario(false), 1).unwrap().to_jsonl();
    assert!(plain.contains(r#""kind":"fault","verb":"shutdown"}"#));
}

pub fn a_server_command_cannot_be_handed_a_socket() {
    let mut s = scenario(true);
    assert_eq!(
        wschaos::real::unsupported(&s),
        None,
        "the built-in server can"
    );
    s.server.command = Some("node server.mjs --port {port}".into());
    let why = wschaos::real::unsupported(&s).expect("refused before the run");
    assert!(
        why.contains("`hand_over`") && why.contains("[server] command"),
        "{why}"
    );
}
