//! Invariant 11: no frame of an old connection surfaces after a newer one is up.
//!
//! Each delivery names the connection it arrived on (the server's number for it, from its
//! welcome); the server's record says when each of the client's connections opened. A
//! delivery on connection c recorded after the server opened a later connection of the
//! same client is a stale frame: the client let an old socket's data through once the new
//! one was in place (a socket still read after it was declared dead, a buffer not
//! dropped on reconnect).

use super::view::{Conn, Ghosts, conns, pubsub_clients};
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::history::{Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "stale_frames",
    severity: super::Severity::Loss,
    promise: "no frame of an old connection surfaces after a newer one is up",
    applies: super::wschaos_pubsub,
    needs: &[Evidence::Received, Evidence::ServerRecord],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let all = conns(h);
    let ghosts = Ghosts::new(s, h);
    let mut out = Vec::new();
    for (client, _) in pubsub_clients(s) {
        let mine: Vec<&Conn> = (all.iter())
            .filter(|c| c.client == client && !ghosts.is(c))
            .collect();
        for (i, r) in h.of(&client) {
            let Event::Delivered {
                topic,
                epoch,
                seq,
                conn,
                ..
            } = &r.event
            else {
                continue;
            };
            if *conn == 0 {
                continue; // the client does not say which connection
            }
            let Some(old) = mine.iter().find(|c| c.epoch == *epoch && c.conn == *conn) else {
                continue;
            };
            let newer = mine
                .iter()
                .find(|c| c.open_index > old.open_index && c.open_index < i);
            if let Some(newer) = newer {
                let msg = format!(
                    "{topic} #{seq} arrived on connection {conn} (epoch {epoch}) after connection {} (epoch {}) was up",
                    newer.conn, newer.epoch
                );
                out.push(Violation::new(
                    CHECKER.name,
                    Some(&client),
                    r.t,
                    msg,
                    vec![newer.open_index, i],
                ));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }

    use crate::check::testkit::*;

    fn delivered(conn: u64) -> Event {
        Event::Delivered {
            client: "c-0".into(),
            topic: "t".into(),
            epoch: 1,
            seq: 1,
            from: "p".into(),
            id: 1,
            conn,
        }
    }

    #[test]
    fn a_frame_of_the_old_connection_after_the_new_one_opened_is_caught() {
        let base = || {
            Builder::default()
                .open(10, 1, 1, "c-0")
                .at(20, delivered(1))
                .close(30, 1, 1, "c-0")
                .open(40, 1, 2, "c-0")
        };
        assert!(check(&simple(1, ""), &base().at(50, delivered(2)).build()).is_empty());
        let found = check(&simple(1, ""), &base().at(50, delivered(1)).build());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("arrived on connection 1 (epoch 1) after connection 2"),
            "{found:?}"
        );
    }
}
