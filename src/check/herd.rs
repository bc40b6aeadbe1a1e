//! Invariant 12: after the server goes away, the clients' first dials are spread by jitter:
//! within any window of `herd_window` (default: a fifth of `initial_delay`) at most a limit
//! of a group dials. Checked for groups of 20 or more.
//!
//! The default limit is statistical: the smallest count that `n` clients drawing full
//! jitter over `initial_delay` reach in some window with probability below one in a
//! billion (a scan bound: `n` windows, each a binomial tail). A client without jitter puts
//! the whole group in one window. `herd_share` replaces the limit with a fixed fraction.

use std::time::Duration;

use super::view::{clients, ms};
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::history::{ClientAction, Event, Fault, History};

pub(super) const CHECKER: Checker = Checker {
    name: "herd_spread",
    promise: "after a restart, the clients' first dials are spread by jitter (peak per window bounded)",
    needs: &[Evidence::Dials],
    check: |cx, h| check(cx, h).into(),
};

const MIN_GROUP: usize = 20;

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (k, r) in h.records.iter().enumerate() {
        let Event::Fault { fault } = &r.event else {
            continue;
        };
        if !(fault.stops_server() || matches!(&**fault, Fault::Kick { .. })) {
            continue;
        }
        let verb = fault.verb();
        for g in s.clients.iter().filter(|g| g.count >= MIN_GROUP) {
            let window = ms(s
                .expect
                .herd_window
                .unwrap_or(g.policy.initial_delay / 5)
                .max(Duration::from_millis(1)));
            let names: Vec<String> = clients(s)
                .into_iter()
                .filter(|(_, gg)| gg.name == g.name)
                .map(|(n, _)| n)
                .collect();
            // A client told to `reconnect`, or a new process, dials at once, by request:
            // not the jitter's doing.
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
            let spread = g
                .policy
                .initial_delay
                .mul_f64(g.policy.jitter.clamp(0.0, 1.0));
            let limit = match s.expect.herd_share {
                Some(share) => (share * g.count as f64).ceil() as usize,
                None => jitter_limit(g.count, window as f64 / (ms(spread).max(1) as f64)),
            };
            let worst = (0..firsts.len())
                .map(|a| {
                    (
                        firsts[a..]
                            .iter()
                            .take_while(|(t, _)| *t < firsts[a].0 + window)
                            .count(),
                        a,
                    )
                })
                .max();
            if let Some((peak, a)) = worst.filter(|(peak, _)| *peak > limit) {
                let msg = format!(
                    "{peak} of {} clients of {} dialed within {window}ms after the {verb}; at most {limit} may",
                    g.count, g.name
                );
                let events = firsts[a..a + peak].iter().map(|(_, j)| *j).collect();
                out.push(Violation::new(CHECKER.name, None, firsts[a].0, msg, events));
            }
        }
    }
    out
}

/// The largest number of `n` independent uniform draws that may fall in one window of
/// relative width `p` before it is too unlikely to be chance (below 1e-9, over `n` windows).
fn jitter_limit(n: usize, p: f64) -> usize {
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
        if n as f64 * tail >= 1e-9 {
            // k others (plus the anchor) can share a window by chance; more cannot.
            return (k + 2).min(n);
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
        assert_eq!(jitter_limit(20, 1.5), 20);
        let small = jitter_limit(20, 0.2);
        assert!((13..20).contains(&small), "{small}");
        let large = jitter_limit(1000, 0.2);
        assert!((200..320).contains(&large), "{large}");
    }
}
