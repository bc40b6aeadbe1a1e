//! Real-network runs: scenario files whose clients are processes (`command`), run on
//! loopback in real time through one proxy per client, judged by the same checkers. The
//! clients here are `wschaos connect` (our own client as a process) and small shell
//! commands. Every wait is bounded by the scenario's duration; every process is stopped.
#![cfg(unix)]

use crate::support::Scratch;
use wschaos::cases::{self, Outcome};
use wschaos::history::Event;

/// Writes `text` as a scenario file in a folder of its own, runs it once, and removes the
/// folder.
fn run(name: &str, text: &str) -> Outcome {
    let dir = Scratch::new(&format!("real-{name}"));
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let case = cases::cases(&file, None).unwrap().remove(0);
    assert_eq!(case.world(), wschaos::world::World::RealNetwork);
    let outcome = case.run();
    outcome.unwrap_or_else(|e| panic!("{e}"))
}

fn fired(o: &Outcome, client: &str) -> Vec<&'static str> {
    o.verdict
        .violations
        .iter()
        .filter(|v| v.client.as_deref() == Some(client))
        .map(|v| v.invariant)
        .collect()
}

/// Our own client, told to reconnect quickly.
const CONNECT: &str =
    r#""$WSCHAOS" connect {url} --subscribe news --initial-delay 200ms --max-delay 1s"#;

pub fn a_client_that_comes_back_passes_and_one_that_gives_up_fails() {
    let o = run(
        "gives-up",
        &format!(
            r#"
name = "gives-up"
duration = "7s"
settle = "3s"
seeds = [1]

[[clients]]
name = "quitter"
topics = ["news"]
command = '"$WSCHAOS" connect {{url}} --subscribe news --max-attempts 1 >/dev/null'

[[clients]]
name = "stayer"
topics = ["news"]
policy = {{ initial_delay = "200ms", max_delay = "1s" }}
# A command runs in its file's folder unless `cwd` says otherwise.
command = '[ -f gives-up.toml ] || exit 9; {CONNECT}'

[[timeline]]
at = "2s"
do = "restart"
down = "1s"
"#
        ),
    );
    assert_eq!(
        fired(&o, "stayer-0"),
        Vec::<&str>::new(),
        "{:#?}",
        o.verdict
    );
    let quitter = fired(&o, "quitter-0");
    assert!(quitter.contains(&"expect_reconnect"), "{quitter:?}");
    assert!(
        quitter.contains(&"process_exited"),
        "{quitter:?} {:?}",
        o.logs
    );
    // It printed nothing: what needs its word is not judged for it, never a pass.
    let nj: Vec<&str> = (o.verdict.not_judged.iter())
        .filter(|n| n.invariant == "status_moves")
        .map(|n| n.client.as_str())
        .collect();
    assert_eq!(nj, ["quitter-0"]);
    // The proxy told whose dials were whose, with no `client=` in anybody's URL.
    let dials = |who: &str| {
        o.history
            .records
            .iter()
            .filter(|r| matches!(&r.event, Event::Dial { client } if client == who))
            .count()
    };
    assert!(dials("stayer-0") >= 2 && dials("quitter-0") >= 1);
}

pub fn a_cut_link_is_silence_and_the_heartbeat_notices() {
    let o = run(
        "partition",
        &format!(
            r#"
name = "partition"
duration = "8s"
settle = "3s"
seeds = [1]

[[clients]]
name = "subs"
host = "edge"
topics = ["news"]
policy = {{ initial_delay = "200ms", max_delay = "1s", ping_interval = "500ms", pong_timeout = "500ms" }}
command = '{CONNECT} --ping-interval 500ms --pong-timeout 500ms'

[[timeline]]
at = "2s"
do = "partition"
between = ["server", "edge"]
for = "2500ms"
"#
        ),
    );
    assert!(o.verdict.passed(), "{:#?}", o.verdict);
    let noticed = o.history.records.iter().any(|r| {
        r.t > 2000
            && r.t < 4500
            && matches!(&r.event, Event::Status { status, .. }
                if format!("{status:?}").contains("HeartbeatTimeout"))
    });
    assert!(noticed, "no heartbeat timeout during the cut");
}

