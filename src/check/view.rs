//! Read-only views of a history that several checkers share: per-client statuses, the
//! server's connections, what a client wanted at a given moment.

use std::collections::{BTreeMap, BTreeSet};

use super::Context;
use crate::client::{Reason, Status};
use crate::history::{ClientAction, Event, Fault, FaultWindow, History};
use crate::scenario::{Group, Mode, Scenario};
use crate::server::{self, ConnId};

/// Every client of the scenario with its group, in scenario order.
pub(crate) fn clients(s: &Scenario) -> Vec<(String, &Group)> {
    s.clients
        .iter()
        .flat_map(|g| g.client_names().map(move |n| (n, g)))
        .collect()
}

/// Pub/sub clients only.
pub(crate) fn pubsub_clients(s: &Scenario) -> Vec<(String, &Group)> {
    clients(s)
        .into_iter()
        .filter(|(_, g)| g.mode == Mode::Pubsub)
        .collect()
}

/// A client's statuses: (record index, time, status).
pub(crate) fn statuses<'a>(h: &'a History, client: &str) -> Vec<(usize, u64, &'a Status)> {
    h.statuses(client).collect()
}

/// The record indices where `client`'s processes exited (`restart_client`), in order: the
/// records up to and including the first belong to its first process, and so on.
pub(crate) fn exits(h: &History, client: &str) -> Vec<usize> {
    h.of(client)
        .filter(|(_, r)| {
            matches!(
                r.event,
                Event::Action {
                    action: ClientAction::Exit,
                    ..
                }
            )
        })
        .map(|(i, _)| i)
        .collect()
}

/// Which process (0: the first) of a client with `exits` record `index` belongs to.
pub(crate) fn life(exits: &[usize], index: usize) -> usize {
    exits.partition_point(|&e| e < index)
}

/// `items` (each with its record index first) split by process: one list per life.
pub(crate) fn by_life<T>(
    items: Vec<T>,
    exits: &[usize],
    index: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..=exits.len()).map(|_| Vec::new()).collect();
    for item in items {
        let k = life(exits, index(&item));
        out[k].push(item);
    }
    out
}

/// The status a client is in at time `t` (its last change at or before `t`); `None` before
/// its first and while it has no process (between a `restart_client`'s exit and the new
/// process's first status).
pub(crate) fn status_at<'a>(h: &'a History, client: &str, t: u64) -> Option<&'a Status> {
    status_since(h, client, t).map(|(_, status)| status)
}

/// [`status_at`], with the time the client reported it.
pub(crate) fn status_since<'a>(h: &'a History, client: &str, t: u64) -> Option<(u64, &'a Status)> {
    let mut now = None;
    for (_, r) in h.of(client).take_while(|(_, r)| r.t <= t) {
        match &r.event {
            Event::Status { status, .. } => now = Some((r.t, status)),
            Event::Action {
                action: ClientAction::Exit | ClientAction::Start,
                ..
            } => now = None,
            _ => {}
        }
    }
    now
}

/// True when at time `t` `client` has no process: a `restart_client` ended one and the
/// next has not started.
pub(crate) fn between_processes(h: &History, client: &str, t: u64) -> bool {
    h.of(client)
        .take_while(|(_, r)| r.t <= t)
        .filter_map(|(_, r)| match &r.event {
            Event::Action {
                action: ClientAction::Exit,
                ..
            } => Some(true),
            Event::Action {
                action: ClientAction::Start,
                ..
            } => Some(false),
            _ => None,
        })
        .last()
        .unwrap_or(false)
}

/// One connection as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub(crate) epoch: u64,
    pub(crate) conn: ConnId,
    pub(crate) client: String,
    pub(crate) open_index: usize,
    pub(crate) open_t: u64,
    /// When it ended: a disconnect, or the crash of its server. `None`: open at the end.
    pub(crate) close_t: Option<u64>,
    /// The record that ended it.
    pub(crate) close_index: Option<usize>,
    /// The record where its client's process exited (`restart_client`) while the server
    /// still held it: from there on the connection is a dead process's, which the server
    /// has not noticed yet, and says nothing about the client.
    pub(crate) exited: Option<usize>,
}

impl Conn {
    pub(crate) fn open_at(&self, t: u64) -> bool {
        self.open_t <= t && self.close_t.is_none_or(|c| c > t)
    }

