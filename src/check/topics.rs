//! Invariant 7: on every connection the server holds exactly the client's intended topics:
//! none missing (once the connection had time to be restored), none twice, none revived
//! after an unsubscribe.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{Conn, Intents, Subscriptions, conns, end, pubsub_clients};
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, FaultWindow, History};

pub(super) const CHECKER: Checker = Checker {
    name: "topics_restored",
    severity: super::Severity::Subscriptions,
    promise: "after each reconnect the server holds exactly the client's intended topics: none missing, none twice, none revived",
    applies: super::pubsub,
    needs: &[Evidence::ServerRecord, Evidence::Intents],
    check: |cx, h| check(cx, h).into(),
};

/// A connection that lived this long must have had its topics restored: a second, plus a
/// round trip at the slowest latency the scenario sets.
pub(super) fn restore_window(s: &Context) -> u64 {
    let slowest = s
        .timeline
        .iter()
        .filter_map(|st| match &st.action {
            crate::scenario::Action::Latency { latency, .. } => Some(*latency),
            _ => None,
        })
        .chain([s.network.latency + s.network.jitter])
        .max()
        .unwrap_or_default();
    1000 + 2 * slowest.as_millis() as u64
}

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let hosts: BTreeMap<String, &str> = pubsub_clients(s)
        .into_iter()
        .map(|(n, g)| (n, g.host.as_str()))
        .collect();
    let (subs, intents) = (Subscriptions::new(h), Intents::new(s, h));
    let stalls = h.fault_windows();
    let window = restore_window(s);
    let mut out = Vec::new();
    for c in conns(h) {
        let Some(host) = hosts.get(&c.client) else {
            continue;
        };
        let stalled = stalled(&stalls, host, c.open_t, c.open_t + window);
        one_connection(s, h, &c, (&subs, &intents, stalled), &mut out);
        zombies(h, &c, (&subs, window, &stalls, host), &mut out);
    }
    out
}

/// The first record after record `k` by more than `delay` ms: a client's report of what it
/// wanted at `k` is recorded before it (the world's report delay).
/// With no delay (the simulation), `k` itself: what was wanted before it.
fn reported_by(h: &History, k: usize, delay: u64) -> usize {
    if delay == 0 {
        return k;
    }
    let by = h.records[k].t.saturating_add(delay);
    k + h.records[k..].partition_point(|r| r.t <= by)
}

/// True when a hold or partition on `host`'s link to the server overlaps `[from, to]`: the
/// client's subscribe frames were held or dropped, so nothing can be asked of that window.
fn stalled(windows: &[FaultWindow], host: &str, from: u64, to: u64) -> bool {
    windows.iter().any(|w| {
        w.fault.isolates() == Some(host) && w.from <= to && w.to.is_none_or(|end| end >= from)
    })
}

fn one_connection(
    s: &Context,
    h: &History,
    c: &Conn,
    facts: (&Subscriptions, &Intents, bool),
    out: &mut Vec<Violation>,
) {
    let (subs, intents, stalled) = facts;
    let window = restore_window(s);
    let v = |t, msg: String, events| Violation::new(CHECKER.name, Some(&c.client), t, msg, events);
    let mut held: BTreeSet<&str> = BTreeSet::new();
    let mut restored: BTreeSet<&str> = BTreeSet::new();
    // What the server does on a dead process's connection says nothing about the client.
    let alive = |k: usize| c.exited.is_none_or(|e| k < e);
    for (k, topic, on) in subs
        .of(c.epoch, c.conn)
        .iter()
        .filter(|(k, _, _)| alive(*k))
    {
        let (k, t) = (*k, h.records[*k].t);
        if !on {
            held.remove(topic.as_str());
            continue;
        }
        if !held.insert(topic) {
            out.push(v(
                t,
                format!("topic {topic:?} subscribed twice on one connection"),
                vec![c.open_index, k],
            ));
        } else if !intents
            .before(&c.client, reported_by(h, k, s.report_delay()))
            .contains(topic)
            && !let_go(h, c, subs, (k, topic, window))
        {
            out.push(v(
                t,
                format!("topic {topic:?} revived: the client had unsubscribed from it"),
                vec![k],
            ));
        }
        if t <= c.open_t + window {
            restored.insert(topic);
        }
    }
    if stalled || c.lifetime(end(s)) < window || !client_saw_it_open(h, c, window) {
        return;
    }
    let window_end = deadline_index(h, c.open_t + window);
    if c.exited.is_some_and(|e| e < window_end) {
        return; // the process exited before it had to be restored
    }
    let wanted: BTreeSet<String> = intents
        .before(&c.client, c.open_index)
        .intersection(&intents.before(&c.client, window_end))
        .cloned()
        .collect();
    for topic in wanted.iter().filter(|t| !restored.contains(t.as_str())) {
        let msg = format!(
            "topic {topic:?} not restored within {window}ms of connection {}",
            c.conn
        );
        out.push(v(c.open_t + window, msg, vec![c.open_index]));
    }
}