pub fn every_process_is_stopped_even_one_that_ignores_sigterm() {
    let marker = format!("29{}.5", std::process::id() % 1000);
    let o = run(
        "cleanup",
        &format!(
            r#"
name = "cleanup"
duration = "3s"
settle = "1s"
seeds = [1]

[[clients]]
name = "stubborn"
command = "trap '' TERM; sleep {marker} & sleep {marker}"

[[clients]]
name = "parent"
command = 'sleep {marker} & {CONNECT}'
"#
        ),
    );
    assert!(
        o.verdict
            .violations
            .iter()
            .all(|v| v.invariant != "process_exited")
    );
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
    let stubborn = &o.logs["stubborn-0"];
    assert!(
        stubborn
            .lines
            .iter()
            .any(|l| l.contains("after SIGTERM: killed")),
        "{stubborn:?}"
    );
}

pub fn a_missing_command_and_a_flood_are_named_not_hung() {
    let o = run(
        "bad-clients",
        r#"
name = "bad-clients"
duration = "3s"
settle = "1s"
seeds = [1]

[[clients]]
name = "missing"
command = "no-such-client-wschaos {url}"

[[clients]]
name = "flood"
command = "seq 1 5000; head -c 200000 /dev/zero | tr '\\0' x; echo; sleep 100"
"#,
    );
    let missing = o
        .verdict
        .violations
        .iter()
        .find(|v| v.client.as_deref() == Some("missing-0") && v.invariant == "process_exited")
        .expect("the missing command is reported");
    assert!(missing.message.contains("exit 127"), "{}", missing.message);
    assert!(missing.message.contains("not found"), "{}", missing.message);
    let flood = &o.logs["flood-0"];
    assert_eq!(flood.lines.len(), wschaos::real::MAX_LOG);
    assert!(flood.dropped >= 3000, "{}", flood.dropped);
    let long = flood
        .lines
        .iter()
        .find(|l| l.ends_with("[cut]"))
        .expect("cut line");
    assert!(long.len() <= wschaos::real::MAX_LINE + 6);
}

pub fn client_actions_reach_the_process_on_stdin() {
    let o = run(
        "actions",
        &format!(
            r#"
name = "actions"
duration = "4s"
settle = "1s"
seeds = [1]

[[clients]]
name = "subs"
topics = ["news"]
policy = {{ initial_delay = "200ms", max_delay = "1s" }}
command = '{CONNECT}'

[[timeline]]
at = "1s"
do = "subscribe"
client = "subs"
topic = "alerts"

[[timeline]]
at = "2s"
do = "close"
client = "subs"
"#
        ),
    );
    assert!(o.verdict.passed(), "{:#?}", o.verdict);
    let subscribed = o.history.records.iter().any(|r| {
        matches!(r.event.server(), Some((_, wschaos::server::Event::Subscribed { topic, .. })) if topic == "alerts")
    });
    assert!(
        subscribed,
        "the server never saw the subscribe sent on stdin"
    );
    let last = o
        .history
        .statuses("subs-0")
        .last()
        .map(|(_, _, s)| s.name());
    assert_eq!(last, Some("closed"));
}

pub fn a_restarted_client_process_is_killed_started_again_and_judged_per_process() {
    let o = run(
        "reload",
        &format!(
            r#"
name = "reload"
duration = "7s"
settle = "3s"
seeds = [1]

[[clients]]
name = "subs"
count = 2
topics = ["news"]
policy = {{ initial_delay = "200ms", max_delay = "1s" }}
command = '{CONNECT}'

[[timeline]]
at = "1500ms"
do = "restart_client"
client = "subs-0"

[[timeline]]
at = "2s"
do = "restart_client"
client = "subs-1"
down = "1s"
"#
        ),
    );
    assert!(o.verdict.passed(), "{:#?}", o.verdict.violations);
    use wschaos::history::ClientAction;
    for (client, step, down) in [("subs-0", 1_500, 0), ("subs-1", 2_000, 1_000)] {
        let mine: Vec<(u64, &Event)> = o.history.of(client).map(|(_, r)| (r.t, &r.event)).collect();
        let at = |want: &ClientAction| {
            mine.iter()
                .find(|(_, e)| matches!(e, Event::Action { action, .. } if action == want))
                .map(|(t, _)| *t)
                .unwrap_or_else(|| panic!("{client}: no {want:?} in {mine:#?}"))
        };
        let (exit, start) = (at(&ClientAction::Exit), at(&ClientAction::Start));
        // Killed at the step (the exit is recorded once its output is read to the end),
        // started again `down` after the step.
        assert!(
            exit >= step && start >= step + down && start >= exit,
            "{client}: exit {exit}, start {start}"
        );
        // Nothing of it while no process runs, and the new one connects again.
        assert!(
            mine.iter().all(|(t, _)| *t <= exit || *t >= start),
            "{client}: {mine:#?}"
        );
        let back = mine.iter().any(|(t, e)| {
            *t > start
                && matches!(
                    e,
                    Event::Status {
                        status: wschaos::client::Status::Connected,
                        ..
                    }
                )
        });
        assert!(back, "{client}: the new process connected: {mine:#?}");
        let log = &o.logs[client];
        assert!(
            log.lines
                .iter()
                .any(|l| l.contains("restarted (restart_client)")),
            "{log:?}"
        );
        assert!(log.exited.is_none(), "a kill is not an exit of its own");
    }
}

