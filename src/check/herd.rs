//! Invariant 12: after the server goes away, the clients' first dials are spread by jitter:
//! no more of a group dial within a short window than chance allows. Checked for groups of
//! 20 or more.
//!
//! The statistic is a scan: for each of a few window widths (a fiftieth to two fifths of
//! the spread the policy's jitter draws first delays over, `initial_delay * jitter`), the
//! most first dials of the group within any window of that width, against the largest
//! count that `n` clients drawing full jitter as declared reach by chance with probability
//! below [`FALSE_ALARM`] (a scan bound: `n` windows, each a binomial tail, the budget shared
//! by the widths). A window narrower than two ticks of the file is not used. A storm shows
//! at the narrow widths, whose limits are far below `n`: one or two stragglers (a process
//! scheduled late) do not hide it; a broad over-concentration shows at the wide ones.
//! `herd_window` judges at one width of the file's choice; `herd_share` replaces the limit
//! with a fixed fraction.

use std::time::Duration;

use super::view::ms;
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, Fault, History};
use crate::scenario::Group;

pub(super) const CHECKER: Checker = Checker {
    name: "herd_spread",
    severity: super::Severity::Timing,
    promise: "after a restart, the clients' first dials are spread by jitter (peak per window bounded)",
    applies: super::every,
    needs: &[Evidence::Dials],
    check,
};

const MIN_GROUP: usize = 20;

/// The chance that a group drawing full jitter as declared is flagged, per fault: at most
/// one in a billion.
pub(crate) const FALSE_ALARM: f64 = 1e-9;

/// The window widths, as fractions of the jitter's spread.
const WIDTHS: [f64; 5] = [0.02, 0.05, 0.1, 0.2, 0.4];

fn check(s: &Context, h: &History) -> super::Findings {
    let mut out = super::Findings::default();
    for (k, r) in h.records.iter().enumerate() {
        let Event::Fault { fault } = &r.event else {
            continue;
        };
        if !(fault.stops_server() || matches!(&**fault, Fault::Kick { .. })) {
            continue;
        }
        let verb = fault.verb();
        for g in s.clients.iter().filter(|g| g.count >= MIN_GROUP) {
            let names: Vec<String> = g.client_names().collect();
            // Dials that matter come within the first delay bound after the fault. A
            // process short of CPU for a share of that span may have acted that share of
            // the jitter's spread late (or, let go at once, bunched): dial times are known
            // no better than that.
            let until = r.t + ms(g.policy.initial_delay) + ms(g.policy.connect_timeout);
            // Starvation is read over the span the first dials actually took (a burst of
            // it there is not diluted by the quiet seconds after), or the bound's span.
            let firsts = first_dials(h, k, &names);
            let spanned = firsts
                .last()
                .map_or(until, |(t, _)| (*t).max(r.t + spread(g)));
            let starved = s.lag.starved(r.t, spanned.min(until));
            let late = Duration::from_millis((starved * spread(g) as f64) as u64);
            let lag = s.lag.worst(r.t, until).max(late);
            if scan(s, g, lag).is_empty() {
                // The timing tolerance (a slow machine's) is wider than any window the
                // declared jitter leaves: a storm and a spread look alike.
                for name in &names {
                    out.not_judged(
                        CHECKER.name,
                        name,
                        Some(r.t),
                        format!(
                            "after the {verb}: dial times are only known to within {} ms (the machine's scheduling delay; tasks waited for a CPU {:.0}% of the time): at that resolution no window of the {} ms the declared jitter spreads first dials over can tell a storm of {} from chance",
                            resolution(s, lag),
                            starved * 100.0,
                            spread(g),
                            g.count
                        ),
                    );
                }
                continue;
            }
            if let Some((peak, window, limit, a)) = storm(s, g, &firsts, lag) {
                let msg = format!(
                    "{peak} of {} clients of {} dialed within {window}ms after the {verb}; drawing the declared jitter, at most {limit} may (by chance below {FALSE_ALARM:e})",
                    g.count, g.name
                );
                let events = firsts[a..a + peak].iter().map(|(_, j)| *j).collect();
                out.push(Violation::new(CHECKER.name, None, firsts[a].0, msg, events));
            }
        }
    }
    out
}

/// Each client's first dial after record `k` (time, record), in order of time. A client
/// told to `reconnect`, or a new process, dials at once, by request: not the jitter's doing.
fn first_dials(h: &History, k: usize, names: &[String]) -> Vec<(u64, usize)> {
    let mut firsts: Vec<(u64, usize)> = names
        .iter()
        .filter_map(|n| {
            h.of(n)
                .filter(|(j, _)| *j > k)
                .find_map(|(j, x)| match &x.event {
                    Event::Dial { .. } => Some(Some((x.t, j))),
                    Event::Action {
                        action: ClientAction::Reconnect | ClientAction::Start,
                        ..
                    } => Some(None),
                    _ => None,
                })
                .flatten()
        })
        .collect();
    firsts.sort();
    firsts
}

