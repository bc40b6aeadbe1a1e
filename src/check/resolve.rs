//! Every dial ends in time: within `connect_timeout` for the TCP dial plus
//! `handshake_timeout` for the WebSocket upgrade plus `handshake_timeout` for the server to
//! accept the session (its welcome, in pub/sub mode), and one more `handshake_timeout` for
//! TLS on `wss://`, the client says how it went (connected, lost, failed, closed). A client
//! whose timeouts do not bite hangs on a black-holed dial for as long as the hole lasts,
//! and on a real network for ever. With the backoff bounds (`redial_on_time`) this bounds
//! recovery by the policy's own numbers.

use super::view::{clients, ms, slack};
use super::{Checker, Context, Violation};
use crate::client::{Policy, Status};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "dial_resolves",
    severity: super::Severity::Connection,
    promise: "every dial ends (connected or failed) within connect_timeout plus the handshake timeouts",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::Dials],
    check: |cx, h| check(cx, h).into(),
};

/// The longest a correct client takes to say how a dial went, in ms.
fn budget(p: &Policy, tls: bool) -> u64 {
    ms(p.connect_timeout) + ms(p.handshake_timeout) * (2 + u64::from(tls))
}

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let tls = s.server.tls.is_some();
    let end = super::view::end(s);
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let allowed = budget(&g.policy, tls) + slack(s);
        // The dial waiting for its outcome: (record, time).
        let mut open: Option<(usize, u64)> = None;
        let late = |dial: (usize, u64), now: u64, out: &mut Vec<Violation>| {
            let waited = now - dial.1;
            if waited > allowed {
                out.push(Violation::new(
                    CHECKER.name,
                    Some(&client),
                    dial.1 + allowed,
                    format!(
                        "a dial at {}ms had no outcome after {waited}ms; connect_timeout {}ms and handshake_timeout {}ms allow {}ms",
                        dial.1,
                        ms(g.policy.connect_timeout),
                        ms(g.policy.handshake_timeout),
                        allowed - slack(s)
                    ),
                    vec![dial.0],
                ));
            }
        };
        for (i, r) in h.of(&client) {
            match &r.event {
                Event::Dial { .. } => {
                    // A second dial before the first ended: the first was abandoned.
                    if let Some(d) = open.take() {
                        late(d, r.t, &mut out);
                    }
                    open = Some((i, r.t));
                }
                Event::Status { status, .. } if !matches!(status, Status::Connecting { .. }) => {
                    if let Some(d) = open.take() {
                        late(d, r.t, &mut out);
                    }
                }
                // The process is gone, and its dial with it.
                Event::Action {
                    action: ClientAction::Exit,
                    ..
                } => open = None,
                _ => {}
            }
        }
        if let Some(d) = open {
            late(d, end, &mut out);
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
    fn a_dial_that_ends_within_the_timeouts_passes() {
        // Defaults: 5 s to dial, 5 s for the upgrade, 5 s for the welcome.
        assert!(
            check(
                &simple(1, ""),
                &dial_then(14_900, Status::Connected).build()
            )
            .is_empty()
        );
        assert!(
            check(
                &simple(1, ""),
                &dial_then(5_000, disconnected(2, 500)).build()
            )
            .is_empty()
        );
    }

    #[test]
    fn a_dial_that_hangs_past_its_timeouts_is_caught() {
        let found = check(
            &simple(1, ""),
            &dial_then(21_000, Status::Connected).build(),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("allow 15000ms"), "{found:?}");
        // Still hanging at the end of the run.
        let h = Builder::default()
            .status(1_000, "c-0", connecting(1))
            .dial(1_000, "c-0")
            .build();
        assert_eq!(check(&simple(1, ""), &h).len(), 1);
    }

    #[test]
    fn an_exit_takes_the_dial_with_it() {
        let h = Builder::default()
            .status(1_000, "c-0", connecting(1))
            .dial(1_000, "c-0")
            .action(2_000, "c-0", ClientAction::Exit)
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }
}
