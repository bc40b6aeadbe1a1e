//! Invariant 13: once the last fault has healed, within `settle` every client that is
//! still trying (not closed, not given up) is connected with all its topics restored.

use std::collections::BTreeSet;
use std::time::Duration;

use super::view::{
    Intents, Subscriptions, between_processes, clients, closed_at, conns, latency_over, ms,
    pubsub_clients, status_since,
};
use super::{Checker, Context, Findings, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::evidence::window::{self, show};
use crate::history::{ClientAction, Event, Fault, FaultWindow, History};
use crate::scenario::Group;

pub(super) const CHECKER: Checker = Checker {
    name: "settles",
    severity: super::Severity::Connection,
    promise: "after the last fault heals, every client is connected with all topics restored within the settle time",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::ServerRecord],
    check,
};

fn check(s: &Context, h: &History) -> Findings {
    let mut out = Findings::default();
    let Some(quiet) = quiet_from(h) else {
        return out;
    };
    let windows = h.fault_windows();
    let pubsub: BTreeSet<String> = pubsub_clients(s).into_iter().map(|(n, _)| n).collect();
    let (all, subs, intents) = (conns(h), Subscriptions::new(h), Intents::new(s, h));
    for (client, g) in clients(s) {
        // When this client is due back by its own declared bounds: after the last heal
        // (one redial), and after every fault on its connection (noticed, healed, one
        // redial). The check comes `settle` after the last heal, or then, if later; where
        // the run ends first but the client was due before the end, at the end.
        let redial = ms(window::redial(&g.policy, Duration::ZERO)) + s.dial_time();
        let mut due = (quiet.saturating_add(redial), None);
        for w in &windows {
            let Some(win) = s.window(w, g) else { continue };
            if win.due.is_some_and(|d| d >= due.0) {
                due = (win.due.unwrap_or(0), Some((w, win)));
            }
        }
        let (due_at, latest) = due;
        let due_at = due_at.saturating_add(s.slack);
        if due_at > s.end {
            let (from, why) = match latest {
                Some((w, win)) => (w.from, s.uncovered(w, &win)),
                None => (
                    quiet,
                    format!(
                        "the run ends {} after the last heal; by its declared bounds this client may take up to {} to be back",
                        show(s.end.saturating_sub(quiet)),
                        show(due_at - quiet)
                    ),
                ),
            };
            if !gone(h, &client, s.end) {
                out.not_judged(CHECKER.name, &client, Some(from), why);
            }
            continue;
        }
        let at = quiet.saturating_add(ms(s.settle)).max(due_at).min(s.end);
        judge(s, (h, &windows), (&client, g), (quiet, at), &mut out);
        let intents_known = s.provided.has(&client, Evidence::Intents);
        if !pubsub.contains(&client) || !intents_known || !connected_at(h, &client, at) {
            continue;
        }
        let v = |msg: String, events| Violation::new(CHECKER.name, Some(&client), at, msg, events);
        let Some(conn) = all.iter().rfind(|c| c.client == client && c.open_at(at)) else {
            out.push(v(
                "connected, but the server holds no connection of it".into(),
                vec![],
            ));
            continue;
        };
        // A connection opened a moment before the check has not had its round trip to
        // restore its topics yet: they are owed a round trip after it opened.
        // The client resubscribes once it is connected (after the welcome); its frames
        // take a trip at the link's latency to reach the server.
        let connected_t = status_since(h, &client, at).map_or(conn.open_t, |(t, _)| t);
        let trip = latency_over(s, &windows, &g.host, (connected_t, at));
        let topics_at = at
            .max(conn.open_t.saturating_add(s.slack))
            .max(connected_t.saturating_add(trip).saturating_add(s.slack));
        if topics_at > s.end {
            continue;
        }
        let index = h
            .records
            .iter()
            .position(|r| r.t > topics_at)
            .unwrap_or(h.records.len());
        // A subscription asked for, or dropped, in the last moments before the check (a
        // user's call landing on the settle instant) cannot have reached the server yet:
        // only a topic wanted both then and a round trip earlier is owed.
        let asked_by = (h.records.iter())
            .position(|r| r.t + s.slack > at)
            .unwrap_or(h.records.len());
        let held = subs.held_before(conn.epoch, conn.conn, index);
        let wanted = intents.before(&client, asked_by);
        let still = intents.before(&client, index);
        for topic in wanted.intersection(&still).filter(|t| !held.contains(*t)) {
            out.push(v(
                format!(
                    "topic {topic:?} not restored {}ms after the last fault healed",
                    at - quiet
                ),
                vec![conn.open_index],
            ));
        }
    }
    out
}

