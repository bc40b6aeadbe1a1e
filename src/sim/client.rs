//! The client under test: the trait the harness drives, and the reference client's adapter.
//!
//! To run the scenarios against your own Rust client, implement [`ClientUnderTest`]. The
//! harness is only as deterministic as the client: inside `start` and after it, dial only
//! with `env.connector`, draw randomness only from `env.seed`, take time only from tokio,
//! spawn only with `tokio::task::spawn_local`, use `biased;` in every `select!`, no threads,
//! no `HashMap` iteration where order shows. Report what happens through `env.probe`, at
//! the moment it happens (from the code that emits it, not from a task that reads your
//! streams later): the history is in the order of the reports, and the checkers read that
//! order as cause and effect. `env.connector` records each dial itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::recorder::Recorder;
use super::trigger::Hook;
use super::wiretap::WireTap;
use crate::client::{
    Client, ClientBuilder, Delivery, Policy, RawClient, ServerEvent, Status, Tap, Tapped,
    TopicEvent,
};
use crate::evidence::wire::{Direction, WireEvent};
use crate::history::{Event, Name, NamePool};
use crate::net::{Connector, TurmoilNet};
use crate::protocol::GapReason;
use crate::scenario::Mode;

/// A client the harness can drive through a scenario.
pub trait ClientUnderTest: 'static {
    /// Starts the client inside the current turmoil host, subscribed to `env.topics`.
    fn start(env: ClientEnv) -> Self
    where
        Self: Sized;
    /// Subscribes to a topic (the harness records that it asked).
    fn subscribe(&self, topic: &str);
    /// Unsubscribes from a topic.
    fn unsubscribe(&self, topic: &str);
    /// Publishes; `Ok(id)` when accepted, `Err(why)` when refused.
    fn publish(&self, topic: &str, data: String) -> Result<u64, String>;
    /// Closes the client for good.
    fn close(&self);
    /// Starts again after giving up.
    fn reconnect(&self);

    /// How to read this client's frames, when the server's protocol (or the file's
    /// `[protocol]` table) is not the way: a [`crate::evidence::wire::Decoder`] of your
    /// own, for each connection. Default: `None`.
    fn wire() -> Option<fn() -> Box<dyn crate::evidence::wire::Decoder>>
    where
        Self: Sized,
    {
        None
    }
}

/// What a client under test gets from the harness.
pub struct ClientEnv {
    /// Its name, also its identity at the server (`GROUP-INDEX`).
    pub name: String,
    /// The server's URL inside the simulation.
    pub url: String,
    /// The group's policy.
    pub policy: Policy,
    /// Pub/sub or raw.
    pub mode: Mode,
    /// Topics to subscribe to at start.
    pub topics: Vec<String>,
    /// This client's seed, derived from the run's seed.
    pub seed: u64,
    /// The only way to dial; it records every dial.
    pub connector: SimConnector,
    /// Where to report what happens.
    pub probe: Probe,
}

impl ClientEnv {
    /// A random number generator seeded from [`ClientEnv::seed`]: the only randomness a
    /// client under test may draw (jitter, ids), so a run stays a function of its seed.
    pub fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }
}

/// Reports a client's events into the run's history.
#[derive(Clone)]
pub struct Probe {
    client: String,
    recorder: Recorder,
    hook: Option<Arc<Hook>>,
    /// Cleared when the process exits: what its teardown emits (a `Closed` from dropping
    /// its handle) is not something the process did.
    alive: Arc<AtomicBool>,
    /// The dials this process has started (the history numbers them the same way).
    dials: Arc<AtomicU32>,
}

