//! Invariant 8: every message published to a topic after a subscriber's subscription took
//! effect arrives exactly once and in order, or falls inside an explicit gap notice.
//!
//! Two kinds of evidence, each enough on its own:
//! - **the client's own stream** (works for any client, on any network): within one
//!   subscription, each delivery is the successor of the one before (same epoch, next
//!   sequence) unless a gap notice in between says where delivery resumes, and it resumes
//!   exactly there; a new epoch always comes with a gap notice.
//! - **the server's record** (the simulation): every message the server sequenced on the
//!   topic after it confirmed the subscription arrives or is covered by a gap notice, up to
//!   the last position the client reached (and, for a client connected at the end, up to
//!   `settle` before the end). Nothing else excuses a loss.
//!
//! A subscription runs from the client's subscribe (or its start, for its group's topics)
//! to its unsubscribe or `close()`.

use std::collections::BTreeMap;

use super::view::{pubsub_clients, status_at};
use super::{Checker, Context, Findings, Violation};
use crate::client::{Reason, Status};
use crate::evidence::Evidence;
use crate::evidence::window::show;
use crate::history::{ClientAction, Event, Fault, FaultWindow, History, SERVER_HOST};
use crate::protocol::GapReason;
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "delivery",
    severity: super::Severity::Loss,
    promise: "every message published after a subscription took effect arrives exactly once, in order, or inside a gap notice",
    applies: super::wschaos_pubsub,
    needs: &[
        Evidence::Received,
        Evidence::Statuses,
        Evidence::ServerRecord,
    ],
    check,
};

/// A position in a topic: (epoch, sequence).
type Pos = (u64, u64);

fn check(s: &Context, h: &History) -> Findings {
    let mut found = Findings::default();
    let out = &mut found.violations;
    let mut unjudged = Vec::new();
    let published = published(h);
    let processes = Processes::new(h);
    let windows = h.fault_windows();
    let confirmed = confirmed(s, h, &processes, &windows);
    for (client, g) in pubsub_clients(s) {
        order(h, &client, out);
        unjustified_gaps(s, h, &client, out);
        again(h, &client, &processes, out);
        let connected_at_end = status_at(h, &client, u64::MAX) == Some(&Status::Connected);
        // A subscriber connected at the end owes what was published up to `settle` before
        // it, and nothing from a fault on its link whose window the run did not cover: it
        // may not have noticed the link dead, and the server may rightly be unable to
        // reach it.
        let (horizon, uncovered) = s.owed_until(&windows, g, s.end);
        let mut cut = false;
        for seg in subscriptions(h, &client, &g.topics) {
            let seen = Seen::collect(h, &client, &seg);
            contiguous(&client, &seg, &seen, out);
            let topic_published = published
                .get(seg.topic.as_str())
                .map_or(&[][..], Vec::as_slice);
            let confirmed = confirmed
                .get(&(client.as_str(), seg.topic.as_str()))
                .map_or(&[][..], Vec::as_slice);
            // The tail is owed once the subscription in force at the end was answered a
            // trip before it: a replay or a gap notice still on its way owes nothing yet.
            let settled = confirmed.last().is_none_or(|&k| {
                let t = h.records[k].t;
                let trip = super::view::latency_over(s, &windows, &g.host, (t, s.end));
                t.saturating_add(trip).saturating_add(s.slack) <= s.end
            });
            let tail = (seg.to.is_none() && connected_at_end && settled).then_some(horizon);
            cut |= tail.is_some()
                && uncovered.as_ref().is_some_and(|(from, _)| {
                    topic_published
                        .iter()
                        .any(|m| m.t > *from && seg.holds(m.index))
                });
            complete(
                &client,
                &seg,
                &seen,
                (topic_published, confirmed, tail),
                out,
            );
        }
        if let Some((from, why)) = uncovered.filter(|_| cut) {
            let why = format!("messages published from {} on: {why}", show(from));
            unjudged.push((client, from, why));
        }
    }
    for (client, from, why) in unjudged {
        found.not_judged(CHECKER.name, &client, Some(from), why);
    }
    found
}

/// One subscription of one client: from the record that asked for it (0 for the group's
/// topics) to the one that ended it (`None`: still wanted at the end).
struct Subscription {
    topic: String,
    from: usize,
    to: Option<usize>,
}