/// `run --real`: a simulated file (no `command` anywhere) runs on the real network, each
/// built-in client as `wschaos connect` with its group's policy and workload. The publisher's
/// messages, named as the simulation names them, reach the subscribers through a restart,
/// judged by every check including `outbox` and `presence`; a client whose policy gives up
/// after one attempt gives up (its `max_attempts` reached the process) and stays up, failed,
/// as the simulated client does (`--stay`), instead of exiting.
pub fn a_simulated_file_runs_on_the_real_network_with_its_built_in_clients() {
    let dir = Scratch::new("real-as-real");
    let file = dir.join("both-worlds.toml");
    std::fs::write(
        &file,
        r#"
name = "both-worlds"
duration = "7s"
settle = "3s"

[[clients]]
name = "subs"
count = 2
topics = ["news"]
policy = { initial_delay = "200ms", max_delay = "1s" }

[[clients]]
name = "pub"
topics = ["news"]
policy = { initial_delay = "200ms", max_delay = "1s" }
publish = { topic = "news", every = "200ms", start = "500ms" }

[[clients]]
name = "quitter"
policy = { initial_delay = "200ms", max_attempts = 1, stable_after = "1s" }

[[timeline]]
at = "2s"
do = "restart"
down = "1s"
"#,
    )
    .unwrap();
    let mut case = cases::cases(&file, None).unwrap().remove(0);
    assert_eq!(
        case.world(),
        wschaos::world::World::Simulated,
        "a simulated file"
    );
    case.scenario = wschaos::real::on_real_network(&case.scenario).unwrap();
    let o = case.run().unwrap_or_else(|e| panic!("{e}"));
    for client in ["subs-0", "subs-1", "pub-0"] {
        assert_eq!(fired(&o, client), Vec::<&str>::new(), "{:#?}", o.verdict);
    }
    let published = o
        .history
        .records
        .iter()
        .filter(
            |r| matches!(&r.event, Event::Publish { client, id: Some(_), .. } if client == "pub-0"),
        )
        .count();
    assert!(published >= 15, "{published} publishes reported by pub-0");
    let delivered = o
        .history
        .records
        .iter()
        .filter(|r| matches!(&r.event, Event::Delivered { client, from, .. } if client == "subs-0" && from == "pub-0"))
        .count();
    assert!(
        delivered >= 10,
        "{delivered} of pub-0's messages reached subs-0"
    );
    assert!(
        !(o.verdict.not_judged.iter()).any(|n| n.invariant == "outbox" && n.client == "pub-0"),
        "outbox judged pub-0 from its published lines: {:?}",
        o.verdict.not_judged
    );
    // The proxy decodes every frame: the subscriptions are judged from the wire, on each
    // of subs-0's connections (one before the restart, one after).
    assert!(
        o.verdict.checked.contains(&"subscribed_on_wire"),
        "{:?}",
        o.verdict.checked
    );
    let asked = |conn_of: &dyn Fn(u32) -> bool| {
        (o.history.records.iter()).any(|r| matches!(&r.event, Event::Wire { client, conn, said, .. }
            if client == "subs-0" && conn_of(*conn)
                && matches!(&**said, wschaos::evidence::wire::WireEvent::Subscribe { topic, .. } if topic == "news")))
    };
    assert!(
        asked(&|c| c == 1) && asked(&|c| c > 1),
        "subs-0 asked for news on both connections"
    );
    let quitter = fired(&o, "quitter-0");
    let story: Vec<String> = o
        .history
        .of("quitter-0")
        .map(|(_, r)| wschaos::report::describe(r))
        .collect();
    // Its policy allows one attempt: giving up is right, and it stays up, failed.
    assert_eq!(quitter, Vec::<&str>::new(), "{story:#?}");
    assert!(
        story.last().is_some_and(|l| l.contains("status failed")),
        "{story:#?}"
    );
    assert!(
        o.logs["quitter-0"].exited.is_none(),
        "{:?}",
        o.logs["quitter-0"]
    );
}

