//! Invariant 13: once the last fault has healed, within `settle` every client that is
//! still trying (not closed, not given up) is connected with all its topics restored.

use std::collections::BTreeSet;

use super::view::{
    Intents, Subscriptions, between_processes, clients, closed_at, conns, end, ms, pubsub_clients,
    slack, status_since,
};
use super::{Checker, Violation};
use crate::client::Status;
use crate::history::{ClientAction, Event, Fault, History};
use crate::scenario::Scenario;

pub(super) const CHECKER: Checker = Checker {
    name: "settles",
    promise: "after the last fault heals, every client is connected with all topics restored within the settle time",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let Some(quiet) = quiet_from(h) else {
        return Vec::new();
    };
    let at = quiet + ms(s.settle);
    if at > end(s) {
        return Vec::new();
    }
    let index = h
        .records
        .iter()
        .position(|r| r.t > at)
        .unwrap_or(h.records.len());
    // A subscription asked for in the last moments before the check (a user's call
    // landing on the settle instant) cannot be at the server yet: it is new, not a
    // restore, and `topics_restored` gives it its own time.
    let asked_by = (h.records.iter())
        .position(|r| r.t + slack(s) > at)
        .unwrap_or(h.records.len());
    let pubsub: BTreeSet<String> = pubsub_clients(s).into_iter().map(|(n, _)| n).collect();
    let (all, subs, intents) = (conns(h), Subscriptions::new(h), Intents::new(s, h));
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        // Closed, or its process gone and not yet started again: not trying.
        if closed_at(h, &client).is_some_and(|t| t <= at) || between_processes(h, &client, at) {
            continue;
        }
        let v = |msg: String, events| Violation::new(CHECKER.name, Some(&client), at, msg, events);
        let p = &g.policy;
        match status_since(h, &client, at) {
            Some((_, Status::Connected)) => {}
            Some((_, Status::Failed { .. } | Status::Closed)) => continue,
            // Still waiting out a retry delay its policy allows (`backoff_bounds` judges the
            // delay): where dials refused during the outage failed at once (a real
            // network), a correct client's backoff may outlast `settle`. `redial_on_time`,
            // `dial_resolves` and `dial_connects` bound the rest of its recovery.
            Some((t, Status::Disconnected { retry_in, .. }))
                if t + ms(*retry_in).min(ms(p.max_delay)) + slack(s) > at =>
            {
                continue;
            }
            other => {
                let other = other.map(|(_, status)| status);
                let name = other.map_or("nothing", Status::name);
                out.push(v(
                    format!(
                        "{name} {}ms after the last fault healed (settle)",
                        ms(s.settle)
                    ),
                    vec![],
                ));
                continue;
            }
        }
        if !pubsub.contains(&client) {
            continue;
        }
        let Some(conn) = all.iter().rfind(|c| c.client == client && c.open_at(at)) else {
            out.push(v(
                "connected, but the server holds no connection of it".into(),
                vec![],
            ));
            continue;
        };
        let held = subs.held_before(conn.epoch, conn.conn, index);
        for topic in intents.before(&client, asked_by).difference(&held) {
            out.push(v(
                format!(
                    "topic {topic:?} not restored {}ms after the last fault healed",
                    ms(s.settle)
                ),
                vec![conn.open_index],
            ));
        }
    }
    out
}

/// When the last fault healed (or a client was told to reconnect); `None` when a fault
/// never heals within the run (then nothing can settle). A latency change is not an outage.
fn quiet_from(h: &History) -> Option<u64> {
    let windows = h.fault_windows();
    if windows
        .iter()
        .any(|w| w.to.is_none() && !matches!(w.fault, Fault::Latency { .. }))
    {
        return None;
    }
    let faults = windows.iter().map(|w| w.to.unwrap_or(w.from));
    // A manual reconnect, or a new process, starts the clock again for that client.
    let reconnects = h
        .records
        .iter()
        .filter(|r| {
            matches!(
                &r.event,
                Event::Action {
                    action: ClientAction::Reconnect | ClientAction::Start,
                    ..
                }
            )
        })
        .map(|r| r.t);
    Some(faults.chain(reconnects).max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn after_restart(reconnect: bool) -> History {
        let mut b = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(1000, Fault::Crash)
            .status(1000, "c-0", disconnected(1, 300))
            .at(
                3000,
                Event::Heal {
                    heal: Box::new(Heal::Start),
                },
            )
            .status(3100, "c-0", connecting(1));
        if reconnect {
            b = b
                .status(3200, "c-0", Status::Connected)
                .open(3200, 2, 1, "c-0")
                .subscribed(3201, 2, 1, "c-0", "t");
        }
        b.build()
    }

    #[test]
    fn recovered_in_time_passes() {
        assert!(check(&simple(1, ""), &after_restart(true)).is_empty());
    }

    #[test]
    fn waiting_out_an_allowed_retry_delay_is_left_to_the_redial_checks() {
        // Lost at 2.5 s with a 12 s retry announced (within the default max_delay of
        // 30 s): at 13 s (heal at 3 s + settle 10 s) it is still rightly waiting.
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(1000, Fault::Crash)
            .status(1000, "c-0", disconnected(1, 300))
            .status(1300, "c-0", connecting(2))
            .status(2500, "c-0", disconnected(5, 12_000))
            .at(
                3000,
                Event::Heal {
                    heal: Box::new(Heal::Start),
                },
            )
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
        // A delay that ended before the check and no dial since is still caught.
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(1000, Fault::Crash)
            .status(2500, "c-0", disconnected(5, 2_000))
            .at(
                3000,
                Event::Heal {
                    heal: Box::new(Heal::Start),
                },
            )
            .build();
        assert_eq!(check(&simple(1, ""), &h).len(), 1);
    }

    #[test]
    fn a_subscription_asked_for_at_the_settle_instant_is_not_yet_owed() {
        // Healed at 3 s, settle 10 s: the check is at 13 s, when the client asks for a new
        // topic; its frame cannot be at the server in that same instant.
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(1000, Fault::Crash)
            .status(1000, "c-0", disconnected(1, 300))
            .at(
                3000,
                Event::Heal {
                    heal: Box::new(Heal::Start),
                },
            )
            .status(3100, "c-0", connecting(1))
            .status(3200, "c-0", Status::Connected)
            .open(3200, 2, 1, "c-0")
            .subscribed(3201, 2, 1, "c-0", "t")
            .action(13_000, "c-0", ClientAction::Subscribe { topic: "u".into() })
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn still_connecting_after_settle_is_caught() {
        let found = check(&simple(1, ""), &after_restart(false));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.starts_with("connecting"),
            "{}",
            found[0].message
        );
    }
}
