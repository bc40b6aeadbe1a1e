//! The checkers: invariants of reconnecting clients, each a pure function over a history.
//!
//! A broken invariant is data ([`Violation`]), not an error: it names the invariant, the
//! client, the simulated time and the events (indices into the history) that break it.
//! Each checker has unit tests on a hand-built history that breaks it and one that keeps it.
//!
//! Evidence is a contract ([`crate::evidence`]): each checker declares the kinds of
//! evidence it needs ([`Checker::needs`]); the world that ran says what it provided for
//! each client ([`Context::provided`]). For a (checker, client) the verdict is one of
//! *passed*, *violated* (a [`Violation`], with its evidence) or *not judged* (a
//! [`NotJudged`], with the reason): the client's world lacked the evidence, or the run
//! ended before the client's declared bounds let it show what the checker would demand.
//! Nothing that could not be judged looks like a pass.

mod attempts;
mod backoff;
mod close;
mod codes;
mod connects;
mod context;
mod delivery;
mod expect;
mod goodbye;
mod heartbeat;
mod herd;
mod lint;
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
mod welcome;
mod wire_topics;

#[cfg(test)]
mod testkit;

use serde::Serialize;

pub use context::Context;
pub use lint::unjudgeable;
pub use untouched::Warning;

use crate::evidence::Evidence;
use crate::history::History;
use crate::scenario::{Group, Mode, Scenario};

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

/// A (checker, client) the run could not judge, and why: never counted as a pass, and a
/// failure under `run --strict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotJudged {
    /// The invariant's name.
    pub invariant: &'static str,
    /// The client concerned.
    pub client: String,
    /// Milliseconds from which on it could not judge (the fault whose window the run
    /// did not cover); `None` for the whole run (its world lacked the evidence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    /// Why, in a sentence a reader can act on.
    pub reason: String,
}

/// What a checker found: violations, and what it could not judge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// Clients (and windows) it could not judge.
    pub not_judged: Vec<NotJudged>,
}

impl Findings {
    pub(crate) fn push(&mut self, v: Violation) {
        self.violations.push(v);
    }

    /// `client` could not be judged by `invariant` from `from` on (`None`: at all).
    pub(crate) fn not_judged(
        &mut self,
        invariant: &'static str,
        client: &str,
        from: Option<u64>,
        reason: String,
    ) {
        self.not_judged.push(NotJudged {
            invariant,
            client: client.to_string(),
            from,
            reason,
        });
    }
}

impl From<Vec<Violation>> for Findings {
    fn from(violations: Vec<Violation>) -> Self {
        Findings {
            violations,
            not_judged: Vec::new(),
        }
    }
}

/// The outcome of checking one history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The invariants that ran (judged at least one client).
    pub checked: Vec<&'static str>,
    /// What they found, in order of time.
    pub violations: Vec<Violation>,
    /// What could not be judged, and why, by invariant then client.
    pub not_judged: Vec<NotJudged>,
    /// Faults that touched no connection (the run tested less than it seems to): not a
    /// failure unless `run --strict`.
    pub warnings: Vec<Warning>,
}

impl Verdict {
    /// True when nothing was violated (what could not be judged is in
    /// [`Verdict::not_judged`]).
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What a broken invariant costs a user, in the order reports put findings: lost or
/// duplicated messages first, then subscriptions, then what the client says and does with
/// its connection, then timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Messages lost, duplicated, stale or out of order.
    Loss,
    /// Subscriptions not restored, restored twice, revived, or restored late.
    Subscriptions,
    /// Status, connections, giving up, closing, heartbeats: the client's word and deeds.
    Connection,
    /// When it redials, and how its delays grow and spread.
    Timing,
}

/// The severity of a violation's invariant; a finding of the world rather than of a
/// checker (a client process that exited) is a connection's.
pub fn severity(invariant: &str) -> Severity {
    (CHECKERS.iter())
        .find(|c| c.name == invariant)
        .map_or(Severity::Connection, |c| c.severity)
}

/// A checker: its name, what it promises, the evidence it needs, and the pure function.
pub struct Checker {
    /// Its name, as used in `expect.skip` and in violations.
    pub name: &'static str,
    /// What breaking it costs a user, which orders the reports.
    pub severity: Severity,
    /// The invariant, in a sentence.
    pub promise: &'static str,
    /// The clients it judges at all (a pub/sub invariant does not judge a raw client):
    /// the others are neither judged nor reported not judged.
    pub applies: fn(&Scenario, &Group) -> bool,
    /// The evidence it needs of a client to judge it; a client whose world lacks any of
    /// it is reported not judged, and the checker's findings about it are not used.
    pub needs: &'static [Evidence],
    /// The check.
    pub check: fn(&Context, &History) -> Findings,
}

