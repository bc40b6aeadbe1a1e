//! Close codes and handshake statuses: one the policy calls terminal ends in `Failed` and
//! silence until `reconnect()`; any other is not given up on (that it comes back in time
//! is for `settles` and `expect_reconnect` to judge).
//!
//! Judged from the faults (the code the server closed with, the status it answered), the
//! server's connections and the recorded dials; the classification is the checker's own
//! reading of the policy's numbers (`terminal_close_codes`, `terminal_http_statuses`).

use super::view::{clear, clients, conns, ms, slack, statuses};
use super::{Checker, Context, Violation};
use crate::client::{Policy, Reason, Status};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, Fault, History};

pub(super) const CHECKER: Checker = Checker {
    name: "close_codes",
    severity: super::Severity::Connection,
    promise: "a close code or handshake status the policy calls terminal ends in Failed and silence until reconnect(); any other is retried",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::Dials, Evidence::Connections],
    check: |cx, h| check(cx, h).into(),
};

fn terminal_code(p: &Policy, code: u16) -> bool {
    p.terminal_close_codes
        .iter()
        .any(|r| r[0] <= code && code <= r[1])
}

fn terminal_status(p: &Policy, status: u16) -> bool {
    p.terminal_http_statuses.contains(&status)
}

/// True when the reason a client gave is a code or status its policy calls terminal.
pub(super) fn terminal(p: &Policy, reason: &Reason) -> bool {
    match reason {
        Reason::ServerClosed { code, .. } => terminal_code(p, *code),
        Reason::Rejected { status } => terminal_status(p, *status),
        _ => false,
    }
}

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let all = conns(h);
    let windows = h.fault_windows();
    for (k, r) in h.records.iter().enumerate() {
        let Some(fault) = r.event.fault() else {
            continue;
        };
        match fault {
            Fault::Kick { code } => {
                for (client, g) in clients(s) {
                    let Some(c) = all.iter().find(|c| c.client == client && c.open_before(k))
                    else {
                        continue;
                    };
                    // A close frame sent into a partition or a hold never arrives: the
                    // client can only notice by its heartbeat, and retrying is right. Nor
                    // does one on a connection whose handshake answer was lost: for the
                    // client it never opened. So the link must be clear from the opening.
                    if !clear(s, &windows, &g.host, (c.open_t, r.t + slack(s)), false) {
                        continue;
                    }
                    let judge = Judge {
                        h,
                        client: &client,
                        policy: &g.policy,
                        what: format!("close code {code}"),
                    };
                    judge.answer(terminal_code(&g.policy, *code), (k, r.t), &mut out);
                }
            }
            Fault::Reject { status } => {
                let to = windows
                    .iter()
                    .find(|w| w.from == r.t && w.fault == *fault)
                    .and_then(|w| w.to)
                    .unwrap_or(u64::MAX);
                for (client, g) in clients(s) {
                    // The first dial well inside the window that reached the handshake
                    // (a clear link to a running server) was answered with the status.
                    let p = &g.policy;
                    let reach = ms(p.connect_timeout + p.handshake_timeout) + slack(s);
                    let Some((d, t)) = h
                        .of(&client)
                        .filter(|(i, x)| {
                            *i > k
                                && matches!(x.event, Event::Dial { .. })
                                && x.t.saturating_add(reach) < to
                                && clear(s, &windows, &g.host, (x.t, x.t + reach), false)
                        })
                        .map(|(i, x)| (i, x.t))
                        .next()
                    else {
                        continue;
                    };
                    let judge = Judge {
                        h,
                        client: &client,
                        policy: &g.policy,
                        what: format!("HTTP {status} at the handshake"),
                    };
                    judge.answer(terminal_status(&g.policy, *status), (d, t), &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

/// One client's answer to one close code or status, received after record `k`.
struct Judge<'a> {
    h: &'a History,
    client: &'a str,
    policy: &'a Policy,
    what: String,
}

impl Judge<'_> {
    /// Judges the answer to a code or status received after record `at.0` (at time `at.1`).
    fn answer(&self, terminal: bool, at: (usize, u64), out: &mut Vec<Violation>) {
        if terminal {
            self.gave_up(at.0, at.1, out);
        } else {
            self.kept_trying(at.0, out);
        }
    }

    fn violation(&self, t: u64, msg: String, events: Vec<usize>) -> Violation {
        Violation::new(CHECKER.name, Some(self.client), t, msg, events)
    }

    /// The first `reconnect()` or `close()` after record `k`: the user's word ends the
    /// question.
    fn user_acts(&self, k: usize) -> usize {
        self.h
            .of(self.client)
            .find(|(i, r)| {
                *i > k
                    && matches!(
                        r.event,
                        Event::Action {
                            action: ClientAction::Reconnect
                                | ClientAction::Close
                                | ClientAction::Exit,
                            ..
                        }
                    )
            })
            .map_or(usize::MAX, |(i, _)| i)
    }

    /// Terminal: the next status is `Failed` (or `Closed`), and no dial follows before the
    /// user asks for one.
    fn gave_up(&self, k: usize, t: u64, out: &mut Vec<Violation>) {
        let until = self.user_acts(k);
        let next = statuses(self.h, self.client)
            .into_iter()
            .find(|(i, _, st)| {
                *i > k
                    && *i < until
                    && matches!(
                        st,
                        Status::Disconnected { .. } | Status::Failed { .. } | Status::Closed
                    )
            });
        if let Some((i, at, Status::Disconnected { .. })) = next {
            let msg = format!(
                "{}, which the policy calls terminal, was answered with disconnected (a retry) instead of failed",
                self.what
            );
            out.push(self.violation(at, msg, vec![k, i]));
        }
        let dial = self
            .h
            .of(self.client)
            .find(|(i, r)| *i > k && *i < until && matches!(r.event, Event::Dial { .. }));
        if let Some((i, r)) = dial {
            let msg = format!(
                "dialed again {}ms after {}, which the policy calls terminal, before any reconnect()",
                r.t - t,
                self.what
            );
            out.push(self.violation(r.t, msg, vec![k, i]));
        }
    }

    /// Retry: the client does not give up on it (a `Failed` for an exhausted attempt budget
    /// is `attempt_budget`'s to judge).
    fn kept_trying(&self, k: usize, out: &mut Vec<Violation>) {
        let seen = statuses(self.h, self.client);
        let next = seen.iter().position(|(i, _, st)| {
            *i > k && matches!(st, Status::Disconnected { .. } | Status::Failed { .. })
        });
        let Some(n) = next else { return };
        let (i, at, st) = seen[n];
        // The attempt budget is spent when the dial before was the last one allowed (a failed
        // dial, or a connection lost before `stable_after`, ends it): `attempt_budget`'s case.
        let last_dial = seen[..n].iter().rev().find_map(|(_, _, st)| match st {
            Status::Connecting { attempt } => Some(*attempt),
            _ => None,
        });
        let budget_spent = matches!(
            (last_dial, self.policy.max_attempts),
            (Some(attempt), Some(max)) if attempt >= max
        );
        if matches!(st, Status::Failed { .. }) && !budget_spent && i < self.user_acts(k) {
            let msg = format!("gave up on {}, which the policy says to retry", self.what);
            out.push(self.violation(at, msg, vec![k, i]));
        }
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
    use crate::history::{Heal, Link};

    fn closed(code: u16) -> Reason {
        Reason::ServerClosed {
            code,
            reason: String::new(),
        }
    }

    fn kicked(code: u16, then: Status, redial: Option<u64>) -> History {
        let mut b = Builder::default()
            .status(0, "c-0", connecting(1))
            .dial(0, "c-0")
            .open(5, 1, 1, "c-0")
            .status(6, "c-0", Status::Connected)
            .fault(1000, Fault::Kick { code })
            .status(1002, "c-0", then);
        if let Some(t) = redial {
            b = b.dial(t, "c-0");
        }
        b.build()
    }

    fn lost(code: u16) -> Status {
        Status::Disconnected {
            attempt: 1,
            retry_in: std::time::Duration::from_millis(300),
            reason: closed(code),
        }
    }

    #[test]
    fn a_terminal_code_must_end_in_failed_and_silence() {
        let s = simple(1, "");
        let good = kicked(
            4500,
            Status::Failed {
                reason: closed(4500),
            },
            None,
        );
        assert!(check(&s, &good).is_empty());
        let retried = check(&s, &kicked(4500, lost(4500), Some(1300)));
        assert_eq!(retried.len(), 2, "{retried:?}");
        assert!(retried[0].message.contains("instead of failed"));
        assert!(
            retried[1]
                .message
                .contains("dialed again 300ms after close code 4500")
        );
    }

    #[test]
    fn a_code_or_status_that_cannot_reach_the_client_is_not_judged() {
        // The close frame goes into a partition; the 401 window covers dials that fail at
        // TCP: the client never hears either, and retrying is right.
        let s = simple(1, "");
        let link = Link::new("server", "clients", false);
        let partitioned = |b: Builder| {
            b.fault(900, Fault::Partition { link: link.clone() })
                .heal(9000, Heal::Repair { link: link.clone() })
        };
        let kick = partitioned(
            Builder::default()
                .status(0, "c-0", connecting(1))
                .dial(0, "c-0")
                .open(5, 1, 1, "c-0")
                .status(6, "c-0", Status::Connected),
        )
        .fault(1000, Fault::Kick { code: 4500 })
        .status(5000, "c-0", lost(1006))
        .dial(5300, "c-0")
        .build();
        assert!(check(&s, &kick).is_empty(), "{:?}", check(&s, &kick));
        let reject = partitioned(Builder::default().status(0, "c-0", connecting(1)))
            .fault(1000, Fault::Reject { status: 401 })
            .dial(2000, "c-0")
            .status(2001, "c-0", lost(1006))
            .dial(2300, "c-0")
            .heal(20_000, Heal::Admit)
            .build();
        assert!(check(&s, &reject).is_empty(), "{:?}", check(&s, &reject));
    }

    #[test]
    fn a_retry_code_must_be_retried() {
        let s = simple(1, "");
        assert!(check(&s, &kicked(4000, lost(4000), Some(1300))).is_empty());
        let gave_up = check(
            &s,
            &kicked(
                4000,
                Status::Failed {
                    reason: closed(4000),
                },
                None,
            ),
        );
        assert!(
            gave_up
                .iter()
                .any(|v| v.message.contains("gave up on close code 4000")),
            "{gave_up:?}"
        );
    }

    #[test]
    fn the_classification_is_the_policys() {
        let s = simple(1, "");
        let p = &s.clients[0].policy;
        assert!(terminal_code(p, 3500) && terminal_code(p, 4999) && !terminal_code(p, 3499));
        assert!(!terminal_code(p, 1000) && !terminal_code(p, 1012) && !terminal_code(p, 4499));
        assert!(terminal_status(p, 401) && terminal_status(p, 403) && !terminal_status(p, 503));
    }
}
