//! Invariants 2 and 3: every wait before a dial is the announced one and within the
//! policy; repeated failures (including accept-then-close flaps) escalate the delay.

use std::time::Duration;

use super::view::{clients, ms, slack, statuses};
use super::{Checker, Violation};
use crate::client::Status;
use crate::history::{ClientAction, Event, History};
use crate::scenario::Scenario;

pub(super) const BOUNDS: Checker = Checker {
    name: "backoff_bounds",
    promise: "the delay before every dial is the announced one, within the policy's bounds",
    check: bounds,
};

pub(super) const ESCALATES: Checker = Checker {
    name: "backoff_escalates",
    promise: "consecutive failures and flaps escalate the backoff; it resets only after stable uptime",
    check: escalates,
};

fn bounds(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let slack = slack(s);
    for (client, g) in clients(s) {
        let seen = statuses(h, &client);
        for pair in seen.windows(2) {
            let ((i, t, a), (j, t2, b)) = (pair[0], pair[1]);
            let Status::Disconnected { retry_in, .. } = a else {
                continue;
            };
            let v = |msg: String| Violation::new(BOUNDS.name, Some(&client), t2, msg, vec![i, j]);
            if *retry_in > g.policy.max_delay + Duration::from_millis(1) {
                out.push(v(format!(
                    "announced a {} wait, above max_delay {}",
                    show(*retry_in),
                    show(g.policy.max_delay)
                )));
            }
            if !matches!(b, Status::Connecting { .. }) {
                continue;
            }
            let waited = t2 - t;
            let manual = h.of(&client).any(|(k, r)| {
                k > i
                    && k < j
                    && matches!(
                        &r.event,
                        Event::Action {
                            action: ClientAction::Reconnect,
                            ..
                        }
                    )
            });
            if waited + slack < ms(*retry_in) && !manual {
                out.push(v(format!(
                    "dialed after {waited}ms, before the announced {}",
                    show(*retry_in)
                )));
            } else if waited > ms(*retry_in) + slack {
                out.push(v(format!(
                    "dialed after {waited}ms, later than the announced {}",
                    show(*retry_in)
                )));
            }
        }
    }
    out
}

/// Below this probability a run of small delays is not chance but a backoff that does
/// not grow.
const EVIDENCE: f64 = 1e-9;

/// The chance that a correct client's delay before retry `step` is at most `d`: its delay
/// is uniform in `[bound * (1 - jitter), bound]`.
fn chance_at_most(p: &crate::client::Policy, step: u32, d: Duration) -> f64 {
    let bound = p.delay_bound(step).as_secs_f64();
    let jitter = p.jitter.clamp(0.0, 1.0);
    let low = bound * (1.0 - jitter);
    if jitter == 0.0 {
        return if d.as_secs_f64() + 1e-3 >= bound {
            1.0
        } else {
            0.0
        };
    }
    ((d.as_secs_f64() + 1e-3 - low) / (bound * jitter)).clamp(0.0, 1.0)
}

fn escalates(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let p = &g.policy;
        if p.multiplier <= 1.0 || p.max_delay <= p.initial_delay {
            continue;
        }
        let first = p.delay_bound(1);
        // The retries since the backoff last (rightly) started over, and how likely a
        // correct client is to keep every delay as small as the first bound over them.
        let mut streak: Vec<usize> = Vec::new();
        let mut log_chance = 0.0f64;
        let mut reported = false;
        let mut connected_at: Option<u64> = None;
        for (i, t, status) in statuses(h, &client) {
            match status {
                Status::Connected => connected_at = Some(t),
                Status::Disconnected { retry_in, .. } => {
                    if connected_at.is_some_and(|c| t - c >= ms(p.stable_after)) {
                        (streak, log_chance, reported) = (Vec::new(), 0.0, false);
                    }
                    connected_at = None;
                    streak.push(i);
                    if *retry_in > first + Duration::from_millis(1) {
                        // A long delay: the backoff grew. No evidence against it.
                        log_chance = 0.0;
                        continue;
                    }
                    log_chance += chance_at_most(p, streak.len() as u32, first).ln();
                    if log_chance < EVIDENCE.ln() && !reported {
                        reported = true;
                        let msg = format!(
                            "{} retries in a row, none waiting more than {}: the backoff does not grow (chance {:.0e} for a correct client)",
                            streak.len(),
                            show(first),
                            log_chance.exp()
                        );
                        out.push(Violation::new(
                            ESCALATES.name,
                            Some(&client),
                            t,
                            msg,
                            streak.clone(),
                        ));
                    }
                }
                Status::Failed { .. } | Status::Closed => {
                    (streak, log_chance, reported) = (Vec::new(), 0.0, false)
                }
                Status::Connecting { .. } => {}
            }
        }
    }
    out
}

fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(ms(d))).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn waiting_the_announced_delay_passes() {
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", disconnected(2, 300))
            .status(305, "c-0", connecting(2))
            .build();
        assert!(bounds(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn dialing_early_or_late_is_caught() {
        let early = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", disconnected(2, 300))
            .status(50, "c-0", connecting(2))
            .build();
        assert!(
            bounds(&simple(1, ""), &early)[0]
                .message
                .contains("before the announced")
        );
        let late = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", disconnected(2, 300))
            .status(900, "c-0", connecting(2))
            .build();
        assert!(
            bounds(&simple(1, ""), &late)[0]
                .message
                .contains("later than")
        );
    }

    fn flaps(delay: impl Fn(u32) -> u64) -> History {
        let mut b = Builder::default().status(0, "c-0", connecting(1));
        let mut t = 0;
        for k in 1..=10 {
            b = b
                .status(t + 10, "c-0", crate::client::Status::Connected)
                .status(t + 20, "c-0", disconnected(1, delay(k)));
            t += 20 + delay(k);
            b = b.status(t, "c-0", connecting(1));
        }
        b.build()
    }

    #[test]
    fn growing_delays_pass_and_flat_ones_are_caught() {
        assert!(escalates(&simple(1, ""), &flaps(|k| 100 * 2u64.pow(k))).is_empty());
        let found = escalates(&simple(1, ""), &flaps(|_| 400));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.starts_with("9 retries in a row"),
            "{}",
            found[0].message
        );
    }
}
