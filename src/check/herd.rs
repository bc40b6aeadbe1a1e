//! Invariant 12: after the server goes away, the clients' first dials are spread by jitter:
//! within any window of `herd_window` (default: a fifth of `initial_delay`) at most
//! `herd_share` (default 0.5) of a group dials. Checked for groups of 20 or more.

use std::time::Duration;

use super::view::{clients, ms};
use super::{Checker, Violation};
use crate::history::{Event, History};
use crate::scenario::Scenario;

pub(super) const CHECKER: Checker = Checker {
    name: "herd_spread",
    promise: "after a restart, the clients' first dials are spread by jitter (peak per window bounded)",
    check,
};

const MIN_GROUP: usize = 20;

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let share = s.expect.herd_share.unwrap_or(0.5);
    for (k, r) in h.records.iter().enumerate() {
        let Event::Fault { verb, .. } = &r.event else {
            continue;
        };
        if !matches!(verb.as_str(), "crash" | "die" | "kick") {
            continue;
        }
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
            let mut firsts: Vec<(u64, usize)> = names
                .iter()
                .filter_map(|n| {
                    h.of(n)
                        .find(|(j, x)| *j > k && matches!(x.event, Event::Dial { .. }))
                        .map(|(j, x)| (x.t, j))
                })
                .collect();
            firsts.sort();
            let limit = (share * g.count as f64).ceil() as usize;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn dials(at: impl Fn(u64) -> u64) -> History {
        let mut b = Builder::default().fault(1000, "crash");
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
}
