//! The server of a real run: the built-in one in-process, or a `[server] command` run as a
//! process group, each restartable on the same port; and the link faults every client's
//! proxy applies.
//!
//! A foreign server keeps no record the checkers can read, and knows nothing of `kick`,
//! `flap` or `reject`: the proxies record its connections (a [`Ledger`]) and do those
//! three in its place, at the WebSocket level (a close frame at a frame boundary, an HTTP
//! refusal).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::RealError;
use super::process::{ClientProcess, Log, Spec};
use super::proxy::{Gate, Ledger, Names, Proxy};
use crate::history::{Event, Fault, Heal, Link, SERVER_HOST};
use crate::server::{self, Admission, ControlHandle, ServerConfig};
use crate::sim::Recorder;

/// Every client's proxy, by client name, with its host.
pub(super) type Proxies = BTreeMap<String, (String, Proxy)>;

/// The server of a real run.
pub(super) enum Server {
    /// The built-in server, in this process.
    BuiltIn(BuiltIn),
    /// `[server] command`.
    Foreign(Foreign),
}

impl Server {
    /// Starts the server the scenario names, and waits until it is ready.
    pub(super) async fn start(
        config: &ServerConfig,
        recorder: &Recorder,
        names: &Names,
        dir: &Path,
    ) -> Result<Server, RealError> {
        match &config.command {
            None => BuiltIn::start(config.clone(), recorder.clone(), names.clone())
                .await
                .map(Server::BuiltIn)
                .map_err(|error| RealError::Io {
                    what: "starting the server on 127.0.0.1".into(),
                    error,
                }),
            Some(command) => Foreign::start(command, config, recorder, dir)
                .await
                .map(Server::Foreign),
        }
    }

    /// Where the proxies relay to.
    pub(super) fn addr(&self) -> SocketAddr {
        match self {
            Server::BuiltIn(s) => s.addr,
            Server::Foreign(s) => s.addr,
        }
    }

    /// The ledger the proxies keep for a server that keeps no record of its own.
    pub(super) fn ledger(&self) -> Option<Ledger> {
        match self {
            Server::BuiltIn(_) => None,
            Server::Foreign(s) => Some(s.ledger.clone()),
        }
    }

    pub(super) async fn begin(&mut self, fault: &Fault, proxies: &Proxies) {
        match self {
            Server::BuiltIn(s) => s.begin(fault, proxies).await,
            Server::Foreign(s) => s.begin(fault, proxies).await,
        }
    }

    pub(super) async fn heal(&mut self, heal: &Heal, proxies: &Proxies) -> Result<(), RealError> {
        match self {
            Server::BuiltIn(s) => s.heal(heal, proxies).await.map_err(|error| RealError::Io {
                what: "restarting the server".into(),
                error,
            }),
            Server::Foreign(s) => s.heal(heal, proxies).await,
        }
    }

    /// Stops it; for a foreign server, what it printed and how it failed, if it did.
    pub(super) async fn stop(self) -> Option<ForeignEnd> {
        match self {
            Server::BuiltIn(s) => {
                s.stop().await;
                None
            }
            Server::Foreign(s) => Some(s.stop().await),
        }
    }
}

/// How a `[server] command` fared over a run.
pub(super) struct ForeignEnd {
    /// What it printed, and when and how it exited by itself, if it did.
    pub(super) log: Log,
    /// A start after a restart that failed (when, in ms, and why): the server stayed down
    /// from then on.
    pub(super) failed_start: Option<(u64, String)>,
}

/// A `[server] command`: a process group started through `sh -c`, on a port chosen here.
pub(super) struct Foreign {
    addr: SocketAddr,
    spec: Spec,
    ready_within: Duration,
    stop_grace: Duration,
    recorder: Recorder,
    ledger: Ledger,
    process: Option<ClientProcess>,
    /// What its earlier processes printed.
    earlier: Option<Log>,
    /// The first start after a restart that failed: (ms, why).
    failed_start: Option<(u64, String)>,
    /// The port, held (bound, not listening: dials are refused) while the server is down,
    /// so that nothing else takes it before the next start.
    held: Option<tokio::net::TcpSocket>,
    epoch: u64,
    dead: bool,
}

