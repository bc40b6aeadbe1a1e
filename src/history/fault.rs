//! Faults and healings as typed data: what the step loop did to the world, recorded as it
//! did it. Checkers match on these; nothing downstream reads meaning out of text.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// The simulated host the server runs on (a name no client host may take).
pub const SERVER_HOST: &str = "server";

/// The two hosts a network fault is between, as the scenario named them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Link {
    /// The first host (the sender, for a one-way fault).
    pub a: String,
    /// The second host.
    pub b: String,
    /// Only from `a` to `b`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oneway: bool,
}

impl Link {
    /// A link between `a` and `b`.
    pub fn new(a: &str, b: &str, oneway: bool) -> Link {
        Link {
            a: a.to_string(),
            b: b.to_string(),
            oneway,
        }
    }

    /// The client host at the far end of a link to the server; `None` when the link does
    /// not touch the server (two client hosts) or touches nothing but it.
    pub fn client_host(&self) -> Option<&str> {
        match (self.a == SERVER_HOST, self.b == SERVER_HOST) {
            (true, false) => Some(&self.b),
            (false, true) => Some(&self.a),
            _ => None,
        }
    }

    /// True when this link joins `host` and the server.
    pub fn joins_server_and(&self, host: &str) -> bool {
        self.client_host() == Some(host)
    }

    /// The same link whatever the order its two hosts were named in (latency is symmetric).
    fn unordered(&self) -> (String, String) {
        if self.a <= self.b {
            (self.a.clone(), self.b.clone())
        } else {
            (self.b.clone(), self.a.clone())
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = if self.oneway { "->" } else { "<->" };
        write!(f, "{} {arrow} {}", self.a, self.b)
    }
}

/// A fault beginning (or a knob turned), as the step loop applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Fault {
    /// The server crashed: every connection ends at once (EOF); dials hang until a start.
    Crash,
    /// The server was told to stop gracefully (drain, then 1012 to everyone).
    Shutdown {
        /// Its listening socket stays open for the next server: dials wait, not refused.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        hand_over: bool,
    },
    /// The server vanished silently: every link to it cut, then crashed.
    Die,
    /// A link cut: established streams go silent, dials are refused.
    Partition {
        /// The link.
        link: Link,
    },
    /// A black hole: everything on the link is held until released.
    Hold {
        /// The link.
        link: Link,
    },
    /// A link's latency changed.
    Latency {
        /// The link.
        link: Link,
        /// The new one-way latency.
        #[serde(with = "crate::duration_serde")]
        latency: Duration,
    },
    /// The server closes every connection right after its handshake.
    Flap,
    /// The server answers every handshake with this HTTP status.
    Reject {
        /// The HTTP status.
        status: u16,
    },
    /// The server closed every connection with this code (an instant, not a window).
    Kick {
        /// The close code.
        code: u16,
    },
}

/// A fault healing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Heal {
    /// The server started (after a crash, a shutdown or a silent death).
    Start,
    /// A partition repaired.
    Repair {
        /// The link.
        link: Link,
    },
    /// A black hole released.
    Release {
        /// The link.
        link: Link,
    },
    /// A link back to the network's latency.
    Latency {
        /// The link.
        link: Link,
        /// The latency it is back to.
        #[serde(with = "crate::duration_serde")]
        latency: Duration,
    },
    /// Handshakes accepted again (a flap or reject window ended).
    Admit,
}

/// What a fault acts on: a healing ends the open fault with the same target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The server process (crash, shutdown, die; healed by a start).
    Server,
    /// The server's admission of handshakes (flap, reject; healed by admit).
    Admission,
    /// One partitioned link.
    Partition(Link),
    /// One held link.
    Hold(Link),
    /// One link's latency, whichever way its hosts were named.
    Latency((String, String)),
}

