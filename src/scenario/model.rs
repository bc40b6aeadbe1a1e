//! The scenario file's data: what runs, what goes wrong when, and what must hold.
//!
//! Every field is documented in `scenarios/README.md`; `wschaos schema` prints the same as
//! a JSON Schema for editor completion.

use std::collections::BTreeMap;
use std::time::Duration;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::client::Policy;
use crate::server::ServerConfig;

/// One scenario: a server, groups of clients, a timeline of faults and actions, expectations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in test names and reports.
    pub name: String,
    /// What the scenario is about: one concern, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Seeds to run; each gives one deterministic run. Default `[1, 2, 3]`.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Simulated time the run lasts.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub duration: Duration,
    /// Time allowed after the last fault heals for every client to be connected again with
    /// its topics restored. Default 10 s.
    #[serde(default = "default_settle", with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub settle: Duration,
    /// Simulation step. Smaller is finer and slower. Default 10 ms.
    #[serde(default = "default_tick", with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub tick: Duration,
    /// Network defaults.
    #[serde(default)]
    pub network: Network,
    /// Server settings (`epoch` is set by the runner: 1, then +1 at each start).
    #[serde(default)]
    pub server: ServerConfig,
    /// Client groups.
    pub clients: Vec<Group>,
    /// Faults and client actions at simulated times.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<StepDoc>"))]
    pub timeline: Vec<Step>,
    /// What must hold.
    #[serde(default)]
    pub expect: Expect,
    /// Bounds for `wschaos explore --swarm`, which adds random faults and client actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
    /// A protocol wschaos does not know, declared: how to read the frames of the clients
    /// of the server's protocol as evidence ([`crate::evidence::wire::Declared`]). Default:
    /// the built-in decoder of `[server] protocol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<crate::evidence::wire::Declared>,
}

/// How `explore --swarm` may randomise a run: which verbs, how many, when, how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Swarm {
    /// Fault verbs to draw from: `restart`, `partition`, `hold`, `latency`, `flap`,
    /// `reject`, `kick`, `graceful_restart`. Default: all but `graceful_restart`.
    pub faults: Vec<String>,
    /// Client actions to draw from: `subscribe`, `unsubscribe`, `publish`, `close`,
    /// `reconnect`. Default: `subscribe`, `unsubscribe`, `publish`, `reconnect`.
    pub actions: Vec<String>,
    /// Fewest and most faults. Default `[1, 4]`.
    pub faults_count: [usize; 2],
    /// Fewest and most client actions. Default `[0, 3]`.
    pub actions_count: [usize; 2],
    /// Fewest and most client actions fired by a status change (`on` steps, drawn from
    /// `actions`), where re-entrancy bugs hide. Default `[0, 0]`, so that the seeds of
    /// older swarm files keep drawing the same schedules.
    pub triggered_count: [usize; 2],
    /// Earliest start of a drawn step. Default 2 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub from: Duration,
    /// Longest fault window (downtime, partition, hold, flap, reject). Default 15 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub max_window: Duration,
    /// Topics the drawn subscribe, unsubscribe and publish actions use. Default `["news"]`.
    pub topics: Vec<String>,
    /// Close codes a drawn `kick` sends. Default `[1001, 1012, 1000]`; add codes the
    /// client's policy calls terminal (e.g. 4501) to draw give-ups too.
    pub kick_codes: Vec<u16>,
    /// HTTP statuses a drawn `reject` answers. Default `[503, 502, 429]`; add 401 or 403 to
    /// draw rejected credentials.
    pub reject_statuses: Vec<u16>,
    /// Also draw every pub/sub group's whole policy (delays, multiplier 1 to 3, jitter 0 to
    /// 1, attempt budgets down to 1, timeouts, heartbeats from 300 ms to 30 s) and the
    /// file's `settle` (down to 1 s, shorter than a heartbeat): the shapes a hand-written
    /// file never tries. Default false.
    pub policies: bool,
    /// Draw steps anywhere in the run, from its first instant to its last seconds (a
    /// window still ends by the end), not only between `from` and the last `settle`: where
    /// a client's bounds outlast the run, the checkers say *not judged*. Default false.
    pub anywhere: bool,
}

