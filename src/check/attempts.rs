//! Invariant 4: exactly `max_attempts` failed dials in a row, then one `Failed`, then
//! silence until `reconnect()`; never `Failed` when attempts are unlimited.

use super::view::{clients, statuses};
use super::{Checker, Violation};
use crate::client::Status;
use crate::history::{ClientAction, Event, History};
use crate::scenario::Scenario;

pub(super) const CHECKER: Checker = Checker {
    name: "attempt_budget",
    promise: "exactly max_attempts failed dials, then one Failed, then silence until reconnect()",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let max = g.policy.max_attempts;
        let v =
            |t, msg: String, events| Violation::new(CHECKER.name, Some(&client), t, msg, events);
        let mut failures = 0u32;
        let mut previous: Option<&Status> = None;
        let mut run_start = None;
        for (i, t, status) in statuses(h, &client) {
            match (previous, status) {
                (_, Status::Connected) => failures = 0,
                (Some(Status::Connecting { .. }), Status::Disconnected { .. }) => {
                    failures += 1;
                    run_start.get_or_insert(i);
                    if max.is_some_and(|m| failures >= m) {
                        let msg = format!(
                            "still retrying after {failures} failed dials; max_attempts is {}",
                            max.unwrap_or(0)
                        );
                        out.push(v(t, msg, vec![run_start.unwrap_or(i), i]));
                        failures = 0;
                    }
                }
                // Given up on a terminal close code or status: `close_codes` judges it.
                (_, Status::Failed { reason }) if super::codes::terminal(&g.policy, reason) => {
                    failures = 0;
                }
                (_, Status::Failed { .. }) => {
                    let dials = failures + 1;
                    match max {
                        None => out.push(v(
                            t,
                            "gave up although max_attempts is unlimited".into(),
                            vec![i],
                        )),
                        Some(m) if dials != m => out.push(v(
                            t,
                            format!("gave up after {dials} failed dials; max_attempts is {m}"),
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
                    failures = 0;
                }
                _ => {}
            }
            if matches!(status, Status::Connected | Status::Failed { .. }) {
                run_start = None;
            }
            previous = Some(status);
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
                    action: ClientAction::Reconnect | ClientAction::Close,
                    ..
                }
            )
        })
        .find_map(|(k, r)| matches!(r.event, Event::Dial { .. }).then_some(k))
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
