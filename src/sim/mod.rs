//! Scenario + seed → a deterministic turmoil simulation → a [`History`].
//!
//! One `server` host runs the broadcast server (restartable: each start takes the next
//! epoch); each client host carries many logical clients; the step loop applies the
//! timeline's effects between `sim.step()` calls, exactly as turmoil's own examples drive
//! faults from outside. Everything is recorded with simulated timestamps.
//!
//! Determinism: a fixed turmoil epoch and RNG seed, hosts registered in a fixed order,
//! per-client seeds derived from the run's seed, ordered collections, `spawn_local` only.

mod client;
#[cfg(feature = "defects")]
mod defective;
pub(crate) mod plan;
mod recorder;
mod trigger;
mod wiretap;

pub use client::{ClientEnv, ClientUnderTest, Probe, ReferenceClient, SimConnector};
#[cfg(feature = "defects")]
pub use defective::{DefectiveClient, is_inside};
pub use recorder::Recorder;
pub use wiretap::WireTap;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::mpsc;

use self::plan::Effect;
use crate::history::{ClientAction, Event, Fault, Heal, History, SERVER_HOST};
use crate::scenario::{Action, Group, Scenario};
use crate::server::{self, Admission, ControlHandle, Controls, ServerConfig};

/// The port the simulated server listens on.
pub const PORT: u16 = 9000;

/// A run that could not complete (a host failed); distinct from a broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{scenario} (seed {seed}): the simulation failed: {message}")]
pub struct SimError {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// What turmoil reported.
    pub message: String,
}

/// Why a build without `--cfg tokio_unstable` runs no simulation, and how to fix it.
pub const NO_TOKIO_UNSTABLE: &str = "this build lacks `--cfg tokio_unstable`, without which a simulated run is not a pure function of its seed (tokio's `select!` draws from an unseeded RNG). Add to the crate's `.cargo/config.toml`:\n\n    [build]\n    rustflags = [\"--cfg\", \"tokio_unstable\"]\n\n(and do not set RUSTFLAGS in the environment: it replaces that list)";

/// Runs `scenario` with `seed` against the reference client.
///
/// ```
/// let scenario = wschaos::scenario::parse(r#"
/// name = "restart"
/// duration = "10s"
/// [[clients]]
/// name = "subs"
/// topics = ["news"]
/// [[timeline]]
/// at = "2s"
/// do = "restart"
/// down = "1s"
/// "#, "restart.toml").unwrap();
/// let history = wschaos::sim::run(&scenario, 1).unwrap();
/// assert_eq!(history, wschaos::sim::run(&scenario, 1).unwrap());
/// ```
pub fn run(scenario: &Scenario, seed: u64) -> Result<History, SimError> {
    if let Some(g) =
        (scenario.clients.iter()).find(|g| !g.speaks(scenario).spoken_by_reference_client())
    {
        return Err(SimError {
            scenario: scenario.name.clone(),
            seed,
            message: format!(
                "group {:?} speaks {} (the server's protocol), which the reference client does not: simulate a client of that protocol with `run_with` (`wschaos::testing`), give the group `protocol = \"wschaos\"`, or run the file's clients as processes on the real network (`command`)",
                g.name,
                g.speaks(scenario).name()
            ),
        });
    }
    run_with::<ReferenceClient>(scenario, seed)
}

/// Runs `scenario` with `seed` against any [`ClientUnderTest`]. A panic inside the
/// simulation (in turmoil, the server or the client under test) becomes a [`SimError`].
///
/// A build without `--cfg tokio_unstable` cannot be deterministic (tokio's `select!` RNG
/// goes unseeded, a panic in a spawned task goes unseen), so there every run is refused
/// with [`NO_TOKIO_UNSTABLE`] as the message: never a silently unrepeatable run.
pub fn run_with<C: ClientUnderTest>(scenario: &Scenario, seed: u64) -> Result<History, SimError> {
    if !cfg!(tokio_unstable) {
        return Err(SimError {
            scenario: scenario.name.clone(),
            seed,
            message: NO_TOKIO_UNSTABLE.into(),
        });
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        simulate::<C>(scenario, seed)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
            .unwrap_or_else(|| "unknown panic".into());
        Err(SimError {
            scenario: scenario.name.clone(),
            seed,
            message: format!("panicked: {message}"),
        })
    })
}

