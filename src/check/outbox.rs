//! Invariant 9: every send a client accepted (online or offline) reaches the server exactly
//! once per server epoch and in order, unless the client was closed or gave up.

use std::collections::BTreeMap;

use super::view::{
    by_life, closed_at, conns, exits, latency_over, life, ms, pubsub_clients, status_at,
    status_since,
};
use super::{Checker, Context, Findings, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::evidence::window::show;
use crate::history::{ClientAction, Event, History, Record};
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "outbox",
    severity: super::Severity::Loss,
    promise: "every accepted send is delivered exactly once, in order, or refused with an error",
    applies: super::wschaos_pubsub,
    needs: &[
        Evidence::Received,
        Evidence::Statuses,
        Evidence::ServerRecord,
    ],
    check,
};

fn check(s: &Context, h: &History) -> Findings {
    let mut out = Findings::default();
    let windows = h.fault_windows();
    // Each client's arrivals at the server, gathered in one pass.
    let mut arrivals: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, r) in h.records.iter().enumerate() {
        if let Some((_, server::Event::Published { client, .. })) = r.event.server() {
            arrivals.entry(client).or_default().push(k);
        }
    }
    // Which process of its client each connection belonged to: a process's ids are its
    // own (a new process numbers from 1 again, under a new session).
    let all = conns(h);
    for (client, g) in pubsub_clients(s) {
        let v =
            |t, msg: String, events| Violation::new(CHECKER.name, Some(&client), t, msg, events);
        let exits = exits(h, &client);
        let life_of = |epoch: u64, conn: u64| {
            all.iter()
                .find(|c| c.epoch == epoch && c.conn == conn)
                .map_or(0, |c| life(&exits, c.open_index))
        };
        // Server side, per epoch and process: ids in increasing order, each once.
        let mut last: BTreeMap<(u64, usize), (u64, usize)> = BTreeMap::new();
        let mut arrived: BTreeMap<(usize, u64), usize> = BTreeMap::new();
        // (epoch, process, id) -> (conn, record) of its first arrival
        let mut first: BTreeMap<(u64, usize, u64), (u64, usize)> = BTreeMap::new();
        let mine = arrivals.get(client.as_str()).map_or(&[][..], Vec::as_slice);
        for &k in mine {
            let r = &h.records[k];
            let Some((epoch, server::Event::Published { id, seq, conn, .. })) = r.event.server()
            else {
                continue;
            };
            let process = life_of(epoch, *conn);
            match (seq, first.get(&(epoch, process, *id))) {
                (None, Some((original, j))) if original == conn => {
                    let msg = format!("message {id} sent twice on one connection (conn {conn})");
                    out.push(v(r.t, msg, vec![*j, k]));
                    continue;
                }
                (None, _) => continue,
                (Some(_), _) => {
                    first.insert((epoch, process, *id), (*conn, k));
                }
            }
            if let Some((prev, j)) = last.get(&(epoch, process)) {
                if id <= prev {
                    let what = if id == prev {
                        "delivered twice"
                    } else {
                        "delivered out of order"
                    };
                    out.push(v(
                        r.t,
                        format!("message {id} {what} (after {prev}) in epoch {epoch}"),
                        vec![*j, k],
                    ));
                }
            }
            last.insert((epoch, process), (*id, k));
            arrived.entry((process, *id)).or_insert(k);
        }
        // Client side: accepted sends must arrive, from each process that was still trying
        // at its end: the last one connected at the end of the run (and not closed), an
        // earlier one connected throughout its last `settle` before it exited. A send
        // accepted less than `settle` before that end may still have been on its way; one
        // accepted after a fault whose window the run did not cover may be sitting on a
        // link the client had every right not to have noticed dead yet: not judged.
        let settle = ms(s.settle);
        let (horizon, uncovered) = s.owed_until(&windows, g, s.end);
        let last_owes = closed_at(h, &client).is_none()
            && status_at(h, &client, u64::MAX) == Some(&Status::Connected);
        // Connected again only a moment before the end: what it queued meanwhile is still
        // on its way (a trip at the link's latency after its subscriptions are restored).
        let (horizon, uncovered) = match status_since(h, &client, u64::MAX) {
            Some((since, Status::Connected)) => {
                let trip = latency_over(s, &windows, &g.host, (since, s.end));
                let flushed_by = since.saturating_add(2 * trip).saturating_add(s.slack);
                // Since when it was offline: the loss of the last connection before this one
                // that lasted long enough to carry anything (a flap's does not).
                let statuses: Vec<(u64, &Status)> = (h.statuses(&client))
                    .map(|(_, t, st)| (t, st))
                    .take_while(|(t, _)| *t < since)
                    .collect();
                let lasted = |i: usize| {
                    let end = statuses.get(i + 1).map_or(since, |(t, _)| *t);
                    end >= statuses[i]
                        .0
                        .saturating_add(2 * trip)
                        .saturating_add(s.slack)
                };
                let offline = (0..statuses.len())
                    .rev()
                    .find(|&i| *statuses[i].1 == Status::Connected && lasted(i))
                    .and_then(|i| statuses.get(i + 1))
                    .map_or(0, |(t, _)| *t);
                let from = offline.saturating_sub(s.slack);
                if flushed_by > s.end && from < horizon {
                    let why = format!(
                        "it was connected again only {} before the end of the run, too late for what it queued while offline to reach the server",
                        show(s.end.saturating_sub(since))
                    );
                    (from, Some((from, why)))
                } else {
                    (horizon, uncovered)
                }
            }
            _ => (horizon, uncovered),
        };
        let records = by_life(h.of(&client).collect(), &exits, |(k, _)| *k);
        for (process, mine) in records.iter().enumerate() {
            let until = match exits.get(process) {
                None if last_owes => horizon,
                None => continue,
                Some(&exit) => match steady_until(mine, h.records[exit].t, settle) {
                    // Nor from a fault on its link whose window was not over by the exit.
                    Some(until) => until.min(s.owed_until(&windows, g, h.records[exit].t).0),
                    None => continue,
                },
            };
            let mut unjudged = 0;
            // A send accepted offline goes out when the client is next connected: one pass
            // from the end gives, at each record, when that is (the process's own statuses).
            let mut next_connect = vec![u64::MAX; mine.len()];
            let mut next = u64::MAX;
            for (i, (_, r)) in mine.iter().enumerate().rev() {
                if let Event::Status { status, .. } = &r.event {
                    next = if *status == Status::Connected {
                        r.t
                    } else {
                        next
                    };
                }
                next_connect[i] = next;
            }
            let mut online = false;
            for (i, (k, r)) in mine.iter().enumerate() {
                if let Event::Status { status, .. } = &r.event {
                    online = *status == Status::Connected;
                }
                let Event::Publish { id: Some(id), .. } = &r.event else {
                    continue;
                };
                // Its status at that millisecond, as `status_at` reads it: a change recorded
                // in the same millisecond counts.
                let same_ms = (mine[i + 1..].iter())
                    .take_while(|(_, x)| x.t == r.t)
                    .filter_map(|(_, x)| match &x.event {
                        Event::Status { status, .. } => Some(*status == Status::Connected),
                        _ => None,
                    })
                    .last();
                let sent = if same_ms.unwrap_or(online) {
                    r.t
                } else {
                    next_connect[i]
                };
                if sent > until && exits.get(process).is_none() {
                    unjudged += 1;
                }
                if sent <= until && !arrived.contains_key(&(process, *id)) {
                    out.push(v(
                        r.t,
                        format!("message {id} was accepted and never reached the server"),
                        vec![*k],
                    ));
                }
            }
            if let Some((from, why)) = uncovered.as_ref().filter(|_| unjudged > 0) {
                let why = format!("{unjudged} sends from {} on: {why}", show(*from));
                out.not_judged(CHECKER.name, &client, Some(*from), why);
            }
        }
    }
    out
}