/// The fault verbs swarm mode can draw (self-healing ones). It draws the first seven unless
/// told otherwise: `graceful_restart` and `handover` (a graceful restart that hands its
/// socket over, down for the drawn window or, one time in three, not at all) are opt-in, so
/// that the seeds of existing swarm runs keep drawing the same schedules.
pub const SWARM_FAULTS: [&str; 9] = [
    "restart",
    "partition",
    "hold",
    "latency",
    "flap",
    "reject",
    "kick",
    "graceful_restart",
    "handover",
];

/// The client actions swarm mode can draw.
pub const SWARM_ACTIONS: [&str; 6] = [
    "subscribe",
    "unsubscribe",
    "publish",
    "close",
    "reconnect",
    "restart_client",
];

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            faults: SWARM_FAULTS[..7].iter().map(ToString::to_string).collect(),
            actions: ["subscribe", "unsubscribe", "publish", "reconnect"]
                .map(String::from)
                .to_vec(),
            faults_count: [1, 4],
            actions_count: [0, 3],
            triggered_count: [0, 0],
            from: Duration::from_secs(2),
            max_window: Duration::from_secs(15),
            topics: vec!["news".into()],
            kick_codes: vec![1001, 1012, 1000],
            reject_statuses: vec![503, 502, 429],
            policies: false,
            anywhere: false,
        }
    }
}

/// Network defaults for every link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// One-way latency of every message. Default 1 ms.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub latency: Duration,
    /// Extra random latency, up to this much (drawn from the run's seed). Default 0.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub jitter: Duration,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
        }
    }
}

/// Which layer of the client a group runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The pub/sub client: topics, outbox, resume.
    #[default]
    Pubsub,
    /// The raw reconnecting socket: frames only.
    Raw,
}

/// A group of identical clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name; clients are named `NAME-0`, `NAME-1`, ...
    pub name: String,
    /// How many clients. Default 1.
    #[serde(default = "one")]
    pub count: usize,
    /// The simulated host they run on (shared by every group naming it). Give a client a
    /// host of its own only to partition it alone: hosts are what makes a simulation slow.
    /// Default `clients`.
    #[serde(default = "default_host")]
    pub host: String,
    /// Pub/sub or raw.
    #[serde(default)]
    pub mode: Mode,
    /// Topics each client subscribes to at start.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Reconnect policy.
    #[serde(default)]
    pub policy: Policy,
    /// A steady publish workload, per client.
    #[serde(default)]
    pub publish: Option<Workload>,
    /// A real client process instead of the built-in client: a shell command (run through
    /// `sh -c`, so `$VARS` work) with placeholders `{url}` (this client's own address: a
    /// proxy that attributes every dial to it), `{name}`, `{port}` (the proxy's) and
    /// `{topics}` (the group's topics, comma-separated). A file with one runs on the real
    /// network (loopback), in real time. `count` starts that many processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Working directory of `command`, relative to the scenario file. Default: the scenario
    /// file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub cwd: Option<std::path::PathBuf>,
    /// Extra environment for `command`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// What `command` needs beyond a shell: programs on `PATH` (`"node"`), or, with a `/`,
    /// paths relative to the scenario file (`"../../examples/clients/node_modules"`). A run
    /// where one is missing stops before it starts, naming it; the test suite skips it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// The protocol these clients speak when it is not the server's: only `"wschaos"`, for
    /// clients of wschaos's own protocol (the built-in client, `wschaos connect`: a
    /// publisher, say) beside clients of the server's protocol (`graphql-transport-ws`,
    /// `phoenix`). The built-in server speaks it to them (their URL asks for it,
    /// `?protocol=wschaos`) and their frames are read as its. Default: the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<crate::protocol::Protocol>,
}

