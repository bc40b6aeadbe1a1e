//! Invariant 6: at most one live connection per client. A new connection while the
//! client's previous one is still open at the server is a second socket, unless the
//! client had reported losing the previous one (the server may just not know yet), or one
//! of the two is the ghost of a dial the client gave up at a timeout: its upgrade request,
//! slowed by latency or held in a black hole, reached the server after the client had
//! dropped the socket.

use super::view::{Ghosts, conns, statuses};
use super::{Checker, Context, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::history::History;

pub(super) const CHECKER: Checker = Checker {
    name: "single_connection",
    severity: super::Severity::Connection,
    promise: "at most one live connection per client at every instant",
    applies: super::every,
    needs: &[Evidence::Connections],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let all = conns(h);
    let ghost = Ghosts::new(s, h);
    let mut out = Vec::new();
    for (k, new) in all.iter().enumerate() {
        // A connection of a process that has exited is not the client's any more.
        let older = all[..k].iter().find(|old| {
            old.client == new.client
                && old.open_at(new.open_t)
                && old.open_t < new.open_t
                && old.exited.is_none_or(|e| e > new.open_index)
        });
        let Some(old) = older else { continue };
        if ghost.is(new) || ghost.is(old) {
            continue;
        }
        let lost_since = statuses(h, &new.client).iter().any(|(_, t, s)| {
            *t >= old.open_t
                && *t <= new.open_t
                && matches!(s, Status::Disconnected { .. } | Status::Failed { .. })
        });
        if !lost_since {
            let msg = format!(
                "second connection (conn {}) while conn {} is live and the client never lost it",
                new.conn, old.conn
            );
            out.push(Violation::new(
                CHECKER.name,
                Some(&new.client),
                new.open_t,
                msg,
                vec![old.open_index, new.open_index],
            ));
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
    use crate::server;
    use std::time::Duration;

    #[test]
    fn reconnect_after_a_loss_passes() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .status(500, "c-0", disconnected(1, 10))
            .open(600, 1, 2, "c-0")
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn two_sockets_at_once_are_caught() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .open(600, 1, 2, "c-0")
            .build();
        let found = check(&simple(1, ""), &h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].events, [0, 1]);
    }

    #[test]
    fn the_ghost_of_a_dial_given_up_is_not_a_second_socket() {
        // Under a 900 ms latency the client gives a dial up at 2 s; its request reaches
        // the server at 2.6 s, after the client's next dial connected at 2.3 s.
        let link = Link::new(SERVER_HOST, "clients", false);
        let base = || {
            Builder::default()
                .fault(
                    1_000,
                    Fault::Latency {
                        link: link.clone(),
                        latency: Duration::from_millis(900),
                    },
                )
                .status(
                    2_000,
                    "c-0",
                    Status::Disconnected {
                        attempt: 2,
                        retry_in: Duration::from_millis(300),
                        reason: crate::client::Reason::HandshakeTimeout,
                    },
                )
                .open(2_300, 1, 2, "c-0")
                .status(2_310, "c-0", Status::Connected)
        };
        assert!(check(&simple(1, ""), &base().open(2_600, 1, 3, "c-0").build()).is_empty());
        // A second socket long after what the latency explains is still one.
        let found = check(&simple(1, ""), &base().open(9_000, 1, 3, "c-0").build());
        assert_eq!(found.len(), 1, "{found:?}");
        // Opened, reset and closed in one moment, with no dial given up: a ghost too.
        let reset = Builder::default()
            .open(10, 1, 1, "c-0")
            .open(600, 1, 2, "c-0")
            .server(
                600,
                1,
                server::Event::Rejected {
                    conn: 2,
                    client: "c-0".into(),
                    reason: "reset".into(),
                },
            )
            .close(600, 1, 2, "c-0")
            .build();
        assert!(check(&simple(1, ""), &reset).is_empty());
    }

    #[test]
    fn a_crash_ends_the_old_epochs_connections() {
        let h = Builder::default()
            .open(10, 1, 1, "c-0")
            .fault(300, Fault::Crash)
            .open(600, 2, 1, "c-0")
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn a_dead_processs_connection_the_server_still_holds_is_not_a_second_socket() {
        use crate::history::ClientAction;
        let restarted = Builder::default()
            .open(10, 1, 1, "c-0")
            .action(600, "c-0", ClientAction::Exit)
            .action(600, "c-0", ClientAction::Start)
            .open(620, 1, 2, "c-0")
            .build();
        assert!(check(&simple(1, ""), &restarted).is_empty());
        // The same overlap without the exit is a second socket.
        let alive = Builder::default()
            .open(10, 1, 1, "c-0")
            .action(600, "c-0", ClientAction::Start)
            .open(620, 1, 2, "c-0")
            .build();
        assert_eq!(check(&simple(1, ""), &alive).len(), 1);
    }
}