/// True when the connection drops `topic` again within the restore window after record `k`
/// subscribed it (or ends first): the subscribe was on its way before the client
/// unsubscribed, and the client's unsubscribe followed it, as it should.
fn let_go(h: &History, c: &Conn, subs: &Subscriptions, at: (usize, &str, u64)) -> bool {
    let (k, topic, window) = at;
    let by = h.records[k].t + window;
    c.close_t.is_some_and(|end| end <= by)
        || subs
            .of(c.epoch, c.conn)
            .iter()
            .any(|(j, t, on)| *j > k && !on && t == topic && h.records[*j].t <= by)
}

/// The server's topics shrink when the client's do: an `unsubscribe` while this connection
/// holds the topic reaches the server within the restore window, unless the connection ends
/// first or the client wants the topic back by then. (A hold or partition of the link in
/// that window excuses it: the frame may be stuck.)
/// True when the server heard from the client on connection `c` (a publish, a subscribe or
/// an unsubscribe) after `t`, before record `before`.
fn heard_after(h: &History, c: &Conn, t: u64, before: usize) -> bool {
    h.records[c.open_index..before.min(h.records.len())]
        .iter()
        .filter(|r| r.t > t)
        .any(|r| match r.event.server() {
            Some((
                epoch,
                crate::server::Event::Published { conn, .. }
                | crate::server::Event::Subscribed { conn, .. }
                | crate::server::Event::Unsubscribed { conn, .. },
            )) => epoch == c.epoch && *conn == c.conn,
            _ => false,
        })
}

fn zombies(
    h: &History,
    c: &Conn,
    facts: (&Subscriptions, u64, &[FaultWindow], &str),
    out: &mut Vec<Violation>,
) {
    let (subs, window, stalls, host) = facts;
    for (a, r) in h.of(&c.client) {
        let Event::Action {
            action: ClientAction::Unsubscribe { topic },
            ..
        } = &r.event
        else {
            continue;
        };
        let deadline = r.t + window;
        if !c.open_before(a)
            || c.exited.is_some_and(|e| e < deadline_index(h, deadline))
            || c.close_t.is_some_and(|end| end <= deadline)
            || deadline > h.records.last().map_or(0, |l| l.t)
            || !subs.held_before(c.epoch, c.conn, a).contains(topic)
        {
            continue;
        }
        // Held or cut now, or cut since the connection opened and not heard from since:
        // a stream that lost segments to a cut stays dead after the repair, and the
        // unsubscribe went into it.
        let stuck = stalled(stalls, host, r.t, deadline)
            || stalls.iter().any(|w| {
                w.fault.isolates() == Some(host)
                    && w.from >= c.open_t
                    && w.from <= r.t
                    && !heard_after(h, c, w.from, a)
            });
        let wanted_back = h.of(&c.client).any(|(j, x)| {
            j > a
                && x.t <= deadline
                && matches!(&x.event, Event::Action { action: ClientAction::Subscribe { topic: t }, .. } if t == topic)
        });
        let dropped = subs
            .of(c.epoch, c.conn)
            .iter()
            .any(|(k, t, on)| *k > a && !on && t == topic && h.records[*k].t <= deadline);
        if !(stuck || wanted_back || dropped) {
            let msg = format!(
                "unsubscribed from {topic:?}, but connection {} still held it {window}ms later: the server keeps sending",
                c.conn
            );
            out.push(Violation::new(
                CHECKER.name,
                Some(&c.client),
                deadline,
                msg,
                vec![a, c.open_index],
            ));
        }
    }
}

/// The index of the first record after time `t`.
pub(super) fn deadline_index(h: &History, t: u64) -> usize {
    h.records.partition_point(|r| r.t <= t)
}

