//! Server settings: plain data with documented defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::Protocol;
use crate::tls::ServerTls;

/// How the broadcast server behaves and where its limits are.
///
/// ```
/// use wschaos::server::ServerConfig;
/// let config = ServerConfig { epoch: 42, history: 100, ..ServerConfig::default() };
/// assert_eq!(config.max_message_size, 64 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Identifies this run of the server; it must differ at every start so clients can tell
    /// that sequences restarted. The CLI uses the start time; a simulation, the restart count.
    /// Default 0.
    pub epoch: u64,
    /// Messages kept per topic for resume. Default 1024.
    pub history: usize,
    /// Frames queued per connection; a connection whose queue is full is disconnected
    /// (close 1008), it never holds the others back. Default 1024.
    pub queue: usize,
    /// Time allowed to write one frame; a stuck peer is disconnected. Default 5 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub write_timeout: Duration,
    /// Time allowed for the WebSocket handshake. Default 5 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub handshake_timeout: Duration,
    /// Quiet time after which the server pings a client. Default 10 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub ping_interval: Duration,
    /// Time a ping may go unanswered before the connection is dropped, and a close frame
    /// before the server drops the connection anyway (the closing handshake). Default 5 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub pong_timeout: Duration,
    /// Largest message (and frame) accepted, in bytes; a larger one closes with 1009.
    /// Default 64 KiB.
    pub max_message_size: usize,
    /// Subscriptions per connection. Default 256.
    pub max_subscriptions: usize,
    /// Connections at once; the handshake of one more is answered with HTTP 503.
    /// Default 10,000.
    pub max_connections: usize,
    /// Client identities remembered for duplicate detection (least recently used are
    /// forgotten first). Default 100,000.
    pub dedup_clients: usize,
    /// Browser origins allowed to connect (the handshake's `Origin` header); a handshake
    /// from another origin is answered with HTTP 403. Empty (the default): any origin.
    /// Clients that send no `Origin` (non-browsers) are not affected.
    pub allowed_origins: Vec<String>,
    /// When set, every handshake must carry `Authorization: Bearer TOKEN`; one without it
    /// is answered with HTTP 401. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A fault knob for chaos scenarios: wait this long after each handshake before the
    /// welcome (and before reading anything), like a server slow to set up a session.
    /// Default 0.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub welcome_delay: Duration,
    /// How long the server gathers joins and leaves before it sends them, as one
    /// `presence` frame per connection (sooner when it sends that connection anything
    /// else, so a change is never overtaken by a later message). A reconnect storm of n
    /// clients then costs each client a frame per interval, not one per client. 0 sends
    /// every change at once. Default 100 ms. The broadcast protocol ignores it: the
    /// article's server announces each change at once.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub presence_every: Duration,
    /// Serve `wss://`: every accepted connection runs the TLS handshake first (bounded by
    /// `handshake_timeout`). Default: none, plain `ws://`. Not part of scenario files.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub tls: Option<ServerTls>,
    /// Real-network runs only: run this server instead of the built-in one, through
    /// `sh -c` (so `$VARS` work). `{port}` (also `$WSCHAOS_PORT`) is the port it must
    /// listen on, on 127.0.0.1. A restart kills its process group (SIGKILL) and runs it
    /// again; a graceful restart sends SIGTERM and waits `stop_grace`; `kick`, `flap` and
    /// `reject` are done by each client's proxy. Default: none (the built-in server, whose
    /// settings are the other keys; with a command they describe what the checkers may
    /// expect of it, e.g. `ping_interval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The protocol the built-in server speaks: `wschaos` (the default) or `broadcast`, the
    /// original article's (every text frame relayed to everyone; join and leave events).
    #[serde(skip_serializing_if = "is_default_protocol")]
    pub protocol: Protocol,
    /// Working directory of `command`, relative to the scenario file. Default: the
    /// scenario file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// Extra environment for `command`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `command` is ready once a line of its output (stdout or stderr) contains this text.
    /// Default: once its port accepts a connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_line: Option<String>,
    /// Longest wait for `command` to be ready after each start; a server not ready by then
    /// stops the run with an error. Default 10 s, at most 10 min.
    #[serde(
        with = "crate::duration_serde",
        skip_serializing_if = "is_default_ready_within"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub ready_within: Duration,
    /// Time `command` gets to stop after SIGTERM (a graceful restart, the end of the run)
    /// before its process group gets SIGKILL. Default 5 s, at most 10 min.
    #[serde(
        with = "crate::duration_serde",
        skip_serializing_if = "is_default_stop_grace"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub stop_grace: Duration,
    /// Deliberate server bugs, for wschaos's own tests (the `defects` feature): never read
    /// from a file, and absent from a normal build.
    #[cfg(feature = "defects")]
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub defects: ServerDefects,
}

/// Default of [`ServerConfig::presence_every`].
pub const PRESENCE_EVERY: Duration = Duration::from_millis(100);
/// Default of [`ServerConfig::ready_within`].
pub const READY_WITHIN: Duration = Duration::from_secs(10);
/// Default of [`ServerConfig::stop_grace`].
pub const STOP_GRACE: Duration = Duration::from_secs(5);

fn is_default_protocol(p: &Protocol) -> bool {
    *p == Protocol::default()
}

fn is_default_ready_within(d: &Duration) -> bool {
    *d == READY_WITHIN
}

fn is_default_stop_grace(d: &Duration) -> bool {
    *d == STOP_GRACE
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            epoch: 0,
            history: 1024,
            queue: 1024,
            write_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(5),
            max_message_size: 64 * 1024,
            max_subscriptions: 256,
            max_connections: 10_000,
            dedup_clients: 100_000,
            allowed_origins: Vec::new(),
            token: None,
            welcome_delay: Duration::ZERO,
            presence_every: PRESENCE_EVERY,
            tls: None,
            command: None,
            protocol: Protocol::default(),
            cwd: None,
            env: BTreeMap::new(),
            ready_line: None,
            ready_within: READY_WITHIN,
            stop_grace: STOP_GRACE,
            #[cfg(feature = "defects")]
            defects: ServerDefects::default(),
        }
    }
}

/// Deliberate server bugs, to prove that the checkers judge the server's word too (the
/// `defects` feature only).
#[cfg(feature = "defects")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerDefects {
    /// A resume within the epoch starts one message late and says the first missed one is
    /// gone from its history (a gap notice), though it still holds it.
    pub replays_late: bool,
    /// Duplicate detection remembers each session's last message id instead of its
    /// highest: a resend of an older id after a newer one is taken as new.
    pub dedup_last: bool,
}
