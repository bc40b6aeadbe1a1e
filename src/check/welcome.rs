//! `Connected` means the server took this connection: a pub/sub client says so only after
//! this connection's welcome, which the server sends once it has accepted the connection.
//! Every `connected` a pub/sub client reports follows the server's record of a connection of
//! that client opened since the client's previous dial; one that does not was announced on
//! the strength of a TCP connect, an old connection or nothing (the UI unlocks on a socket
//! that is not there).

use super::view::{conns, pubsub_clients};
use super::{Checker, Context, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::evidence::window::show;
use crate::history::{Event, Fault, History};

pub(super) const CHECKER: Checker = Checker {
    name: "connected_on_welcome",
    severity: super::Severity::Connection,
    promise: "a pub/sub client reports connected only once the server has accepted that connection",
    applies: super::wschaos_pubsub,
    needs: &[Evidence::Statuses, Evidence::Dials, Evidence::Connections],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let all = conns(h);
    // A flapping server welcomes, then closes at once, and records the session as refused
    // (with no client): a `connected` within a flap window is its welcome's.
    let flaps: Vec<(u64, u64)> = (h.fault_windows().into_iter())
        .filter(|w| w.fault == Fault::Flap)
        .map(|w| (w.from, w.to.unwrap_or(u64::MAX).saturating_add(s.slack)))
        .collect();
    let flapping = |t: u64| flaps.iter().any(|(a, b)| *a <= t && t <= *b);
    let mut out = Vec::new();
    for (client, _) in pubsub_clients(s) {
        let opened: Vec<usize> = (all.iter())
            .filter(|c| c.client == client)
            .map(|c| c.open_index)
            .collect();
        let mut dialed = None;
        let mut dialed_at = 0;
        for (i, r) in h.of(&client) {
            match &r.event {
                Event::Dial { .. } => (dialed, dialed_at) = (Some(i), r.t),
                Event::Status {
                    status: Status::Connected,
                    ..
                } => {
                    let since = dialed.unwrap_or(0);
                    // A dial into a flap window is welcomed by the flap, however late the
                    // welcome arrives.
                    let flapped = flapping(r.t) || flapping(dialed_at);
                    if !flapped && !opened.iter().any(|&o| o > since && o < i) {
                        let msg = format!(
                            "reported connected at {} with no connection of it accepted by the server since its last dial: announced before this connection's welcome",
                            show(r.t)
                        );
                        out.push(Violation::new(
                            CHECKER.name,
                            Some(&client),
                            r.t,
                            msg,
                            dialed.into_iter().chain([i]).collect(),
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
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }

    #[test]
    fn connected_after_the_servers_accept_passes_and_before_it_is_caught() {
        let good = Builder::default()
            .status(0, "c-0", connecting(1))
            .dial(0, "c-0")
            .open(20, 1, 1, "c-0")
            .status(30, "c-0", Status::Connected)
            .build();
        assert!(check(&simple(1, ""), &good).is_empty());
        // After a reconnect, announced at the TCP connect, before the server took it.
        let early = Builder::default()
            .status(0, "c-0", connecting(1))
            .dial(0, "c-0")
            .open(20, 1, 1, "c-0")
            .status(30, "c-0", Status::Connected)
            .status(1_000, "c-0", disconnected(1, 100))
            .status(1_100, "c-0", connecting(1))
            .dial(1_100, "c-0")
            .status(1_101, "c-0", Status::Connected)
            .open(1_120, 1, 2, "c-0")
            .build();
        let found = check(&simple(1, ""), &early);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].t, 1_101);
    }
}
