//! Everything that happened in a run, in order, with simulated timestamps.
//!
//! A [`History`] is the single source of truth for the checkers and the reports. It exports
//! as JSON lines, one [`Record`] per line after a header; the same scenario and seed always
//! give the same bytes.

mod fault;
mod name;

pub use fault::{ClientAction, Fault, Heal, Link, SERVER_HOST, Target};
pub use name::{Name, NamePool};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::{ServerEvent, Status};
use crate::protocol::GapReason;
use crate::server;

/// The version of the `history.jsonl` format, in its header line. 2: faults, healings and
/// client actions are typed (`verb` plus their own fields, no free text). 3: a `presence`
/// record holds one frame's changes (`{"event":"presence","changes":[{"joined":"a"}],
/// "online":2}`) instead of one `joined` or `left` each.
pub const VERSION: u32 = 3;

/// One thing that happened, at `t` milliseconds of simulated time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Simulated milliseconds since the start of the run.
    pub t: u64,
    /// For a client's event: how many dials its process had started by then, so every
    /// status, frame, message and gap names the connection attempt it belongs to (0 before
    /// the first dial; a dial's own number). Stamped by [`History::new`] from the order of
    /// the records, which is the order things happened; `None` for anything else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial: Option<u32>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Client-side events name the client (`GROUP-INDEX`). Every client and
/// topic is a shared [`Name`]; the large, rare payloads are boxed, so a [`Record`] stays at
/// 80 bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A client's status changed.
    Status {
        /// The client.
        client: Name,
        /// The new status.
        status: Status,
    },
    /// A client started a TCP dial.
    Dial {
        /// The client.
        client: Name,
    },
    /// A subscriber received a message: the most frequent record by far.
    Delivered {
        /// The client.
        client: Name,
        /// The topic.
        topic: Name,
        /// The server epoch.
        epoch: u64,
        /// The sequence number.
        seq: u64,
        /// The publisher.
        from: Name,
        /// The publisher's message id.
        id: u64,
        /// The server's number for the connection it arrived on (0: unknown).
        conn: u64,
    },
    /// A subscriber received a gap notice.
    Gap {
        /// The client.
        client: Name,
        /// The topic.
        topic: Name,
        /// Why.
        reason: GapReason,
        /// The epoch delivery resumes in (0 when unknown: a local lag).
        epoch: u64,
        /// Where delivery resumes (0 when unknown: a local lag).
        next_seq: u64,
    },
    /// A client learnt of a server-wide event (welcome, presence, error).
    Presence {
        /// The client.
        client: Name,
        /// The event.
        event: ServerEvent,
    },
    /// A raw client received a frame.
    Frame {
        /// The client.
        client: Name,
        /// Its length in bytes.
        len: usize,
        /// Its fingerprint ([`crate::protocol::digest`] of its payload): the broadcast
        /// server's `relayed` record names the same frame by it.
        digest: u64,
    },
    /// A frame on one of a client's connections that starts, ends or refuses the
    /// connection's readiness or a subscription, as its protocol's decoder reads it
    /// ([`crate::evidence::wire`]), where the client dialed. Deliveries and publishes are
    /// not recorded from the wire: the client's own reports have them.
    Wire {
        /// The client.
        client: Name,
        /// The dial the connection came from (its process's count, as [`Record::dial`]).
        conn: u32,
        /// Which way the frame went.
        dir: crate::evidence::wire::Direction,
        /// What it said (boxed: a rare record).
        said: Box<crate::evidence::wire::WireEvent>,
    },
    /// A client was asked to publish; `id` when it accepted, `refused` when it said no.
    Publish {
        /// The client.
        client: Name,
        /// The topic.
        topic: Name,
        /// The message id the client gave it.
        id: Option<u64>,
        /// Why the client refused it.
        refused: Option<String>,
    },
    /// The timeline made a client act (subscribe, unsubscribe, close, reconnect).
    Action {
        /// The client.
        client: Name,
        /// What it was told to do.
        #[serde(flatten)]
        action: ClientAction,
    },
    /// The server saw something.
    Server {
        /// The server's epoch.
        epoch: u64,
        /// What it saw (boxed: a rare record, and the largest).
        event: Box<server::Event>,
    },
    /// The server started.
    ServerUp {
        /// Its epoch.
        epoch: u64,
    },
    /// A fault began (or a knob was turned).
    Fault {
        /// Which, with its parameters (boxed: a rare record).
        #[serde(flatten)]
        fault: Box<Fault>,
    },
    /// A fault healed.
    Heal {
        /// Which, with its parameters (boxed: a rare record).
        #[serde(flatten)]
        heal: Box<Heal>,
    },
}