impl Foreign {
    async fn start(
        command: &str,
        config: &ServerConfig,
        recorder: &Recorder,
        dir: &Path,
    ) -> Result<Foreign, RealError> {
        let port = server_port().map_err(|error| RealError::Io {
            what: "finding a free port for the server command".into(),
            error,
        })?;
        let mut env = config.env.clone();
        env.insert("WSCHAOS_PORT".into(), port.to_string());
        if let Some(me) = super::wschaos_binary() {
            env.entry("WSCHAOS".into())
                .or_insert_with(|| me.display().to_string());
        }
        let mut me = Foreign {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            spec: Spec {
                name: "server".into(),
                command: command.replace("{port}", &port.to_string()),
                cwd: Some(super::working_dir(dir, config.cwd.as_deref())),
                env,
                probes: false,
                ready_line: config.ready_line.clone(),
                statuses: None,
            },
            ready_within: config.ready_within,
            stop_grace: config.stop_grace,
            recorder: recorder.clone(),
            ledger: Ledger::default(),
            process: None,
            earlier: None,
            failed_start: None,
            held: None,
            epoch: 0,
            dead: false,
        };
        me.launch().await?;
        Ok(me)
    }

    /// Starts the command and waits (at most `ready_within`) until it is ready: its
    /// `ready_line` printed, or else its port accepting.
    async fn launch(&mut self) -> Result<(), RealError> {
        drop(self.held.take());
        let mut process =
            ClientProcess::start(&self.spec, &self.recorder).map_err(|error| RealError::Io {
                what: format!("starting the server command ({})", self.spec.command),
                error,
            })?;
        let addr = self.addr;
        let ready = async {
            if self.spec.ready_line.is_some() {
                return process.ready().await;
            }
            loop {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    return !process.exited();
                }
                if process.exited() {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let ready = tokio::time::timeout(self.ready_within, ready).await;
        if ready != Ok(true) {
            let exited = process.exited();
            let log = process.kill(self.stop_grace).await;
            let how = if exited {
                format!(
                    "exited before it was ready ({})",
                    log.exited
                        .as_ref()
                        .map_or("exited", |(_, how)| how.as_str())
                )
            } else {
                match &self.spec.ready_line {
                    Some(line) => format!(
                        "printed no line containing {line:?} within {:?} (ready_within)",
                        self.ready_within
                    ),
                    None => format!(
                        "did not accept connections on 127.0.0.1:{} within {:?} (ready_within)",
                        addr.port(),
                        self.ready_within
                    ),
                }
            };
            return Err(RealError::Server(format!(
                "the server command ({}) {how}{}",
                self.spec.command,
                log.last_lines()
            )));
        }
        self.process = Some(process);
        self.epoch += 1;
        self.ledger.up(self.epoch);
        self.recorder.record(Event::ServerUp { epoch: self.epoch });
        Ok(())
    }

    /// Ends the running process: SIGKILL, or with `grace` SIGTERM first.
    async fn end(&mut self, grace: Option<Duration>) {
        let Some(process) = self.process.take() else {
            return;
        };
        let log = match grace {
            Some(grace) => process.stop(grace).await,
            None => process.kill(self.stop_grace).await,
        };
        self.held = hold(self.addr);
        self.earlier = Some(match self.earlier.take() {
            None => log,
            Some(mut before) => {
                before
                    .lines
                    .push("wschaos: the server command was started again".into());
                before.lines.extend(log.lines);
                before.dropped += log.dropped;
                before.exited = before.exited.or(log.exited);
                before
            }
        });
    }

    async fn begin(&mut self, fault: &Fault, proxies: &Proxies) {
        match fault {
            Fault::Crash => self.end(None).await,
            // `hand_over` is refused for a server command before the run (`unsupported`).
            Fault::Shutdown { .. } => self.end(Some(self.stop_grace)).await,
            Fault::Die => {
                every_link(proxies, Gate::Cut);
                self.end(None).await;
                self.dead = true;
            }
            Fault::Partition { link } => on_link(link, proxies, Gate::Cut),
            Fault::Hold { link } => on_link(link, proxies, Gate::Held),
            Fault::Latency { link, latency } => latency_on(link, proxies, *latency),
            Fault::Flap => admit(proxies, Admission::Flap),
            Fault::Reject { status } => admit(proxies, Admission::Reject { status: *status }),
            Fault::Kick { code } => {
                for (_, proxy) in proxies.values() {
                    proxy.set(|l| {
                        l.kicks += 1;
                        l.kick_code = *code;
                    });
                }
            }
        }
    }

    async fn heal(&mut self, heal: &Heal, proxies: &Proxies) -> Result<(), RealError> {
        match heal {
            Heal::Start => {
                if std::mem::take(&mut self.dead) {
                    every_link(proxies, Gate::Open);
                }
                self.end(None).await;
                // A server that does not come back is a finding about it, not the end of
                // the run: what happened so far is kept, and the run goes on without it.
                if let Err(e) = self.launch().await {
                    let at = self.recorder.now().as_millis() as u64;
                    self.failed_start.get_or_insert((at, e.to_string()));
                }
            }
            Heal::Repair { link } | Heal::Release { link } => on_link(link, proxies, Gate::Open),
            Heal::Latency { link, latency } => latency_on(link, proxies, *latency),
            Heal::Admit => admit(proxies, Admission::Accept),
        }
        Ok(())
    }

    async fn stop(mut self) -> ForeignEnd {
        // An exit by itself before the end is kept (`exited`); the stop's own is not.
        let running = self.process.as_ref().map(ClientProcess::log);
        self.end(Some(self.stop_grace)).await;
        let mut log = self.earlier.take().unwrap_or_default();
        if let Some(exited) = running.and_then(|l| l.exited) {
            log.exited = Some(exited);
        }
        ForeignEnd {
            log,
            failed_start: self.failed_start,
        }
    }
}

/// A free port on 127.0.0.1 for a server that restarts on it, below the kernel's ephemeral
/// range when there is room: ports handed out for port 0 (every proxy, every client's own
/// end) come from that range, so none of them can take this one while the server is down.
///
/// No port is handed out twice in one process: a server down between restarts does not
/// lose its port to another run of the same process picking one.
pub fn server_port() -> std::io::Result<u16> {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    const LOWEST: u16 = 20_000;
    if ephemeral_low > LOWEST + 100 {
        let span = u32::from(ephemeral_low - LOWEST);
        // Where to start looking: different for each run (this is the real network, not
        // the simulation), so parallel runs rarely try the same ports.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            ^ std::process::id().rotate_left(16);
        for k in 0..span.min(2_000) {
            let port = LOWEST + ((seed.wrapping_add(k.wrapping_mul(7_919))) % span) as u16;
            if !given.contains(&port) && free(port) {
                given.insert(port);
                return Ok(port);
            }
        }
    }
    // No room below the ephemeral range: one the kernel picks (never handed out twice
    // either, while the kernel offers others).
    for _ in 0..100 {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port();
        if given.insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no loopback port left that this process has not handed out",
    ))
}

/// Binds `addr` without listening (dials are refused, as on a port nobody serves), to
/// keep it while the server is down. `None` when it cannot (the run goes on without).
fn hold(addr: SocketAddr) -> Option<tokio::net::TcpSocket> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.set_reuseaddr(true).ok()?;
    socket.bind(addr).ok()?;
    Some(socket)
}

