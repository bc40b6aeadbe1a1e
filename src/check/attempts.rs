//! Invariant 4: exactly `max_attempts` failed attempts in a row (a failed dial, or a
//! connection lost before `stable_after`), then one `Failed`, then silence until
//! `reconnect()`; never `Failed` when attempts are unlimited.

use super::view::{by_life, clients, exits, ms, slack, statuses};
use super::{Checker, Context, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "attempt_budget",
    severity: super::Severity::Connection,
    promise: "exactly max_attempts failed dials, then one Failed, then silence until reconnect()",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::Dials],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let max = g.policy.max_attempts;
        let v =
            |t, msg: String, events| Violation::new(CHECKER.name, Some(&client), t, msg, events);
        // A connection counts as a failed attempt when it ended before `stable_after`; one
        // that ended too near that line to tell leaves the count unknown until it starts over.
        let near = slack(s) + ms(s.server.welcome_delay);
        let stable_after = ms(g.policy.stable_after);
        let exits = exits(h, &client);
        // Each process counts its own attempts.
        for life in by_life(statuses(h, &client), &exits, |(i, _, _)| *i) {
            let mut failures = Some(0u32);
            let mut previous: Option<(u64, &Status)> = None;
            let mut run_start = None;
            for (i, t, status) in life {
                let failed_attempt = match (previous, status) {
                    (Some((_, Status::Connecting { .. })), Status::Disconnected { .. }) => true,
                    (
                        Some((up, Status::Connected)),
                        Status::Disconnected { .. } | Status::Failed { .. },
                    ) => {
                        let lasted = t - up;
                        if lasted >= stable_after + near {
                            failures = Some(0);
                            false
                        } else if lasted + near < stable_after {
                            true
                        } else {
                            failures = None;
                            false
                        }
                    }
                    _ => false,
                };
                if failed_attempt && matches!(status, Status::Disconnected { .. }) {
                    failures = failures.map(|f| f + 1);
                    run_start.get_or_insert(i);
                    if let (Some(m), Some(f)) =
                        (max, failures.filter(|f| max.is_some_and(|m| *f >= m)))
                    {
                        let msg = format!(
                            "still retrying after {f} failed attempts (dials, or connections lost before stable_after); max_attempts is {m}"
                        );
                        out.push(v(t, msg, vec![run_start.unwrap_or(i), i]));
                        failures = Some(0);
                    }
                }
                match (previous.map(|(_, s)| s), status) {
                    // Given up on a terminal close code or status: `close_codes` judges it.
                    (_, Status::Failed { reason }) if super::codes::terminal(&g.policy, reason) => {
                        failures = Some(0);
                    }
                    (_, Status::Failed { .. }) => {
                        match (max, failures.map(|f| f + 1)) {
                            (None, _) => out.push(v(
                                t,
                                "gave up although max_attempts is unlimited".into(),
                                vec![i],
                            )),
                            (Some(m), Some(attempts)) if attempts != m => out.push(v(
                                t,
                                format!(
                                    "gave up after {attempts} failed attempts; max_attempts is {m}"
                                ),
                                vec![i],
                            )),
                            _ => {}
                        }
                        if let Some(k) = dial_while_failed(h, &client, i) {
                            out.push(v(
                                h.records[k].t,
                                "dialed while Failed, before any reconnect()".into(),
                                vec![i, k],
                            ));
                        }
                        failures = Some(0);
                    }
                    _ => {}
                }
                if matches!(status, Status::Failed { .. }) || failures == Some(0) {
                    run_start = None;
                }
                previous = Some((t, status));
            }
        }
    }
    out
}

/// The first dial after `failed` and before the next `reconnect()` or `close()`.
fn dial_while_failed(h: &History, client: &str, failed: usize) -> Option<usize> {
    h.of(client)
        .filter(|(k, _)| *k > failed)
        .take_while(|(_, r)| {
            !matches!(
                &r.event,
                Event::Action {
                    action: ClientAction::Reconnect | ClientAction::Close | ClientAction::Exit,
                    ..
                }
            )
        })
        .find_map(|(k, r)| matches!(r.event, Event::Dial { .. }).then_some(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn outage(dials: u32, end_failed: bool) -> History {
        let mut b = Builder::default();
        let mut t = 0;
        for k in 1..=dials {
            b = b.status(t, "c-0", connecting(k)).dial(t, "c-0");
            t += 10;
            b = if k == dials && end_failed {
                b.status(t, "c-0", failed())
            } else {
                b.status(t, "c-0", disconnected(k + 1, 5))
            };
            t += 5;
        }
        b.build()
    }

    fn budget(n: u32) -> crate::scenario::Scenario {
        scenario(&format!(
            "name = \"t\"\nduration = \"60s\"\n[[clients]]\nname = \"c\"\npolicy = {{ max_attempts = {n} }}\n"
        ))
    }

    #[test]
    fn exactly_the_budget_then_failed_passes() {
        assert!(check(&budget(3), &outage(3, true)).is_empty());
    }

    #[test]
    fn retrying_past_the_budget_is_caught() {
        let found = check(&budget(3), &outage(5, false));
        assert!(
            found[0].message.contains("still retrying after 3"),
            "{found:?}"
        );
    }

    #[test]
    fn giving_up_early_and_dialing_while_failed_are_caught() {
        let found = check(&budget(3), &outage(2, true));
        assert!(found[0].message.contains("gave up after 2"), "{found:?}");
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", failed())
            .dial(900, "c-0")
            .build();
        let found = check(&budget(1), &h);
        assert!(
            found
                .iter()
                .any(|v| v.message.contains("dialed while Failed")),
            "{found:?}"
        );
    }

    /// `n` connections that each open and drop after `up_ms`, the last one ending in
    /// `Failed` when `end_failed`.
    fn flaps(n: u32, up_ms: u64, end_failed: bool) -> History {
        let mut b = Builder::default();
        let mut t = 0;
        for k in 1..=n {
            b = b.status(t, "c-0", connecting(k)).status(
                t + 10,
                "c-0",
                crate::client::Status::Connected,
            );
            t += 10 + up_ms;
            b = if k == n && end_failed {
                b.status(t, "c-0", failed())
            } else {
                b.status(t, "c-0", disconnected(k + 1, 5))
            };
            t += 5;
        }
        b.build()
    }

    #[test]
    fn connections_lost_before_stable_after_count_as_failed_attempts() {
        // Default stable_after is 10 s: 100 ms connections are failed attempts.
        assert!(check(&budget(3), &flaps(3, 100, true)).is_empty());
        let found = check(&budget(3), &flaps(5, 100, false));
        assert!(
            found[0]
                .message
                .contains("still retrying after 3 failed attempts"),
            "{found:?}"
        );
        // Connections that lasted start the count over: never out of attempts.
        assert!(check(&budget(3), &flaps(6, 20_000, false)).is_empty());
        // Too near stable_after to tell: no verdict either way.
        assert!(check(&budget(3), &flaps(5, 10_000, false)).is_empty());
    }
}
