//! A clean goodbye: `close()` on a live connection sends a close frame, and the server
//! records a clean close (`client_closed`) on that connection, not a reset.
//!
//! Judged where the frame can arrive: the client said it was connected when it closed, the
//! server held its connection, and nothing stood between them from the connection's
//! opening to a trip after the close (a cut or a black hole may have killed the stream
//! before, and then no frame gets through). Where the run ends before that trip, it is not
//! judged.

use super::view::{Conn, between_processes, clear, clients, conns, latency_over};
use super::{Checker, Context, Findings, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::evidence::window::show;
use crate::history::{ClientAction, Event, History};
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "clean_close",
    severity: super::Severity::Connection,
    promise: "close() on a live connection sends a close frame: the server records a clean close, not a reset",
    applies: super::every,
    needs: &[
        Evidence::Statuses,
        Evidence::Connections,
        Evidence::ServerRecord,
    ],
    check,
};

fn check(s: &Context, h: &History) -> Findings {
    let mut out = Findings::default();
    let all = conns(h);
    let windows = h.fault_windows();
    for (client, g) in clients(s) {
        for (a, r) in h.of(&client) {
            let Event::Action {
                action: ClientAction::Close,
                ..
            } = &r.event
            else {
                continue;
            };
            // Connected by its own word (its last status before the close), and held by the
            // server: there is a socket to say goodbye on.
            let last = (h.of(&client).take_while(|(i, _)| *i < a))
                .filter_map(|(_, x)| match &x.event {
                    Event::Status { status, .. } => Some(status),
                    _ => None,
                })
                .last();
            // A process that exits in the moment it closes takes its socket down with it.
            let exits_then = h.of(&client).any(|(i, x)| {
                i > a
                    && x.t <= r.t.saturating_add(s.slack)
                    && matches!(
                        x.event,
                        Event::Action {
                            action: ClientAction::Exit,
                            ..
                        }
                    )
            });
            if last != Some(&Status::Connected) || between_processes(h, &client, r.t) || exits_then
            {
                continue;
            }
            let Some(c) = all.iter().find(|c| c.client == client && c.open_before(a)) else {
                continue;
            };
            let latency = latency_over(s, &windows, &g.host, (c.open_t, r.t));
            let due = r.t.saturating_add(latency).saturating_add(s.slack);
            if !clear(s, &windows, &g.host, (c.open_t, due), false) {
                continue;
            }
            if closed_cleanly(h, c, a) {
                continue;
            }
            if due > s.end && c.close_t.is_none() {
                let why = format!(
                    "the run ends {} after close() at {}, before its close frame is due at the server",
                    show(s.end.saturating_sub(r.t)),
                    show(r.t)
                );
                out.not_judged(CHECKER.name, &client, Some(r.t), why);
                continue;
            }
            let how = c
                .close_index
                .and_then(|k| match h.records[k].event.server() {
                    Some((_, server::Event::Disconnected { reason, .. })) => {
                        Some(format!("it saw the connection end: {reason}"))
                    }
                    _ => None,
                })
                .unwrap_or_else(|| "it still held the connection".into());
            let msg = format!(
                "close() at {} sent no close frame on connection {}: {how}",
                show(r.t),
                c.conn
            );
            let mut events = vec![a];
            events.extend(c.close_index);
            out.push(Violation::new(
                CHECKER.name,
                Some(&client),
                due,
                msg,
                events,
            ));
        }
    }
    out
}

/// The server recorded a clean close on `c` after record `a`.
fn closed_cleanly(h: &History, c: &Conn, a: usize) -> bool {
    h.records[a..].iter().any(|r| {
        matches!(
            r.event.server(),
            Some((epoch, server::Event::ClientClosed { conn, .. })) if epoch == c.epoch && *conn == c.conn
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<crate::check::Violation> {
        violations(super::check(&Context::simulated(s), h))
    }

    fn closing(clean: bool) -> History {
        let b = Builder::default()
            .status(0, "c-0", connecting(1))
            .open(20, 1, 1, "c-0")
            .status(30, "c-0", Status::Connected)
            .action(5_000, "c-0", ClientAction::Close)
            .status(5_000, "c-0", Status::Closed);
        let b = if clean {
            b.server(
                5_010,
                1,
                server::Event::ClientClosed {
                    conn: 1,
                    client: "c-0".into(),
                    code: Some(1000),
                },
            )
        } else {
            b
        };
        b.close(5_010, 1, 1, "c-0").build()
    }

    #[test]
    fn a_close_frame_passes_and_a_dropped_socket_is_caught() {
        assert!(check(&simple(1, ""), &closing(true)).is_empty());
        let found = check(&simple(1, ""), &closing(false));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("sent no close frame on connection 1"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_close_into_a_cut_link_is_not_judged_by_its_frame() {
        let link = Link::new(SERVER_HOST, "clients", false);
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .open(20, 1, 1, "c-0")
            .status(30, "c-0", Status::Connected)
            .fault(1_000, Fault::Partition { link: link.clone() })
            .heal(2_000, Heal::Repair { link })
            .action(5_000, "c-0", ClientAction::Close)
            .status(5_000, "c-0", Status::Closed)
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }
}
