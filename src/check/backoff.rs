//! Invariants 2 and 3: every wait before a dial is the announced one and within the
//! policy; repeated failures (including accept-then-close flaps) escalate the delay.

use std::collections::BTreeMap;
use std::time::Duration;

use super::view::{Conn, Ghosts, by_life, clients, conns, end, exits, ms, slack, statuses};
use super::{Checker, Context, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, Fault, History};

pub(super) const BOUNDS: Checker = Checker {
    name: "backoff_bounds",
    severity: super::Severity::Timing,
    promise: "the delay before every dial is the announced one, within the policy's bounds",
    applies: super::every,
    needs: &[Evidence::Statuses],
    check: |cx, h| bounds(cx, h).into(),
};

pub(super) const ESCALATES: Checker = Checker {
    name: "backoff_escalates",
    severity: super::Severity::Timing,
    promise: "consecutive failures and flaps escalate the backoff; it resets only after stable uptime",
    applies: super::every,
    needs: &[Evidence::Dials, Evidence::Connections],
    check: |cx, h| escalates(cx, h).into(),
};

fn bounds(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let slack = slack(s);
    for (client, g) in clients(s) {
        let exits = exits(h, &client);
        // A new process owes its predecessor's wait nothing.
        for seen in by_life(statuses(h, &client), &exits, |(i, _, _)| *i) {
            for pair in seen.windows(2) {
                let ((i, t, a), (j, t2, b)) = (pair[0], pair[1]);
                let Status::Disconnected { retry_in, .. } = a else {
                    continue;
                };
                let v =
                    |msg: String| Violation::new(BOUNDS.name, Some(&client), t2, msg, vec![i, j]);
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
                // A `reconnect()` that landed on the failure itself (same instant, recorded
                // just before it) cuts the wait short too.
                let manual = h.of(&client).any(|(k, r)| {
                    (k > i || r.t >= t)
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
    }
    out
}

/// The false-alarm probability of `backoff_escalates`, per run of retries: a correct client
/// is flagged at most this often.
pub(crate) const FALSE_ALARM: f64 = 1e-9;

/// The checker's own model of the policy's bound before retry `step` (1 = the first):
/// `initial_delay * multiplier^(step - 1)`, capped at `max_delay`. It reads the policy's
/// numbers, never the client's code, so a bug in the client's backoff cannot move it.
pub(super) fn bound(p: &crate::client::Policy, step: u32) -> f64 {
    let growth = p
        .multiplier
        .max(1.0)
        .powi(step.saturating_sub(1).min(1024) as i32);
    (p.initial_delay.as_secs_f64() * growth).min(p.max_delay.as_secs_f64())
}

/// The chance that a correct client waits at most `waited` seconds before retry `step`: its
/// wait is uniform in `[bound * (1 - jitter), bound]`.
fn chance_within(p: &crate::client::Policy, step: u32, waited: f64) -> f64 {
    let bound = bound(p, step);
    let jitter = p.jitter.clamp(0.0, 1.0);
    let low = bound * (1.0 - jitter);
    if waited >= bound {
        return 1.0;
    }
    if jitter == 0.0 || bound == 0.0 {
        return if waited >= low { 1.0 } else { 0.0 };
    }
    ((waited - low) / (bound * jitter)).clamp(0.0, 1.0)
}

/// A bound on the chance that `n` independent uniform draws in `[0, 1]` add up to at most
/// `sum`, in natural log: Chernoff's `e^(l*sum) * E[e^(-l*U)]^n` at the best `l` of a grid.
/// Any `l > 0` gives a true upper bound, so the false-alarm rate never exceeds its target;
/// for a client whose waits all come from too small a bound it falls by about one e-fold
/// per retry.
fn ln_sum_at_most(sum: f64, n: usize) -> f64 {
    let n = n as f64;
    (0..80)
        .map(|k| 0.05 * 1.2f64.powi(k))
        .map(|l| l * sum + n * ((1.0 - (-l).exp()) / l).ln())
        .fold(0.0, f64::min)
}

/// Judged from the recorded dials, not from the client's reports: the checker keeps its own
/// count of the backoff step (one more per failed dial or per connection the server saw
/// end before `stable_after`; back to the first after a connection that lasted; back to the
/// start at a manual `reconnect`), takes each wait as the time from a dial (or from the
/// connection it opened) to the next dial, and asks how likely a correct client is to wait
/// that little at those steps. Below [`FALSE_ALARM`], over the retries since the backoff
/// last rightly started over, the backoff does not grow.
fn escalates(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let slack = slack(s) as f64 / 1000.0;
    let all = conns(h);
    // A ghost (a dial given up whose request reached the server late) opened nothing for
    // the client: its wait is measured from the dial, as for any failed one.
    let ghosts = Ghosts::new(s, h);
    let mut by_client: BTreeMap<&str, Vec<&Conn>> = BTreeMap::new();
    for c in all.iter().filter(|c| !ghosts.is(c)) {
        by_client.entry(c.client.as_str()).or_default().push(c);
    }
    // The faults that end connections from the server's side (few): where a loss began.
    let enders: Vec<(usize, u64)> = (h.records.iter().enumerate())
        .filter(|(_, r)| {
            matches!(
                r.event.fault(),
                Some(Fault::Crash | Fault::Shutdown { .. } | Fault::Kick { .. })
            )
        })
        .map(|(i, r)| (i, r.t))
        .collect();
    // A dial while the server flaps opens a session (a welcome, then 1011) that the server
    // records as refused: a policy whose `stable_after` is within the slack counts even
    // that session as stable, and rightly starts its backoff over.
    let flaps: Vec<(u64, u64)> = (h.fault_windows().into_iter())
        .filter(|w| w.fault == Fault::Flap)
        .map(|w| (w.from, w.to.unwrap_or(u64::MAX)))
        .collect();
    let in_flap = |t: u64| flaps.iter().any(|(a, b)| *a <= t && t <= *b);
    for (client, g) in clients(s) {
        let p = &g.policy;
        let mine = by_client
            .get(client.as_str())
            .map_or(&[][..], Vec::as_slice);
        let dials: Vec<(usize, u64)> = h
            .of(&client)
            .filter(|(_, r)| matches!(r.event, Event::Dial { .. }))
            .map(|(i, r)| (i, r.t))
            .collect();
        // What starts the backoff over: a manual reconnect, a close, a new process.
        let restarts: Vec<usize> = h
            .of(&client)
            .filter(|(_, r)| {
                matches!(
                    r.event,
                    Event::Action {
                        action: ClientAction::Reconnect
                            | ClientAction::Close
                            | ClientAction::Exit
                            | ClientAction::Start,
                        ..
                    }
                )
            })
            .map(|(j, _)| j)
            .collect();
        // Evidence since the backoff last rightly started over (flaps, outages), and over
        // the whole run (a redial at once after every restart shows only when added up).
        let (mut streak, mut run) = (Streak::default(), Streak::default());
        let mut step = 0u32;
        for (k, &(i, t)) in dials.iter().enumerate() {
            let next = dials.get(k + 1).copied();
            let opened = mine
                .iter()
                .find(|c| c.open_index > i && next.is_none_or(|(n, _)| c.open_index < n));
            let lasted = opened.is_some_and(|c| {
                (c.lifetime(end(s)) as f64 / 1000.0) + slack >= p.stable_after.as_secs_f64()
            }) || (p.stable_after.as_secs_f64() <= slack && in_flap(t));
            step = if lasted { 1 } else { step + 1 };
            if lasted {
                streak = Streak::default();
            }
            let Some((n, t2)) = next else { break };
            if restarts.iter().any(|&j| j > i && j < n) {
                (streak, step) = (Streak::default(), 0);
                continue;
            }
            let from = opened.map_or(t, |c| lost_from(h, &client, c, &enders).clamp(t, t2));
            let waited = (t2 - from) as f64 / 1000.0 + slack;
            let chance = chance_within(p, step, waited);
            streak.add(n, chance, (waited, step));
            run.add(n, chance, (waited, step));
            // One report per piece of evidence: the run's covers the streak's retries.
            let reported = streak.reported || run.reported;
            let mut found = None;
            for (evidence, since) in [
                (&streak, "since the backoff last rightly started over"),
                (&run, "over the whole run"),
            ] {
                if reported || evidence.ln_p() >= FALSE_ALARM.ln() {
                    continue;
                }
                let (w, st) = evidence.worst;
                let msg = format!(
                    "{} retries {since} waited too little for their steps: on average at the {:.0}th percentile of what the policy draws, where a correct client averages the 50th (chance below {:.0e}; e.g. {}ms before retry {st}, whose bound is {}ms, jitter {})",
                    evidence.n,
                    100.0 * evidence.sum / evidence.n as f64,
                    evidence.ln_p().exp(),
                    ((w - slack) * 1000.0).round(),
                    (bound(p, st) * 1000.0).round(),
                    p.jitter
                );
                found = Some(Violation::new(
                    ESCALATES.name,
                    Some(&client),
                    t2,
                    msg,
                    evidence.dials.clone(),
                ));
                break;
            }
            if let Some(v) = found {
                out.push(v);
                (streak.reported, run.reported) = (true, true);
            }
        }
    }
    out
}

/// The earliest `client` can have lost connection `c`: when a crash, a graceful stop or a
/// kick ended it (the client hears of it no sooner), or when the client itself said it was
/// lost, whichever came first; when it opened, without either.
fn lost_from(h: &History, client: &str, c: &Conn, enders: &[(usize, u64)]) -> u64 {
    let Some(close) = c.close_index else {
        return c.open_t;
    };
    let ended = (enders.iter().rev())
        .find(|(i, _)| (c.open_index..=close).contains(i))
        .map(|(_, t)| *t);
    let said = h
        .statuses(client)
        .find(|(i, _, s)| {
            *i > c.open_index && matches!(s, Status::Disconnected { .. } | Status::Failed { .. })
        })
        .map(|(_, t, _)| t);
    match (ended, said) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        _ => c.open_t,
    }
}

/// Retries as evidence: the sum of their waits' percentiles.
#[derive(Default)]
struct Streak {
    n: usize,
    sum: f64,
    dials: Vec<usize>,
    /// The least likely wait: (seconds waited, step).
    worst: (f64, u32),
    least: f64,
    reported: bool,
}

impl Streak {
    fn add(&mut self, dial: usize, chance: f64, wait: (f64, u32)) {
        if self.n == 0 || chance < self.least {
            (self.least, self.worst) = (chance, wait);
        }
        self.n += 1;
        self.sum += chance;
        self.dials.push(dial);
    }

    fn ln_p(&self) -> f64 {
        ln_sum_at_most(self.sum, self.n)
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(ms(d))).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn bounds(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::bounds(&Context::simulated(s), h))
    }

    fn escalates(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::escalates(&Context::simulated(s), h))
    }
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

    /// `n` flaps: a dial, a connection the server closes 5 ms later, a wait, the next dial.
    fn flaps(n: u32, wait: impl Fn(u32) -> u64) -> History {
        let mut b = Builder::default();
        let mut t = 0;
        for k in 1..=n {
            b = b
                .dial(t, "c-0")
                .open(t + 5, 1, k.into(), "c-0")
                .close(t + 10, 1, k.into(), "c-0");
            t += 10 + wait(k);
        }
        b.dial(t, "c-0").build()
    }

    /// The default policy's bound before retry `k`, in ms.
    fn bound_ms(k: u32) -> u64 {
        (500 * 2u64.pow(k - 1)).min(30_000)
    }

    #[test]
    fn the_bound_is_the_checkers_own_model_of_the_policy() {
        let p = crate::client::Policy::default();
        let bounds: Vec<f64> = (1..=8).map(|k| bound(&p, k)).collect();
        assert_eq!(bounds, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
    }

    #[test]
    fn waits_drawn_within_growing_bounds_pass() {
        // 0.6 and 0.2 of each bound, alternately: ordinary draws of full jitter.
        let fraction = |k: u32| if k % 2 == 0 { 0.2 } else { 0.6 };
        let h = flaps(20, |k| (bound_ms(k) as f64 * fraction(k)) as u64);
        assert!(escalates(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn a_fixed_delay_is_caught_though_it_exceeds_the_first_bound() {
        let found = escalates(&simple(1, ""), &flaps(40, |_| 1000));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("waited too little"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_connection_that_lasted_starts_the_backoff_over() {
        // Every connection lasts past stable_after (10 s): each retry is a first one.
        let mut b = Builder::default();
        let mut t = 0;
        for k in 1..=20u64 {
            b = b
                .dial(t, "c-0")
                .open(t + 5, 1, k, "c-0")
                .close(t + 11_000, 1, k, "c-0");
            t += 11_000 + 300;
        }
        assert!(escalates(&simple(1, ""), &b.dial(t, "c-0").build()).is_empty());
    }

    #[test]
    fn the_chernoff_bound_is_above_the_exact_chance_and_close_to_it() {
        // For a sum of n uniforms, P(sum <= x) = x^n / n! when x <= 1.
        for (n, x) in [(1usize, 0.01f64), (1, 0.5), (5, 0.3), (10, 1.0), (40, 1.0)] {
            let exact: f64 = n as f64 * x.ln() - (1..=n).map(|i| (i as f64).ln()).sum::<f64>();
            let bound = ln_sum_at_most(x, n);
            assert!(bound >= exact - 1e-9, "n {n} x {x}: {bound} < {exact}");
            assert!(
                bound <= exact + 0.2 * n as f64 + 3.0,
                "n {n} x {x}: {bound} far above {exact}"
            );
        }
        // Half of each bound on average is what a correct client does: no evidence at all.
        assert!(ln_sum_at_most(10.0, 20) > -1.0);
    }

    #[test]
    fn a_redial_at_once_after_every_kick_adds_up_over_the_run() {
        let kicked = |wait: u64| {
            let mut b = Builder::default();
            let mut t = 0;
            for k in 1..=20u64 {
                b = b
                    .dial(t, "c-0")
                    .open(t + 5, 1, k, "c-0")
                    .fault(t + 11_000, Fault::Kick { code: 1012 })
                    .close(t + 11_000, 1, k, "c-0");
                t += 11_000 + wait;
            }
            b.dial(t, "c-0").build()
        };
        // Each wait alone is unremarkable; twenty in a row at the 2nd percentile are not.
        let found = escalates(&simple(1, ""), &kicked(1));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("over the whole run"), "{found:?}");
        assert!(escalates(&simple(1, ""), &kicked(250)).is_empty());
    }
}