    /// Open just before record `index` (order within one millisecond counts).
    pub(crate) fn open_before(&self, index: usize) -> bool {
        self.open_index < index && self.close_index.is_none_or(|c| c > index)
    }

    pub(crate) fn lifetime(&self, end: u64) -> u64 {
        self.close_t.unwrap_or(end) - self.open_t
    }
}

/// Every server-side connection, in order of opening.
pub(crate) fn conns(h: &History) -> Vec<Conn> {
    let mut all: Vec<Conn> = Vec::new();
    for (i, r) in h.records.iter().enumerate() {
        match (&r.event, r.event.server()) {
            (_, Some((epoch, server::Event::Connected { conn, client, .. }))) => all.push(Conn {
                epoch,
                conn: *conn,
                client: client.clone(),
                open_index: i,
                open_t: r.t,
                close_t: None,
                close_index: None,
                exited: None,
            }),
            (
                Event::Action {
                    client,
                    action: ClientAction::Exit,
                },
                _,
            ) => {
                for c in all
                    .iter_mut()
                    .filter(|c| c.client == *client && c.close_t.is_none() && c.exited.is_none())
                {
                    c.exited = Some(i);
                }
            }
            (_, Some((epoch, server::Event::Disconnected { conn, .. }))) => {
                if let Some(c) = all
                    .iter_mut()
                    .find(|c| c.epoch == epoch && c.conn == *conn && c.close_t.is_none())
                {
                    c.close_t = Some(r.t);
                    c.close_index = Some(i);
                }
            }
            // A crash ends every connection; so does a new start (a graceful shutdown
            // that had not finished by then was cut short).
            (Event::Fault { fault }, _) if matches!(**fault, Fault::Crash | Fault::Die) => {
                end_all(&mut all, r.t, i);
            }
            (Event::ServerUp { .. }, _) => end_all(&mut all, r.t, i),
            _ => {}
        }
    }
    all
}

fn end_all(all: &mut [Conn], t: u64, index: usize) {
    for c in all.iter_mut().filter(|c| c.close_t.is_none()) {
        c.close_t = Some(t);
        c.close_index = Some(index);
    }
}

/// What each client wants over time: its group's topics, then the timeline's subscribe
/// and unsubscribe actions, indexed once. A process that exits wants nothing; a new one
/// starts with its group's topics.
pub(crate) struct Intents {
    initial: BTreeMap<String, BTreeSet<String>>,
    /// client -> (record index, change)
    changes: BTreeMap<String, Vec<(usize, Change)>>,
}

enum Change {
    Subscribe(String),
    Unsubscribe(String),
    Exit,
    Start,
}

impl Intents {
    pub(crate) fn new(s: &Scenario, h: &History) -> Intents {
        let initial = clients(s)
            .into_iter()
            .map(|(n, g)| (n, g.topics.iter().cloned().collect()))
            .collect();
        let mut changes: BTreeMap<String, Vec<(usize, Change)>> = BTreeMap::new();
        for (i, r) in h.records.iter().enumerate() {
            let Event::Action { client, action } = &r.event else {
                continue;
            };
            let change = match action {
                ClientAction::Subscribe { topic } => Change::Subscribe(topic.clone()),
                ClientAction::Unsubscribe { topic } => Change::Unsubscribe(topic.clone()),
                ClientAction::Exit => Change::Exit,
                ClientAction::Start => Change::Start,
                ClientAction::Close | ClientAction::Reconnect => continue,
            };
            changes
                .entry(client.to_string())
                .or_default()
                .push((i, change));
        }
        Intents { initial, changes }
    }

    /// The topics `client` wants just before record `index`.
    pub(crate) fn before(&self, client: &str, index: usize) -> BTreeSet<String> {
        let initial = self.initial.get(client).cloned().unwrap_or_default();
        let mut topics = initial.clone();
        for (_, change) in self
            .changes
            .get(client)
            .into_iter()
            .flatten()
            .take_while(|(i, _)| *i < index)
        {
            match change {
                Change::Subscribe(topic) => {
                    topics.insert(topic.clone());
                }
                Change::Unsubscribe(topic) => {
                    topics.remove(topic);
                }
                Change::Exit => topics.clear(),
                Change::Start => topics = initial.clone(),
            }
        }
        topics
    }
}

/// A connection's subscription events: (record index, topic, subscribed?).
type SubscriptionEvents = Vec<(usize, String, bool)>;