impl Group {
    /// The protocol its clients speak: its own, else the server's.
    pub fn speaks(&self, s: &Scenario) -> crate::protocol::Protocol {
        self.protocol.unwrap_or(s.server.protocol)
    }

    /// How its clients' frames are read: wschaos's decoder for a group that speaks it beside
    /// another protocol, else the file's declared protocol, else the server's.
    pub fn wire(&self, s: &Scenario) -> crate::evidence::wire::Wire {
        use crate::evidence::wire::Wire;
        match (&s.protocol, self.protocol) {
            (_, Some(p)) if p != s.server.protocol => Wire::Builtin(p),
            (Some(declared), _) => Wire::Declared(std::sync::Arc::new(declared.clone())),
            (None, _) => Wire::Builtin(self.speaks(s)),
        }
    }

    /// True when the built-in server must be asked for the group's protocol in its URL
    /// (`?protocol=wschaos`): it speaks another than the built-in server's.
    pub fn asks_for_protocol(&self, s: &Scenario) -> bool {
        s.server.command.is_none() && self.speaks(s) != s.server.protocol
    }
}

/// Each client of the group publishes to `topic` every `every`, from `start` to `stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The topic (a pub/sub group). A raw group has none: its clients send text frames
    /// (`NAME#N`), which the broadcast server relays to everyone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
    /// Interval between publishes.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub every: Duration,
    /// First publish. Default 1 s.
    #[serde(default = "default_start", with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub start: Duration,
    /// No publish after this. Default: none, publishing goes on to the end of the run.
    #[serde(default, with = "crate::duration_serde::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub stop: Option<Duration>,
}

/// One timeline entry: at `at` (or when a client's status changes, `on`), do `action`.
/// Two steps are equal when they do the same thing at the same moment, wherever they were
/// written.
#[derive(Debug, Clone)]
pub struct Step {
    /// Simulated time (0 for a step fired by a status change).
    pub at: Duration,
    /// Fire on a status change of each client the action names, instead of at a time.
    pub on: Option<Trigger>,
    /// What happens.
    pub action: Action,
    /// Where the step is in its file (byte range; empty when built in code).
    pub span: std::ops::Range<usize>,
}

/// Written back as a file would say it: `at`, or `on` (and `nth` past the first), then the
/// action's fields.
impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(
                with = "crate::duration_serde::option",
                skip_serializing_if = "Option::is_none"
            )]
            at: Option<Duration>,
            #[serde(skip_serializing_if = "Option::is_none")]
            on: Option<StatusName>,
            #[serde(skip_serializing_if = "Option::is_none")]
            nth: Option<u32>,
            #[serde(flatten)]
            action: &'a Action,
        }
        Out {
            at: self.on.is_none().then_some(self.at),
            on: self.on.as_ref().map(|t| t.on),
            nth: self.on.as_ref().map(|t| t.nth).filter(|n| *n != 1),
            action: &self.action,
        }
        .serialize(s)
    }
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.on == other.on && self.action == other.action
    }
}

/// A client action fired by a status change: the `nth` time (from 1) the client moves to
/// `on`, the action runs in the same instant, inside the transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The status that fires it.
    pub on: StatusName,
    /// Which time the client reaches it; default 1.
    #[serde(default = "one_u32")]
    pub nth: u32,
}

/// A status, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusName {
    /// `Connecting { .. }`.
    Connecting,
    /// `Connected`.
    Connected,
    /// `Disconnected { .. }`.
    Disconnected,
    /// `Failed { .. }`.
    Failed,
    /// `Closed`.
    Closed,
}