impl Subscription {
    fn holds(&self, index: usize) -> bool {
        index >= self.from && self.to.is_none_or(|to| index < to)
    }
}

/// Every subscription `client` had, from its group's topics and its timeline actions.
fn subscriptions(h: &History, client: &str, initial: &[String]) -> Vec<Subscription> {
    let mut open: BTreeMap<String, usize> = initial.iter().map(|t| (t.clone(), 0)).collect();
    let mut done = Vec::new();
    for (i, r) in h.of(client) {
        let Event::Action { action, .. } = &r.event else {
            continue;
        };
        match action {
            ClientAction::Subscribe { topic } => {
                open.entry(topic.clone()).or_insert(i);
            }
            ClientAction::Unsubscribe { topic } => {
                if let Some(from) = open.remove(topic) {
                    done.push(Subscription {
                        topic: topic.clone(),
                        from,
                        to: Some(i),
                    });
                }
            }
            // A process that exits takes its subscriptions with it.
            ClientAction::Close | ClientAction::Exit => {
                for (topic, from) in std::mem::take(&mut open) {
                    done.push(Subscription {
                        topic,
                        from,
                        to: Some(i),
                    });
                }
            }
            // A new process subscribes afresh to its group's topics.
            ClientAction::Start => {
                for topic in initial {
                    open.entry(topic.clone()).or_insert(i);
                }
            }
            ClientAction::Reconnect => {}
        }
    }
    done.extend(open.into_iter().map(|(topic, from)| Subscription {
        topic,
        from,
        to: None,
    }));
    done
}

/// What the client received on one subscription, in order.
struct Seen {
    /// (record index, time, position) of each delivery.
    delivered: Vec<(usize, u64, Pos)>,
    /// (record index, reason, where delivery resumes) of each gap notice.
    gaps: Vec<(usize, GapReason, Pos)>,
}

impl Seen {
    fn collect(h: &History, client: &str, seg: &Subscription) -> Seen {
        let mut seen = Seen {
            delivered: Vec::new(),
            gaps: Vec::new(),
        };
        for (i, r) in h.of(client).filter(|(i, _)| seg.holds(*i)) {
            match &r.event {
                Event::Delivered {
                    topic, epoch, seq, ..
                } if *topic == seg.topic => seen.delivered.push((i, r.t, (*epoch, *seq))),
                Event::Gap {
                    topic,
                    reason,
                    epoch,
                    next_seq,
                    ..
                } if *topic == seg.topic => seen.gaps.push((i, *reason, (*epoch, *next_seq))),
                _ => {}
            }
        }
        seen
    }

    /// The furthest position the client is accounted up to: its furthest delivery, or the
    /// point before where a gap notice said delivery resumes.
    fn reached(&self) -> Option<Pos> {
        let delivered = self.delivered.iter().map(|(_, _, p)| *p);
        let gaps = self
            .gaps
            .iter()
            .filter(|(_, reason, _)| *reason != GapReason::Lagged)
            .map(|(_, _, (e, n))| (*e, n.saturating_sub(1)));
        delivered.chain(gaps).max()
    }

    /// True when a gap notice accounts for `p` not arriving: a notice that delivery resumes
    /// after it, or a local lag between the deliveries around it.
    fn covers(&self, p: Pos) -> bool {
        self.gaps.iter().any(|(j, reason, resume)| {
            if *reason != GapReason::Lagged {
                return p < *resume;
            }
            let before = self.delivered.iter().rev().find(|(i, _, _)| i < j);
            let after = self.delivered.iter().find(|(i, _, _)| i > j);
            before.is_none_or(|(_, _, b)| *b < p) && after.is_none_or(|(_, _, a)| p < *a)
        })
    }
}