fn simulate<C: ClientUnderTest>(scenario: &Scenario, seed: u64) -> Result<History, SimError> {
    let recorder = Recorder::default();
    let mut sim = builder(scenario, seed).build();
    let (knobs, controls) = server::controls();
    let handover = Handover::default();
    add_server(
        &mut sim,
        scenario.server.clone(),
        controls,
        &recorder,
        &handover,
    );
    let mut hosts = BTreeMap::new();
    let mut ports = Vec::new();
    let mut armed = plan::armed(scenario);
    for (index, host) in client_hosts(scenario).into_iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        let hook = armed
            .remove(&host)
            .map(|steps| Arc::new(trigger::Hook::new(steps, tx.clone())));
        let groups: Vec<Group> = scenario
            .clients
            .iter()
            .filter(|g| g.host == host)
            .cloned()
            .collect();
        let host_seed = derive(seed, index as u64 + 1);
        let me = tx.clone();
        let clients = groups.iter().map(|g| g.count).sum();
        let host_ports = Arc::new(client::Ports::new(&host, clients));
        ports.push(host_ports.clone());
        add_client_host::<C>(
            &mut sim,
            (
                &host,
                host_ports,
                scenario.server.protocol,
                scenario.protocol.clone().map(Arc::new),
            ),
            groups,
            (rx, hook, me, plan::restartable(scenario)),
            host_seed,
            &recorder,
        );
        hosts.insert(host, tx);
    }
    let mut world = World {
        knobs,
        handing_over: handover.handing_over,
        resume: handover.resume,
        hosts,
        recorder: recorder.clone(),
        dead: false,
    };
    let plan = plan::effects(scenario);
    let mut next = 0;
    let fail = |message: String| SimError {
        scenario: scenario.name.clone(),
        seed,
        message,
    };
    let out_of_ports = |at: Duration| {
        let (host, held) = ports
            .iter()
            .find_map(|p| p.exhausted().map(|held| (p.host.clone(), held)))?;
        Some(fail(format!(
            "host {host:?} ran out of ephemeral ports at {:?}: {held} dials on it never connected, and turmoil keeps the port of each for the rest of the run ({} a host). Put fewer clients on that host (give groups their own `host`), or give them a policy that dials less often (a longer `initial_delay` or `max_delay`)",
            at,
            client::Ports::TOTAL
        )))
    };
    while sim.elapsed() < scenario.duration {
        while let Some((_, effect)) = plan.get(next).filter(|(t, _)| *t <= sim.elapsed()) {
            world.apply(&mut sim, effect).map_err(fail)?;
            next += 1;
        }
        sim.step().map_err(|e| fail(e.to_string()))?;
        if let Some(e) = out_of_ports(sim.elapsed()) {
            return Err(e);
        }
    }
    drop(world);
    Ok(History::new(scenario.name.clone(), seed, recorder.take()))
}

/// The turmoil configuration a run of `scenario` with `seed` uses: its tick, latency and
/// duration, a fixed epoch, the seed, and socket queues sized for its clients. (The
/// benchmark's floor is a bare simulation built from it.)
pub fn builder(scenario: &Scenario, seed: u64) -> turmoil::Builder {
    // Every client may dial in the same tick (a herd), and a black hole releases every held
    // dial at once: turmoil panics when a socket's queue overflows, so size it for that.
    let clients: usize = scenario.clients.iter().map(|g| g.count).sum();
    let mut builder = turmoil::Builder::new();
    builder
        .simulation_duration(scenario.duration + scenario.tick * 4)
        .tick_duration(scenario.tick)
        .min_message_latency(scenario.network.latency)
        .max_message_latency(scenario.network.latency + scenario.network.jitter)
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(seed)
        .tcp_capacity((64 * clients).clamp(256, 65_536));
    builder
}