/// True when at `at` the client is closed or has no process: not trying, nothing owed.
fn gone(h: &History, client: &str, at: u64) -> bool {
    closed_at(h, client).is_some_and(|t| t <= at) || between_processes(h, client, at)
}

fn connected_at(h: &History, client: &str, at: u64) -> bool {
    matches!(status_since(h, client, at), Some((_, Status::Connected)))
}

/// The client's status at the check (`at`): connected, or rightly not (closed, given
/// up, between processes; waiting out a retry delay its policy allows, which the redial
/// checkers judge and this one reports not judged), or a violation.
fn judge(
    s: &Context,
    (h, windows): (&History, &[FaultWindow]),
    (client, g): (&str, &Group),
    (quiet, at): (u64, u64),
    out: &mut Findings,
) {
    if gone(h, client, at) {
        return;
    }
    match status_since(h, client, at) {
        Some((_, Status::Connected | Status::Failed { .. } | Status::Closed)) => {}
        // Still waiting out a retry delay its policy allows (`backoff_bounds` judges the
        // delay): where dials refused during the outage failed at once (a real network),
        // a correct client's backoff may outlast `settle`. `redial_on_time`,
        // `dial_resolves` and `dial_connects` bound the rest of its recovery.
        Some((t, Status::Disconnected { retry_in, .. }))
            if t + ms(*retry_in).min(ms(g.policy.max_delay)) + s.slack > at =>
        {
            let why = format!(
                "at the check ({}) it was waiting out a {} retry delay its policy allows",
                show(at),
                show(ms(*retry_in))
            );
            out.not_judged(CHECKER.name, client, Some(t), why);
        }
        // A dial that began a moment ago is still on its way: three trips at the link's
        // latency (TCP, the upgrade, the welcome), a tick late each.
        Some((t, Status::Connecting { .. }))
            if t + 3 * (2 * latency_over(s, windows, &g.host, (t, at)) + ms(s.tick)) > at =>
        {
            let why = format!(
                "at the check ({}) a dial it began {} earlier was still on its way",
                show(at),
                show(at - t)
            );
            out.not_judged(CHECKER.name, client, Some(t), why);
        }
        other => {
            let other = other.map(|(_, status)| status);
            let name = other.map_or("nothing", Status::name);
            out.push(Violation::new(
                CHECKER.name,
                Some(client),
                at,
                format!(
                    "{name} {}ms after the last fault healed (settle, or the client's own bounds if longer)",
                    at - quiet
                ),
                vec![],
            ));
        }
    }
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
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
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

    /// Kicked at `kick` and back at once, holding topic "t".
    fn kicked(kick: u64) -> Builder {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .open(5, 1, 1, "c-0")
            .subscribed(6, 1, 1, "c-0", "t")
            .fault(kick, Fault::Kick { code: 1012 })
            .close(kick, 1, 1, "c-0")
            .status(kick, "c-0", disconnected(1, 300))
            .status(kick + 300, "c-0", connecting(1))
            .status(kick + 310, "c-0", Status::Connected)
            .open(kick + 310, 1, 2, "c-0")
            .subscribed(kick + 311, 1, 2, "c-0", "t")
    }

    #[test]
    fn a_subscription_asked_for_or_dropped_at_the_settle_instant_is_not_yet_owed() {
        // Kicked at 3 s, settle 10 s: the check is at 13 s. A topic asked for in that
        // instant cannot be at the server yet; one dropped 20 ms before may already be
        // gone from it.
        let asked = kicked(3000)
            .action(13_000, "c-0", ClientAction::Subscribe { topic: "u".into() })
            .build();
        assert!(check(&simple(1, ""), &asked).is_empty());
        let dropped = kicked(3000)
            .action(
                12_980,
                "c-0",
                ClientAction::Unsubscribe { topic: "t".into() },
            )
            .unsubscribed(12_990, 1, 2, "c-0", "t")
            .build();
        assert!(check(&simple(1, ""), &dropped).is_empty());
        // Dropped by the server with the client still wanting it: caught.
        let lost = kicked(3000).unsubscribed(12_990, 1, 2, "c-0", "t").build();
        assert_eq!(check(&simple(1, ""), &lost).len(), 1);
    }

    #[test]
    fn a_late_kick_is_judged_by_the_clients_own_bound_not_by_settle() {
        // Kicked 2 s before the end with settle 10 s: the client's first retry is due
        // within 0.5 s, so the end of the run judges it.
        let back = kicked(58_000).build();
        let s = simple(1, "");
        let found = super::check(&Context::simulated(&s), &back);
        assert_eq!(found, Findings::default());
        let never = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .open(5, 1, 1, "c-0")
            .fault(58_000, Fault::Kick { code: 1012 })
            .status(58_000, "c-0", disconnected(1, 300))
            .build();
        let found = check(&s, &never);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].t, 60_000);
        // Kicked 100 ms before the end: its bound runs past it; said, not guessed.
        let late = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(59_900, Fault::Kick { code: 1012 })
            .status(59_900, "c-0", disconnected(1, 300))
            .build();
        let found = super::check(&Context::simulated(&s), &late);
        assert!(found.violations.is_empty());
        assert_eq!(found.not_judged.len(), 1, "{found:?}");
        assert!(
            found.not_judged[0]
                .reason
                .contains("the run ends 100 ms after the kick"),
            "{}",
            found.not_judged[0].reason
        );
    }

    #[test]
    fn settle_shorter_than_the_heartbeat_waits_for_the_clients_bound() {
        // A silent cut at 10 s for 2 s, settle 5 s: the client may take 15 s (ping 10 s +
        // pong 5 s) to notice, so at 17 s it may rightly still think it is connected on
        // the dead connection (whether it is is `heartbeat_detection`'s to judge). Noticed
        // by 25 s, a dial caught by the cut may wait out its 5 s timeouts, then one retry
        // within 500 ms: by 30.5 s it must be back.
        let link = crate::history::Link::new("server", "clients", false);
        let cut = || {
            Builder::default()
                .status(0, "c-0", connecting(1))
                .status(5, "c-0", Status::Connected)
                .open(5, 1, 1, "c-0")
                .subscribed(6, 1, 1, "c-0", "t")
                .fault(10_000, Fault::Partition { link: link.clone() })
                .heal(12_000, Heal::Repair { link: link.clone() })
        };
        let s = scenario(
            "name = \"t\"\nduration = \"60s\"\nsettle = \"5s\"\n[[clients]]\nname = \"c\"\ntopics = [\"t\"]\n",
        );
        let noticed = cut()
            .status(24_000, "c-0", disconnected(1, 300))
            .close(24_000, 1, 1, "c-0")
            .status(24_300, "c-0", connecting(1))
            .status(24_310, "c-0", Status::Connected)
            .open(24_310, 1, 2, "c-0")
            .subscribed(24_311, 1, 2, "c-0", "t")
            .build();
        assert!(check(&s, &noticed).is_empty());
        // Noticed in time, then never back: caught at the client's bound, not at 17 s.
        let never = cut()
            .status(24_000, "c-0", disconnected(1, 300))
            .close(24_000, 1, 1, "c-0")
            .build();
        let found = check(&s, &never);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].t > 30_500 && found[0].t < 31_000, "{}", found[0].t);
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