impl Fault {
    /// The verb, as a scenario file writes it (`shutdown` for a graceful restart's stop).
    pub fn verb(&self) -> &'static str {
        match self {
            Fault::Crash => "crash",
            Fault::Shutdown { .. } => "shutdown",
            Fault::Die => "die",
            Fault::Partition { .. } => "partition",
            Fault::Hold { .. } => "hold",
            Fault::Latency { .. } => "latency",
            Fault::Flap => "flap",
            Fault::Reject { .. } => "reject",
            Fault::Kick { .. } => "kick",
        }
    }

    /// What it acts on; `None` for an instant (a kick), which nothing heals.
    pub fn target(&self) -> Option<Target> {
        match self {
            Fault::Crash | Fault::Shutdown { .. } | Fault::Die => Some(Target::Server),
            Fault::Flap | Fault::Reject { .. } => Some(Target::Admission),
            Fault::Partition { link } => Some(Target::Partition(link.clone())),
            Fault::Hold { link } => Some(Target::Hold(link.clone())),
            Fault::Latency { link, .. } => Some(Target::Latency(link.unordered())),
            Fault::Kick { .. } => None,
        }
    }

    /// True when the server process stops (its connections end, its state is lost).
    pub fn stops_server(&self) -> bool {
        matches!(self, Fault::Crash | Fault::Shutdown { .. } | Fault::Die)
    }

    /// The client host this fault cuts off from the server, for a partition or a hold of
    /// a client host's link to the server.
    pub fn isolates(&self) -> Option<&str> {
        match self {
            Fault::Partition { link } | Fault::Hold { link } => link.client_host(),
            _ => None,
        }
    }
}

impl Heal {
    /// The verb, as a scenario file writes it.
    pub fn verb(&self) -> &'static str {
        match self {
            Heal::Start => "start",
            Heal::Repair { .. } => "repair",
            Heal::Release { .. } => "release",
            Heal::Latency { .. } => "latency",
            Heal::Admit => "admit",
        }
    }

    /// What it heals.
    pub fn target(&self) -> Target {
        match self {
            Heal::Start => Target::Server,
            Heal::Admit => Target::Admission,
            Heal::Repair { link } => Target::Partition(link.clone()),
            Heal::Release { link } => Target::Hold(link.clone()),
            Heal::Latency { link, .. } => Target::Latency(link.unordered()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash => write!(f, "server crashed"),
            Fault::Shutdown { hand_over: false } => write!(f, "server stopping gracefully (1012)"),
            Fault::Shutdown { hand_over: true } => write!(
                f,
                "server stopping gracefully (1012), its socket kept for the next"
            ),
            Fault::Die => write!(f, "server vanished silently"),
            Fault::Partition { link } | Fault::Hold { link } => write!(f, "{link}"),
            Fault::Latency { link, latency } => {
                write!(f, "{link} = {}", humantime::format_duration(*latency))
            }
            Fault::Flap => write!(f, "server closes right after each welcome"),
            Fault::Reject { status } => write!(f, "handshakes answered with HTTP {status}"),
            Fault::Kick { code } => write!(f, "every connection closed with {code}"),
        }
    }
}

impl fmt::Display for Heal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Heal::Start => write!(f, "server started"),
            Heal::Repair { link } | Heal::Release { link } => write!(f, "{link}"),
            Heal::Latency { link, latency } => {
                write!(f, "{link} = {}", humantime::format_duration(*latency))
            }
            Heal::Admit => write!(f, "handshakes accepted"),
        }
    }
}

/// A client action the timeline made a client take (publishes are recorded on their own,
/// with the id the client gave them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientAction {
    /// `subscribe(topic)`.
    Subscribe {
        /// The topic.
        topic: String,
    },
    /// `unsubscribe(topic)`.
    Unsubscribe {
        /// The topic.
        topic: String,
    },
    /// `close()`.
    Close,
    /// `reconnect()`.
    Reconnect,
    /// The client's process ended at once (`restart_client`): every later record of this
    /// name belongs to the next process, which starts with a [`ClientAction::Start`].
    Exit,
    /// A new process started under this name, with its group's topics.
    Start,
}

/// `subscribe(news)`, `close()`, `process exited`, as reports show it.
impl std::fmt::Display for ClientAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAction::Exit => write!(f, "process exited (restart_client)"),
            ClientAction::Start => write!(f, "new process started"),
            _ => write!(f, "{}({})", self.verb(), self.topic().unwrap_or("")),
        }
    }
}

impl ClientAction {
    /// The verb, as a scenario file writes it (`exit` and `start` are the two halves of
    /// `restart_client`).
    pub fn verb(&self) -> &'static str {
        match self {
            ClientAction::Subscribe { .. } => "subscribe",
            ClientAction::Unsubscribe { .. } => "unsubscribe",
            ClientAction::Close => "close",
            ClientAction::Reconnect => "reconnect",
            ClientAction::Exit => "exit",
            ClientAction::Start => "start",
        }
    }

    /// The topic of a subscribe or unsubscribe.
    pub fn topic(&self) -> Option<&str> {
        match self {
            ClientAction::Subscribe { topic } | ClientAction::Unsubscribe { topic } => Some(topic),
            ClientAction::Close
            | ClientAction::Reconnect
            | ClientAction::Exit
            | ClientAction::Start => None,
        }
    }
}