/// Client hosts in the order groups first name them (registration order is part of the seed).
pub fn client_hosts(scenario: &Scenario) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for g in &scenario.clients {
        if !hosts.contains(&g.host) {
            hosts.push(g.host.clone());
        }
    }
    hosts
}

/// What the step loop and the server host share for a graceful restart that hands the
/// listening socket over (`hand_over`).
#[derive(Default)]
struct Handover {
    handing_over: Rc<std::cell::Cell<bool>>,
    resume: Rc<tokio::sync::Notify>,
}

/// The server host. Each (re)start of the host binds the port and serves; a graceful
/// restart that hands over keeps the host and its socket, and serves again on it when the
/// step loop says the restart's `down` is over (dials meanwhile wait to be accepted).
fn add_server(
    sim: &mut turmoil::Sim<'_>,
    config: ServerConfig,
    controls: Controls,
    recorder: &Recorder,
    handover: &Handover,
) {
    let starts = Rc::new(std::cell::Cell::new(0u64));
    let recorder = recorder.clone();
    let (handing_over, resume) = (handover.handing_over.clone(), handover.resume.clone());
    sim.host(SERVER_HOST, move || {
        let (recorder, controls, config) = (recorder.clone(), controls.clone(), config.clone());
        let (starts, handing_over, resume) = (starts.clone(), handing_over.clone(), resume.clone());
        async move {
            let mut listener = None;
            loop {
                starts.set(starts.get() + 1);
                let epoch = starts.get();
                recorder.record(Event::ServerUp { epoch });
                let bound = match listener.take() {
                    Some(kept) => kept,
                    None => turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?,
                };
                let recorder = recorder.clone();
                let observe = move |e: &server::Event| {
                    recorder.record(Event::Server {
                        epoch,
                        event: Box::new(e.clone()),
                    })
                };
                let config = ServerConfig {
                    epoch,
                    ..config.clone()
                };
                let keep = || handing_over.get();
                let pending = std::future::pending();
                listener =
                    server::serve(bound, config, pending, observe, controls.clone(), keep).await;
                if listener.is_none() {
                    return Ok(());
                }
                resume.notified().await;
                handing_over.set(false);
            }
        }
    });
}

/// What the host that carries a client is told to do.
pub(crate) enum Command {
    /// A timeline step for one of its clients.
    Act {
        /// The client.
        client: String,
        /// The step's action.
        action: Action,
    },
    /// A restarted client's new process starts (its `down` is over).
    Start {
        /// The client.
        client: String,
    },
}

/// One process of a client. A client that the timeline may restart runs with every task
/// it spawned in a `LocalSet` of its own, so that ending the process ends all of them at
/// once, as an exit would: its sockets close without a close frame, its queues and timers
/// vanish. Other clients spawn straight onto the host (one poll less per wake-up).
struct Life<C> {
    client: Rc<C>,
    own: Option<(Rc<tokio::task::LocalSet>, tokio::task::JoinHandle<()>)>,
    probe: Probe,
}

impl<C: ClientUnderTest> Life<C> {
    fn start(env: ClientEnv, group: &Group, recorder: &Recorder, restartable: bool) -> Life<C> {
        let name = env.name.clone();
        let probe = env.probe.clone();
        let tasks = restartable.then(|| Rc::new(tokio::task::LocalSet::new()));
        let client = {
            let _inside = tasks.as_ref().map(|t| t.enter());
            let client = Rc::new(C::start(env));
            if let Some(w) = &group.publish {
                tokio::task::spawn_local(workload(
                    client.clone(),
                    name,
                    w.clone(),
                    recorder.clone(),
                ));
            }
            client
        };
        let own = tasks.map(|tasks| {
            let set = tasks.clone();
            let runner =
                tokio::task::spawn_local(
                    async move { set.run_until(std::future::pending()).await },
                );
            (tasks, runner)
        });
        Life { client, own, probe }
    }

