//! Invariant 14: each join and leave reaches every other connected client exactly once.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{Conn, conns, end, pubsub_clients};
use super::{Checker, Context, Violation};
use crate::client::ServerEvent;
use crate::evidence::Evidence;
use crate::history::{Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "presence",
    severity: super::Severity::Loss,
    promise: "each join and leave reaches every other connected client once",
    applies: super::wschaos_pubsub,
    needs: &[
        Evidence::Received,
        Evidence::Statuses,
        Evidence::ServerRecord,
    ],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let all: Vec<Conn> = conns(h);
    let ids = Ids::new(s, h, &all);
    let expected = expected(h, &all, &ids);
    let observed = observed(h, &ids);
    let stop = end(s);
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    // Merge the two sorted lists by key.
    while let Some(k) = expected
        .get(i)
        .map(|x| x.0)
        .into_iter()
        .chain(observed.get(j).map(|x| x.0))
        .min()
    {
        let (least, most) = match expected.get(i) {
            Some(&(ke, bounds)) if ke == k => {
                i += 1;
                bounds
            }
            _ => (0, 0),
        };
        let (got, last) = match observed.get(j) {
            Some(&(ko, seen)) if ko == k => {
                j += 1;
                seen
            }
            _ => (0, 0),
        };
        let (w, who, joined) = unkey(k);
        let (witness, subject) = (ids.names[w], ids.names[who]);
        let what = if joined { "joins" } else { "leaves" };
        if got < least {
            let msg = format!("saw {got} of {subject}'s {least} {what}");
            out.push(Violation::new(
                CHECKER.name,
                Some(witness),
                stop,
                msg,
                vec![],
            ));
        } else if got > most {
            let msg = format!("saw {got} {what} of {subject}, at most {most} happened");
            out.push(Violation::new(
                CHECKER.name,
                Some(witness),
                h.records[last].t,
                msg,
                vec![last],
            ));
        }
    }
    out
}

/// What each witness should have seen of each subject: key -> (at least, at most), sorted.
/// A join or clean leave reaches every other client connected to that server at the time
/// (at most once each, however many stale connections the server still holds for it), and
/// surely reached those who later heard a message published after it.
fn expected(h: &History, all: &[Conn], ids: &Ids<'_>) -> Vec<(u64, (usize, usize))> {
    let witnesses: Vec<bool> = ids.names.iter().map(|n| ids.pubsub.contains(*n)).collect();
    let hearing = Hearing::new(h, ids);
    let cleanly: BTreeSet<(u64, u64)> = h
        .records
        .iter()
        .filter_map(|r| match r.event.server() {
            Some((epoch, crate::server::Event::Disconnected { conn, .. })) => Some((epoch, *conn)),
            _ => None,
        })
        .collect();
    let mut by_epoch: BTreeMap<u64, Vec<(usize, &Conn)>> = BTreeMap::new();
    // (subject, joined?) -> the moments: (epoch, record index)
    let mut moments: BTreeMap<(usize, bool), Vec<(u64, usize)>> = BTreeMap::new();
    for c in all {
        let who = ids.of(&c.client);
        by_epoch.entry(c.epoch).or_default().push((who, c));
        moments
            .entry((who, true))
            .or_default()
            .push((c.epoch, c.open_index));
        if let Some(left) = c
            .close_index
            .filter(|_| cleanly.contains(&(c.epoch, c.conn)))
        {
            moments
                .entry((who, false))
                .or_default()
                .push((c.epoch, left));
        }
    }
    let n = ids.names.len();
    let (mut bounds, mut counted, mut touched) = (vec![(0, 0); n], vec![usize::MAX; n], Vec::new());
    let mut out = Vec::new();
    let mut stamp = 0;
    for ((who, joined), list) in &moments {
        for &(epoch, index) in list {
            stamp += 1;
            for &(w, conn) in by_epoch.get(&epoch).into_iter().flatten() {
                if w == *who || !witnesses[w] || counted[w] == stamp || !conn.open_before(index) {
                    continue;
                }
                counted[w] = stamp;
                if bounds[w] == (0, 0) {
                    touched.push(w);
                }
                bounds[w].1 += 1;
                if hearing.heard_later(w, index) {
                    bounds[w].0 += 1;
                }
            }
        }
        for w in touched.drain(..) {
            out.push((key(w, *who, *joined), std::mem::take(&mut bounds[w])));
        }
    }
    out.sort_unstable_by_key(|(k, _)| *k);
    out
}

/// What each witness saw: key -> (how many, the last one's record), sorted.
fn observed(h: &History, ids: &Ids<'_>) -> Vec<(u64, (usize, usize))> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<(usize, bool), (usize, usize)> = BTreeMap::new();
    for (w, witness) in ids.names.iter().enumerate() {
        for (i, r) in h.of(witness) {
            let Event::Presence {
                event: ServerEvent::Presence { changes, .. },
                ..
            } = &r.event
            else {
                continue;
            };
            for change in changes {
                let who = ids.of(change.client());
                if w != who {
                    let e = seen.entry((who, change.joined())).or_default();
                    e.0 += 1;
                    e.1 = i;
                }
            }
        }
        out.extend(
            std::mem::take(&mut seen)
                .into_iter()
                .map(|((who, joined), v)| (key(w, who, joined), v)),
        );
    }
    out
}

/// (witness, subject, joined?) packed so that keys sort as the names do.
fn key(witness: usize, subject: usize, joined: bool) -> u64 {
    ((witness as u64) << 32) | ((subject as u64) << 1) | u64::from(joined)
}

