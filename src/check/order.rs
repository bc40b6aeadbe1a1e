//! Restore order: on every connection, the subscriptions the client wanted when it opened
//! are restored before any publish goes out, so a message published while offline (or
//! before the restore) reaches every subscriber, its own sender included.
//!
//! Judged from the server's record of one connection: the hub handles a connection's
//! frames in the order they arrived.

use std::collections::{BTreeMap, BTreeSet};

use super::view::{Intents, conns, pubsub_clients};
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, History};
use crate::server::{self, ConnId};

pub(super) const CHECKER: Checker = Checker {
    name: "restore_order",
    severity: super::Severity::Subscriptions,
    promise: "on every connection the wanted subscriptions are restored before queued publishes are sent",
    applies: super::wschaos_pubsub,
    needs: &[Evidence::ServerRecord, Evidence::Intents],
    check: |cx, h| check(cx, h).into(),
};

/// A connection's subscriptions and publishes as the server saw them: (record, time, event).
type Seen<'a> = Vec<(usize, u64, &'a server::Event)>;

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let pubsub: BTreeSet<String> = pubsub_clients(s).into_iter().map(|(n, _)| n).collect();
    let intents = Intents::new(s, h);
    // One pass over the history, each connection's events under its (epoch, number): a
    // connection's own events are all it needs, not every record of its lifetime.
    let mut by_conn: BTreeMap<(u64, ConnId), Seen<'_>> = BTreeMap::new();
    for (k, r) in h.records.iter().enumerate() {
        if let Event::Server { epoch, event } = &r.event {
            if let server::Event::Published { conn, .. } | server::Event::Subscribed { conn, .. } =
                &**event
            {
                by_conn
                    .entry((*epoch, *conn))
                    .or_default()
                    .push((k, r.t, event));
            }
        }
    }
    let mut out = Vec::new();
    for c in conns(h).iter().filter(|c| pubsub.contains(&c.client)) {
        let Some(mine) = by_conn.get(&(c.epoch, c.conn)) else {
            continue;
        };
        let wanted = intents.before(&c.client, c.open_index);
        let mut first_publish: Option<(usize, u64, &str)> = None;
        for &(k, t, event) in mine {
            match event {
                server::Event::Published { id, topic, .. } if first_publish.is_none() => {
                    first_publish = Some((k, *id, topic));
                }
                // A restore: a topic wanted when the connection opened, not asked for (or
                // dropped) again by the user since; a later subscribe is the user's own.
                server::Event::Subscribed { topic, .. }
                    if wanted.contains(topic)
                        && !touched(h, &c.client, topic, (c.open_index, k)) =>
                {
                    if let Some((p, id, published)) = first_publish {
                        let msg = format!(
                            "publish {id} (to {published}) went out on connection {} before the subscription to {topic} was restored",
                            c.conn
                        );
                        out.push(Violation::new(
                            CHECKER.name,
                            Some(&c.client),
                            t,
                            msg,
                            vec![p, k],
                        ));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// True when `client` was told to subscribe to or unsubscribe from `topic` between the
/// records `from` and `to`.
fn touched(h: &History, client: &str, topic: &str, (from, to): (usize, usize)) -> bool {
    h.of(client).any(|(i, r)| {
        i > from
            && i < to
            && matches!(
                &r.event,
                Event::Action {
                    action: ClientAction::Subscribe { topic: t } | ClientAction::Unsubscribe { topic: t },
                    ..
                } if t == topic
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

    fn published(id: u64) -> server::Event {
        server::Event::Published {
            conn: 1,
            client: "c-0".into(),
            topic: "t".into(),
            id,
            seq: Some(id),
        }
    }

    #[test]
    fn subscriptions_first_passes_and_publishes_first_is_caught() {
        let good = Builder::default()
            .open(10, 1, 1, "c-0")
            .subscribed(11, 1, 1, "c-0", "t")
            .server(12, 1, published(1))
            .build();
        assert!(check(&simple(1, ""), &good).is_empty());
        let bad = Builder::default()
            .open(10, 1, 1, "c-0")
            .server(11, 1, published(1))
            .subscribed(12, 1, 1, "c-0", "t")
            .build();
        let found = check(&simple(1, ""), &bad);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("before the subscription to t"));
    }

    #[test]
    fn a_topic_subscribed_after_the_connection_opened_may_come_after_a_publish() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .subscribed(11, 1, 1, "c-0", "t")
            .server(12, 1, published(1))
            .action(13, "c-0", ClientAction::Subscribe { topic: "u".into() })
            .subscribed(14, 1, 1, "c-0", "u")
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }
}