    /// Runs a client action inside the process (what it spawns belongs to it).
    fn act(&self, name: &str, action: &Action, recorder: &Recorder) {
        let _inside = self.own.as_ref().map(|(tasks, _)| tasks.enter());
        act(self.client.as_ref(), name, action, recorder);
    }

    /// The process exits: its tasks are dropped, none runs again.
    fn end(self) {
        self.probe.silence();
        if let Some((_, runner)) = self.own {
            runner.abort();
        }
    }
}

/// Each client's group and its seed in this host.
struct Spec {
    group: Group,
    seed: u64,
    /// How its frames are read, and the protocol it asks the server for in its URL, if any.
    wire: crate::evidence::wire::Wire,
    asks: Option<crate::protocol::Protocol>,
}

fn add_client_host<C: ClientUnderTest>(
    sim: &mut turmoil::Sim<'_>,
    (host, ports, protocol, declared): (
        &str,
        Arc<client::Ports>,
        crate::protocol::Protocol,
        Option<Arc<crate::evidence::wire::Declared>>,
    ),
    groups: Vec<Group>,
    (mut commands, hook, me, restartable): (
        mpsc::UnboundedReceiver<Command>,
        Option<Arc<trigger::Hook>>,
        mpsc::UnboundedSender<Command>,
        BTreeSet<String>,
    ),
    seed: u64,
    recorder: &Recorder,
) {
    let recorder = recorder.clone();
    sim.client(host, async move {
        let mut specs: BTreeMap<String, Spec> = BTreeMap::new();
        let mut lives: BTreeMap<String, Life<C>> = BTreeMap::new();
        // How many processes each client has had.
        let mut born: BTreeMap<String, u64> = BTreeMap::new();
        let env = |name: &str, spec: &Spec, life: u64| {
            let probe = Probe::new(name, recorder.clone(), hook.clone());
            ClientEnv {
                name: name.to_string(),
                url: match spec.asks {
                    Some(p) => format!("ws://server:{PORT}/?protocol={}", p.name()),
                    None => format!("ws://server:{PORT}/"),
                },
                policy: spec.group.policy.clone(),
                mode: spec.group.mode,
                topics: spec.group.topics.clone(),
                // A new process draws afresh (its session, its jitter).
                seed: if life == 0 {
                    spec.seed
                } else {
                    derive(spec.seed, life)
                },
                connector: SimConnector::new(probe.clone(), ports.clone(), spec.wire.clone()),
                probe,
            }
        };
        for g in &groups {
            for name in g.client_names() {
                // The simulation's server is always the built-in one.
                let speaks = g.protocol.unwrap_or(protocol);
                let wire = match (C::wire(), &declared, speaks == protocol) {
                    (Some(own), _, true) => crate::evidence::wire::Wire::Custom(own),
                    (None, Some(d), true) => crate::evidence::wire::Wire::Declared(d.clone()),
                    _ => speaks.into(),
                };
                let spec = Spec {
                    group: g.clone(),
                    seed: derive(seed, specs.len() as u64),
                    wire,
                    asks: (speaks != protocol).then_some(speaks),
                };
                let own = restartable.contains(&name);
                lives.insert(
                    name.clone(),
                    Life::start(env(&name, &spec, 0), g, &recorder, own),
                );
                born.insert(name.clone(), 1);
                specs.insert(name, spec);
            }
        }
        while let Some(command) = commands.recv().await {
            match command {
                Command::Act {
                    client,
                    action: Action::RestartClient { down, .. },
                } => {
                    // A client already between processes has nothing to restart.
                    let Some(life) = lives.remove(&client) else {
                        continue;
                    };
                    life.end();
                    recorder.record(Event::Action {
                        client: client.clone().into(),
                        action: ClientAction::Exit,
                    });
                    if down.is_zero() {
                        let _ = me.send(Command::Start { client });
                    } else {
                        let me = me.clone();
                        tokio::task::spawn_local(async move {
                            tokio::time::sleep(down).await;
                            let _ = me.send(Command::Start { client });
                        });
                    }
                }
                // A step for a client between processes: nobody is there to take it.
                Command::Act { client, action } => {
                    if let Some(life) = lives.get(&client) {
                        life.act(&client, &action, &recorder);
                    }
                }
                Command::Start { client } => {
                    let (Some(spec), Some(n)) = (specs.get(&client), born.get_mut(&client)) else {
                        continue;
                    };
                    recorder.record(Event::Action {
                        client: client.clone().into(),
                        action: ClientAction::Start,
                    });
                    lives.insert(
                        client.clone(),
                        Life::start(env(&client, spec, *n), &spec.group, &recorder, true),
                    );
                    *n += 1;
                }
            }
        }
        Ok(())
    });
}