/// The client's own stream: each delivery follows the one before, or a gap notice between
/// them says where delivery resumes and it resumes exactly there.
fn contiguous(client: &str, seg: &Subscription, seen: &Seen, out: &mut Vec<Violation>) {
    for pair in seen.delivered.windows(2) {
        let ((i, _, a), (j, t, b)) = (pair[0], pair[1]);
        if b <= a || b == (a.0, a.1 + 1) {
            continue; // in order (a repeat or a step back is `order`'s to report)
        }
        let notices: Vec<&(usize, GapReason, Pos)> = seen
            .gaps
            .iter()
            .filter(|(k, _, _)| i < *k && *k < j)
            .collect();
        let lagged = notices.iter().any(|(_, r, _)| *r == GapReason::Lagged);
        let resumes = notices.last().map(|(_, _, p)| *p);
        if lagged || resumes.is_some_and(|p| b <= p) {
            continue;
        }
        let topic = &seg.topic;
        let msg = match resumes {
            Some((e, n)) => format!(
                "{topic}: a gap notice said delivery resumes at #{n} (epoch {e}), but it resumed at #{} (epoch {}): the messages between were lost without notice",
                b.1, b.0
            ),
            None if a.0 == b.0 => format!(
                "{topic}: #{} then #{} (epoch {}): #{}..#{} lost with no gap notice",
                a.1,
                b.1,
                b.0,
                a.1 + 1,
                b.1 - 1
            ),
            None => format!(
                "{topic}: from #{} of epoch {} to #{} of epoch {} with no gap notice: the server restarted and the loss was passed on in silence",
                a.1, a.0, b.1, b.0
            ),
        };
        out.push(Violation::new(
            CHECKER.name,
            Some(client),
            t,
            msg,
            vec![i, j],
        ));
    }
}

/// The server's record: every message sequenced on the topic after the server confirmed
/// this subscription, up to where the client got to (or `tail`, for a subscription still
/// wanted by a client connected at the end), arrived or is covered by a gap notice.
fn complete(
    client: &str,
    seg: &Subscription,
    seen: &Seen,
    facts: (&[Published], &[usize], Option<u64>),
    out: &mut Vec<Violation>,
) {
    let (published, confirmed, tail) = facts;
    let Some(&anchor) = confirmed.iter().find(|k| seg.holds(**k)) else {
        return; // the server never held this subscription: nothing was owed
    };
    let reached = seen.reached();
    let got: std::collections::BTreeSet<Pos> = seen.delivered.iter().map(|(_, _, p)| *p).collect();
    let missing: Vec<&Published> = published
        .iter()
        .filter(|m| m.index > anchor && seg.holds(m.index))
        .filter(|m| reached.is_some_and(|r| m.pos <= r) || tail.is_some_and(|h| m.t <= h))
        .filter(|m| !got.contains(&m.pos) && !seen.covers(m.pos))
        .collect();
    let (Some(first), Some(last)) = (missing.first(), missing.last()) else {
        return;
    };
    let topic = &seg.topic;
    let msg = if missing.len() == 1 {
        format!(
            "{topic} #{} (epoch {}) was published after the subscription took effect and never arrived, with no gap notice",
            first.pos.1, first.pos.0
        )
    } else {
        format!(
            "{} messages of {topic} published after the subscription took effect never arrived, with no gap notice (#{} of epoch {} to #{} of epoch {})",
            missing.len(),
            first.pos.1,
            first.pos.0,
            last.pos.1,
            last.pos.0
        )
    };
    let events = missing.iter().take(8).map(|m| m.index).collect();
    out.push(Violation::new(
        CHECKER.name,
        Some(client),
        first.t,
        msg,
        events,
    ));
}

/// A message the server sequenced.
struct Published {
    index: usize,
    t: u64,
    pos: Pos,
}

/// Every sequenced publish, by topic, collected once for all subscribers.
fn published(h: &History) -> BTreeMap<&str, Vec<Published>> {
    let mut out: BTreeMap<&str, Vec<Published>> = BTreeMap::new();
    for (index, r) in h.records.iter().enumerate() {
        if let Some((
            epoch,
            server::Event::Published {
                topic,
                seq: Some(seq),
                ..
            },
        )) = r.event.server()
        {
            out.entry(topic).or_default().push(Published {
                index,
                t: r.t,
                pos: (epoch, *seq),
            });
        }
    }
    out
}

