//! Restore order: on every connection, the subscriptions the client wanted when it opened
//! are restored before any publish goes out, so a message published while offline (or
//! before the restore) reaches every subscriber, its own sender included.
//!
//! Judged from the server's record of one connection: the hub handles a connection's
//! frames in the order they arrived.

use super::view::{Intents, conns, pubsub_clients};
use super::{Checker, Violation};
use crate::history::{Event, History};
use crate::scenario::Scenario;
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "restore_order",
    promise: "on every connection the wanted subscriptions are restored before queued publishes are sent",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let pubsub: Vec<String> = pubsub_clients(s).into_iter().map(|(n, _)| n).collect();
    let intents = Intents::new(s, h);
    let mut out = Vec::new();
    for c in conns(h).iter().filter(|c| pubsub.contains(&c.client)) {
        let wanted = intents.before(&c.client, c.open_index);
        let mine = h.records[c.open_index..]
            .iter()
            .enumerate()
            .map(|(k, r)| (k + c.open_index, r))
            .take_while(|(k, _)| c.close_index.is_none_or(|end| *k < end))
            .filter_map(|(k, r)| match &r.event {
                Event::Server { epoch, event } if *epoch == c.epoch => Some((k, r.t, event)),
                _ => None,
            });
        let mut first_publish: Option<(usize, u64, u64, &str)> = None;
        for (k, t, event) in mine {
            match event {
                server::Event::Published {
                    conn, id, topic, ..
                } if *conn == c.conn && first_publish.is_none() => {
                    first_publish = Some((k, t, *id, topic));
                }
                server::Event::Subscribed { conn, topic, .. }
                    if *conn == c.conn && wanted.contains(topic) =>
                {
                    if let Some((p, _, id, published)) = first_publish {
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

#[cfg(test)]
mod tests {
    use super::*;
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