/// For a process that exited at `exit`: when it had been connected without a break for
/// `settle` by then (and never closed), the last moment a send it owed was accepted
/// (`exit - settle`); `None` otherwise.
fn steady_until(mine: &[(usize, &Record)], exit: u64, settle: u64) -> Option<u64> {
    let closed = mine.iter().any(|(_, r)| {
        matches!(
            r.event,
            Event::Action {
                action: ClientAction::Close,
                ..
            }
        )
    });
    let last = mine.iter().rev().find_map(|(_, r)| match &r.event {
        Event::Status { status, .. } => Some((r.t, status)),
        _ => None,
    });
    let until = exit.checked_sub(settle)?;
    match last {
        Some((since, Status::Connected)) if !closed && since <= until => Some(until),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn accepted(id: u64) -> Event {
        Event::Publish {
            client: "c-0".into(),
            topic: "t".into(),
            id: Some(id),
            refused: None,
        }
    }

    fn arrived(id: u64) -> server::Event {
        server::Event::Published {
            conn: 1,
            client: "c-0".into(),
            topic: "t".into(),
            id,
            seq: Some(id),
        }
    }

    fn base() -> Builder {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
    }

    #[test]
    fn each_send_once_in_order_passes() {
        let h = base()
            .at(10, accepted(1))
            .at(11, accepted(2))
            .server(20, 1, arrived(1))
            .server(21, 1, arrived(2))
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn dropped_and_doubled_sends_are_caught() {
        let dropped = base().at(10, accepted(1)).build();
        assert!(
            check(&simple(1, ""), &dropped)[0]
                .message
                .contains("never reached")
        );
        let doubled = base()
            .at(10, accepted(1))
            .server(20, 1, arrived(1))
            .server(30, 1, arrived(1))
            .build();
        assert!(
            check(&simple(1, ""), &doubled)[0]
                .message
                .contains("delivered twice")
        );
    }

    #[test]
    fn a_resend_on_the_same_connection_is_caught() {
        let dup = server::Event::Published {
            conn: 1,
            client: "c-0".into(),
            topic: "t".into(),
            id: 1,
            seq: None,
        };
        let h = base()
            .at(10, accepted(1))
            .server(20, 1, arrived(1))
            .server(21, 1, dup)
            .build();
        assert!(
            check(&simple(1, ""), &h)[0]
                .message
                .contains("sent twice on one connection")
        );
    }

    /// Message `id` of the process on connection `conn` reached the server, or was
    /// dropped as a repeat (`seq` `None`).
    fn arrived_on(conn: u64, id: u64, new: bool) -> server::Event {
        server::Event::Published {
            conn,
            client: "c-0".into(),
            topic: "t".into(),
            id,
            seq: new.then_some(100 * conn + id),
        }
    }

    /// A process that sends 1 and 2, exits at 20 s; the next one sends 1 and 2 again.
    fn two_processes(second_taken_for_repeats: bool) -> History {
        base()
            .open(5, 1, 1, "c-0")
            .at(1_000, accepted(1))
            .server(1_010, 1, arrived_on(1, 1, true))
            .at(2_000, accepted(2))
            .server(2_010, 1, arrived_on(1, 2, true))
            .action(20_000, "c-0", ClientAction::Exit)
            .action(20_000, "c-0", ClientAction::Start)
            .status(20_000, "c-0", connecting(1))
            .open(20_020, 1, 2, "c-0")
            .status(20_030, "c-0", Status::Connected)
            .at(21_000, accepted(1))
            .server(21_010, 1, arrived_on(2, 1, !second_taken_for_repeats))
            .at(22_000, accepted(2))
            .server(22_010, 1, arrived_on(2, 2, !second_taken_for_repeats))
            .build()
    }

    #[test]
    fn a_new_process_numbers_its_messages_afresh() {
        let s = simple(1, "");
        assert!(check(&s, &two_processes(false)).is_empty());
        // The server took the new process's messages for repeats of the old one's.
        let found = check(&s, &two_processes(true));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].message.contains("never reached the server"));
    }

    #[test]
    fn an_exit_takes_unsent_messages_with_it_but_not_what_it_had_time_to_send() {
        let s = simple(1, "");
        let lost = |sent_at: u64| {
            base()
                .open(5, 1, 1, "c-0")
                .at(sent_at, accepted(1))
                .action(20_000, "c-0", ClientAction::Exit)
                .build()
        };
        // Accepted 1 s before the exit: it may have died in the queue.
        assert!(check(&s, &lost(19_000)).is_empty());
        // Accepted 15 s before an exit from a steady connection: it should have arrived.
        let found = check(&s, &lost(5_000));
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
