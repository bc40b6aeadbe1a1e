//! Some scenarios promise a specific story in their description; these tests hold them to
//! it, so that a scenario cannot quietly stop exercising its concern.

use wschaos::history::{Event, History};
use wschaos::protocol::GapReason;

fn run(file: &str) -> History {
    let scenario = wschaos::scenario::load(format!("scenarios/{file}").as_ref()).unwrap();
    wschaos::sim::run(&scenario, scenario.seeds[0]).unwrap()
}

fn count(h: &History, pick: impl Fn(&Event) -> bool) -> usize {
    h.records.iter().filter(|r| pick(&r.event)).count()
}

pub fn outbox_overflow_refuses_explicitly() {
    let h = run("basics/outbox-overflow.toml");
    let refused = count(
        &h,
        |e| matches!(e, Event::Publish { refused: Some(why), .. } if why.contains("outbox full")),
    );
    assert!(refused > 10, "{refused} publishes refused");
}

pub fn resume_from_history_replays_without_a_gap() {
    let h = run("basics/resume-from-history.toml");
    assert_eq!(count(&h, |e| matches!(e, Event::Gap { .. })), 0);
    let resumed = count(
        &h,
        |e| matches!(e.server(), Some((_, wschaos::server::Event::Subscribed { client, resume: Some(_), gap: None, .. })) if client == "lonely-0"),
    );
    assert!(resumed >= 1, "the partitioned client resumed");
}

pub fn resume_beyond_history_announces_a_gap() {
    let h = run("basics/resume-beyond-history.toml");
    let gaps = count(
        &h,
        |e| matches!(e, Event::Gap { client, reason: GapReason::History, .. } if client == "lonely-0"),
    );
    assert!(gaps >= 1, "a history gap notice");
}

pub fn silent_death_is_only_noticed_by_the_heartbeat() {
    let h = run("partitions/silent-server-death.toml");
    let by_heartbeat = count(&h, |e| {
        matches!(
            e,
            Event::Status {
                status: wschaos::client::Status::Disconnected {
                    reason: wschaos::client::Reason::HeartbeatTimeout,
                    ..
                },
                ..
            }
        )
    });
    assert_eq!(
        by_heartbeat, 5,
        "every client noticed through its heartbeat"
    );
}

pub fn flaps_escalate_the_backoff_to_its_cap() {
    let h = run("flaps/flap-escalates.toml");
    let longest = h
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Status {
                status: wschaos::client::Status::Disconnected { retry_in, .. },
                ..
            } => Some(*retry_in),
            _ => None,
        })
        .max()
        .unwrap();
    assert!(
        longest > std::time::Duration::from_secs(2),
        "the delay grew to {longest:?}"
    );
}

pub fn raw_clients_keep_receiving_frames_across_reconnects() {
    let h = run("basics/raw-clients.toml");
    for client in ["raw-0", "raw-3"] {
        let frames_after_restart = h
            .records
            .iter()
            .filter(|r| {
                r.t > 10_000
                    && r.t < 20_000
                    && matches!(&r.event, Event::Frame { client: c, .. } if c == client)
            })
            .count();
        assert!(
            frames_after_restart > 0,
            "{client} got frames after the restart"
        );
        let frames_after_kick = h
            .records
            .iter()
            .filter(|r| {
                r.t > 20_000 && matches!(&r.event, Event::Frame { client: c, .. } if c == client)
            })
            .count();
        assert!(frames_after_kick > 0, "{client} got frames after the kick");
    }
}

/// The README's checker table says, for each checker, the evidence it needs: kept in step
/// with `Checker::needs`, so the table cannot drift from the code.
pub fn the_readme_lists_every_checker_with_the_evidence_it_needs() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    for c in wschaos::check::CHECKERS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", c.name)))
            .unwrap_or_else(|| panic!("no README row for {}", c.name));
        let needs: Vec<String> = c
            .needs
            .iter()
            .map(|e| {
                serde_json::to_value(e)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let cell = row.split('|').nth(3).unwrap_or_default().trim();
        assert_eq!(cell, needs.join(", "), "{}: {row}", c.name);
    }
}
