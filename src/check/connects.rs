//! A dial on a clear path connects. While nothing stands between a client and a running
//! server (no partition, hold or latency change on its link, no crash, stop, death, flap,
//! reject or kick at the server) from the moment it dials to the moment it says how the dial
//! went, the answer must be `connected` (or `closed`, when the user closed it, or the
//! process exited). A client that times its dial out on a deadline set before its backoff
//! wait, aborts its own handshake, or misreads a healthy answer fails here, even when it
//! gets lucky later and `settles` sees it connected in the end.
//!
//! Not judged: a refusal the server chose (an HTTP status, a close frame: its config may
//! limit connections or require a token, and `close_codes` judges the answer), and a group
//! whose own timeouts leave no room for the scenario's latency and welcome delay.

use super::view::{clear, clients, ms, slack};
use super::{Checker, Context, Violation};
use crate::client::{Policy, Reason, Status};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "dial_connects",
    severity: super::Severity::Connection,
    promise: "a dial on a clear path to a running server connects",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::Dials],
    check: |cx, h| check(cx, h).into(),
};

/// True when the group's timeouts leave a healthy dial time to finish: a TCP dial takes one
/// round trip, the upgrade another, the welcome half of one plus the server's delay.
fn room(s: &Context, p: &Policy) -> bool {
    let trip = 2 * ms(s.network.latency + s.network.jitter) + ms(s.tick);
    ms(p.connect_timeout) > 2 * trip
        && ms(p.handshake_timeout) > 4 * trip + ms(s.server.welcome_delay)
}

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let windows = h.fault_windows();
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        if !room(s, &g.policy) {
            continue;
        }
        let clear = |from: u64, to: u64| clear(s, &windows, &g.host, (from, to), true);
        // The dial waiting for its answer: (record, time, its number).
        let mut open: Option<(usize, u64, u32)> = None;
        for (i, r) in h.of(&client) {
            let failed = match &r.event {
                Event::Dial { .. } => {
                    let abandoned = open.replace((i, r.t, r.dial.unwrap_or(0)));
                    abandoned.map(|d| (d, "was abandoned for another dial".to_string()))
                }
                Event::Status { status, .. } => match (open.take(), status) {
                    (Some(d), Status::Disconnected { reason, .. } | Status::Failed { reason })
                        if !answered(reason) =>
                    {
                        Some((d, format!("ended {}", reason_text(reason))))
                    }
                    (d, Status::Connecting { .. }) => {
                        open = d;
                        None
                    }
                    _ => None,
                },
                Event::Action {
                    action: ClientAction::Exit,
                    ..
                } => {
                    open = None;
                    None
                }
                _ => None,
            };
            let Some(((d, t, n), how)) = failed else {
                continue;
            };
            if clear(t, r.t) {
                out.push(Violation::new(
                    CHECKER.name,
                    Some(&client),
                    r.t,
                    format!(
                        "dial #{n} at {t}ms {how} after {}ms, though nothing stood between it and a running server (no fault on its link or at the server within {}ms)",
                        r.t - t,
                        slack(s)
                    ),
                    vec![d, i],
                ));
            }
        }
    }
    out
}

/// The server answered the dial itself: its config or a fault chose the refusal.
fn answered(reason: &Reason) -> bool {
    matches!(
        reason,
        Reason::Rejected { .. } | Reason::ServerClosed { .. }
    )
}

fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Dial { error } => format!("in a failed dial ({error})"),
        Reason::ConnectTimeout => "in a connect timeout".into(),
        Reason::HandshakeTimeout => "in a handshake timeout".into(),
        Reason::Handshake { error } => format!("in a failed handshake ({error})"),
        Reason::Eof => "with the stream ending".into(),
        Reason::HeartbeatTimeout => "in a heartbeat timeout".into(),
        Reason::WriteTimeout => "in a write timeout".into(),
        Reason::Error { error } => format!("in an error ({error})"),
        Reason::Rejected { status } => format!("rejected with HTTP {status}"),
        Reason::ServerClosed { code, .. } => format!("closed by the server with {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn timed_out() -> Status {
        Status::Disconnected {
            attempt: 2,
            retry_in: std::time::Duration::from_millis(500),
            reason: Reason::ConnectTimeout,
        }
    }

    #[test]
    fn a_dial_that_connects_or_is_closed_passes() {
        let s = simple(1, "");
        assert!(check(&s, &dial_then(40, Status::Connected).build()).is_empty());
        assert!(check(&s, &dial_then(40, Status::Closed).build()).is_empty());
    }

    #[test]
    fn a_dial_that_fails_on_a_clear_path_is_caught() {
        let found = check(&simple(1, ""), &dial_then(0, timed_out()).build());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("dial #1 at 1000ms ended in a connect timeout after 0ms"),
            "{found:?}"
        );
        assert_eq!(found[0].events.len(), 2);
    }

    #[test]
    fn a_fault_in_the_way_or_a_server_answer_excuses_it() {
        let s = simple(1, "");
        let link = Link::new(SERVER_HOST, "clients", false);
        let partitioned = Builder::default()
            .fault(900, Fault::Partition { link: link.clone() })
            .status(1_000, "c-0", connecting(1))
            .dial(1_000, "c-0")
            .status(6_000, "c-0", timed_out())
            .heal(9_000, Heal::Repair { link });
        assert!(check(&s, &partitioned.build()).is_empty());
        // The same cut between two other hosts is not in the way.
        let elsewhere = Link::new("a", "b", false);
        let beside = Builder::default()
            .fault(
                900,
                Fault::Partition {
                    link: elsewhere.clone(),
                },
            )
            .status(1_000, "c-0", connecting(1))
            .dial(1_000, "c-0")
            .status(6_000, "c-0", timed_out())
            .heal(9_000, Heal::Repair { link: elsewhere });
        assert_eq!(check(&s, &beside.build()).len(), 1);
        let crashed = Builder::default()
            .fault(500, Fault::Crash)
            .status(1_000, "c-0", connecting(1))
            .dial(1_000, "c-0")
            .status(6_000, "c-0", timed_out());
        assert!(check(&s, &crashed.build()).is_empty());
        let rejected = Status::Disconnected {
            attempt: 2,
            retry_in: std::time::Duration::from_millis(500),
            reason: Reason::Rejected { status: 503 },
        };
        assert!(check(&s, &dial_then(30, rejected).build()).is_empty());
    }

    #[test]
    fn a_dial_abandoned_for_another_is_caught() {
        let h = Builder::default()
            .status(1_000, "c-0", connecting(1))
            .dial(1_000, "c-0")
            .dial(1_200, "c-0")
            .build();
        let found = check(&simple(1, ""), &h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("abandoned"), "{found:?}");
    }

    #[test]
    fn a_group_whose_timeouts_leave_no_room_is_not_judged() {
        let s = simple(1, "[network]\nlatency = \"2s\"\n");
        assert!(check(&s, &dial_then(0, timed_out()).build()).is_empty());
    }
}
