//! Real-network runs against a server given as a command (`[server] command`): it is
//! started, restarted (SIGKILL), stopped gracefully (SIGTERM), and waited for (bounded);
//! the proxies record its connections and do `kick`, `flap` and `reject` in its place.
//! The server here is `wschaos serve` run as a foreign process: nothing in the run reads
//! its own record.
#![cfg(unix)]

use crate::support::Scratch;
use wschaos::cases::{self, Outcome, RunError};
use wschaos::client::{Reason, Status};
use wschaos::history::Event;
use wschaos::server;

/// The case of `text`, written as a scenario file in a folder of its own, run by `with`;
/// the folder is removed afterwards.
fn with_case<T>(name: &str, text: &str, with: impl FnOnce(cases::Case) -> T) -> T {
    let dir = Scratch::new(&format!("foreign-{name}"));
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let case = cases::cases(&file, None).unwrap().remove(0);
    assert_eq!(case.world(), wschaos::world::World::RealNetwork);
    with(case)
}

fn run(name: &str, text: &str) -> Outcome {
    with_case(name, text, |c| c.run()).unwrap_or_else(|e| panic!("{e}"))
}

const SERVE: &str = r#"command = '"$WSCHAOS" serve --bind 127.0.0.1:{port}'"#;
const CONNECT: &str =
    r#""$WSCHAOS" connect {url} --subscribe news --initial-delay 200ms --max-delay 1s"#;

fn statuses<'a>(o: &'a Outcome, client: &'a str) -> impl Iterator<Item = &'a Status> + 'a {
    o.history
        .records
        .iter()
        .filter_map(move |r| match &r.event {
            Event::Status { client: c, status } if c == client => Some(status),
            _ => None,
        })
}

fn closed_with(o: &Outcome, client: &str, code: u16) -> bool {
    statuses(o, client).any(|s| {
        matches!(s, Status::Disconnected { reason: Reason::ServerClosed { code: c, .. }, .. } if *c == code)
    })
}

pub fn a_server_command_is_restarted_drained_kicked_flapped_and_rejected() {
    let o = run(
        "faults",
        &format!(
            r#"
name = "faults"
duration = "15s"
settle = "3s"
seeds = [1]

[server]
{SERVE}

[[clients]]
name = "stayer"
topics = ["news"]
policy = {{ initial_delay = "200ms", max_delay = "1s" }}
command = '{CONNECT}'

[[clients]]
name = "quitter"
topics = ["news"]
command = '"$WSCHAOS" connect {{url}} --subscribe news --max-attempts 1'

[[timeline]]
at = "2s"
do = "restart"
down = "1s"

[[timeline]]
at = "5s"
do = "graceful_restart"
down = "1s"

[[timeline]]
at = "8s"
do = "reject"
status = 503
for = "1500ms"

[[timeline]]
at = "8s"
do = "kick"
code = 1001

[[timeline]]
at = "11s"
do = "flap"
for = "1s"

[[timeline]]
at = "11s"
do = "kick"
code = 1001
"#
        ),
    );
    let report = format!(
        "{}\n{:#?}",
        (o.history.records.iter())
            .map(|r| format!("{} {}", r.t, wschaos::report::describe(r)))
            .collect::<Vec<_>>()
            .join("\n"),
        o.verdict.violations
    );
    // The client that comes back each time passes; the one that gave up at the restart
    // fails for it.
    let fired = |client: &str| -> Vec<&str> {
        (o.verdict.violations.iter())
            .filter(|v| v.client.as_deref() == Some(client))
            .map(|v| v.invariant)
            .collect()
    };
    assert!(fired("stayer-0").is_empty(), "{report}");
    assert!(fired("quitter-0").contains(&"attempt_budget"), "{report}");
    // Three starts of the command, each waited for.
    let ups = (o.history.records.iter())
        .filter(|r| matches!(r.event, Event::ServerUp { .. }))
        .count();
    assert_eq!(ups, 3, "{report}");
    // The stayer heard each fault as the simulation's server would have said it: 1012
    // from the server's own drain, and from the proxy a 1001 kick, an HTTP 503 and a flap's
    // 1011.
    for code in [1012, 1001, 1011] {
        assert!(
            closed_with(&o, "stayer-0", code),
            "no close {code}: {report}"
        );
    }
    assert!(
        statuses(&o, "stayer-0").any(|s| matches!(
            s,
            Status::Disconnected {
                reason: Reason::Rejected { status: 503 },
                ..
            }
        )),
        "{report}"
    );
    // The proxies kept the server's record: its connections, the refusals.
    let server = |f: &dyn Fn(&server::Event) -> bool| {
        (o.history.records.iter())
            .filter(|r| matches!(&r.event, Event::Server { event, .. } if f(event)))
            .count()
    };
    assert!(
        server(&|e| matches!(e, server::Event::Connected { client, .. } if client == "stayer-0"))
            >= 5,
        "{report}"
    );
    // Who closed, read from the close frames passing through: the server's drain.
    assert!(
        server(
            &|e| matches!(e, server::Event::Disconnected { reason, .. } if reason == "the server closed it (1012)")
        ) >= 1,
        "{report}"
    );
    assert!(
        server(&|e| matches!(e, server::Event::Refused { .. })) >= 1,
        "{report}"
    );
    assert!(
        server(
            &|e| matches!(e, server::Event::Disconnected { reason, .. } if reason.contains("kicked"))
        ) >= 1,
        "{report}"
    );
    // What needs the built-in server's record is not judged, not passed, with the reason.
    for check in ["delivery", "topics_restored", "presence"] {
        assert!(!o.verdict.checked.contains(&check), "{check} ran");
        let reasons: Vec<&str> = (o.verdict.not_judged.iter())
            .filter(|n| n.invariant == check)
            .map(|n| n.reason.as_str())
            .collect();
        assert!(
            !reasons.is_empty()
                && reasons
                    .iter()
                    .all(|r| r.contains("the server is a command")),
            "{check}: {reasons:?}"
        );
    }
    assert!(o.verdict.checked.contains(&"single_connection"));
    assert!(o.verdict.checked.contains(&"close_codes"));
    assert!(o.server_log.is_some());
}

