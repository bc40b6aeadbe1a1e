//! Shrinking: make a failing case small while the same invariant still fails.
//!
//! Greedy and deterministic: remove timeline steps, shorten fault windows, drop publish
//! workloads and whole groups, shrink group sizes, cut the run's length; keep each change
//! that still fails with the same invariant and breaks nothing the case did not already
//! break (a shorter run must not add, say, an `expect_final` violation, or the regression
//! file would fail instead of being a known failure), until a pass changes nothing (or the
//! budget of runs is spent). Every candidate is validated as a scenario file would be.

use std::time::Duration;

use super::{Failure, fired};
use crate::scenario::{self, Action, Scenario};
use crate::sim::ClientUnderTest;

/// A shrunk failure.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest scenario found that still fails.
    pub scenario: Scenario,
    /// The invariant it breaks.
    pub invariant: &'static str,
    /// Other invariants it still breaks (the case broke them from the start; shrinking
    /// never adds one). A regression file skips them, so that it tests one bug.
    pub also: Vec<&'static str>,
    /// Simulations run while shrinking.
    pub runs: usize,
}

/// Shrinks `failure` with at most `budget` simulations.
pub fn shrink<C: ClientUnderTest>(failure: &Failure, budget: usize) -> Shrunk {
    let invariant = failure.violation.invariant;
    let seed = failure.case.seed;
    let mut best = failure.case.scenario.clone();
    // What the case breaks now; a candidate may break less, never more.
    let mut allowed = fired::<C>(&best, seed).unwrap_or_default();
    let mut runs = 0;
    loop {
        let mut changed = false;
        for candidate in candidates(&best) {
            if runs >= budget {
                return done(best, invariant, &allowed, runs);
            }
            if !valid(&candidate) {
                continue;
            }
            runs += 1;
            let Some(now) = fired::<C>(&candidate, seed) else {
                continue;
            };
            if now.contains(invariant) && now.is_subset(&allowed) {
                best = candidate;
                allowed = now;
                changed = true;
                break;
            }
        }
        if !changed {
            return done(best, invariant, &allowed, runs);
        }
    }
}

fn done(
    scenario: Scenario,
    invariant: &'static str,
    fired: &std::collections::BTreeSet<&'static str>,
    runs: usize,
) -> Shrunk {
    Shrunk {
        scenario,
        invariant,
        also: fired.iter().copied().filter(|i| *i != invariant).collect(),
        runs,
    }
}

/// Smaller variants of `s`, most promising first.
fn candidates(s: &Scenario) -> Vec<Scenario> {
    let mut out = Vec::new();
    for i in (0..s.timeline.len()).rev() {
        let mut c = s.clone();
        c.timeline.remove(i);
        out.push(c);
    }
    if s.clients.len() > 1 {
        for i in (0..s.clients.len()).rev() {
            let mut c = s.clone();
            c.clients.remove(i);
            out.push(c);
        }
    }
    for i in 0..s.clients.len() {
        if s.clients[i].count > 1 {
            for count in [1, s.clients[i].count / 2] {
                let mut c = s.clone();
                c.clients[i].count = count.max(1);
                out.push(c);
            }
        }
        if s.clients[i].publish.is_some() {
            let mut c = s.clone();
            c.clients[i].publish = None;
            out.push(c);
        }
    }
    for i in 0..s.timeline.len() {
        if let Some(shorter) = halve_window(&s.timeline[i].action) {
            let mut c = s.clone();
            c.timeline[i].action = shorter;
            out.push(c);
        }
    }
    let needed = s
        .timeline
        .iter()
        .map(|st| st.at + st.action.window().unwrap_or_default())
        .max()
        .unwrap_or_default()
        + s.settle;
    let shorter = needed.max(s.tick * 10) + Duration::from_secs(1);
    if shorter < s.duration {
        let mut c = s.clone();
        c.duration = shorter;
        out.push(c);
    }
    out
}

fn halve_window(a: &Action) -> Option<Action> {
    let min = Duration::from_millis(100);
    let half = |d: &Duration| (*d / 2 >= min).then_some(*d / 2);
    Some(match a.clone() {
        Action::Restart { down } => Action::Restart { down: half(&down)? },
        Action::Partition {
            between,
            oneway,
            for_: Some(d),
        } => Action::Partition {
            between,
            oneway,
            for_: Some(half(&d)?),
        },
        Action::Hold {
            between,
            for_: Some(d),
        } => Action::Hold {
            between,
            for_: Some(half(&d)?),
        },
        Action::Latency {
            between,
            latency,
            for_: Some(d),
        } => Action::Latency {
            between,
            latency,
            for_: Some(half(&d)?),
        },
        Action::Flap { for_ } => Action::Flap { for_: half(&for_)? },
        Action::Reject { for_, status } => Action::Reject {
            for_: half(&for_)?,
            status,
        },
        _ => return None,
    })
}

/// A candidate is kept only if it would load as a scenario file.
fn valid(s: &Scenario) -> bool {
    toml::to_string(s)
        .ok()
        .is_some_and(|text| scenario::parse(&text, "candidate.toml").is_ok())
}