/// [`Checker::applies`] of an invariant of every client.
pub fn every(_: &Scenario, _: &Group) -> bool {
    true
}

/// [`Checker::applies`] of an invariant of pub/sub clients.
pub fn pubsub(_: &Scenario, g: &Group) -> bool {
    g.mode == Mode::Pubsub
}

/// [`Checker::applies`] of an invariant of pub/sub clients of wschaos's own protocol, whose
/// promises (resume across reconnects, a welcome with the epoch, acknowledged publishes,
/// presence) other protocols do not make: graphql-transport-ws and Phoenix have no
/// resume, so a message published while a client was away is not owed to it.
pub fn wschaos_pubsub(s: &Scenario, g: &Group) -> bool {
    let wschaos = crate::protocol::Protocol::Wschaos;
    // A file that declares its protocol (`[protocol]`) says its clients speak that one.
    pubsub(s, g) && g.wire(s) == crate::evidence::wire::Wire::Builtin(wschaos)
}

/// [`Checker::applies`] of an invariant of the broadcast protocol's clients.
pub fn broadcast(s: &Scenario, _: &Group) -> bool {
    s.server.protocol == crate::protocol::Protocol::Broadcast
}

/// Every built-in checker, in the order of DESIGN's invariant table.
pub const CHECKERS: &[Checker] = &[
    status::CHECKER,
    welcome::CHECKER,
    backoff::BOUNDS,
    backoff::ESCALATES,
    ontime::CHECKER,
    resolve::CHECKER,
    connects::CHECKER,
    attempts::CHECKER,
    codes::CHECKER,
    close::CHECKER,
    goodbye::CHECKER,
    single::CHECKER,
    topics::CHECKER,
    wire_topics::CHECKER,
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
    "connected_on_welcome",
    "backoff_bounds",
    "backoff_escalates",
    "redial_on_time",
    "dial_resolves",
    "dial_connects",
    "attempt_budget",
    "close_codes",
    "silence_after_close",
    "clean_close",
    "single_connection",
    "topics_restored",
    "subscribed_on_wire",
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

/// Runs every checker the scenario does not skip on a simulated run's history (the
/// simulation provides every kind of evidence for every client).
pub fn check(scenario: &Scenario, history: &History) -> Verdict {
    verdict(&Context::simulated(scenario), history)
}

/// Runs every checker the scenario does not skip, each on the clients whose world provides
/// what it needs ([`Context::provided`]); the others are reported not judged.
pub fn verdict(cx: &Context, history: &History) -> Verdict {
    let scenario = cx.scenario;
    let mut checked = Vec::new();
    let mut violations = Vec::new();
    let mut not_judged = Vec::new();
    for c in CHECKERS
        .iter()
        .filter(|c| !scenario.expect.skip.iter().any(|s| s == c.name))
    {
        let clients: Vec<String> = (scenario.clients.iter())
            .filter(|g| (c.applies)(scenario, g))
            .flat_map(Group::client_names)
            .collect();
        let lacking: Vec<(&str, Evidence)> = (clients.iter())
            .filter_map(|n| cx.provided.lacks(n, c.needs).map(|e| (n.as_str(), e)))
            .collect();
        let lacks = |client: &str| lacking.iter().any(|(n, _)| *n == client);
        not_judged.extend(lacking.iter().map(|(n, e)| NotJudged {
            invariant: c.name,
            client: n.to_string(),
            from: None,
            reason: e.lacking().to_string(),
        }));
        // A checker judges only the clients it applies to (a resume check says nothing of
        // a client whose protocol has no resume), and only with their evidence.
        if clients.is_empty() || lacking.len() == clients.len() {
            continue;
        }
        let judged = |client: &str| clients.iter().any(|n| n == client) && !lacks(client);
        checked.push(c.name);
        let found = (c.check)(cx, history);
        violations.extend(
            (found.violations.into_iter()).filter(|v| v.client.as_deref().is_none_or(judged)),
        );
        not_judged.extend(found.not_judged.into_iter().filter(|n| judged(&n.client)));
    }
    violations.sort_by_key(|v| v.t);
    Verdict {
        checked,
        violations,
        not_judged,
        warnings: untouched::warnings(cx, history),
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