impl Probe {
    pub(crate) fn new(client: &str, recorder: Recorder, hook: Option<Arc<Hook>>) -> Self {
        Probe {
            client: client.to_string(),
            recorder,
            hook,
            alive: Arc::new(AtomicBool::new(true)),
            dials: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The process exited: nothing more is recorded through this probe or its clones.
    pub(crate) fn silence(&self) {
        self.alive.store(false, Ordering::Relaxed);
    }

    /// Records the event `make` builds from the run's shared names and this client's name.
    fn record(&self, make: impl FnOnce(&mut NamePool, Name) -> Event) {
        if self.alive.load(Ordering::Relaxed) {
            self.recorder.record_with(|names| {
                let client = names.name(&self.client);
                make(names, client)
            });
        }
    }

    /// The status changed (report every change, the first status included).
    pub fn status(&self, status: &Status) {
        self.record(|_, client| Event::Status {
            client,
            status: status.clone(),
        });
        if let Some(hook) = self
            .hook
            .as_ref()
            .filter(|_| self.alive.load(Ordering::Relaxed))
        {
            hook.on_status(&self.client, status);
        }
    }

    /// A message arrived on a subscription.
    pub fn delivered(&self, d: &Delivery) {
        if self.alive.load(Ordering::Relaxed) {
            self.recorder.record_with(|names| Event::Delivered {
                client: names.name(&self.client),
                topic: names.name(&d.topic),
                epoch: d.epoch,
                seq: d.seq,
                from: names.name(&d.from),
                id: d.id,
                conn: d.conn,
            });
        }
    }

    /// A gap notice arrived on a subscription.
    /// `epoch` and `next_seq` say where delivery resumes (0 and 0 when unknown, for a
    /// local lag): every message before that point that did not arrive is covered.
    pub fn gap(&self, topic: &str, reason: GapReason, epoch: u64, next_seq: u64) {
        self.record(|names, client| Event::Gap {
            client,
            topic: names.name(topic),
            reason,
            epoch,
            next_seq,
        });
    }

    /// An event of a subscription's stream: a message ([`Probe::delivered`]) or a gap
    /// notice ([`Probe::gap`]).
    pub fn topic_event(&self, event: &TopicEvent) {
        match event {
            TopicEvent::Message(d) => self.delivered(d),
            TopicEvent::Gap {
                topic,
                reason,
                epoch,
                next_seq,
            } => self.gap(topic, *reason, *epoch, *next_seq),
        }
    }

    /// A server-wide event arrived (welcome, presence, error).
    pub fn server_event(&self, event: &ServerEvent) {
        self.record(|_, client| Event::Presence {
            client,
            event: event.clone(),
        });
    }

    /// A raw frame arrived: its payload's length and [`crate::protocol::digest`].
    pub fn frame(&self, payload: &[u8]) {
        let (len, digest) = (payload.len(), crate::protocol::digest(payload));
        self.record(|_, client| Event::Frame {
            client,
            len,
            digest,
        });
    }

    /// Records a dial; returns its number in this process.
    fn dial(&self) -> u32 {
        self.record(|_, client| Event::Dial { client });
        self.dials.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A frame on the connection of dial `conn` said `said`.
    pub(crate) fn wire(&self, conn: u32, dir: Direction, said: WireEvent) {
        self.record(|_, client| Event::Wire {
            client,
            conn,
            dir,
            said: Box::new(said),
        });
    }

    /// What the reference client's tap saw.
    pub(crate) fn tapped(&self, event: Tapped<'_>) {
        match event {
            Tapped::Status(status) => self.status(status),
            Tapped::Topic(event) => self.topic_event(event),
            Tapped::Server(event) => self.server_event(event),
            Tapped::Frame(frame) => match frame {
                tokio_tungstenite::tungstenite::Message::Text(text) => self.frame(text.as_bytes()),
                other => self.frame(&other.clone().into_data()),
            },
        }
    }
}

/// Simulated TCP that records each dial of its client, and what the frames on each of its
/// connections say ([`WireTap`]).
#[derive(Clone)]
pub struct SimConnector {
    probe: Probe,
    ports: Arc<Ports>,
    wire: crate::evidence::wire::Wire,
}

impl SimConnector {
    pub(crate) fn new(probe: Probe, ports: Arc<Ports>, wire: crate::evidence::wire::Wire) -> Self {
        SimConnector { probe, ports, wire }
    }
}

impl Connector for SimConnector {
    type Stream = WireTap<turmoil::net::TcpStream>;

    async fn connect(&self, host: &str, port: u16) -> std::io::Result<Self::Stream> {
        let conn = self.probe.dial();
        if !self.ports.take() {
            return Err(std::io::Error::other("the simulated host ran out of ports"));
        }
        let stream = TurmoilNet.connect(host, port).await;
        if stream.is_ok() {
            // A connected stream gives its port back when it is dropped.
            self.ports.give_back();
        }
        let decoder = self.wire.decoder();
        stream.map(|s| WireTap::new(s, self.probe.clone(), conn, decoder))
    }
}

/// A simulated host's ephemeral ports (16,384 in turmoil 0.7.2). turmoil keeps the port of
/// every dial that did not connect (refused, or abandoned at a timeout) for the rest of the
/// run, and panics when none is left; this counts them, so that a run that would exhaust
/// them ends with a [`super::SimError`] that says so instead.
#[derive(Debug)]
pub(crate) struct Ports {
    /// The host.
    pub(crate) host: String,
    /// Ports held by dials that did not connect (and by dials under way).
    held: std::sync::atomic::AtomicU32,
    /// One per client of the host: each may hold a connection.
    live: u32,
    /// Set when a dial found none left.
    exhausted: AtomicBool,
}

impl Ports {
    /// turmoil's ephemeral range on each host.
    pub(crate) const TOTAL: u32 = 16_384;

    pub(crate) fn new(host: &str, clients: usize) -> Ports {
        Ports {
            host: host.to_string(),
            held: Default::default(),
            live: u32::try_from(clients).unwrap_or(u32::MAX),
            exhausted: AtomicBool::new(false),
        }
    }

    /// Takes a port for a dial; false when none is left.
    fn take(&self) -> bool {
        let held = self.held.load(Ordering::Relaxed);
        if held.saturating_add(self.live).saturating_add(1) >= Self::TOTAL {
            self.exhausted.store(true, Ordering::Relaxed);
            return false;
        }
        self.held.store(held + 1, Ordering::Relaxed);
        true
    }

    fn give_back(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }

    /// How many dials held a port for good, when the host ran out; `None` when it did not.
    pub(crate) fn exhausted(&self) -> Option<u32> {
        self.exhausted
            .load(Ordering::Relaxed)
            .then(|| self.held.load(Ordering::Relaxed))
    }
}

/// The reference client ([`crate::client`]) as a client under test.
///
/// It reports through a tap the client calls at the moment it emits each event (under its
/// own lock, in the connection task or in `close()`), not from tasks that read its streams
/// later: a status, a message and a dial are recorded in the order they happened.
pub struct ReferenceClient {
    layer: Layer,
}

enum Layer {
    PubSub(Client),
    Raw(RawClient),
}

impl ReferenceClient {
    /// Starts the reference client over `connector`, reporting through `tap`, with
    /// `configure` applied to its builder (the seam [`super::DefectiveClient`] uses).
    pub(crate) fn start_over<C: Connector>(
        env: ClientEnv,
        connector: C,
        tap: Tap,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Self {
        let rng = env.rng();
        let builder = ClientBuilder::new(&env.url)
            .expect("the harness's URL is valid")
            .policy(env.policy)
            .tap(tap);
        let builder = configure(builder);
        let layer = match env.mode {
            Mode::Pubsub => {
                let (client, task) = builder.client_id(&env.name).build(connector, rng);
                tokio::task::spawn_local(task);
                Layer::PubSub(client)
            }
            Mode::Raw => {
                let (client, task) = builder.client_id(&env.name).build_raw(connector, rng);
                tokio::task::spawn_local(task);
                Layer::Raw(client)
            }
        };
        let me = ReferenceClient { layer };
        for topic in &env.topics {
            me.subscribe(topic);
        }
        me
    }
}

impl ClientUnderTest for ReferenceClient {
    fn start(env: ClientEnv) -> Self {
        let probe = env.probe.clone();
        let connector = env.connector.clone();
        let tap = Tap::new(move |event| probe.tapped(event));
        Self::start_over(env, connector, tap, |b| b)
    }

    fn subscribe(&self, topic: &str) {
        if let Layer::PubSub(client) = &self.layer {
            // The stream is not read: the tap has recorded each of its events already.
            let _ = client.subscribe(topic);
        }
    }

    fn unsubscribe(&self, topic: &str) {
        if let Layer::PubSub(client) = &self.layer {
            client.unsubscribe(topic);
        }
    }

    fn publish(&self, topic: &str, data: String) -> Result<u64, String> {
        match &self.layer {
            Layer::PubSub(client) => client.publish(topic, data).map_err(|e| e.to_string()),
            Layer::Raw(client) => client.send(data).map(|()| 0).map_err(|e| e.to_string()),
        }
    }

    fn close(&self) {
        match &self.layer {
            Layer::PubSub(c) => c.close(),
            Layer::Raw(c) => c.close(),
        }
    }

    fn reconnect(&self) {
        match &self.layer {
            Layer::PubSub(c) => c.reconnect(),
            Layer::Raw(c) => c.reconnect(),
        }
    }
}