fn unkey(k: u64) -> (usize, usize, bool) {
    (
        (k >> 32) as usize,
        ((k & 0xffff_ffff) >> 1) as usize,
        k & 1 == 1,
    )
}

/// Every client name that appears, numbered in name order (so numbers sort as names do).
struct Ids<'a> {
    names: Vec<&'a str>,
    index: BTreeMap<&'a str, usize>,
    pubsub: BTreeSet<String>,
}

impl<'a> Ids<'a> {
    fn new(s: &Context, h: &'a History, all: &'a [Conn]) -> Ids<'a> {
        let mut names: BTreeSet<&'a str> = all.iter().map(|c| c.client.as_str()).collect();
        for r in &h.records {
            if let Event::Presence { client, event } = &r.event {
                names.insert(client);
                if let ServerEvent::Presence { changes, .. } = event {
                    names.extend(changes.iter().map(crate::protocol::Change::client));
                }
            }
        }
        let pubsub: BTreeSet<String> = pubsub_clients(s).into_iter().map(|(n, _)| n).collect();
        let names: Vec<&'a str> = names.into_iter().collect();
        let index = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        Ids {
            names,
            index,
            pubsub,
        }
    }

    fn of(&self, name: &str) -> usize {
        self.index[name]
    }
}

/// For each client, whether it heard, without losing its connection, a message the server
/// published after a given record: frames of one connection arrive in order, so whatever
/// the server queued for it at that record must have arrived before that message.
struct Hearing {
    /// Per client: its record indices, in order.
    mine: Vec<Vec<usize>>,
    /// Per client and position in `mine`: the latest publish (record index) among the
    /// messages it received from that position up to its next status change; 0 for none.
    latest: Vec<Vec<usize>>,
}

impl Hearing {
    fn new(h: &History, ids: &Ids<'_>) -> Hearing {
        let published = published_at(h);
        let (mut mine, mut latest) = (Vec::new(), Vec::new());
        for name in &ids.names {
            let indices: Vec<usize> = h.of(name).map(|(i, _)| i).collect();
            let mut best = vec![0; indices.len()];
            let mut running = 0;
            for (p, i) in indices.iter().enumerate().rev() {
                match &h.records[*i].event {
                    Event::Status { .. } => running = 0,
                    Event::Delivered {
                        topic, epoch, seq, ..
                    } => {
                        if let Some(at) = published.get(&(*epoch, *seq, &**topic)) {
                            running = running.max(*at);
                        }
                    }
                    _ => {}
                }
                best[p] = running;
            }
            mine.push(indices);
            latest.push(best);
        }
        Hearing { mine, latest }
    }

    fn heard_later(&self, client: usize, index: usize) -> bool {
        let from = self.mine[client].partition_point(|i| *i <= index);
        self.latest[client].get(from).is_some_and(|at| *at > index)
    }
}

/// Where each published message was published: (epoch, topic, seq) -> record index.
/// Keyed by (epoch, seq, topic): the topic, the only string, is compared last, so a lookup
/// compares strings only among the few messages of the same epoch and sequence.
type PublishedAt<'a> = BTreeMap<(u64, u64, &'a str), usize>;

fn published_at(h: &History) -> PublishedAt<'_> {
    h.records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.event.server() {
            Some((
                epoch,
                crate::server::Event::Published {
                    topic,
                    seq: Some(seq),
                    ..
                },
            )) => Some(((epoch, *seq, topic.as_str()), i)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn joined(witness: &str, who: &str) -> Event {
        Event::Presence {
            client: witness.into(),
            event: ServerEvent::Presence {
                changes: vec![crate::protocol::Change::Joined(who.into())].into(),
                online: 2,
            },
        }
    }

    #[test]
    fn each_join_seen_once_passes() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .open(20, 1, 2, "c-1")
            .at(21, joined("c-0", "c-1"))
            .build();
        assert!(check(&simple(2, ""), &h).is_empty());
    }

    #[test]
    fn missed_and_doubled_joins_are_caught() {
        let later = Event::Delivered {
            client: "c-0".into(),
            topic: "t".into(),
            epoch: 1,
            seq: 1,
            from: "p".into(),
            id: 1,
            conn: 1,
        };
        let published = crate::server::Event::Published {
            conn: 2,
            client: "c-1".into(),
            topic: "t".into(),
            id: 1,
            seq: Some(1),
        };
        let missed = Builder::default()
            .open(10, 1, 1, "c-0")
            .open(20, 1, 2, "c-1")
            .server(30, 1, published)
            .at(900, later)
            .build();
        assert!(
            check(&simple(2, ""), &missed)[0]
                .message
                .starts_with("saw 0 of c-1's 1 joins")
        );
        let doubled = Builder::default()
            .open(10, 1, 1, "c-0")
            .open(20, 1, 2, "c-1")
            .at(21, joined("c-0", "c-1"))
            .at(22, joined("c-0", "c-1"))
            .build();
        assert!(
            check(&simple(2, ""), &doubled)[0]
                .message
                .contains("at most 1")
        );
        // One frame that names the same join twice is a duplicate too.
        let twice = Event::Presence {
            client: "c-0".into(),
            event: ServerEvent::Presence {
                changes: vec![
                    crate::protocol::Change::Joined("c-1".into()),
                    crate::protocol::Change::Joined("c-1".into()),
                ]
                .into(),
                online: 2,
            },
        };
        let doubled_in_one_frame = Builder::default()
            .open(10, 1, 1, "c-0")
            .open(20, 1, 2, "c-1")
            .at(21, twice)
            .build();
        assert!(
            check(&simple(2, ""), &doubled_in_one_frame)[0]
                .message
                .contains("saw 2 joins of c-1, at most 1")
        );
    }
}
