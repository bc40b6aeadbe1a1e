//! Invariant 9: every send a client accepted (online or offline) reaches the server exactly
//! once per server epoch and in order, unless the client was closed or gave up.

use std::collections::BTreeMap;

use super::view::{closed_at, end, ms, pubsub_clients, status_at};
use super::{Checker, Violation};
use crate::client::Status;
use crate::history::{Event, History};
use crate::scenario::Scenario;
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "outbox",
    promise: "every accepted send is delivered exactly once, in order, or refused with an error",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    // Each client's arrivals at the server, gathered in one pass.
    let mut arrivals: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, r) in h.records.iter().enumerate() {
        if let Event::Server {
            event: server::Event::Published { client, .. },
            ..
        } = &r.event
        {
            arrivals.entry(client).or_default().push(k);
        }
    }
    for (client, _) in pubsub_clients(s) {
        let v =
            |t, msg: String, events| Violation::new(CHECKER.name, Some(&client), t, msg, events);
        // Server side, per epoch: ids in increasing order, each once.
        let mut last: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
        let mut arrived: BTreeMap<u64, usize> = BTreeMap::new();
        // (epoch, id) -> (conn, record) of its first arrival
        let mut first: BTreeMap<(u64, u64), (u64, usize)> = BTreeMap::new();
        let mine = arrivals.get(client.as_str()).map_or(&[][..], Vec::as_slice);
        for &k in mine {
            let r = &h.records[k];
            let Event::Server {
                epoch,
                event: server::Event::Published { id, seq, conn, .. },
            } = &r.event
            else {
                continue;
            };
            match (seq, first.get(&(*epoch, *id))) {
                (None, Some((original, j))) if original == conn => {
                    let msg = format!("message {id} sent twice on one connection (conn {conn})");
                    out.push(v(r.t, msg, vec![*j, k]));
                    continue;
                }
                (None, _) => continue,
                (Some(_), _) => {
                    first.insert((*epoch, *id), (*conn, k));
                }
            }
            if let Some((prev, j)) = last.get(epoch) {
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
            last.insert(*epoch, (*id, k));
            arrived.entry(*id).or_insert(k);
        }
        // Client side: accepted sends must arrive, if the client was still trying at the end.
        if closed_at(h, &client).is_some()
            || status_at(h, &client, u64::MAX) != Some(&Status::Connected)
        {
            continue;
        }
        let horizon = end(s).saturating_sub(ms(s.settle));
        for (k, r) in h.of(&client) {
            let Event::Publish { id: Some(id), .. } = &r.event else {
                continue;
            };
            if r.t <= horizon && !arrived.contains_key(id) {
                out.push(v(
                    r.t,
                    format!("message {id} was accepted and never reached the server"),
                    vec![k],
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