/// The first width at which the dials bunch beyond chance: (peak, window ms, limit, index
/// of the first dial of the peak).
fn storm(
    s: &Context,
    g: &Group,
    firsts: &[(u64, usize)],
    lag: Duration,
) -> Option<(usize, u64, usize, usize)> {
    scan(s, g, lag).into_iter().find_map(|(window, limit)| {
        let (peak, a) = peak(firsts, window)?;
        (peak > limit).then_some((peak, window, limit, a))
    })
}

/// The windows the scan uses and the most dials each may hold by chance: only those that
/// can tell a storm from chance (a limit below the group's size). Empty: at this timing
/// resolution nothing can be judged, which the check says rather than passing.
fn scan(s: &Context, g: &Group, lag: Duration) -> Vec<(u64, usize)> {
    let spread = spread(g);
    let tick = resolution(s, lag);
    let widths = widths(s, g, lag);
    let budget = FALSE_ALARM / widths.len().max(1) as f64;
    (widths.into_iter())
        .map(|window| {
            let limit = match s.expect.herd_share {
                Some(share) => (share * g.count as f64).ceil() as usize,
                // Dials are seen on ticks: a window of them holds draws from a tick wider.
                None => jitter_limit(g.count, (window + tick) as f64 / spread as f64, budget),
            };
            (window, limit)
        })
        .filter(|(_, limit)| *limit < g.count)
        .collect()
}

/// How precisely dial times are known (ms): the scenario's tick, or the world's measured
/// lag when that is worse (a busy machine on the real network).
fn resolution(s: &Context, lag: Duration) -> u64 {
    ms(lag.max(s.scenario.tick)).max(1)
}

/// The spread (ms) the declared jitter draws first delays over.
fn spread(g: &Group) -> u64 {
    let jitter = g.policy.jitter.clamp(0.0, 1.0);
    ms(g.policy.initial_delay.mul_f64(jitter)).max(1)
}

/// The window widths (ms) the scan uses: the file's own, or the fractions of the spread
/// at least two ticks of the timing tolerance wide (dials are only known to a tick).
fn widths(s: &Context, g: &Group, lag: Duration) -> Vec<u64> {
    let tick = resolution(s, lag);
    match s.expect.herd_window {
        Some(w) => vec![ms(w).max(1)],
        None => (WIDTHS.iter())
            .map(|f| (f * spread(g) as f64) as u64)
            .filter(|&w| w >= 2 * tick)
            .collect(),
    }
}

/// The most dials within any window of `window` ms, and where that window begins.
fn peak(firsts: &[(u64, usize)], window: u64) -> Option<(usize, usize)> {
    (0..firsts.len())
        .map(|a| {
            let n = (firsts[a..].iter())
                .take_while(|(t, _)| *t < firsts[a].0 + window)
                .count();
            (n, a)
        })
        .max()
}