fn act<C: ClientUnderTest>(c: &C, name: &str, action: &Action, recorder: &Recorder) {
    if let Some(recorded) = action.recorded() {
        recorder.record(Event::Action {
            client: name.into(),
            action: recorded,
        });
    }
    match action {
        Action::Subscribe { topic, .. } => c.subscribe(topic),
        Action::Unsubscribe { topic, .. } => c.unsubscribe(topic),
        Action::Publish { topic, data, .. } => {
            let data = data
                .clone()
                .unwrap_or_else(|| format!("{name}@{}", turmoil::elapsed().as_millis()));
            publish(c, name, topic, data, recorder);
        }
        Action::Close { .. } => c.close(),
        Action::Reconnect { .. } => c.reconnect(),
        // The plan sends client actions only.
        Action::Restart { .. }
        | Action::GracefulRestart { .. }
        | Action::Crash
        | Action::Start
        | Action::Die
        | Action::Partition { .. }
        | Action::Repair { .. }
        | Action::Hold { .. }
        | Action::Release { .. }
        | Action::Latency { .. }
        | Action::Flap { .. }
        | Action::Reject { .. }
        | Action::Kick { .. }
        // The host ends and starts processes itself.
        | Action::RestartClient { .. } => {}
    }
}

fn publish<C: ClientUnderTest>(c: &C, name: &str, topic: &str, data: String, recorder: &Recorder) {
    let (id, refused) = match c.publish(topic, data) {
        Ok(id) => (Some(id), None),
        Err(why) => (None, Some(why)),
    };
    recorder.record(Event::Publish {
        client: name.into(),
        topic: topic.into(),
        id,
        refused,
    });
}

async fn workload<C: ClientUnderTest>(
    c: Rc<C>,
    name: String,
    w: crate::scenario::Workload,
    recorder: Recorder,
) {
    let zero = tokio::time::Instant::now() - turmoil::elapsed();
    tokio::time::sleep_until(zero + w.start).await;
    let mut n = 0u64;
    while w.stop.is_none_or(|stop| turmoil::elapsed() <= stop) {
        n += 1;
        publish(
            c.as_ref(),
            &name,
            &w.topic,
            format!("{name}#{n}"),
            &recorder,
        );
        tokio::time::sleep(w.every).await;
    }
}

/// The step loop's side of the world: the server's knobs, the client hosts' mailboxes.
struct World {
    knobs: ControlHandle,
    /// The graceful restart under way keeps the server's socket (`hand_over`).
    handing_over: Rc<std::cell::Cell<bool>>,
    /// Tells the server host to start the next server on the socket it kept.
    resume: Rc<tokio::sync::Notify>,
    hosts: BTreeMap<String, mpsc::UnboundedSender<Command>>,
    recorder: Recorder,
    dead: bool,
}