/// A run's complete record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Everything, in order.
    pub records: Vec<Record>,
    /// Each client's record indices, built on first use (checkers ask per client a lot).
    #[serde(skip)]
    by_client: ClientIndex,
}

/// A cache derived from `records`; two histories with the same records are equal whatever
/// their caches hold.
#[derive(Debug, Clone, Default)]
struct ClientIndex(std::sync::OnceLock<BTreeMap<String, Vec<usize>>>);

impl PartialEq for ClientIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl History {
    /// A history of `records` from a run of `scenario` with `seed`.
    ///
    /// It numbers the dials of each client process in order and stamps every client event
    /// with its process's dial count at that point ([`Record::dial`]); a process starts
    /// counting again after it exits.
    pub fn new(scenario: impl Into<String>, seed: u64, mut records: Vec<Record>) -> History {
        stamp_dials(&mut records);
        History {
            scenario: scenario.into(),
            seed,
            records,
            by_client: ClientIndex::default(),
        }
    }

    /// JSON lines: a header `{"wschaos_history":VERSION,"scenario":..,"seed":..}`, then one
    /// record per line.
    ///
    /// ```
    /// use wschaos::history::{Event, History, Record};
    /// let dial = Event::Dial { client: "subs-0".into() };
    /// let h = History::new("s", 7, vec![Record { t: 10, dial: None, event: dial }]);
    /// assert_eq!(h.to_jsonl(), "{\"wschaos_history\":3,\"scenario\":\"s\",\"seed\":7}\n{\"t\":10,\"dial\":1,\"kind\":\"dial\",\"client\":\"subs-0\"}\n");
    /// ```
    pub fn to_jsonl(&self) -> String {
        #[derive(Serialize)]
        struct Header<'a> {
            wschaos_history: u32,
            scenario: &'a str,
            seed: u64,
        }
        let header = Header {
            wschaos_history: VERSION,
            scenario: &self.scenario,
            seed: self.seed,
        };
        let mut out = serde_json::to_string(&header).expect("the header always serialises");
        out.push('\n');
        for record in &self.records {
            out.push_str(&serde_json::to_string(record).expect("records always serialise"));
            out.push('\n');
        }
        out
    }

    /// A client's status changes: (record index, time, status), in order.
    pub fn statuses<'a>(
        &'a self,
        client: &str,
    ) -> impl Iterator<Item = (usize, u64, &'a Status)> + 'a {
        self.of(client).filter_map(|(i, r)| match &r.event {
            Event::Status { status, .. } => Some((i, r.t, status)),
            _ => None,
        })
    }

    /// Every fault with the time it healed, in order of beginning. A stopped server heals
    /// when the next one is up (`server_up`), which a graceful restart that hands its
    /// socket over reaches only once the old one has drained, whatever its `down`.
    pub fn fault_windows(&self) -> Vec<FaultWindow> {
        let mut windows: Vec<FaultWindow> = Vec::new();
        let mut starting: Option<usize> = None;
        for r in &self.records {
            match &r.event {
                Event::ServerUp { .. } => {
                    if let Some(w) = starting.take().and_then(|i| windows.get_mut(i)) {
                        w.to = w.to.map(|to| to.max(r.t));
                    }
                }
                Event::Fault { fault } => windows.push(FaultWindow {
                    fault: (**fault).clone(),
                    from: r.t,
                    to: fault.target().is_none().then_some(r.t),
                }),
                Event::Heal { heal } => {
                    let target = heal.target();
                    if let Some((i, w)) = windows
                        .iter_mut()
                        .enumerate()
                        .find(|(_, w)| w.to.is_none() && w.fault.target().as_ref() == Some(&target))
                    {
                        w.to = Some(r.t);
                        if target == Target::Server {
                            starting = Some(i);
                        }
                    }
                }
                _ => {}
            }
        }
        windows
    }

    /// The records that concern `client`, with their indices, in order.
    pub fn of<'a>(&'a self, client: &str) -> impl Iterator<Item = (usize, &'a Record)> + 'a {
        let index = self.by_client.0.get_or_init(|| {
            let mut map: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, r) in self.records.iter().enumerate() {
                if let Some(c) = r.event.client() {
                    // A name is allocated once, at its first record, not at every one.
                    match map.get_mut(c) {
                        Some(list) => list.push(i),
                        None => {
                            map.insert(c.to_string(), vec![i]);
                        }
                    }
                }
            }
            map
        });
        index
            .get(client)
            .into_iter()
            .flatten()
            .map(|i| (*i, &self.records[*i]))
    }
}