/// Sets both ways of every client's link (`die` cuts them all; its `start` opens them).
fn every_link(proxies: &Proxies, gate: Gate) {
    for (_, proxy) in proxies.values() {
        proxy.set(|l| {
            l.up = gate;
            l.down = gate;
        });
    }
}

fn admit(proxies: &Proxies, admission: Admission) {
    for (_, proxy) in proxies.values() {
        proxy.set(|l| l.admission = admission);
    }
}

/// The built-in server on 127.0.0.1, restartable on the same port.
pub(super) struct BuiltIn {
    addr: SocketAddr,
    config: ServerConfig,
    recorder: Recorder,
    knobs: ControlHandle,
    controls: server::Controls,
    /// The server; it ends with its listener when it stopped handing it over.
    task: Option<JoinHandle<Option<tokio::net::TcpListener>>>,
    /// Whether the stop under way hands the listener to the next server (`hand_over`).
    handing_over: Arc<AtomicBool>,
    /// The listener a graceful restart with `hand_over` kept for the next server.
    kept: Option<tokio::net::TcpListener>,
    epoch: u64,
    /// `die` cut every link: the start that heals it repairs them.
    dead: bool,
}

impl BuiltIn {
    async fn start(
        config: ServerConfig,
        recorder: Recorder,
        names: Names,
    ) -> std::io::Result<BuiltIn> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let (knobs, controls) = server::controls();
        let controls = controls.name_peers(move |peer| names.get(peer));
        let mut me = BuiltIn {
            addr: listener.local_addr()?,
            config,
            recorder,
            knobs,
            controls,
            task: None,
            handing_over: Arc::new(AtomicBool::new(false)),
            kept: None,
            epoch: 0,
            dead: false,
        };
        me.serve(listener);
        Ok(me)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        self.epoch += 1;
        let epoch = self.epoch;
        let config = ServerConfig {
            epoch,
            ..self.config.clone()
        };
        let recorder = self.recorder.clone();
        recorder.record(Event::ServerUp { epoch });
        let observe = move |e: &server::Event| {
            recorder.record(Event::Server {
                epoch,
                event: Box::new(e.clone()),
            })
        };
        let controls = self.controls.clone();
        let handing_over = self.handing_over.clone();
        let keep = move || handing_over.load(Ordering::SeqCst);
        self.task = Some(tokio::spawn(server::serve(
            listener,
            config,
            std::future::pending(),
            observe,
            controls,
            keep,
        )));
    }

    /// Stops it at once: its sockets close as a crashed process's do (and its port is
    /// free again when this returns).
    async fn crash(&mut self) {
        self.kept = None;
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn begin(&mut self, fault: &Fault, proxies: &Proxies) {
        match fault {
            Fault::Crash => self.crash().await,
            Fault::Shutdown { hand_over } => {
                self.handing_over.store(*hand_over, Ordering::SeqCst);
                self.knobs.shut_down();
                if let Some(task) = self.task.take() {
                    // Drains within its write timeout; then it is stopped regardless (and
                    // its socket with it).
                    let bound = self.config.write_timeout + Duration::from_secs(1);
                    let mut task = task;
                    match tokio::time::timeout(bound, &mut task).await {
                        Ok(Ok(kept)) => self.kept = kept,
                        Ok(Err(_)) => {}
                        Err(_) => task.abort(),
                    }
                }
                self.handing_over.store(false, Ordering::SeqCst);
            }
            Fault::Die => {
                every_link(proxies, Gate::Cut);
                self.crash().await;
                self.dead = true;
            }
            Fault::Partition { link } => on_link(link, proxies, Gate::Cut),
            Fault::Hold { link } => on_link(link, proxies, Gate::Held),
            Fault::Latency { link, latency } => latency_on(link, proxies, *latency),
            Fault::Flap => self.knobs.admit(Admission::Flap),
            Fault::Reject { status } => self.knobs.admit(Admission::Reject { status: *status }),
            Fault::Kick { code } => self.knobs.kick(*code),
        }
    }

    async fn heal(&mut self, heal: &Heal, proxies: &Proxies) -> std::io::Result<()> {
        match heal {
            Heal::Start => {
                if std::mem::take(&mut self.dead) {
                    every_link(proxies, Gate::Open);
                }
                let kept = self.kept.take();
                self.crash().await;
                let listener = match kept {
                    Some(listener) => listener,
                    None => tokio::net::TcpListener::bind(self.addr).await?,
                };
                self.serve(listener);
            }
            Heal::Repair { link } | Heal::Release { link } => on_link(link, proxies, Gate::Open),
            Heal::Latency { link, latency } => latency_on(link, proxies, *latency),
            Heal::Admit => self.knobs.admit(Admission::Accept),
        }
        Ok(())
    }

    async fn stop(mut self) {
        self.crash().await;
    }
}

/// Sets the gates a link fault touches on the proxies of the host it names: both ways, or
/// for a one-way cut only the direction away from its first host.
fn on_link(link: &Link, proxies: &Proxies, gate: Gate) {
    let Some(host) = link.client_host() else {
        return;
    };
    let (up, down) = if !link.oneway {
        (true, true)
    } else if link.a == SERVER_HOST {
        (false, true)
    } else {
        (true, false)
    };
    for (h, proxy) in proxies.values() {
        if h == host {
            proxy.set(|l| {
                if up {
                    l.up = gate;
                }
                if down {
                    l.down = gate;
                }
            });
        }
    }
}

fn latency_on(link: &Link, proxies: &Proxies, latency: Duration) {
    let Some(host) = link.client_host() else {
        return;
    };
    for (h, proxy) in proxies.values() {
        if h == host {
            proxy.set(|l| l.latency = latency);
        }
    }
}