/// The records where the server confirmed a subscription, by (client, topic). A
/// confirmation on a connection of a process that has since exited is left out: it was
/// that process's, not the next one's (the server may confirm it after the exit). So is
/// one sent within a trip of a cut or a hold of the server-to-client direction of the
/// client's link, when nothing on that connection reached the client after it: it may
/// never have reached the client (dropped by the cut, or held past the connection's end),
/// which then has no position to resume from, and no way to know it was owed anything.
fn confirmed<'a>(
    s: &Context,
    h: &'a History,
    processes: &Processes<'_>,
    windows: &[FaultWindow],
) -> BTreeMap<(&'a str, &'a str), Vec<usize>> {
    let hosts: BTreeMap<String, &str> = (pubsub_clients(s).into_iter())
        .map(|(n, g)| (n, g.host.as_str()))
        .collect();
    // The server-to-client direction cut or held within a trip of `t`.
    let cut = |host: &str, t: u64| {
        windows.iter().any(|w| {
            let link = match &w.fault {
                Fault::Partition { link } | Fault::Hold { link } => link,
                _ => return false,
            };
            let inbound = !link.oneway || link.a == SERVER_HOST;
            inbound
                && link.joins_server_and(host)
                && w.from <= t.saturating_add(s.slack)
                && w.to.is_none_or(|e| e.saturating_add(s.slack) >= t)
        })
    };
    // The client lost the connection before the confirmation at record `index` could have
    // reached it (a trip at the link's latency).
    let lost_in_flight = |client: &str, host: &str, index: usize| {
        let t = h.records[index].t;
        let latency = super::view::latency_over(s, windows, host, (t, t));
        let arrives = t.saturating_add(latency).saturating_add(s.slack);
        h.statuses(client)
            .find(|(i, _, _)| *i > index)
            .is_some_and(|(_, at, st)| *st != Status::Connected && at <= arrives)
    };
    // The client got a delivery on that connection after record `index`: what the server
    // said before it (the confirmation) arrived too.
    let heard = |client: &str, conn: u64, index: usize| {
        h.of(client).any(|(i, r)| {
            i > index && matches!(&r.event, Event::Delivered { conn: c, .. } if *c == conn)
        })
    };
    let mut out: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (index, r) in h.records.iter().enumerate() {
        if let Some((
            epoch,
            server::Event::Subscribed {
                client,
                topic,
                conn,
                ..
            },
        )) = r.event.server()
        {
            let unheard = hosts
                .get(client.as_str())
                .is_some_and(|host| cut(host, r.t) || lost_in_flight(client, host, index))
                && !heard(client, *conn, index);
            if !unheard
                && processes.of_conn(client, (epoch, *conn)) == processes.of_record(client, index)
            {
                out.entry((client, topic)).or_default().push(index);
            }
        }
    }
    out
}