impl StatusName {
    /// The name of a status.
    pub fn of(status: &crate::client::Status) -> StatusName {
        use crate::client::Status;
        match status {
            Status::Connecting { .. } => StatusName::Connecting,
            Status::Connected => StatusName::Connected,
            Status::Disconnected { .. } => StatusName::Disconnected,
            Status::Failed { .. } => StatusName::Failed,
            Status::Closed => StatusName::Closed,
        }
    }
}

fn one_u32() -> u32 {
    1
}

/// Steps are read by hand: `at` first, then the action from the rest of the table, so an
/// error in either points at the step and says which of the two is wrong.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let spanned = toml::Spanned::<toml::Table>::deserialize(d)?;
        let span = spanned.span();
        let mut table = spanned.into_inner();
        let mut trigger = toml::Table::new();
        for key in ["on", "nth"] {
            if let Some(v) = table.remove(key) {
                trigger.insert(key.into(), v);
            }
        }
        let on = match trigger.is_empty() {
            true => None,
            false if !trigger.contains_key("on") => {
                return Err(D::Error::custom(
                    "`nth` needs `on`: the status whose nth change fires the step",
                ));
            }
            false => Some(
                toml::Value::Table(trigger)
                    .try_into::<Trigger>()
                    .map_err(|e| D::Error::custom(format!("`on`/`nth`: {}", e.message())))?,
            ),
        };
        let at = match (table.remove("at"), &on) {
            (Some(_), Some(_)) => {
                return Err(D::Error::custom(
                    "a step has `at` or `on`, not both: at a time, or on a status change",
                ));
            }
            (None, Some(_)) => Duration::ZERO,
            (Some(toml::Value::String(text)), None) => {
                crate::duration_serde::parse(&text).map_err(D::Error::custom)?
            }
            (Some(other), None) => {
                return Err(D::Error::custom(format!(
                    "`at` must be a duration string like \"10s\", not {}",
                    other.type_str()
                )));
            }
            (None, None) => {
                return Err(D::Error::custom(
                    "missing `at`: when the step happens, e.g. at = \"10s\" (or `on = \"connected\"` for a client action fired by a status change)",
                ));
            }
        };
        if !table.contains_key("do") {
            return Err(D::Error::custom(
                "missing `do`: what the step does, e.g. do = \"restart\"",
            ));
        }
        let action = toml::Value::Table(table)
            .try_into::<Action>()
            .map_err(|e| D::Error::custom(e.message()))?;
        Ok(Step {
            at,
            on,
            action,
            span,
        })
    }
}

/// Schema-only mirror of [`Step`] (the parser reads steps by hand for precise errors).
#[cfg(feature = "schema")]
#[derive(JsonSchema)]
#[allow(dead_code)]
struct StepDoc {
    /// Simulated time, e.g. "10s".
    at: Option<String>,
    /// For a client action: fire on this status change of each client it names instead of
    /// at a time (`connecting`, `connected`, `disconnected`, `failed`, `closed`).
    on: Option<StatusName>,
    /// With `on`: which time the client reaches that status (from 1). Default 1.
    nth: Option<u32>,
    #[serde(flatten)]
    action: Action,
}