fn running(marker: &str) -> bool {
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|l| l.starts_with("sleep") && l.contains(marker))
}

pub fn a_server_command_that_never_gets_ready_is_a_clear_error_and_is_stopped() {
    let file = |name: &str, server: &str| {
        format!(
            r#"
name = "{name}"
duration = "5s"
settle = "2s"
seeds = [1]

[server]
{server}

[[clients]]
name = "c"
command = '{CONNECT}'
"#
        )
    };
    let err = |name: &str, text: &str| match with_case(name, text, |c| c.run()) {
        Err(RunError::Real { error, .. }) => error.to_string(),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("it ran"),
    };
    let silent = err(
        "never-listens",
        &file(
            "never-listens",
            "command = 'echo starting; sleep 37.25'\nready_within = \"1s\"",
        ),
    );
    assert!(
        silent.contains("did not accept connections on 127.0.0.1:")
            && silent.contains("within 1s (ready_within)")
            && silent.contains("its last lines: starting"),
        "{silent}"
    );
    assert!(!running("37.25"), "the server command was left running");
    let quits = err("exits", &file("exits", "command = 'echo no port; exit 3'"));
    assert!(
        quits.contains("exited before it was ready (exit 3)") && quits.contains("no port"),
        "{quits}"
    );
    let mute = err(
        "no-line",
        &file(
            "no-line",
            "command = 'sleep 37.5'\nready_line = \"listening\"\nready_within = \"1s\"",
        ),
    );
    assert!(
        mute.contains("printed no line containing \"listening\""),
        "{mute}"
    );
    assert!(!running("37.5"), "the server command was left running");
}

pub fn a_server_command_that_exits_by_itself_fails_the_run() {
    let o = run(
        "server-quits",
        &format!(
            r#"
name = "server-quits"
duration = "5s"
settle = "2s"
seeds = [1]

[server]
command = 'timeout 2 "$WSCHAOS" serve --bind 127.0.0.1:{{port}}'
ready_line = "listening"

[[clients]]
name = "c"
command = '{CONNECT}'
"#
        ),
    );
    let quit = (o.verdict.violations.iter())
        .find(|v| v.invariant == "process_exited" && v.client.is_none())
        .unwrap_or_else(|| panic!("{:?}", o.verdict.violations));
    assert!(
        quit.message
            .starts_with("the server command exited by itself (exit 124)"),
        "{}",
        quit.message
    );
    assert!((1900..3500).contains(&quit.t), "{}", quit.t);
}

pub fn a_server_command_that_does_not_come_back_after_a_restart_fails_the_run_and_keeps_it() {
    let o = run(
        "no-comeback",
        &format!(
            r#"
name = "no-comeback"
duration = "4s"
settle = "1s"
seeds = [1]

[server]
command = 'if [ -e started ]; then echo broken config; exit 1; fi; touch started; exec "$WSCHAOS" serve --bind 127.0.0.1:{{port}}'
cwd = "."

[[clients]]
name = "c"
command = '{CONNECT}'

[[timeline]]
at = "1s"
do = "restart"
down = "500ms"
"#
        ),
    );
    let failed = (o.verdict.violations.iter())
        .find(|v| v.invariant == "process_exited" && v.client.is_none())
        .unwrap_or_else(|| panic!("{:?}", o.verdict.violations));
    assert!(
        failed
            .message
            .starts_with("the server did not come back after a restart")
            && failed
                .message
                .contains("exited before it was ready (exit 1)")
            && failed.message.contains("broken config"),
        "{}",
        failed.message
    );
    // What happened before is kept: the first start, the client's connection.
    let ups = (o.history.records.iter())
        .filter(|r| matches!(r.event, Event::ServerUp { .. }))
        .count();
    assert_eq!(ups, 1);
    assert!(closed_with_nothing_lost(&o));
}

/// The client's records survived the failed restart: it connected, then lost the server.
fn closed_with_nothing_lost(o: &Outcome) -> bool {
    let connected = statuses(o, "c-0").any(|s| *s == Status::Connected);
    let lost = statuses(o, "c-0").any(|s| matches!(s, Status::Disconnected { .. }));
    connected && lost
}
