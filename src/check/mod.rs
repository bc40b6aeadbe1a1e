//! The checkers: invariants of reconnecting clients, each a pure function over a history.
//!
//! A broken invariant is data ([`Violation`]), not an error: it names the invariant, the
//! client, the simulated time and the events (indices into the history) that break it.
//! Each checker has unit tests on a hand-built history that breaks it and one that keeps it.

mod attempts;
mod backoff;
mod close;
mod codes;
mod connects;
mod delivery;
mod expect;
mod heartbeat;
mod herd;
mod ontime;
mod order;
mod outbox;
mod presence;
mod relayed;
mod resolve;
mod settle;
mod single;
mod stale;
mod status;
mod topics;
mod untouched;
mod view;

#[cfg(test)]
mod testkit;

use serde::Serialize;

pub use untouched::Warning;

use crate::history::History;
use crate::scenario::Scenario;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The invariant's name (see [`NAMES`]).
    pub invariant: &'static str,
    /// The client concerned, when there is one.
    pub client: Option<String>,
    /// Simulated milliseconds where it shows.
    pub t: u64,
    /// What is wrong, in a sentence.
    pub message: String,
    /// Indices of the history records that show it.
    pub events: Vec<usize>,
}

/// The outcome of checking one history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The invariants that ran.
    pub checked: Vec<&'static str>,
    /// What they found, in order of time.
    pub violations: Vec<Violation>,
    /// Faults that touched no connection (the run tested less than it seems to): not a
    /// failure unless `run --strict`.
    pub warnings: Vec<Warning>,
}

impl Verdict {
    /// True when nothing was violated.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A checker: its name, what it promises, and the pure function.
pub struct Checker {
    /// Its name, as used in `expect.skip` and in violations.
    pub name: &'static str,
    /// The invariant, in a sentence.
    pub promise: &'static str,
    /// The check.
    pub check: fn(&Scenario, &History) -> Vec<Violation>,
}

/// Every built-in checker, in the order of DESIGN's invariant table.
pub const CHECKERS: &[Checker] = &[
    status::CHECKER,
    backoff::BOUNDS,
    backoff::ESCALATES,
    ontime::CHECKER,
    resolve::CHECKER,
    connects::CHECKER,
    attempts::CHECKER,
    codes::CHECKER,
    close::CHECKER,
    single::CHECKER,
    topics::CHECKER,
    order::CHECKER,
    delivery::CHECKER,
    stale::CHECKER,
    outbox::CHECKER,
    heartbeat::CHECKER,
    herd::CHECKER,
    settle::CHECKER,
    presence::CHECKER,
    relayed::CHECKER,
    expect::FINAL,
    expect::SEQUENCE,
    expect::RECONNECT,
];

/// The names of every built-in checker.
pub const NAMES: &[&str] = &[
    "status_moves",
    "backoff_bounds",
    "backoff_escalates",
    "redial_on_time",
    "dial_resolves",
    "dial_connects",
    "attempt_budget",
    "close_codes",
    "silence_after_close",
    "single_connection",
    "topics_restored",
    "restore_order",
    "delivery",
    "stale_frames",
    "outbox",
    "heartbeat_detection",
    "herd_spread",
    "settles",
    "presence",
    "relayed",
    "expect_final",
    "expect_sequence",
    "expect_reconnect",
    // Real-network runs only: a client process that exited by itself (`real::run`).
    "process_exited",
];

/// Runs every checker the scenario does not skip.
pub fn check(scenario: &Scenario, history: &History) -> Verdict {
    let mut checked = Vec::new();
    let mut violations = Vec::new();
    for c in CHECKERS
        .iter()
        .filter(|c| !scenario.expect.skip.iter().any(|s| s == c.name))
    {
        checked.push(c.name);
        violations.extend((c.check)(scenario, history));
    }
    violations.sort_by_key(|v| v.t);
    Verdict {
        checked,
        violations,
        warnings: untouched::warnings(scenario, history),
    }
}

impl Violation {
    pub(crate) fn new(
        invariant: &'static str,
        client: Option<&str>,
        t: u64,
        message: String,
        events: Vec<usize>,
    ) -> Self {
        Violation {
            invariant,
            client: client.map(str::to_string),
            t,
            message,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_checkers_agree() {
        let mut names: Vec<&str> = CHECKERS.iter().map(|c| c.name).collect();
        names.push(crate::real::PROCESS_EXITED);
        assert_eq!(names, NAMES);
    }
}