/// Each server connection's subscribe (`true`) and unsubscribe (`false`) events, indexed once.
pub(crate) struct Subscriptions {
    by_conn: BTreeMap<(u64, ConnId), SubscriptionEvents>,
}

impl Subscriptions {
    pub(crate) fn new(h: &History) -> Subscriptions {
        let mut by_conn: BTreeMap<(u64, ConnId), SubscriptionEvents> = BTreeMap::new();
        for (i, r) in h.records.iter().enumerate() {
            let Event::Server { epoch, event } = &r.event else {
                continue;
            };
            let (conn, topic, on) = match &**event {
                server::Event::Subscribed { conn, topic, .. } => (conn, topic, true),
                server::Event::Unsubscribed { conn, topic, .. } => (conn, topic, false),
                _ => continue,
            };
            by_conn
                .entry((*epoch, *conn))
                .or_default()
                .push((i, topic.clone(), on));
        }
        Subscriptions { by_conn }
    }

    /// A connection's events, in order.
    pub(crate) fn of(&self, epoch: u64, conn: ConnId) -> &[(usize, String, bool)] {
        self.by_conn.get(&(epoch, conn)).map_or(&[], Vec::as_slice)
    }

    /// The topics a connection holds just before record `index`.
    pub(crate) fn held_before(&self, epoch: u64, conn: ConnId, index: usize) -> BTreeSet<String> {
        let mut held = BTreeSet::new();
        for (_, topic, on) in self
            .of(epoch, conn)
            .iter()
            .take_while(|(i, _, _)| *i < index)
        {
            if *on {
                held.insert(topic.clone());
            } else {
                held.remove(topic);
            }
        }
        held
    }
}

/// Time of the first `close` action of `client`'s last process, if any (an earlier process
/// that was closed and then restarted is not closed any more).
pub(crate) fn closed_at(h: &History, client: &str) -> Option<u64> {
    let last = exits(h, client).last().copied();
    h.of(client)
        .filter(|(i, _)| last.is_none_or(|e| *i > e))
        .find_map(|(_, r)| {
            matches!(
                &r.event,
                Event::Action {
                    action: ClientAction::Close,
                    ..
                }
            )
            .then_some(r.t)
        })
}

/// True when nothing stood between `host` and a running server over `(from, to)` (with
/// the run's slack either side): no partition, hold or latency change on its link, no
/// crash, stop or death of the server, no flap; with `answers`, no server told to answer
/// with a status or a close code either (a reject window, a kick).
pub(crate) fn clear(
    s: &Context,
    windows: &[FaultWindow],
    host: &str,
    (from, to): (u64, u64),
    answers: bool,
) -> bool {
    let slack = slack(s);
    !windows.iter().any(|w| {
        let touches = match &w.fault {
            Fault::Partition { link } | Fault::Hold { link } | Fault::Latency { link, .. } => {
                link.joins_server_and(host)
            }
            Fault::Crash | Fault::Shutdown { .. } | Fault::Die | Fault::Flap => true,
            Fault::Reject { .. } | Fault::Kick { .. } => answers,
        };
        touches && w.from <= to + slack && w.to.is_none_or(|end| end + slack >= from)
    })
}

/// Slack for timing comparisons: two ticks and two one-way latencies, plus a millisecond.
pub(crate) fn slack(cx: &Context) -> u64 {
    cx.slack
}

/// The end of the run, in milliseconds.
pub(crate) fn end(cx: &Context) -> u64 {
    cx.end
}

pub(crate) fn ms(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

/// Connections the server opened for a dial its client had already given up: their
/// upgrade request, slowed by latency or held in a black hole, reached the server after the
/// client dropped the socket (or it was reset the moment it opened). They are not the
/// client's: neither a second socket nor a newer connection.
pub(crate) struct Ghosts<'a> {
    cx: &'a Context<'a>,
    h: &'a History,
    windows: Vec<FaultWindow>,
    groups: BTreeMap<String, &'a Group>,
    /// When the server refused what came on a connection: (epoch, conn) -> ms.
    rejected: BTreeMap<(u64, ConnId), u64>,
    /// Connections a client received a message on: (client, epoch, conn). Not ghosts.
    used: BTreeSet<(String, u64, ConnId)>,
}

