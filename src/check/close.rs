//! Invariant 5: after `close()`: status `Closed` at once, then nothing at all from that
//! client (no dial, no status, no delivery), whatever time passes.

use super::view::{by_life, clients, exits, ms, slack};
use super::{Checker, Context, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, Fault, History, Record};
use crate::scenario::Group;
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "silence_after_close",
    severity: super::Severity::Connection,
    promise: "after close(): status Closed, then no dial and no event, whatever time passes",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::Dials, Evidence::Connections],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let exits = exits(h, &client);
        // Each process that was closed stays silent until it exits (`restart_client`).
        for (k, life) in by_life(h.of(&client).collect(), &exits, |(i, _)| *i)
            .into_iter()
            .enumerate()
        {
            let ends = exits.get(k).copied().unwrap_or(usize::MAX);
            judge(s, h, (&client, g), (&life, ends), &mut out);
        }
    }
    out
}

/// One process's records (`life`, up to record `ends`, its exit).
fn judge(
    s: &Context,
    h: &History,
    (client, g): (&str, &Group),
    (life, ends): (&[(usize, &Record)], usize),
    out: &mut Vec<Violation>,
) {
    let Some(t_close) = life.iter().find_map(|(_, r)| {
        matches!(
            r.event,
            Event::Action {
                action: ClientAction::Close,
                ..
            }
        )
        .then_some(r.t)
    }) else {
        return;
    };
    let after: Vec<&(usize, &Record)> = life.iter().filter(|(_, r)| r.t >= t_close).collect();
    let closed = after.iter().position(|(_, r)| {
        matches!(
            &r.event,
            Event::Status {
                status: Status::Closed,
                ..
            }
        )
    });
    let Some(closed) = closed else {
        // A process that exited right after close() had no time to say it.
        let exited = (ends != usize::MAX).then(|| h.records[ends].t);
        if exited.is_some_and(|t| t <= t_close + slack(s)) {
            return;
        }
        let msg = "close() was called but the status never became closed".to_string();
        out.push(Violation::new(
            CHECKER.name,
            Some(client),
            t_close,
            msg,
            vec![],
        ));
        return;
    };
    // The server's side: a dial still in flight at close() must not open afterwards,
    // beyond what was already on the wire (an upgrade request sent before close()).
    let on_wire = on_the_wire_until(s, h, client, g, t_close);
    let late = h.records.iter().enumerate().take(ends).find(|(_, r)| {
        r.t > on_wire
            && matches!(r.event.server(), Some((_, server::Event::Connected { client: c, .. })) if c == client)
    });
    if let Some((k, r)) = late {
        let msg = format!(
            "the server accepted a connection from it {}ms after close(): a dial in flight was not cancelled",
            r.t - t_close
        );
        out.push(Violation::new(
            CHECKER.name,
            Some(client),
            r.t,
            msg,
            vec![after[closed].0, k],
        ));
    }
    for (i, r) in &after[closed + 1..] {
        let noisy = matches!(
            r.event,
            Event::Dial { .. }
                | Event::Status { .. }
                | Event::Delivered { .. }
                | Event::Gap { .. }
                | Event::Presence { .. }
                | Event::Frame { .. }
        );
        if noisy {
            let what = serde_json::to_value(&r.event)
                .ok()
                .and_then(|v| v["kind"].as_str().map(String::from))
                .unwrap_or_default();
            let msg = format!("{what} after close()");
            out.push(Violation::new(
                CHECKER.name,
                Some(client),
                r.t,
                msg,
                vec![after[closed].0, *i],
            ));
            break;
        }
    }
}

/// Until when bytes `client` sent before `close()` at `t_close` may still reach the server:
/// one trip at the latency its link had then (plus ticks), or, when a black hole began on its
/// link after its last dial and held it at `t_close`, one trip after the release. (A hold
/// that began before the dial held the dial itself: nothing could be sent through it.)
fn on_the_wire_until(s: &Context, h: &History, client: &str, g: &Group, t_close: u64) -> u64 {
    let windows = h.fault_windows();
    let on_link = |f: &Fault| match f {
        Fault::Latency { link, .. } | Fault::Hold { link } => link.joins_server_and(&g.host),
        _ => false,
    };
    let during = |from: u64, to: Option<u64>| from <= t_close && to.is_none_or(|e| e >= t_close);
    let latency = windows
        .iter()
        .filter(|w| on_link(&w.fault) && during(w.from, w.to))
        .filter_map(|w| match &w.fault {
            Fault::Latency { latency, .. } => Some(ms(*latency)),
            _ => None,
        })
        .chain([ms(s.network.latency)])
        .max()
        .unwrap_or(0)
        + ms(s.network.jitter);
    let last_dial = h
        .of(client)
        .filter(|(_, r)| r.t <= t_close && matches!(r.event, Event::Dial { .. }))
        .map(|(_, r)| r.t)
        .last()
        .unwrap_or(0);
    let released = windows
        .iter()
        .filter(|w| matches!(w.fault, Fault::Hold { .. }) && on_link(&w.fault))
        .filter(|w| w.from > last_dial && during(w.from, w.to))
        .map(|w| w.to.unwrap_or(u64::MAX))
        .max()
        .unwrap_or(t_close);
    released.max(t_close).saturating_add(latency + slack(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn closing() -> Builder {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .at(
                10,
                Event::Action {
                    client: "c-0".into(),
                    action: ClientAction::Close,
                },
            )
            .status(10, "c-0", Status::Closed)
    }

    #[test]
    fn quiet_after_close_passes() {
        assert!(check(&simple(1, ""), &closing().build()).is_empty());
    }

    #[test]
    fn a_dial_after_close_is_caught() {
        let found = check(&simple(1, ""), &closing().dial(3000, "c-0").build());
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].t, found[0].message.as_str()),
            (3000, "dial after close()")
        );
    }

    #[test]
    fn a_connection_opening_at_the_server_after_close_is_caught() {
        let found = check(&simple(1, ""), &closing().open(3000, 1, 1, "c-0").build());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("2990ms after close()"),
            "{found:?}"
        );
        // Within a tick of close() the handshake may already have been on the wire.
        assert!(check(&simple(1, ""), &closing().open(12, 1, 1, "c-0").build()).is_empty());
    }

    #[test]
    fn an_upgrade_already_on_a_slow_wire_at_close_may_still_open() {
        let slow = closing()
            .fault(
                0,
                Fault::Latency {
                    link: Link::new(SERVER_HOST, "clients", false),
                    latency: std::time::Duration::from_millis(700),
                },
            )
            .open(500, 1, 1, "c-0")
            .build();
        assert!(check(&simple(1, ""), &slow).is_empty());
        let fast = check(&simple(1, ""), &closing().open(500, 1, 1, "c-0").build());
        assert_eq!(fast.len(), 1, "{fast:?}");
    }

    #[test]
    fn a_process_that_exits_as_it_closes_owes_no_closed_status_but_one_that_lives_on_does() {
        let exits_at = |t: u64| {
            Builder::default()
                .status(0, "c-0", connecting(1))
                .action(10, "c-0", ClientAction::Close)
                .action(t, "c-0", ClientAction::Exit)
                .action(t, "c-0", ClientAction::Start)
                .status(t, "c-0", connecting(1))
                .build()
        };
        assert!(check(&simple(1, ""), &exits_at(10)).is_empty());
        let found = check(&simple(1, ""), &exits_at(5_000));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("never became closed"));
    }
}