/// A history gap excuses only what the server no longer held: a resume from `#p` answered
/// with a history gap while the server's history (its last `history` messages of the topic,
/// by its own record of what it sequenced) still held `#p + 1` hides a loss behind a notice.
fn unjustified_gaps(s: &Context, h: &History, client: &str, out: &mut Vec<Violation>) {
    let keep = s.server.history as u64;
    // (epoch, topic) -> the last sequence the server gave it, as the history goes.
    let mut last: BTreeMap<(u64, &str), u64> = BTreeMap::new();
    for (i, r) in h.records.iter().enumerate() {
        match r.event.server() {
            Some((
                epoch,
                server::Event::Published {
                    topic,
                    seq: Some(seq),
                    ..
                },
            )) => {
                last.insert((epoch, topic.as_str()), *seq);
            }
            Some((
                epoch,
                server::Event::Subscribed {
                    client: who,
                    topic,
                    resume: Some(from),
                    gap: Some(GapReason::History),
                    ..
                },
            )) if who == client && from.epoch == epoch => {
                let newest = last.get(&(epoch, topic.as_str())).copied().unwrap_or(0);
                let oldest_held = newest.saturating_sub(keep.saturating_sub(1)).max(1);
                let first_missed = from.seq + 1;
                if first_missed <= newest && first_missed >= oldest_held {
                    let msg = format!(
                        "{topic}: a resume from #{} (epoch {epoch}) was answered with a history gap, though the server still held #{first_missed} (it keeps the last {keep} of the topic, up to #{newest})",
                        from.seq
                    );
                    out.push(Violation::new(
                        CHECKER.name,
                        Some(client),
                        r.t,
                        msg,
                        vec![i],
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Deliveries of each topic must be strictly increasing in (epoch, seq), within each
/// process of the client.
fn order(h: &History, client: &str, out: &mut Vec<Violation>) {
    let mut last: std::collections::BTreeMap<&str, (u64, u64, usize)> = Default::default();
    for (i, r) in h.of(client) {
        let Event::Delivered {
            topic, epoch, seq, ..
        } = &r.event
        else {
            if matches!(
                r.event,
                Event::Action {
                    action: ClientAction::Start,
                    ..
                }
            ) {
                last.clear();
            }
            continue;
        };
        if let Some((e, q, j)) = last.get(&**topic) {
            if (*epoch, *seq) <= (*e, *q) {
                let what = if (*epoch, *seq) == (*e, *q) {
                    "delivered twice"
                } else {
                    "delivered out of order"
                };
                let msg = format!("{topic} #{seq} (epoch {epoch}) {what}");
                out.push(Violation::new(
                    CHECKER.name,
                    Some(client),
                    r.t,
                    msg,
                    vec![*j, i],
                ));
            }
        }
        last.insert(topic, (*epoch, *seq, i));
    }
}

/// A message (publisher, id) reaches a subscriber once, across epochs too, unless the
/// publisher may have lost the server's acknowledgement: its connection ended other than by
/// the server's clean 1012 close (a crash, a silent death, a cut link), so it rightly sent
/// the message again to the next server. A graceful shutdown sends every acknowledgement
/// before its 1012.
fn again(h: &History, client: &str, processes: &Processes<'_>, out: &mut Vec<Violation>) {
    let mut first: std::collections::BTreeMap<(&str, usize, u64), (u64, usize)> =
        Default::default();
    for (i, r) in h.of(client) {
        let Event::Delivered {
            from,
            id,
            epoch,
            topic,
            seq,
            ..
        } = &r.event
        else {
            continue;
        };
        // A publisher's new process numbers its messages from 1 again.
        let process = processes.of_message(from, (*epoch, topic, *seq));
        let Some(&(was, j)) = first.get(&(&**from, process, *id)) else {
            first.insert((from, process, *id), (*epoch, i));
            continue;
        };
        // How the publisher lost the connection it sent the message on: the first loss
        // after it accepted the message (a message held on a dead link reaches the server
        // after that loss, and the publisher rightly sends it again).
        let accepted = h
            .of(from)
            .take_while(|(k, _)| *k < j)
            .filter(|(_, x)| matches!(&x.event, Event::Publish { id: Some(n), .. } if n == id))
            .map(|(k, _)| k)
            .last()
            .unwrap_or(j);
        if was != *epoch && closed_cleanly_after(h, from, accepted) {
            let msg = format!(
                "message {id} from {from} delivered again in epoch {epoch} (first in epoch {was}), though its publisher was closed cleanly with 1012 in between"
            );
            out.push(Violation::new(
                CHECKER.name,
                Some(client),
                r.t,
                msg,
                vec![j, i],
            ));
        }
    }
}

/// Which process of its publisher sent each message, for runs with `restart_client`.
struct Processes<'a> {
    /// Each client's exit records.
    exits: BTreeMap<&'a str, Vec<usize>>,
    /// (epoch, topic, seq) -> the connection it was published on.
    on: BTreeMap<(u64, &'a str, u64), u64>,
    /// (epoch, conn) -> the record that opened it.
    opened: BTreeMap<(u64, u64), usize>,
}

impl<'a> Processes<'a> {
    fn new(h: &'a History) -> Processes<'a> {
        let mut me = Processes {
            exits: BTreeMap::new(),
            on: BTreeMap::new(),
            opened: BTreeMap::new(),
        };
        for (i, r) in h.records.iter().enumerate() {
            if let Event::Action {
                client,
                action: ClientAction::Exit,
            } = &r.event
            {
                me.exits.entry(client).or_default().push(i);
            }
        }
        if me.exits.is_empty() {
            return me; // one process each: nothing to tell apart
        }
        me.opened = super::view::conns(h)
            .into_iter()
            .map(|c| ((c.epoch, c.conn), c.open_index))
            .collect();
        for r in &h.records {
            if let Some((
                epoch,
                server::Event::Published {
                    topic,
                    seq: Some(seq),
                    conn,
                    ..
                },
            )) = r.event.server()
            {
                me.on.insert((epoch, topic, *seq), *conn);
            }
        }
        me
    }

    /// The process (0: the first) of `client` that opened connection `(epoch, conn)`.
    fn of_conn(&self, client: &str, at: (u64, u64)) -> usize {
        match (self.exits.get(client), self.opened.get(&at)) {
            (Some(exits), Some(&opened)) => super::view::life(exits, opened),
            _ => 0,
        }
    }

    /// The process (0: the first) of `client` that record `index` belongs to.
    fn of_record(&self, client: &str, index: usize) -> usize {
        self.exits
            .get(client)
            .map_or(0, |exits| super::view::life(exits, index))
    }

    /// The process (0: the first) of `publisher` that sent the message at `pos`.
    fn of_message(&self, publisher: &str, (epoch, topic, seq): (u64, &str, u64)) -> usize {
        let Some(exits) = self.exits.get(publisher) else {
            return 0;
        };
        self.on
            .get(&(epoch, topic, seq))
            .and_then(|conn| self.opened.get(&(epoch, *conn)))
            .map_or(0, |&opened| super::view::life(exits, opened))
    }
}

/// True when `publisher`'s first loss of connection after record `index` was the server's
/// clean close with 1012 (service restart).
fn closed_cleanly_after(h: &History, publisher: &str, index: usize) -> bool {
    h.statuses(publisher)
        .find(|(i, _, s)| *i > index && matches!(s, Status::Disconnected { .. }))
        .is_some_and(|(_, _, s)| {
            matches!(
                s,
                Status::Disconnected {
                    reason: Reason::ServerClosed { code: 1012, .. },
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

    fn delivered(seq: u64) -> Event {
        Event::Delivered {
            client: "c-0".into(),
            topic: "t".into(),
            epoch: 1,
            seq,
            from: "p".into(),
            id: seq,
            conn: 1,
        }
    }

    fn published(seq: u64) -> server::Event {
        server::Event::Published {
            conn: 9,
            client: "p".into(),
            topic: "t".into(),
            id: seq,
            seq: Some(seq),
        }
    }

    fn base() -> Builder {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .open(5, 1, 1, "c-0")
            .subscribed(6, 1, 1, "c-0", "t")
    }

    #[test]
    fn a_history_gap_excuses_only_what_the_server_no_longer_held() {
        // The server keeps the last 3 of a topic; it sequenced #1..#5. A resume from #1
        // (first missed #2, gone: it holds #3..#5) rightly gets a gap; one from #3 (first
        // missed #4, held) does not.
        let s = simple(1, "[server]\nhistory = 3\n");
        let answered = |from: u64| {
            let mut b = base();
            for seq in 1..=5 {
                b = b.server(100 * seq, 1, published(seq));
            }
            b.server(
                1_000,
                1,
                server::Event::Subscribed {
                    conn: 2,
                    client: "c-0".into(),
                    topic: "t".into(),
                    resume: Some(crate::protocol::Position {
                        epoch: 1,
                        seq: from,
                    }),
                    gap: Some(GapReason::History),
                },
            )
            .build()
        };
        let gaps = |h: &History| {
            check(&s, h)
                .into_iter()
                .filter(|v| v.message.contains("answered with a history gap"))
                .count()
        };
        assert_eq!(gaps(&answered(1)), 0);
        assert_eq!(gaps(&answered(3)), 1);
    }

    fn delivered_in(epoch: u64, seq: u64, id: u64) -> Event {
        Event::Delivered {
            client: "c-0".into(),
            topic: "t".into(),
            epoch,
            seq,
            from: "p".into(),
            id,
            conn: 1,
        }
    }

    fn publisher_lost(reason: Reason) -> Status {
        Status::Disconnected {
            attempt: 1,
            retry_in: std::time::Duration::from_millis(10),
            reason,
        }
    }

    #[test]
    fn a_message_delivered_again_after_a_clean_1012_is_caught_and_after_a_crash_is_not() {
        let twice = |reason: Reason| {
            base()
                .at(101, delivered_in(1, 1, 7))
                .status(150, "p", publisher_lost(reason))
                .at(301, delivered_in(2, 1, 7))
                .build()
        };
        let clean = Reason::ServerClosed {
            code: 1012,
            reason: "server restart".into(),
        };
        let found = again_only(&twice(clean));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("delivered again in epoch 2"));
        assert!(again_only(&twice(Reason::Eof)).is_empty());
    }

    fn again_only(h: &History) -> Vec<Violation> {
        let mut out = Vec::new();
        again(h, "c-0", &Processes::new(h), &mut out);
        out
    }

    #[test]
    fn every_message_once_in_order_passes() {
        let h = base()
            .server(100, 1, published(1))
            .at(101, delivered(1))
            .server(200, 1, published(2))
            .at(201, delivered(2))
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn duplicates_and_losses_are_caught() {
        let dup = base()
            .server(100, 1, published(1))
            .at(101, delivered(1))
            .at(102, delivered(1))
            .build();
        assert!(
            check(&simple(1, ""), &dup)[0]
                .message
                .contains("delivered twice")
        );
        let lost = base().server(100, 1, published(1)).build();
        assert!(
            check(&simple(1, ""), &lost)[0]
                .message
                .contains("never arrived")
        );
    }

    #[test]
    fn a_gap_notice_covers_a_loss() {
        let h = base()
            .server(100, 1, published(1))
            .at(
                300,
                Event::Gap {
                    client: "c-0".into(),
                    topic: "t".into(),
                    reason: GapReason::Epoch,
                    epoch: 2,
                    next_seq: 1,
                },
            )
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    fn gap(epoch: u64, next_seq: u64, reason: GapReason) -> Event {
        Event::Gap {
            client: "c-0".into(),
            topic: "t".into(),
            reason,
            epoch,
            next_seq,
        }
    }

    #[test]
    fn a_jump_in_sequence_numbers_needs_a_gap_notice_that_says_where_delivery_resumes() {
        let jump = |notice: Option<Event>| {
            let mut b = base()
                .server(100, 1, published(1))
                .at(101, delivered(1))
                .server(200, 1, published(2))
                .server(300, 1, published(3));
            if let Some(g) = notice {
                b = b.at(301, g);
            }
            b.at(302, delivered(3)).build()
        };
        let silent = check(&simple(1, ""), &jump(None));
        assert!(
            silent.iter().any(|v| v.message.contains("#1 then #3")),
            "{silent:?}"
        );
        assert!(
            silent.iter().any(|v| v.message.contains("#2 (epoch 1)")),
            "the server's record shows it too: {silent:?}"
        );
        let told = jump(Some(gap(1, 3, GapReason::Missed)));
        assert!(check(&simple(1, ""), &told).is_empty());
        let wrong = check(&simple(1, ""), &jump(Some(gap(1, 2, GapReason::Missed))));
        assert!(
            wrong[0].message.contains("resumed at #3"),
            "a notice that resumes earlier than delivery does: {wrong:?}"
        );
    }

    #[test]
    fn a_new_epoch_without_a_gap_notice_is_caught_even_when_every_later_message_arrives() {
        let h = base()
            .server(100, 1, published(1))
            .at(101, delivered(1))
            .fault(200, Fault::Crash)
            .server(400, 2, published(1))
            .open(500, 2, 1, "c-0")
            .subscribed(501, 2, 1, "c-0", "t")
            .server(600, 2, published(2))
            .at(601, delivered_in(2, 2, 2))
            .build();
        let found = check(&simple(1, ""), &h);
        assert!(
            found
                .iter()
                .any(|v| v.message.contains("with no gap notice")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|v| v.message.contains("#1 (epoch 2)")),
            "{found:?}"
        );
    }

    #[test]
    fn what_was_published_before_the_subscription_took_effect_or_after_it_ended_is_not_owed() {
        let h = base()
            .server(1, 1, published(1))
            .action(200, "c-0", ClientAction::Unsubscribe { topic: "t".into() })
            .server(300, 1, published(2))
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn a_local_lag_covers_what_it_skipped() {
        let h = base()
            .server(100, 1, published(1))
            .at(101, delivered(1))
            .server(200, 1, published(2))
            .server(300, 1, published(3))
            .at(301, gap(0, 0, GapReason::Lagged))
            .at(302, delivered(3))
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }
}
