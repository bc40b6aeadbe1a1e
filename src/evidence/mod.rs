//! Evidence as a contract between where evidence comes from and who judges it.
//!
//! ```text
//! world (simulation │ real network: built-in server │ [server] command │ probe lines)
//!    └─ provides, per client: a set of Evidence kinds          (Provided)
//! checker
//!    └─ needs: a set of Evidence kinds, and a window per fault  (check::Checker::needs,
//!                                                                 window)
//! verdict per (checker, client): passed │ violated │ not judged (why)
//! ```
//!
//! A checker runs only on the clients whose world provides what it needs; for the others
//! the verdict says *not judged*, with the reason, never a pass. Where the run ends before
//! a client's declared bounds let it show a fault's effect ([`window`]), the checker says
//! *not judged* for that client and that fault, never a violation for what the client still
//! had time to do.

mod lag;
pub mod window;
pub mod wire;

pub use lag::Lag;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// A kind of evidence: something a checker may need to judge a client, and a world may or
/// may not provide for it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The client's own status changes (its status stream; `status` probe lines).
    Statuses,
    /// What the client says it received and accepted: deliveries, gap notices, presence,
    /// the ids of its publishes (the simulation's probe; `delivered`, `gap`, `publish`
    /// probe lines).
    Received,
    /// The frames a raw client received, by fingerprint (`frame` probe lines).
    Frames,
    /// The client's dials, seen where it dials: the simulation's connector, the proxy.
    Dials,
    /// The client's connections as the server's end saw them open and close: the server,
    /// or the proxy in front of a server command.
    Connections,
    /// The built-in server's own record of subscriptions, publishes and deliveries.
    ServerRecord,
    /// What the frames of the client's connections said, decoded by its protocol's decoder
    /// ([`wire`]) where it dialed.
    Wire,
    /// What topics the client wants over time: its group's `topics`, the timeline's
    /// subscribe and unsubscribe steps, and what it says it subscribes to itself
    /// (`subscribe` / `unsubscribe` probe lines).
    Intents,
}

impl Evidence {
    /// Every kind, in order.
    pub const ALL: [Evidence; 8] = [
        Evidence::Statuses,
        Evidence::Received,
        Evidence::Frames,
        Evidence::Dials,
        Evidence::Connections,
        Evidence::ServerRecord,
        Evidence::Wire,
        Evidence::Intents,
    ];

    /// Why a checker needing this cannot judge a client whose world lacks it.
    pub fn lacking(self) -> &'static str {
        match self {
            Evidence::Statuses => "no status lines: it reports no status",
            Evidence::Received => "no probe lines: it does not report what it received",
            Evidence::Frames => "no frame lines: it does not report the frames it received",
            Evidence::Dials => "its dials are not recorded",
            Evidence::Connections => "its connections are not recorded",
            Evidence::ServerRecord => {
                "the server is a command: its subscriptions, publishes and deliveries are not recorded"
            }
            Evidence::Wire => "the frames of its connections are not decoded",
            Evidence::Intents => {
                "its topics are unknown: declare them in the group's `topics`, or have it print `subscribe` lines"
            }
        }
    }
}

/// What a world provides, per client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provided {
    clients: BTreeMap<String, BTreeSet<Evidence>>,
}

impl Provided {
    /// Nothing for anyone (add clients with [`Provided::client`]).
    pub fn new() -> Provided {
        Provided::default()
    }

    /// Every kind for every client named: what the simulation provides, where the harness
    /// runs the client, the server and the network itself.
    pub fn everything<'a>(clients: impl IntoIterator<Item = &'a str>) -> Provided {
        clients.into_iter().fold(Provided::new(), |p, c| {
            p.client(c, Evidence::ALL.iter().copied())
        })
    }

    /// `client` provides `kinds` (in addition to what it already did).
    pub fn client(mut self, client: &str, kinds: impl IntoIterator<Item = Evidence>) -> Provided {
        self.clients
            .entry(client.to_string())
            .or_default()
            .extend(kinds);
        self
    }

    /// True when the world provides `kind` for `client`.
    pub fn has(&self, client: &str, kind: Evidence) -> bool {
        self.clients.get(client).is_some_and(|k| k.contains(&kind))
    }

    /// The first of `needs` the world does not provide for `client`.
    pub fn lacks(&self, client: &str, needs: &[Evidence]) -> Option<Evidence> {
        needs.iter().copied().find(|&k| !self.has(client, k))
    }

    /// What `client` provides.
    pub fn of(&self, client: &str) -> impl Iterator<Item = Evidence> + '_ {
        self.clients.get(client).into_iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_lacks_what_its_world_does_not_provide() {
        let p = Provided::everything(["a"]).client("b", [Evidence::Dials, Evidence::Connections]);
        assert_eq!(p.lacks("a", &Evidence::ALL), None);
        assert_eq!(
            p.lacks("b", &[Evidence::Dials, Evidence::Statuses]),
            Some(Evidence::Statuses)
        );
        assert_eq!(p.lacks("nobody", &[Evidence::Dials]), Some(Evidence::Dials));
        assert!(p.lacks("b", &[]).is_none());
    }
}
