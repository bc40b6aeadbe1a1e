//! `restart_client`: a client's process ends at once and a new one starts under its name.
//! The old process is gone for good (no event of it after its exit, its connection ends
//! without a close frame), nothing runs while it is down, the new one starts from its
//! group's topics, and a `restart_client` of a client that is down does nothing.

use wschaos::client::Status;
use wschaos::history::{ClientAction, Event, History};
use wschaos::server;

fn run(toml: &str, seed: u64) -> History {
    let s = wschaos::scenario::parse(toml, "restart.toml").unwrap_or_else(|e| panic!("{e}"));
    wschaos::sim::run(&s, seed).unwrap()
}

const FILE: &str = r#"
name = "restart"
duration = "20s"
[[clients]]
name = "subs"
count = 2
topics = ["news"]
policy = { initial_delay = "300ms", connect_timeout = "1s" }
[[clients]]
name = "pub"
publish = { topic = "news", every = "200ms" }
[[timeline]]
at = "3s"
do = "subscribe"
client = "subs-0"
topic = "extra"
[[timeline]]
at = "5s"
do = "restart_client"
client = "subs-0"
down = "2s"
[[timeline]]
at = "6s"
do = "restart_client"
client = "subs-0"
[[timeline]]
at = "6500ms"
do = "subscribe"
client = "subs-0"
topic = "ignored"
"#;

/// (time, event) of `client`'s records.
fn of<'a>(h: &'a History, client: &str) -> Vec<(u64, &'a Event)> {
    h.of(client).map(|(_, r)| (r.t, &r.event)).collect()
}

fn action(e: &Event) -> Option<&ClientAction> {
    match e {
        Event::Action { action, .. } => Some(action),
        _ => None,
    }
}

pub fn the_old_process_is_gone_and_the_new_one_starts_afresh_after_its_downtime() {
    let h = run(FILE, 1);
    let mine = of(&h, "subs-0");
    let exits: Vec<u64> = mine
        .iter()
        .filter(|(_, e)| action(e) == Some(&ClientAction::Exit))
        .map(|(t, _)| *t)
        .collect();
    let starts: Vec<u64> = mine
        .iter()
        .filter(|(_, e)| action(e) == Some(&ClientAction::Start))
        .map(|(t, _)| *t)
        .collect();
    // The second restart (at 6 s) found the client down: it did nothing.
    assert_eq!((exits, starts), (vec![5_000], vec![7_000]));
    // Down: nothing at all from it; the subscribe at 6.5 s found nobody to take it.
    assert!(
        mine.iter().all(|(t, _)| *t <= 5_000 || *t >= 7_000),
        "{mine:#?}"
    );
    // The new process begins at attempt 1 and connects.
    let after: Vec<&Status> = mine
        .iter()
        .filter(|(t, _)| *t >= 7_000)
        .filter_map(|(_, e)| match e {
            Event::Status { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(after.first(), Some(&&Status::Connecting { attempt: 1 }));
    assert!(after.contains(&&Status::Connected));
    // The old connection ended without a close frame from the client.
    let gone = h.records.iter().find_map(|r| match r.event.server() {
        Some((_, server::Event::Disconnected { client, reason, .. }))
            if client == "subs-0" && r.t >= 5_000 =>
        {
            Some((r.t, reason.clone()))
        }
        _ => None,
    });
    let (t, reason) = gone.expect("the server saw the old connection end");
    assert!(t < 5_100, "at once: {t}");
    assert!(reason.contains("without closing handshake"), "{reason}");
    // The new process wants its group's topics, not the old one's extra subscribe.
    let topics: Vec<&str> = h
        .records
        .iter()
        .filter(|r| r.t >= 7_000)
        .filter_map(|r| match r.event.server() {
            Some((_, server::Event::Subscribed { client, topic, .. })) if client == "subs-0" => {
                Some(topic.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(topics, ["news"]);
    // And every check holds, per process.
    let s = wschaos::scenario::parse(FILE, "restart.toml").unwrap();
    let verdict = wschaos::check::check(&s, &h);
    assert!(verdict.passed(), "{:#?}", verdict.violations);
}

pub fn a_restarted_run_replays_byte_for_byte() {
    assert_eq!(run(FILE, 7).to_jsonl(), run(FILE, 7).to_jsonl());
}