/// True when the client itself reached `Connected` on this connection: a connection the
/// server accepted but whose handshake answer never reached the client (a one-way
/// partition) cannot be restored.
fn client_saw_it_open(h: &History, c: &Conn, window: u64) -> bool {
    let until = c.close_t.unwrap_or(u64::MAX).min(c.open_t + window);
    h.of(&c.client).any(|(i, r)| {
        i > c.open_index
            && r.t <= until
            && matches!(
                r.event,
                Event::Status {
                    status: crate::client::Status::Connected,
                    ..
                }
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    #[test]
    fn restored_once_passes() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .subscribed(12, 1, 1, "c-0", "t")
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn a_hold_on_the_clients_link_right_after_connecting_excuses_a_late_restore() {
        let held = |host: &str| {
            let link = Link::new(SERVER_HOST, host, false);
            Builder::default()
                .open(10, 1, 1, "c-0")
                .status(11, "c-0", crate::client::Status::Connected)
                .fault(20, Fault::Hold { link: link.clone() })
                .heal(1500, Heal::Release { link })
                .build()
        };
        assert!(check(&simple(1, ""), &held("clients")).is_empty());
        let elsewhere = check(&simple(1, ""), &held("edge"));
        assert!(
            elsewhere[0].message.contains("not restored"),
            "{elsewhere:?}"
        );
    }

    /// On the real network a client's subscribe line may be read after the server's record
    /// of that subscription: within the run's report delay it is the client's intent, not a
    /// revival. Later than that, it is a revival.
    #[test]
    fn a_subscribe_reported_a_moment_after_the_servers_record_is_no_revival() {
        let s = simple(1, "");
        let h = |line_at: u64| {
            Builder::default()
                .open(10, 1, 1, "c-0")
                .subscribed(12, 1, 1, "c-0", "late")
                .action(
                    line_at,
                    "c-0",
                    ClientAction::Subscribe {
                        topic: "late".into(),
                    },
                )
                .build()
        };
        let mut cx = Context::simulated(&s);
        cx.tick += std::time::Duration::from_millis(250);
        let revived = |h: &History| {
            super::check(&cx, h)
                .iter()
                .any(|v| v.message.contains("revived"))
        };
        assert!(!revived(&h(13)), "read 1 ms after the server's record");
        assert!(revived(&h(900)), "read 888 ms after: not the same moment");
        assert!(
            check(&s, &h(13))
                .iter()
                .any(|v| v.message.contains("revived")),
            "the simulation records both as they happen"
        );
    }

    #[test]
    fn missing_twice_and_revived_are_caught() {
        let missing = Builder::default()
            .open(10, 1, 1, "c-0")
            .status(11, "c-0", crate::client::Status::Connected)
            .build();
        assert!(
            check(&simple(1, ""), &missing)[0]
                .message
                .contains("not restored")
        );
        let twice = Builder::default()
            .open(10, 1, 1, "c-0")
            .subscribed(12, 1, 1, "c-0", "t")
            .subscribed(13, 1, 1, "c-0", "t")
            .build();
        assert!(check(&simple(1, ""), &twice)[0].message.contains("twice"));
        let revived = Builder::default()
            .action(5, "c-0", ClientAction::Unsubscribe { topic: "t".into() })
            .open(10, 1, 1, "c-0")
            .subscribed(12, 1, 1, "c-0", "t")
            .build();
        assert!(
            check(&simple(1, ""), &revived)[0]
                .message
                .contains("revived")
        );
    }

    #[test]
    fn an_unsubscribe_the_server_never_hears_of_is_a_zombie() {
        let story = |told: bool| {
            let mut b = Builder::default()
                .open(10, 1, 1, "c-0")
                .status(11, "c-0", crate::client::Status::Connected)
                .subscribed(12, 1, 1, "c-0", "t")
                .action(100, "c-0", ClientAction::Unsubscribe { topic: "t".into() });
            if told {
                b = b.server(
                    102,
                    1,
                    crate::server::Event::Unsubscribed {
                        conn: 1,
                        client: "c-0".into(),
                        topic: "t".into(),
                    },
                );
            }
            b.dial(5000, "x-0").build()
        };
        assert!(check(&simple(1, ""), &story(true)).is_empty());
        let found = check(&simple(1, ""), &story(false));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("still held it"), "{found:?}");
    }

    #[test]
    fn a_subscribe_already_sent_when_the_client_unsubscribed_is_not_a_revival() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .status(11, "c-0", crate::client::Status::Connected)
            .action(11, "c-0", ClientAction::Unsubscribe { topic: "t".into() })
            .subscribed(12, 1, 1, "c-0", "t")
            .server(
                13,
                1,
                crate::server::Event::Unsubscribed {
                    conn: 1,
                    client: "c-0".into(),
                    topic: "t".into(),
                },
            )
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }
}