/// The largest number of `n` independent uniform draws that may fall in one window of
/// relative width `p` before it is too unlikely to be chance (below `alpha`, over the `n`
/// windows that begin at a draw).
fn jitter_limit(n: usize, p: f64, alpha: f64) -> usize {
    if p >= 1.0 {
        return n;
    }
    // log of Binomial(n - 1, p) pmf at 0, then upwards; the tail from the top down.
    let m = n.saturating_sub(1);
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_pmf = vec![m as f64 * lq; m + 1];
    for k in 0..m {
        log_pmf[k + 1] = log_pmf[k] + ((m - k) as f64 / (k + 1) as f64).ln() + lp - lq;
    }
    let mut tail = 0.0f64;
    for k in (0..=m).rev() {
        tail += log_pmf[k].exp();
        if n as f64 * tail >= alpha {
            // k others (plus the draw that begins the window) share a window by chance
            // often enough; k + 1 others do not.
            return (k + 1).min(n);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn dials(at: impl Fn(u64) -> u64) -> History {
        let mut b = Builder::default().fault(1000, Fault::Crash);
        let mut times: Vec<(u64, u64)> = (0..40).map(|i| (at(i), i)).collect();
        times.sort();
        for (t, i) in times {
            b = b.dial(t, &format!("c-{i}"));
        }
        b.build()
    }

    #[test]
    fn spread_dials_pass() {
        assert!(check(&simple(40, ""), &dials(|i| 1000 + i * 12)).is_empty());
    }

    #[test]
    fn a_thundering_herd_is_caught() {
        let found = check(&simple(40, ""), &dials(|_| 1500));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.starts_with("40 of 40"),
            "{}",
            found[0].message
        );
    }

    /// On a machine whose timers woke 300 ms late around the restart, dial times are too
    /// coarse for any window of a 500 ms jitter spread: a storm is not judged (and says
    /// so), never passed in silence. Lag measured only long before the fault changes
    /// nothing: the storm is caught.
    #[test]
    fn a_slow_machine_around_the_fault_is_not_judged_and_elsewhere_changes_nothing() {
        let s = simple(20, "");
        let storm = dials20(|_| 1300);
        let mut cx = Context::simulated(&s);
        cx.lag = crate::evidence::Lag::measured(s.tick, vec![(1100, 300_000)]);
        let found = super::check(&cx, &storm);
        assert!(found.violations.is_empty(), "{:?}", found.violations);
        assert_eq!(found.not_judged.len(), 20);
        assert!(
            found.not_judged[0]
                .reason
                .contains("known to within 300 ms"),
            "{}",
            found.not_judged[0].reason
        );
        cx.lag = crate::evidence::Lag::measured(s.tick, vec![(200, 300_000)]);
        let found = super::check(&cx, &storm);
        assert_eq!(found.violations.len(), 1, "{found:?}");
        assert!(found.not_judged.is_empty());
    }

    /// A machine short of CPU after the fault (tasks waiting for a core 60% of the time)
    /// knows dial times no better than that share of the jitter's spread: not judged. A
    /// machine that was busy 5% of the time still judges, and catches the storm.
    #[test]
    fn a_machine_short_of_cpu_after_the_fault_is_not_judged() {
        let s = simple(20, "");
        let storm = dials20(|_| 1300);
        let mut cx = Context::simulated(&s);
        // A reading every 100 ms: `share` of each 100 ms spent waiting for a CPU.
        let stall = |share: f64| {
            (0..=50u64)
                .map(|i| (1000 + 100 * i, (i as f64 * 100_000.0 * share) as u64))
                .collect::<Vec<_>>()
        };
        cx.lag = crate::evidence::Lag::fixed(s.tick).with_stall(stall(0.6));
        let found = super::check(&cx, &storm);
        assert!(found.violations.is_empty(), "{:?}", found.violations);
        assert!(
            found.not_judged[0].reason.contains("waited for a CPU 60%"),
            "{}",
            found.not_judged[0].reason
        );
        cx.lag = crate::evidence::Lag::fixed(s.tick).with_stall(stall(0.05));
        let found = super::check(&cx, &storm);
        assert_eq!(found.violations.len(), 1, "{found:?}");
        // Starved only while the dials came (1.0 s to 1.5 s), idle for the 5 s after: the
        // burst is what counts, not its average over the whole bound.
        let burst: Vec<(u64, u64)> = (0..=50u64)
            .map(|i| (1000 + 100 * i, 100_000 * i.min(5)))
            .collect();
        cx.lag = crate::evidence::Lag::fixed(s.tick).with_stall(burst);
        let found = super::check(&cx, &storm);
        assert!(found.violations.is_empty(), "{:?}", found.violations);
        assert!(!found.not_judged.is_empty());
    }

    #[test]
    fn a_storm_with_stragglers_is_caught() {
        // 20 clients: 18 redial together, two come late.
        let s = simple(20, "");
        let h = dials20(|i| if i < 18 { 1500 } else { 1500 + 137 * i });
        let found = check(&s, &h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.starts_with("18 of 20"),
            "{}",
            found[0].message
        );
    }

    fn dials20(at: impl Fn(u64) -> u64) -> History {
        let mut b = Builder::default().fault(1000, Fault::Crash);
        let mut times: Vec<(u64, u64)> = (0..20).map(|i| (at(i), i)).collect();
        times.sort();
        for (t, i) in times {
            b = b.dial(t, &format!("c-{i}"));
        }
        b.build()
    }

    #[test]
    fn full_jitter_as_declared_is_not_flagged() {
        // 100,000 groups of 20 drawing full jitter over the default 500 ms, seen on 10 ms
        // ticks: the false-alarm rate is 1e-9, so none may be flagged.
        use rand::{Rng, SeedableRng};
        let s = simple(20, "");
        let cx = Context::simulated(&s);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..100_000 {
            let mut firsts: Vec<(u64, usize)> = (0..20)
                .map(|i| ((rng.random::<f64>() * 500.0) as u64 / 10 * 10 + 10, i))
                .collect();
            firsts.sort();
            assert_eq!(
                storm(&cx, &s.clients[0], &firsts, s.tick),
                None,
                "{firsts:?}"
            );
        }
    }

    #[test]
    fn dials_the_user_asked_for_are_not_a_herd() {
        let mut b = Builder::default().fault(1000, Fault::Crash);
        for i in 0..40 {
            b = b.at(
                1500,
                Event::Action {
                    client: format!("c-{i}").into(),
                    action: ClientAction::Reconnect,
                },
            );
        }
        for i in 0..40 {
            b = b.dial(1500, &format!("c-{i}"));
        }
        assert!(check(&simple(40, ""), &b.build()).is_empty());
    }

    #[test]
    fn the_limit_is_generous_for_small_groups_and_tight_for_large_ones() {
        assert_eq!(jitter_limit(20, 1.5, 1e-9), 20);
        let small = jitter_limit(20, 0.2, 1e-9);
        assert!((13..19).contains(&small), "{small}");
        let large = jitter_limit(1000, 0.2, 1e-9);
        assert!((200..320).contains(&large), "{large}");
        // The narrow widths leave room for stragglers.
        assert_eq!(jitter_limit(20, 0.06, 2e-10), 13);
    }
}