/// A library file on the real network: `close()` during a dial held by the proxy. The
/// client hangs up while its dial is held; when the hold is released, the proxy must not
/// carry the abandoned dial to the server (a real SYN answered after the client gave up is
/// refused by the client's end), or `silence_after_close` would blame the client.
pub fn a_dial_abandoned_during_a_hold_never_reaches_the_server() {
    let file = std::path::Path::new("scenarios/basics/close-during-held-dial.toml");
    let mut case = cases::cases(file, None).unwrap().remove(0);
    case.scenario = wschaos::real::on_real_network(&case.scenario).unwrap();
    let o = case.run().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        o.verdict.violations.is_empty(),
        "{:#?}",
        o.verdict.violations
    );
}

/// Steps fired `on` a status change run on the real network too: as soon as the client's
/// status line is read, the action goes to its stdin (and into the history, right after the
/// status that fired it).
pub fn steps_fired_on_a_status_change_reach_the_process() {
    let o = run(
        "on-steps",
        &format!(
            r#"
name = "on-steps"
duration = "6s"
settle = "2s"
seeds = [1]
expect.skip = ["expect_reconnect"]

[[clients]]
name = "c"
topics = ["news"]
policy = {{ initial_delay = "200ms", max_delay = "1s" }}
command = '{CONNECT}'

[[timeline]]
at = "2s"
do = "restart"
down = "500ms"

[[timeline]]
on = "disconnected"
do = "subscribe"
client = "c-0"
topic = "extra"

[[timeline]]
on = "connected"
nth = 2
do = "close"
client = "c-0"
"#
        ),
    );
    let records = &o.history.records;
    let at = |pred: &dyn Fn(&Event) -> bool| records.iter().position(|r| pred(&r.event));
    let connected: Vec<usize> = (records.iter().enumerate())
        .filter(|(_, r)| {
            matches!(
                &r.event,
                Event::Status {
                    status: wschaos::client::Status::Connected,
                    ..
                }
            )
        })
        .map(|(i, _)| i)
        .collect();
    assert!(connected.len() >= 2, "{:?}", o.history.records);
    let close = at(&|e| {
        matches!(
            e,
            Event::Action {
                action: wschaos::history::ClientAction::Close,
                ..
            }
        )
    })
    .expect("the close step never fired");
    assert!(
        close > connected[1],
        "close at {close}, second connected at {}",
        connected[1]
    );
    let subscribe = at(&|e| {
        matches!(e, Event::Action { action: wschaos::history::ClientAction::Subscribe { topic }, .. } if topic == "extra")
    })
    .expect("the subscribe step never fired");
    let disconnected = at(&|e| {
        matches!(
            e,
            Event::Status {
                status: wschaos::client::Status::Disconnected { .. },
                ..
            }
        )
    })
    .unwrap();
    assert!(subscribe > disconnected && subscribe < connected[1]);
    // The process obeyed: it closed. (The verdict is not asserted here: this test is about
    // the steps reaching the process, and real-time checks on a loaded CI machine are the
    // business of the tests above.)
    let last = (records.iter().rev())
        .find_map(|r| match &r.event {
            Event::Status { status, .. } => Some(status.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last, wschaos::client::Status::Closed);
    assert!(
        !o.verdict
            .violations
            .iter()
            .any(|v| v.invariant == "silence_after_close"),
        "{:?}",
        o.verdict.violations
    );
}