impl<'a> Ghosts<'a> {
    pub(crate) fn new(cx: &'a Context<'a>, h: &'a History) -> Ghosts<'a> {
        Ghosts {
            cx,
            h,
            windows: h.fault_windows(),
            groups: clients(cx.scenario).into_iter().collect(),
            rejected: (h.records.iter())
                .filter_map(|r| match r.event.server() {
                    Some((epoch, server::Event::Rejected { conn, .. })) => {
                        Some(((epoch, *conn), r.t))
                    }
                    _ => None,
                })
                .collect(),
            used: (h.records.iter())
                .filter_map(|r| match &r.event {
                    Event::Delivered {
                        client,
                        epoch,
                        conn,
                        ..
                    } => Some((client.to_string(), *epoch, *conn)),
                    _ => None,
                })
                .collect(),
        }
    }

    /// True when `c` may be such a ghost.
    pub(crate) fn is(&self, c: &Conn) -> bool {
        if self.used.contains(&(c.client.clone(), c.epoch, c.conn)) {
            return false;
        }
        // Opened, then reset (the client's end was already gone) within a moment: refused
        // as it opened, or ended within a round trip without the client's goodbye.
        let soon = |t: u64| t <= c.open_t + self.cx.slack;
        let refused = self
            .rejected
            .get(&(c.epoch, c.conn))
            .copied()
            .is_some_and(soon);
        let reset = c.close_index.is_some_and(|k| {
            !matches!(
                self.h.records[k].event.server(),
                Some((_, server::Event::ClientClosed { .. }))
            )
        });
        let instant = c.close_t.is_some_and(soon) && (refused || reset);
        // The client said it was connected right after this one opened: it was its own.
        let claimed = (self.h.statuses(&c.client))
            .any(|(_, t, st)| *st == Status::Connected && t >= c.open_t && soon(t));
        instant
            || !claimed
                && (self.groups.get(&c.client)).is_some_and(|g| {
                    ghost_window(self.cx, self.h, &self.windows, (&c.client, g), c.open_t)
                })
    }
}

/// True when a connection of `client` that the server opened at `t` may be the ghost of a
/// dial the client gave up at a timeout before `t`: the request of a dial abandoned at `a`
/// reaches the server no later than one trip at the slowest latency of its link around
/// then (and after the release of a black hole that held it), plus the slack.
fn ghost_window(
    s: &Context,
    h: &History,
    windows: &[FaultWindow],
    (client, g): (&str, &Group),
    t: u64,
) -> bool {
    let host = g.host.as_str();
    let dial_life = g.policy.connect_timeout + g.policy.handshake_timeout;
    let on_link = |w: &&FaultWindow| match &w.fault {
        Fault::Latency { link, .. } | Fault::Hold { link } => link.joins_server_and(host),
        _ => false,
    };
    h.statuses(client)
        .filter(|(_, a, st)| {
            *a <= t
                && matches!(
                    st,
                    Status::Disconnected {
                        reason: Reason::HandshakeTimeout | Reason::ConnectTimeout,
                        ..
                    } | Status::Failed {
                        reason: Reason::HandshakeTimeout | Reason::ConnectTimeout
                    }
                )
        })
        .any(|(_, a, _)| {
            // The dial lived at most its timeouts before it was given up at `a`; what it
            // sent meanwhile arrives a trip later at the latency of the moment it was sent.
            let born = a.saturating_sub(ms(dial_life));
            let mut until = a.saturating_add(ms(s.network.latency + s.network.jitter));
            for w in windows.iter().filter(on_link) {
                let healed = w.to.unwrap_or(u64::MAX);
                if w.from > a || healed < born {
                    continue;
                }
                until = until.max(match &w.fault {
                    Fault::Latency { latency, .. } => a.saturating_add(ms(*latency)),
                    _ => healed.saturating_add(ms(s.network.latency + s.network.jitter)),
                });
            }
            t <= until.saturating_add(s.slack)
        })
}

/// The slowest one-way latency of `host`'s link to the server over `(from, to)` (ms): the
/// network's, or a latency change on that link in force then.
pub(crate) fn latency_over(
    cx: &Context,
    windows: &[FaultWindow],
    host: &str,
    (from, to): (u64, u64),
) -> u64 {
    let base = ms(cx.network.latency + cx.network.jitter);
    (windows.iter())
        .filter(|w| w.from <= to && w.to.is_none_or(|e| e >= from))
        .filter_map(|w| match &w.fault {
            Fault::Latency { link, latency } if link.joins_server_and(host) => Some(ms(*latency)),
            _ => None,
        })
        .fold(base, u64::max)
}
