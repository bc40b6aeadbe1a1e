//! Invariant 8: every message published to a topic while a subscriber is subscribed arrives
//! exactly once and in order, or the subscriber got an explicit gap notice.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{Conn, Intents, Subscriptions, conns, end, ms, pubsub_clients, status_at};
use super::{Checker, Violation};
use crate::client::{Reason, Status};
use crate::history::{Event, History};
use crate::scenario::Scenario;
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "delivery",
    promise: "every message published while a subscriber wants it arrives exactly once, in order, or with a gap notice",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let (all, subs, intents) = (conns(h), Subscriptions::new(h), Intents::new(s, h));
    let mut by_client: BTreeMap<&str, Vec<&Conn>> = BTreeMap::new();
    for c in &all {
        by_client.entry(&c.client).or_default().push(c);
    }
    let published = published(h);
    for (client, _) in pubsub_clients(s) {
        order(h, &client, &mut out);
        again(h, &client, &mut out);
        let mine = by_client
            .get(client.as_str())
            .map_or(&[][..], Vec::as_slice);
        losses(s, h, &client, (mine, &published, &subs, &intents), &mut out);
    }
    out
}

/// A message the server sequenced: (record index, time, epoch, topic, seq).
type Published<'a> = (usize, u64, u64, &'a str, u64);

/// Every sequenced publish, collected once for all subscribers.
fn published(h: &History) -> Vec<Published<'_>> {
    h.records
        .iter()
        .enumerate()
        .filter_map(|(k, r)| match &r.event {
            Event::Server {
                epoch,
                event:
                    server::Event::Published {
                        topic,
                        seq: Some(seq),
                        ..
                    },
            } => Some((k, r.t, *epoch, topic.as_str(), *seq)),
            _ => None,
        })
        .collect()
}

/// Deliveries of each topic must be strictly increasing in (epoch, seq).
fn order(h: &History, client: &str, out: &mut Vec<Violation>) {
    let mut last: std::collections::BTreeMap<&str, (u64, u64, usize)> = Default::default();
    for (i, r) in h.of(client) {
        let Event::Delivered {
            topic, epoch, seq, ..
        } = &r.event
        else {
            continue;
        };
        if let Some((e, q, j)) = last.get(topic.as_str()) {
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
fn again(h: &History, client: &str, out: &mut Vec<Violation>) {
    let mut first: std::collections::BTreeMap<(&str, u64), (u64, usize)> = Default::default();
    for (i, r) in h.of(client) {
        let Event::Delivered {
            from, id, epoch, ..
        } = &r.event
        else {
            continue;
        };
        let Some(&(was, j)) = first.get(&(from.as_str(), *id)) else {
            first.insert((from, *id), (*epoch, i));
            continue;
        };
        if was != *epoch && closed_cleanly_after(h, from, j) {
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

/// Messages published while one of the client's connections was subscribed must arrive,
/// or be covered by a later gap notice. Only checked for clients connected at the end, and
/// for messages published before the last `settle` of the run.
fn losses(
    s: &Scenario,
    h: &History,
    client: &str,
    facts: (&[&Conn], &[Published<'_>], &Subscriptions, &Intents),
    out: &mut Vec<Violation>,
) {
    let (mine, published, subs, intents) = facts;
    if status_at(h, client, u64::MAX) != Some(&Status::Connected) {
        return;
    }
    let horizon = end(s).saturating_sub(ms(s.settle));
    let got: BTreeSet<(&str, u64, u64)> = h
        .of(client)
        .filter_map(|(_, r)| match &r.event {
            Event::Delivered {
                topic, epoch, seq, ..
            } => Some((topic.as_str(), *epoch, *seq)),
            _ => None,
        })
        .collect();
    for &(k, t, epoch, topic, seq) in published {
        // Only what the client wanted when it was published (an unsubscribe may still be
        // on its way to the server).
        if t > horizon
            || got.contains(&(topic, epoch, seq))
            || !intents.before(client, k).contains(topic)
        {
            continue;
        }
        let subscribed = mine.iter().any(|c| {
            c.epoch == epoch && c.open_at(t) && subs.held_before(c.epoch, c.conn, k).contains(topic)
        });
        // A later gap notice covers it; a later (un)subscribe means the client changed its
        // mind about the topic, and a message in flight then may rightly be dropped.
        let excused = h.of(client).any(|(j, g)| {
            j > k
                && match &g.event {
                    Event::Gap { topic: t, .. } => t == topic,
                    Event::Action { action, .. } => action.topic() == Some(topic),
                    _ => false,
                }
        });
        if subscribed && !excused {
            let msg = format!(
                "{topic} #{seq} (epoch {epoch}) was published while subscribed and never arrived, with no gap notice"
            );
            out.push(Violation::new(CHECKER.name, Some(client), t, msg, vec![k]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn delivered(seq: u64) -> Event {
        Event::Delivered {
            client: "c-0".into(),
            topic: "t".into(),
            epoch: 1,
            seq,
            from: "p".into(),
            id: seq,
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

    fn delivered_in(epoch: u64, seq: u64, id: u64) -> Event {
        Event::Delivered {
            client: "c-0".into(),
            topic: "t".into(),
            epoch,
            seq,
            from: "p".into(),
            id,
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
        again(h, "c-0", &mut out);
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
                    reason: crate::protocol::GapReason::Epoch,
                    next_seq: 1,
                },
            )
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }
}
