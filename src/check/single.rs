//! Invariant 6: at most one live connection per client. A new connection while the
//! client's previous one is still open at the server is a second socket, unless the
//! client had reported losing the previous one (the server may just not know yet).

use super::view::{conns, statuses};
use super::{Checker, Context, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::history::History;

pub(super) const CHECKER: Checker = Checker {
    name: "single_connection",
    promise: "at most one live connection per client at every instant",
    applies: super::every,
    needs: &[Evidence::Connections],
    check: |cx, h| check(cx, h).into(),
};

fn check(_s: &Context, h: &History) -> Vec<Violation> {
    let all = conns(h);
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
