//! Hand-built histories for the checkers' unit tests.

use std::time::Duration;

use crate::client::{Reason, Status};
pub(crate) use crate::history::{ClientAction, Fault, Heal, Link, SERVER_HOST};
use crate::history::{Event, History, Record};
use crate::scenario::{self, Scenario};
use crate::server;

/// A scenario from TOML (panics on a bad one: tests only).
pub(crate) fn scenario(toml: &str) -> Scenario {
    scenario::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// One group `c` of `count` pub/sub clients on topic `t`, 60 s, tick 10 ms.
pub(crate) fn simple(count: usize, extra: &str) -> Scenario {
    scenario(&format!(
        "name = \"t\"\nduration = \"60s\"\nsettle = \"10s\"\n{extra}\n[[clients]]\nname = \"c\"\ncount = {count}\ntopics = [\"t\"]\n"
    ))
}

/// The violations among a checker's findings.
pub(crate) fn violations(found: impl Into<crate::check::Findings>) -> Vec<crate::check::Violation> {
    found.into().violations
}

/// Builds a history record by record.
#[derive(Default)]
pub(crate) struct Builder {
    records: Vec<Record>,
}

impl Builder {
    pub(crate) fn at(mut self, t: u64, event: Event) -> Self {
        self.records.push(Record {
            t,
            dial: None,
            event,
        });
        self
    }

    pub(crate) fn status(self, t: u64, client: &str, status: Status) -> Self {
        self.at(
            t,
            Event::Status {
                client: client.into(),
                status,
            },
        )
    }

    /// A frame on `client`'s connection of dial `conn` said `said`.
    pub(crate) fn wire(
        self,
        t: u64,
        client: &str,
        conn: u32,
        dir: crate::evidence::wire::Direction,
        said: crate::evidence::wire::WireEvent,
    ) -> Self {
        self.at(
            t,
            Event::Wire {
                client: client.into(),
                conn,
                dir,
                said: Box::new(said),
            },
        )
    }

    pub(crate) fn dial(self, t: u64, client: &str) -> Self {
        self.at(
            t,
            Event::Dial {
                client: client.into(),
            },
        )
    }

    pub(crate) fn server(self, t: u64, epoch: u64, event: server::Event) -> Self {
        self.at(
            t,
            Event::Server {
                epoch,
                event: Box::new(event),
            },
        )
    }

    pub(crate) fn open(self, t: u64, epoch: u64, conn: u64, client: &str) -> Self {
        self.server(
            t,
            epoch,
            server::Event::Connected {
                conn,
                client: client.into(),
                online: 1,
            },
        )
    }

    pub(crate) fn subscribed(
        self,
        t: u64,
        epoch: u64,
        conn: u64,
        client: &str,
        topic: &str,
    ) -> Self {
        self.server(
            t,
            epoch,
            server::Event::Subscribed {
                conn,
                client: client.into(),
                topic: topic.into(),
                resume: None,
                gap: None,
            },
        )
    }

    pub(crate) fn unsubscribed(
        self,
        t: u64,
        epoch: u64,
        conn: u64,
        client: &str,
        topic: &str,
    ) -> Self {
        self.server(
            t,
            epoch,
            server::Event::Unsubscribed {
                conn,
                client: client.into(),
                topic: topic.into(),
            },
        )
    }

    /// The server ends connection `conn` of `client`.
    pub(crate) fn close(self, t: u64, epoch: u64, conn: u64, client: &str) -> Self {
        self.server(
            t,
            epoch,
            server::Event::Disconnected {
                conn,
                client: client.into(),
                reason: "closed".into(),
                online: 0,
            },
        )
    }

    pub(crate) fn fault(self, t: u64, fault: Fault) -> Self {
        self.at(
            t,
            Event::Fault {
                fault: Box::new(fault),
            },
        )
    }

    pub(crate) fn heal(self, t: u64, heal: Heal) -> Self {
        self.at(
            t,
            Event::Heal {
                heal: Box::new(heal),
            },
        )
    }

    pub(crate) fn action(self, t: u64, client: &str, action: ClientAction) -> Self {
        self.at(
            t,
            Event::Action {
                client: client.into(),
                action,
            },
        )
    }

    pub(crate) fn build(self) -> History {
        History::new("t", 1, self.records)
    }
}

pub(crate) fn connecting(attempt: u32) -> Status {
    Status::Connecting { attempt }
}

pub(crate) fn disconnected(attempt: u32, retry_ms: u64) -> Status {
    Status::Disconnected {
        attempt,
        retry_in: Duration::from_millis(retry_ms),
        reason: Reason::Eof,
    }
}

pub(crate) fn failed() -> Status {
    Status::Failed {
        reason: Reason::ConnectTimeout,
    }
}

/// Client `c-0` dials at 1 s, and `after` ms later says how it went.
pub(crate) fn dial_then(after: u64, outcome: Status) -> Builder {
    Builder::default()
        .status(1_000, "c-0", connecting(1))
        .dial(1_000, "c-0")
        .status(1_000 + after, "c-0", outcome)
}
