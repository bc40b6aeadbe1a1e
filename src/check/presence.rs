//! Invariant 14: each join and leave reaches every other connected client exactly once.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{Conn, by_client, conns, end, pubsub_clients};
use super::{Checker, Violation};
use crate::client::ServerEvent;
use crate::history::{Event, History};
use crate::scenario::Scenario;

pub(super) const CHECKER: Checker = Checker {
    name: "presence",
    promise: "each join and leave reaches every other connected client once",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let names: BTreeSet<String> = pubsub_clients(s).into_iter().map(|(n, _)| n).collect();
    let all: Vec<Conn> = conns(h);
    let stop = end(s);
    let per_client = by_client(h);
    let published = published_at(h);
    let cleanly: BTreeSet<(u64, u64)> = h
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Server {
                epoch,
                event: crate::server::Event::Disconnected { conn, .. },
            } => Some((*epoch, *conn)),
            _ => None,
        })
        .collect();
    // (witness, subject, joined?) -> (expected at least, possible at most)
    let mut bounds: BTreeMap<(&str, &str, bool), (usize, usize)> = BTreeMap::new();
    for subject in &all {
        let left = subject
            .close_index
            .filter(|_| cleanly.contains(&(subject.epoch, subject.conn)));
        let moments = [(true, Some(subject.open_index)), (false, left)];
        for (joined, moment) in moments {
            let Some(index) = moment else { continue };
            // Each witness client once, however many stale connections the server still
            // holds for it.
            let witnesses: BTreeSet<&str> = all
                .iter()
                .filter(|w| {
                    w.epoch == subject.epoch
                        && w.client != subject.client
                        && names.contains(&w.client)
                        && w.open_before(index)
                })
                .map(|w| w.client.as_str())
                .collect();
            for w in witnesses {
                let entry = bounds
                    .entry((w, subject.client.as_str(), joined))
                    .or_default();
                entry.1 += 1;
                if heard_later(
                    h,
                    per_client.get(w).map_or(&[][..], Vec::as_slice),
                    index,
                    &published,
                ) {
                    entry.0 += 1;
                }
            }
        }
    }
    let mut seen: BTreeMap<(&str, &str, bool), (usize, usize)> = BTreeMap::new();
    for (i, r) in h.records.iter().enumerate() {
        let Event::Presence { client, event } = &r.event else {
            continue;
        };
        let key = match event {
            ServerEvent::Joined { client: who, .. } => (client.as_str(), who.as_str(), true),
            ServerEvent::Left { client: who, .. } => (client.as_str(), who.as_str(), false),
            _ => continue,
        };
        if key.0 != key.1 {
            let e = seen.entry(key).or_default();
            e.0 += 1;
            e.1 = i;
        }
    }
    let mut out = Vec::new();
    let keys: BTreeSet<(&str, &str, bool)> = bounds.keys().chain(seen.keys()).copied().collect();
    for key in keys {
        let (least, most) = bounds.get(&key).copied().unwrap_or((0, 0));
        let (got, last) = seen.get(&key).copied().unwrap_or((0, 0));
        let what = if key.2 { "joins" } else { "leaves" };
        if got < least {
            let msg = format!("saw {got} of {}'s {least} {what}", key.1);
            out.push(Violation::new(CHECKER.name, Some(key.0), stop, msg, vec![]));
        } else if got > most {
            let msg = format!("saw {got} {what} of {}, at most {most} happened", key.1);
            out.push(Violation::new(
                CHECKER.name,
                Some(key.0),
                h.records[last].t,
                msg,
                vec![last],
            ));
        }
    }
    out
}

/// Where each published message was published: (epoch, topic, seq) -> record index.
type PublishedAt<'a> = BTreeMap<(u64, &'a str, u64), usize>;

fn published_at(h: &History) -> PublishedAt<'_> {
    h.records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match &r.event {
            Event::Server {
                epoch,
                event:
                    crate::server::Event::Published {
                        topic,
                        seq: Some(seq),
                        ..
                    },
            } => Some(((*epoch, topic.as_str(), *seq), i)),
            _ => None,
        })
        .collect()
}

/// True when the client whose records are `mine` (indices, in order) received, without
/// losing its connection in between, a message the server published after record
/// `index`: frames of one connection arrive in order, so whatever the server queued for it
/// at `index` must have arrived before that message.
fn heard_later(h: &History, mine: &[usize], index: usize, published: &PublishedAt<'_>) -> bool {
    let from = mine.partition_point(|i| *i <= index);
    for r in mine[from..].iter().map(|i| &h.records[*i]) {
        match &r.event {
            Event::Status { .. } => return false,
            Event::Delivered {
                topic, epoch, seq, ..
            } if published
                .get(&(*epoch, topic.as_str(), *seq))
                .is_some_and(|p| *p > index) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn joined(witness: &str, who: &str) -> Event {
        Event::Presence {
            client: witness.into(),
            event: ServerEvent::Joined {
                client: who.into(),
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
    }
}