/// Sets [`Record::dial`] on every client event: the number of dials its process started up
/// to and including this record.
fn stamp_dials(records: &mut [Record]) {
    let mut dials: BTreeMap<&str, u32> = BTreeMap::new();
    for r in records.iter_mut() {
        let Some(client) = r.event.client() else {
            r.dial = None;
            continue;
        };
        let count = dials.entry(client).or_default();
        match &r.event {
            Event::Dial { .. } => *count += 1,
            Event::Action {
                action: ClientAction::Start,
                ..
            } => *count = 0,
            _ => {}
        }
        r.dial = Some(*count);
    }
}

/// A fault from its beginning to its healing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultWindow {
    /// The fault.
    pub fault: Fault,
    /// When it began (ms).
    pub from: u64,
    /// When it healed (ms); `None` when it never did within the run. A kick is an instant.
    pub to: Option<u64>,
}

impl Event {
    /// The names a record holds ([`Name`]), for the recorder to share.
    pub(crate) fn names_mut(&mut self) -> impl Iterator<Item = &mut Name> {
        let (client, topic) = match self {
            Event::Delivered { client, topic, .. }
            | Event::Gap { client, topic, .. }
            | Event::Publish { client, topic, .. } => (Some(client), Some(topic)),
            Event::Status { client, .. }
            | Event::Dial { client }
            | Event::Presence { client, .. }
            | Event::Frame { client, .. }
            | Event::Wire { client, .. }
            | Event::Action { client, .. } => (Some(client), None),
            Event::Server { .. }
            | Event::ServerUp { .. }
            | Event::Fault { .. }
            | Event::Heal { .. } => (None, None),
        };
        client.into_iter().chain(topic)
    }

    /// A server record's epoch and event.
    pub fn server(&self) -> Option<(u64, &server::Event)> {
        match self {
            Event::Server { epoch, event } => Some((*epoch, event)),
            _ => None,
        }
    }

    /// The fault a fault record began.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Event::Fault { fault } => Some(fault),
            _ => None,
        }
    }

    /// The client a client-side event concerns.
    pub fn client(&self) -> Option<&str> {
        match self {
            Event::Delivered { client, .. } => Some(client),
            Event::Status { client, .. }
            | Event::Dial { client }
            | Event::Gap { client, .. }
            | Event::Presence { client, .. }
            | Event::Frame { client, .. }
            | Event::Wire { client, .. }
            | Event::Publish { client, .. }
            | Event::Action { client, .. } => Some(client),
            _ => None,
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A large run's history is most of its memory (W1000: 700,000 records): a record
    /// stays at 80 bytes, its names one pointer each and its rare large payloads boxed.
    #[test]
    fn a_record_is_80_bytes() {
        assert_eq!(std::mem::size_of::<Name>(), 8);
        assert_eq!(std::mem::size_of::<Record>(), 80);
    }
}