/// What a step does. Faults first, then client actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Crash the server and start it again after `down` (clients see EOF at once, then
    /// dials that hang while it is down).
    Restart {
        /// Downtime.
        #[serde(with = "crate::duration_serde")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        down: Duration,
    },
    /// Stop the server as a deploy does: it stops accepting, sends what it has queued and
    /// closes every connection with 1012 (service restart); it starts again after `down`.
    GracefulRestart {
        /// Downtime, from the stop order to the new start.
        #[serde(with = "crate::duration_serde")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        down: Duration,
        /// Keep the listening socket open for the next server, as systemd's socket
        /// activation does: dials made while it is down wait to be accepted instead of
        /// being refused. Default false. The built-in server only.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hand_over: bool,
    },
    /// Crash the server; it stays down until a `start`.
    Crash,
    /// Start a crashed server.
    Start,
    /// Silent death: the server vanishes without a FIN (partitioned, then crashed); only
    /// heartbeats notice. It stays down until a `start`.
    Die,
    /// Cut the links between two hosts (both ways unless `oneway`); established streams go
    /// silent. Repaired after `for`, or by a `repair` step.
    Partition {
        /// The two hosts (`server` or a client host).
        between: [String; 2],
        /// Only from the first host to the second.
        #[serde(default)]
        oneway: bool,
        /// Repair automatically after this long.
        #[serde(default, rename = "for", with = "crate::duration_serde::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        for_: Option<Duration>,
    },
    /// Repair a partition.
    Repair {
        /// The two hosts.
        between: [String; 2],
        /// Only from the first host to the second.
        #[serde(default)]
        oneway: bool,
    },
    /// Black hole: hold every message between two hosts (dials and data stall), released
    /// in a burst after `for` or by a `release` step.
    Hold {
        /// The two hosts.
        between: [String; 2],
        /// Release automatically after this long.
        #[serde(default, rename = "for", with = "crate::duration_serde::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        for_: Option<Duration>,
    },
    /// Release held messages.
    Release {
        /// The two hosts.
        between: [String; 2],
    },
    /// Set the latency of the link between two hosts.
    Latency {
        /// The two hosts.
        between: [String; 2],
        /// The new one-way latency.
        #[serde(with = "crate::duration_serde")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        latency: Duration,
        /// Back to the network default after this long.
        #[serde(default, rename = "for", with = "crate::duration_serde::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        for_: Option<Duration>,
    },
    /// For `for`, the server completes each handshake and closes at once (code 1011).
    Flap {
        /// The window.
        #[serde(rename = "for", with = "crate::duration_serde")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        for_: Duration,
    },
    /// For `for`, the server answers every handshake with HTTP `status`.
    Reject {
        /// The window.
        #[serde(rename = "for", with = "crate::duration_serde")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        for_: Duration,
        /// The HTTP status. Default 503.
        #[serde(default = "default_reject_status")]
        status: u16,
    },
    /// The server closes every connection with `code` and keeps running.
    Kick {
        /// The close code. Default 1001.
        #[serde(default = "default_kick_code")]
        code: u16,
    },
    /// A client (group `NAME`: all of it; `NAME-3`: one) subscribes to `topic`.
    Subscribe {
        /// The client or group.
        client: String,
        /// The topic.
        topic: String,
    },
    /// A client unsubscribes from `topic`.
    Unsubscribe {
        /// The client or group.
        client: String,
        /// The topic.
        topic: String,
    },
    /// A client publishes `data` to `topic` (whatever its status).
    Publish {
        /// The client or group.
        client: String,
        /// The topic.
        topic: String,
        /// The payload. Default: `{client}:{step line}`.
        #[serde(default)]
        data: Option<String>,
    },
    /// A client calls `close()`.
    Close {
        /// The client or group.
        client: String,
    },
    /// A client calls `reconnect()`.
    Reconnect {
        /// The client or group.
        client: String,
    },
    /// The client's process ends at once (a crash, a killed app, a reloaded page: its
    /// sockets close without a close frame, its memory is gone) and a new process starts
    /// under the same name after `down`, with its group's topics, as at the start of the
    /// run.
    RestartClient {
        /// The client or group.
        client: String,
        /// How long no process runs. Default 0 (a reload).
        #[serde(default, with = "crate::duration_serde")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        down: Duration,
    },
}

