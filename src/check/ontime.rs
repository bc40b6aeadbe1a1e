//! Invariant 3b: after each failure the client dials again within its policy's bound for
//! that retry, so recovery takes no longer than the policy says. The bound comes from the
//! policy's numbers and the checker's own count of the backoff step, not from a fixed
//! `settle` and not from the delay the client announces.

use super::view::{clients, end, slack};
use super::{Checker, Context, Findings, Violation};
use crate::client::{Policy, Status};
use crate::evidence::Evidence;
use crate::evidence::window::show;
use crate::history::{ClientAction, Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "redial_on_time",
    severity: super::Severity::Timing,
    promise: "after each failure the next dial comes within the policy's bound for that retry; the backoff starts over after a stable connection",
    applies: super::every,
    needs: &[Evidence::Statuses, Evidence::Dials],
    check,
};

/// A wait the client owes a dial for: it said it lost a connection (or a dial failed) at
/// `from`, record `index`, at backoff step `step`.
struct Owed {
    from: u64,
    index: usize,
    step: u32,
}

/// The checker counts the step from the client's failures as the history shows them: one
/// more per `Disconnected`, back to the first after a connection that stayed up for
/// `stable_after` by a clear margin, back to none after `Failed`. Where the history cannot
/// tell whether a connection lasted long enough (within the run's slack of
/// `stable_after`), it takes the larger step, so its bound is never tighter than a correct
/// client's: it flags only waits no correct client can draw.
fn check(s: &Context, h: &History) -> Findings {
    let slack = slack(s);
    let mut out = Findings::default();
    for (client, g) in clients(s) {
        let p = &g.policy;
        let stable = super::view::ms(p.stable_after) + slack;
        let (mut step, mut owed, mut connected) = (0u32, None::<Owed>, None::<u64>);
        for (i, r) in h.of(&client) {
            match &r.event {
                Event::Status { status, .. } => match status {
                    Status::Connected => connected = Some(r.t),
                    Status::Disconnected { .. } => {
                        let lasted = connected.is_some_and(|c| r.t - c >= stable);
                        step = if lasted { 1 } else { step.saturating_add(1) };
                        connected = None;
                        owed = Some(Owed {
                            from: r.t,
                            index: i,
                            step,
                        });
                    }
                    Status::Failed { .. } | Status::Closed => {
                        (step, owed, connected) = (0, None, None);
                    }
                    Status::Connecting { .. } => {}
                },
                // The process is gone: it owes no dial; the next one starts afresh.
                Event::Action {
                    action: ClientAction::Exit,
                    ..
                } => (step, owed, connected) = (0, None, None),
                Event::Dial { .. } => {
                    if let Some(o) = owed.take() {
                        let allowed = allowed(p, o.step, slack);
                        if r.t - o.from > allowed {
                            out.push(late(&client, p, &o, r.t, Some(i)));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(o) = owed {
            let allowed = allowed(p, o.step, slack);
            if end(s) - o.from > allowed {
                out.push(late(&client, p, &o, end(s), None));
            } else {
                let why = format!(
                    "the run ends {} after its failure at {}, before retry {} is due (within {})",
                    show(end(s) - o.from),
                    show(o.from),
                    o.step,
                    show(allowed)
                );
                out.not_judged(CHECKER.name, &client, Some(o.from), why);
            }
        }
    }
    out
}

/// The longest a correct client waits before retry `step`, in ms.
fn bound_ms(p: &Policy, step: u32) -> u64 {
    (super::backoff::bound(p, step) * 1000.0).ceil() as u64
}

/// That, plus the run's slack.
fn allowed(p: &Policy, step: u32, slack: u64) -> u64 {
    bound_ms(p, step) + slack
}

fn late(client: &str, p: &Policy, o: &Owed, t: u64, dial: Option<usize>) -> Violation {
    let bound = bound_ms(p, o.step);
    let what = match dial {
        Some(_) => format!("dialed {}ms after the failure at {}ms", t - o.from, o.from),
        None => format!("never dialed again after the failure at {}ms", o.from),
    };
    Violation::new(
        CHECKER.name,
        Some(client),
        t,
        format!(
            "{what}; retry {} of its policy waits at most {bound}ms (initial_delay {}ms, multiplier {}, max_delay {}ms; the backoff starts over after {}ms of stable uptime)",
            o.step,
            super::view::ms(p.initial_delay),
            p.multiplier,
            super::view::ms(p.max_delay),
            super::view::ms(p.stable_after),
        ),
        dial.into_iter().chain([o.index]).collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    /// Connected for `up` ms from t = 0, then lost; the next dial `wait` ms later.
    fn lost_after(up: u64, wait: u64) -> History {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .dial(0, "c-0")
            .status(5, "c-0", Status::Connected)
            .status(5 + up, "c-0", disconnected(1, wait))
            .status(5 + up + wait, "c-0", connecting(1))
            .dial(5 + up + wait, "c-0")
            .status(5 + up + wait + 5, "c-0", Status::Connected)
            .build()
    }

    #[test]
    fn a_wait_within_the_first_bound_after_a_stable_connection_passes() {
        assert!(check(&simple(1, ""), &lost_after(20_000, 480)).is_empty());
    }

    #[test]
    fn a_backoff_that_does_not_start_over_after_a_stable_connection_is_caught() {
        let found = check(&simple(1, ""), &lost_after(20_000, 3_000));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("at most 500ms"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_connection_too_short_to_be_stable_lets_the_step_grow() {
        // Up 1 s, then failed dials: retries 1, 2, 3 may wait up to 0.5, 1 and 2 s.
        let h = Builder::default()
            .status(0, "c-0", Status::Connected)
            .status(1_000, "c-0", disconnected(1, 400))
            .dial(1_400, "c-0")
            .status(1_405, "c-0", disconnected(2, 900))
            .dial(2_305, "c-0")
            .status(2_310, "c-0", disconnected(3, 1_900))
            .dial(4_210, "c-0")
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn a_client_that_never_dials_again_is_caught() {
        let h = Builder::default()
            .status(0, "c-0", Status::Connected)
            .status(30_000, "c-0", disconnected(1, 400))
            .build();
        let found = check(&simple(1, ""), &h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.starts_with("never dialed again"));
    }

    #[test]
    fn giving_up_and_closing_owe_no_dial() {
        for last in [
            Status::Closed,
            Status::Failed {
                reason: crate::client::Reason::Eof,
            },
        ] {
            let h = Builder::default()
                .status(0, "c-0", Status::Connected)
                .status(30_000, "c-0", disconnected(1, 400))
                .status(30_100, "c-0", last)
                .build();
            assert!(check(&simple(1, ""), &h).is_empty());
        }
    }
}