impl World {
    fn apply(&mut self, sim: &mut turmoil::Sim<'_>, effect: &Effect) -> Result<(), String> {
        let now = sim.elapsed();
        let event = match effect {
            Effect::Fault(fault) => {
                self.begin(sim, fault);
                Event::Fault {
                    fault: Box::new(fault.clone()),
                }
            }
            Effect::Heal(heal) => {
                self.heal(sim, heal);
                Event::Heal {
                    heal: Box::new(heal.clone()),
                }
            }
            Effect::Client {
                host,
                client,
                action,
            } => {
                let command = Command::Act {
                    client: client.clone(),
                    action: action.clone(),
                };
                return self
                    .hosts
                    .get(host)
                    .ok_or(format!("no host {host}"))?
                    .send(command)
                    .map_err(|_| format!("host {host} stopped"));
            }
        };
        tracing::info!(at = ?now, ?event, "timeline");
        self.recorder.record_at(now, event);
        Ok(())
    }

    fn begin(&mut self, sim: &mut turmoil::Sim<'_>, fault: &Fault) {
        match fault {
            Fault::Crash => {
                self.handing_over.set(false);
                sim.crash(SERVER_HOST);
            }
            Fault::Shutdown { hand_over } => {
                self.handing_over.set(*hand_over);
                self.knobs.shut_down();
            }
            Fault::Die => {
                for host in self.hosts.keys() {
                    sim.partition(SERVER_HOST, host.as_str());
                }
                self.handing_over.set(false);
                sim.crash(SERVER_HOST);
                self.dead = true;
            }
            Fault::Partition { link } if link.oneway => {
                sim.partition_oneway(link.a.as_str(), link.b.as_str())
            }
            Fault::Partition { link } => sim.partition(link.a.as_str(), link.b.as_str()),
            Fault::Hold { link } => sim.hold(link.a.as_str(), link.b.as_str()),
            Fault::Latency { link, latency } => {
                sim.set_link_latency(link.a.as_str(), link.b.as_str(), *latency)
            }
            Fault::Flap => self.knobs.admit(Admission::Flap),
            Fault::Reject { status } => self.knobs.admit(Admission::Reject { status: *status }),
            Fault::Kick { code } => self.knobs.kick(*code),
        }
    }

    fn heal(&mut self, sim: &mut turmoil::Sim<'_>, heal: &Heal) {
        match heal {
            Heal::Start => {
                if std::mem::take(&mut self.dead) {
                    for host in self.hosts.keys() {
                        sim.repair(SERVER_HOST, host.as_str());
                    }
                }
                if self.handing_over.get() {
                    // The server host keeps its socket: it starts the next server on it as
                    // soon as the old one has drained (at once when it has). The flag stays
                    // up until then: with `down = "0s"` the start comes in the very instant
                    // of the stop, before the old server has asked whether to keep its
                    // socket, and clearing it here made it let the socket go and nothing
                    // start on it. The host clears it when it resumes.
                    self.resume.notify_one();
                } else {
                    sim.bounce(SERVER_HOST);
                }
            }
            Heal::Repair { link } if link.oneway => {
                sim.repair_oneway(link.a.as_str(), link.b.as_str())
            }
            Heal::Repair { link } => sim.repair(link.a.as_str(), link.b.as_str()),
            Heal::Release { link } => sim.release(link.a.as_str(), link.b.as_str()),
            Heal::Latency { link, latency } => {
                sim.set_link_latency(link.a.as_str(), link.b.as_str(), *latency)
            }
            Heal::Admit => self.knobs.admit(Admission::Accept),
        }
    }
}

/// A seed for the `k`-th thing of a run (splitmix64 of the run's seed and `k`).
pub fn derive(seed: u64, k: u64) -> u64 {
    let mut z = seed
        ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