/// What must hold at the end of the run, beyond the built-in invariants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    /// Final status per group: `connected`, `failed`, `closed`, `disconnected` or `connecting`.
    #[serde(rename = "final")]
    pub final_status: BTreeMap<String, String>,
    /// For each group, the exact sequence of status names every client goes through
    /// (each change once), e.g. `["connecting", "connected", "disconnected", ...]`.
    pub sequence: BTreeMap<String, Vec<String>>,
    /// Built-in invariants to skip, by name (see `scenarios/README.md`).
    pub skip: Vec<String>,
    /// Herd spread: judge the first dials after a restart in windows of this one length
    /// only. Default: a scan at several lengths (`herd_spread`).
    #[serde(with = "crate::duration_serde::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub herd_window: Option<Duration>,
    /// Herd spread: at most this share of a group may dial within a window. Default: the
    /// count full jitter reaches by chance below one in a billion.
    pub herd_share: Option<f64>,
    /// A known, still open bug: this invariant is expected to fail (a regression file
    /// written by `explore`). The test passes while it fails, and fails once it no longer
    /// does, to say the bug is fixed and the marker can go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<String>,
    /// After each fault heals (and after each kick), every client that is still trying must
    /// be connected again within this. Default: not checked (`settle` still applies).
    #[serde(with = "crate::duration_serde::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub reconnect_within: Option<Duration>,
}

fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3]
}

fn default_settle() -> Duration {
    Duration::from_secs(10)
}

fn default_tick() -> Duration {
    Duration::from_millis(10)
}

fn default_start() -> Duration {
    Duration::from_secs(1)
}

fn default_host() -> String {
    "clients".into()
}

fn one() -> usize {
    1
}

fn default_reject_status() -> u16 {
    503
}

fn default_kick_code() -> u16 {
    1001
}

impl Group {
    /// The names of this group's clients: `NAME-0` .. `NAME-(count-1)`.
    pub fn client_names(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.count).map(move |i| format!("{}-{i}", self.name))
    }
}

impl Action {
    /// The verb as written in the file (`restart`, `partition`, ...).
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Restart { .. } => "restart",
            Action::GracefulRestart { .. } => "graceful_restart",
            Action::Crash => "crash",
            Action::Start => "start",
            Action::Die => "die",
            Action::Partition { .. } => "partition",
            Action::Repair { .. } => "repair",
            Action::Hold { .. } => "hold",
            Action::Release { .. } => "release",
            Action::Latency { .. } => "latency",
            Action::Flap { .. } => "flap",
            Action::Reject { .. } => "reject",
            Action::Kick { .. } => "kick",
            Action::Subscribe { .. } => "subscribe",
            Action::Unsubscribe { .. } => "unsubscribe",
            Action::Publish { .. } => "publish",
            Action::Close { .. } => "close",
            Action::Reconnect { .. } => "reconnect",
            Action::RestartClient { .. } => "restart_client",
        }
    }

    /// The client or group a client action names; `None` for faults.
    pub fn client(&self) -> Option<&str> {
        match self {
            Action::Subscribe { client, .. }
            | Action::Unsubscribe { client, .. }
            | Action::Publish { client, .. }
            | Action::Close { client }
            | Action::Reconnect { client }
            | Action::RestartClient { client, .. } => Some(client),
            _ => None,
        }
    }

    /// The client action the history records for this step (`publish` is recorded as a
    /// `publish` record of its own); `None` for a fault and for `publish`.
    pub fn recorded(&self) -> Option<crate::history::ClientAction> {
        use crate::history::ClientAction;
        Some(match self {
            Action::Subscribe { topic, .. } => ClientAction::Subscribe {
                topic: topic.clone(),
            },
            Action::Unsubscribe { topic, .. } => ClientAction::Unsubscribe {
                topic: topic.clone(),
            },
            Action::Close { .. } => ClientAction::Close,
            Action::Reconnect { .. } => ClientAction::Reconnect,
            _ => return None,
        })
    }

    /// How long the fault lasts when it heals by itself.
    pub fn window(&self) -> Option<Duration> {
        match self {
            Action::Restart { down } | Action::GracefulRestart { down, .. } => Some(*down),
            Action::Partition { for_, .. }
            | Action::Hold { for_, .. }
            | Action::Latency { for_, .. } => *for_,
            Action::Flap { for_ } | Action::Reject { for_, .. } => Some(*for_),
            _ => None,
        }
    }
}
