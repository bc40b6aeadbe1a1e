//! Real-network runs: the same scenario files, with clients given as commands, run as real
//! processes on loopback in real time, and judged by the same checkers.
//!
//! ```text
//! client process ──▶ proxy (one per client, 127.0.0.1) ──▶ built-in server (127.0.0.1)
//!                      │ relays bytes unchanged; cuts, holds, slows the link
//!                      └──▶ dials ─┐
//!   probe lines on stdout ─────────┼──▶ History ──▶ the checkers that apply
//!   the server's own record ───────┘
//! ```
//!
//! The server is the built-in one, in-process: a restart aborts it and binds the same
//! port again (the next epoch), a graceful restart drains it with 1012, `flap`, `reject`
//! and `kick` are its own knobs. Link faults (`partition`, `hold`, `latency`, and the
//! silence of `die`) act on the proxies of the hosts they name. Client actions are written
//! to the client's stdin, one line each ([`action_line`]).
//!
//! Real time is noisy: timing checks judge with a tolerance ([`TOLERANCE`]) instead of the
//! simulation's tick, and a check that needs what a client did not report (it printed no
//! probe lines) is reported as not applicable to it, never as a pass.

mod builtin;
mod probe;
mod process;
mod proxy;

pub use builtin::on_real_network;
pub use process::{ClientProcess, Log, MAX_LINE, MAX_LOG, Spec};
pub use proxy::{Gate, LinkState, Names, Proxy};

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;

use crate::check::{self, Verdict};
use crate::history::{ClientAction, Event, Fault, Heal, History, Link, SERVER_HOST};
use crate::scenario::{Action, Scenario};
use crate::server::{self, Admission, ControlHandle, ServerConfig};
use crate::sim::Recorder;
use crate::sim::plan::{self, Effect};

/// The timing tolerance of a real run: the `tick` its checks judge with (a process is
/// scheduled, a socket read, a line printed, with that much slack on a busy machine).
pub const TOLERANCE: Duration = Duration::from_millis(250);

/// The finding of a client process that ended by itself before the run stopped it.
pub const PROCESS_EXITED: &str = "process_exited";

/// Time a client process gets to stop after SIGTERM before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// The checkers that need what only a client can report (probe lines): statuses, what it
/// received. For a client that printed none they are not applicable.
pub const NEED_PROBES: &[&str] = &[
    "status_moves",
    "backoff_bounds",
    "redial_on_time",
    "dial_resolves",
    "dial_connects",
    "attempt_budget",
    "close_codes",
    "silence_after_close",
    "delivery",
    "stale_frames",
    "outbox",
    "settles",
    "presence",
    "expect_final",
    "expect_sequence",
];

/// A real run that could not be carried out (as opposed to a broken invariant).
#[derive(Debug, Error)]
pub enum RealError {
    /// The file cannot run on the real network as it is.
    #[error("{0}")]
    Unsupported(String),
    /// A socket or a process could not be set up.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        error: std::io::Error,
    },
}

/// The outcome of a real run.
#[derive(Debug)]
pub struct RealRun {
    /// The scenario as judged (its `tick` raised to [`TOLERANCE`]).
    pub judged: Scenario,
    /// What happened, in milliseconds since the start.
    pub history: History,
    /// The verdict of the checkers that apply.
    pub verdict: Verdict,
    /// Checkers that could not judge some clients (no probe lines): (checker, clients).
    pub not_applicable: Vec<(&'static str, Vec<String>)>,
    /// Each client's log (what it printed that was not a probe line) and how it ended.
    pub logs: BTreeMap<String, Log>,
}

/// True when the scenario names client processes (`command`), so it runs on the real
/// network.
pub fn is_real(s: &Scenario) -> bool {
    s.clients.iter().any(|g| g.command.is_some())
}

/// Why `s` cannot run on the real network, if it cannot.
pub fn unsupported(s: &Scenario) -> Option<String> {
    if let Some(g) = s.clients.iter().find(|g| g.command.is_none()) {
        return Some(format!(
            "group {:?} has no `command`: a file with client processes runs every client as a process (the built-in client is one: command = '\"$WSCHAOS\" connect {{url}}')",
            g.name
        ));
    }
    if let Some(g) = s.clients.iter().find(|g| g.publish.is_some()) {
        return Some(format!(
            "group {:?}: `publish` drives the built-in client; a client process publishes by itself (e.g. `$WSCHAOS connect {{url}} --publish news:m{{{{n}}}} --every 100ms`)",
            g.name
        ));
    }
    on_steps(s)
}

/// Why `s` cannot run on the real network yet, if it has a step fired on a status change.
fn on_steps(s: &Scenario) -> Option<String> {
    let (step, on) = (s.timeline.iter()).find_map(|st| st.on.as_ref().map(|on| (st, on)))?;
    Some(format!(
        "the `{}` step fires on a client's status change (on = {:?}, nth = {}): real runs cannot fire steps on status changes yet",
        step.action.verb(),
        format!("{:?}", on.on).to_lowercase(),
        on.nth
    ))
}

/// The line a client process reads on stdin for a client action: `close`, `reconnect`,
/// `subscribe TOPIC`, `unsubscribe TOPIC`, `publish TOPIC DATA`.
pub fn action_line(action: &Action) -> Option<String> {
    Some(match action {
        Action::Subscribe { topic, .. } => format!("subscribe {topic}"),
        Action::Unsubscribe { topic, .. } => format!("unsubscribe {topic}"),
        Action::Publish { topic, data, .. } => {
            format!("publish {topic} {}", data.as_deref().unwrap_or(""))
                .trim_end()
                .to_string()
        }
        Action::Close { .. } => "close".into(),
        Action::Reconnect { .. } => "reconnect".into(),
        _ => return None,
    })
}

/// Runs `scenario` on loopback in real time: the built-in server, one proxy per client,
/// the client processes; applies the timeline; stops everything; judges the history.
/// Relative `cwd`s are taken from `dir` (the scenario file's folder).
pub async fn run(scenario: &Scenario, dir: &Path) -> Result<RealRun, RealError> {
    if let Some(why) = unsupported(scenario) {
        return Err(RealError::Unsupported(why));
    }
    if let Some((group, missing)) = missing_needs(scenario, dir).into_iter().next() {
        return Err(RealError::Unsupported(format!(
            "group {group:?} needs {missing:?}, which is not here (`needs` in the file)"
        )));
    }
    let me = wschaos_binary();
    if let Some(g) = scenario.clients.iter().find(|g| {
        me.is_none()
            && !g.env.contains_key("WSCHAOS")
            && g.command.as_deref().is_some_and(|c| c.contains("$WSCHAOS"))
    }) {
        return Err(RealError::Unsupported(format!(
            "group {:?} runs $WSCHAOS, but no wschaos binary was found: set WSCHAOS to its path",
            g.name
        )));
    }
    let recorder = Recorder::real();
    let io = |what: &str| {
        let what = what.to_string();
        move |error| RealError::Io { what, error }
    };
    let names = Names::default();
    let mut server = Server::start(scenario.server.clone(), recorder.clone(), names.clone())
        .await
        .map_err(io("starting the server on 127.0.0.1"))?;
    let mut proxies: BTreeMap<String, (String, Proxy)> = BTreeMap::new();
    let mut clients: BTreeMap<String, ClientProcess> = BTreeMap::new();
    let mut specs: BTreeMap<String, Spec> = BTreeMap::new();
    // The logs of restarted clients' earlier processes.
    let mut earlier: BTreeMap<String, Log> = BTreeMap::new();
    for g in &scenario.clients {
        for name in g.client_names() {
            let proxy = Proxy::start(&name, server.addr, recorder.clone(), names.clone())
                .await
                .map_err(io(&format!("starting the proxy of {name}")))?;
            let port = proxy.addr().port();
            let url = format!("ws://127.0.0.1:{port}/");
            let command = g.command.clone().unwrap_or_default();
            let command = command
                .replace("{url}", &url)
                .replace("{name}", &name)
                .replace("{port}", &port.to_string())
                .replace("{topics}", &g.topics.join(","));
            let mut env = g.env.clone();
            env.insert("WSCHAOS_URL".into(), url);
            env.insert("WSCHAOS_NAME".into(), name.clone());
            env.insert("WSCHAOS_TOPICS".into(), g.topics.join(","));
            if let Some(me) = &me {
                env.entry("WSCHAOS".into())
                    .or_insert_with(|| me.display().to_string());
            }
            let spec = Spec {
                name: name.clone(),
                command,
                cwd: g.cwd.as_ref().map(|c| dir.join(c)),
                env,
            };
            let process = ClientProcess::start(&spec, &recorder)
                .map_err(io(&format!("starting {name} ({})", spec.command)))?;
            clients.insert(name.clone(), process);
            specs.insert(name.clone(), spec);
            proxies.insert(name, (g.host.clone(), proxy));
        }
    }
    let start = tokio::time::Instant::now() - recorder.now();
    // Restarted clients' next processes, by when they start.
    let mut pending: BTreeMap<(Duration, String), ()> = BTreeMap::new();
    let mut effects = plan::effects(scenario).into_iter().peekable();
    loop {
        let next_effect = effects.peek().map(|(at, _)| *at);
        let next_start = pending.keys().next().map(|(at, _)| *at);
        let start_first = match (next_start, next_effect) {
            (Some(s), Some(e)) => s <= e,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if start_first {
            let Some(((at, client), ())) = pending.pop_first() else {
                break;
            };
            if at > scenario.duration {
                continue;
            }
            tokio::time::sleep_until(start + at).await;
            let Some(spec) = specs.get(&client) else {
                continue;
            };
            recorder.record(Event::Action {
                client: client.clone(),
                action: ClientAction::Start,
            });
            let process = ClientProcess::start(spec, &recorder)
                .map_err(io(&format!("restarting {client} ({})", spec.command)))?;
            clients.insert(client, process);
            continue;
        }
        let Some((at, effect)) = effects.next() else {
            break;
        };
        tokio::time::sleep_until(start + at).await;
        match effect {
            Effect::Fault(fault) => {
                recorder.record(Event::Fault {
                    fault: fault.clone(),
                });
                server.begin(&fault, &proxies).await;
            }
            Effect::Heal(heal) => {
                server
                    .heal(&heal, &proxies)
                    .await
                    .map_err(io("restarting the server"))?;
                recorder.record(Event::Heal { heal });
            }
            Effect::Client {
                client,
                action: Action::RestartClient { down, .. },
                ..
            } => {
                // A client between processes has nothing to restart.
                let Some(process) = clients.remove(&client) else {
                    continue;
                };
                let log = process.kill(GRACE).await;
                let log = match earlier.remove(&client) {
                    Some(before) => before.then(log),
                    None => log,
                };
                earlier.insert(client.clone(), log);
                recorder.record(Event::Action {
                    client: client.clone(),
                    action: ClientAction::Exit,
                });
                pending.insert((at + down, client), ());
            }
            Effect::Client { client, action, .. } => {
                let (Some(process), Some(line)) = (clients.get_mut(&client), action_line(&action))
                else {
                    continue;
                };
                if let Some(a) = action.recorded() {
                    recorder.record(Event::Action {
                        client: client.clone(),
                        action: a,
                    });
                }
                process.tell(&line).await;
            }
        }
    }
    tokio::time::sleep_until(start + scenario.duration).await;
    let mut logs = BTreeMap::new();
    for (name, process) in std::mem::take(&mut clients) {
        let log = process.stop(GRACE).await;
        let log = match earlier.remove(&name) {
            Some(before) => before.then(log),
            None => log,
        };
        logs.insert(name, log);
    }
    // Clients whose last process was killed and never started again (down past the end).
    logs.extend(earlier);
    drop(proxies);
    server.stop().await;
    let records: Vec<_> = recorder
        .take()
        .into_iter()
        .filter(|r| r.t <= scenario.duration.as_millis() as u64)
        .collect();
    let history = History::new(scenario.name.clone(), 0, records);
    let (judged, mut verdict, not_applicable) = judge(scenario, &history);
    // A client process that ends by itself is a finding, whatever else it did: it cannot
    // come back from anything after that.
    let judged_exits = !scenario.expect.skip.iter().any(|c| c == PROCESS_EXITED);
    for (name, log) in logs.iter().filter(|_| judged_exits) {
        if let Some((t, how)) = &log.exited {
            let last: Vec<&str> = log
                .lines
                .iter()
                .rev()
                .take(3)
                .rev()
                .map(String::as_str)
                .collect();
            verdict.violations.push(check::Violation {
                invariant: PROCESS_EXITED,
                client: Some(name.clone()),
                t: *t,
                message: format!(
                    "the client process exited by itself ({how}){}",
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!("; its last lines: {}", last.join(" | "))
                    }
                ),
                events: Vec::new(),
            });
        }
    }
    verdict.violations.sort_by_key(|v| v.t);
    if judged_exits && !logs.is_empty() {
        verdict.checked.push(PROCESS_EXITED);
    }
    Ok(RealRun {
        judged,
        history,
        verdict,
        not_applicable,
        logs,
    })
}

/// Checks a real run's history: every checker, with the run's tolerance; for a client that
/// printed no probe lines, the checkers of [`NEED_PROBES`] are not applicable (their
/// findings about it are dropped, and the report says so).
pub fn judge(
    scenario: &Scenario,
    history: &History,
) -> (Scenario, Verdict, Vec<(&'static str, Vec<String>)>) {
    let mut judged = scenario.clone();
    judged.tick = judged.tick.max(TOLERANCE);
    if judged.expect.reconnect_within.is_none() {
        judged.expect.reconnect_within = Some(judged.settle);
    }
    let all: Vec<String> = judged
        .clients
        .iter()
        .flat_map(|g| g.client_names().collect::<Vec<_>>())
        .collect();
    let probed: BTreeSet<&str> = history
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Status { client, .. } => Some(client.as_str()),
            _ => None,
        })
        .collect();
    let silent: Vec<String> = all
        .iter()
        .filter(|c| !probed.contains(c.as_str()))
        .cloned()
        .collect();
    let mut verdict = check::check(&judged, history);
    let mut not_applicable = Vec::new();
    if !silent.is_empty() {
        for name in NEED_PROBES {
            if verdict.checked.contains(name) {
                not_applicable.push((*name, silent.clone()));
            }
        }
        if probed.is_empty() {
            verdict.checked.retain(|c| !NEED_PROBES.contains(c));
        }
        verdict.violations.retain(|v| {
            !NEED_PROBES.contains(&v.invariant)
                || v.client
                    .as_ref()
                    .is_none_or(|c| probed.contains(c.as_str()))
        });
    }
    (judged, verdict, not_applicable)
}

/// The built-in server on 127.0.0.1, restartable on the same port.
struct Server {
    addr: SocketAddr,
    config: ServerConfig,
    recorder: Recorder,
    knobs: ControlHandle,
    controls: server::Controls,
    task: Option<JoinHandle<()>>,
    epoch: u64,
    /// `die` cut every link: the start that heals it repairs them.
    dead: bool,
}

impl Server {
    async fn start(
        config: ServerConfig,
        recorder: Recorder,
        names: Names,
    ) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let (knobs, controls) = server::controls();
        let controls = controls.name_peers(move |peer| names.get(peer));
        let mut me = Server {
            addr: listener.local_addr()?,
            config,
            recorder,
            knobs,
            controls,
            task: None,
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
                event: e.clone(),
            })
        };
        let controls = self.controls.clone();
        self.task = Some(tokio::spawn(server::run_with(
            listener,
            config,
            std::future::pending(),
            observe,
            controls,
        )));
    }

    /// Stops it at once: its sockets close as a crashed process's do (and its port is
    /// free again when this returns).
    async fn crash(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn begin(&mut self, fault: &Fault, proxies: &BTreeMap<String, (String, Proxy)>) {
        match fault {
            Fault::Crash => self.crash().await,
            Fault::Shutdown => {
                self.knobs.shut_down();
                if let Some(task) = self.task.take() {
                    // Drains within its write timeout; then it is stopped regardless.
                    let bound = self.config.write_timeout + Duration::from_secs(1);
                    let mut task = task;
                    if tokio::time::timeout(bound, &mut task).await.is_err() {
                        task.abort();
                    }
                }
            }
            Fault::Die => {
                for (_, proxy) in proxies.values() {
                    proxy.set(|l| {
                        l.up = Gate::Cut;
                        l.down = Gate::Cut;
                    });
                }
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

    async fn heal(
        &mut self,
        heal: &Heal,
        proxies: &BTreeMap<String, (String, Proxy)>,
    ) -> std::io::Result<()> {
        match heal {
            Heal::Start => {
                if std::mem::take(&mut self.dead) {
                    for (_, proxy) in proxies.values() {
                        proxy.set(|l| {
                            l.up = Gate::Open;
                            l.down = Gate::Open;
                        });
                    }
                }
                self.crash().await;
                let listener = tokio::net::TcpListener::bind(self.addr).await?;
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
fn on_link(link: &Link, proxies: &BTreeMap<String, (String, Proxy)>, gate: Gate) {
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

fn latency_on(link: &Link, proxies: &BTreeMap<String, (String, Proxy)>, latency: Duration) {
    let Some(host) = link.client_host() else {
        return;
    };
    for (h, proxy) in proxies.values() {
        if h == host {
            proxy.set(|l| l.latency = latency);
        }
    }
}

/// What the groups of `s` need (`needs`) and this machine lacks: (group, need). Programs
/// are looked up on `PATH`; a need with a `/` is a path relative to `dir`.
pub fn missing_needs(s: &Scenario, dir: &Path) -> Vec<(String, String)> {
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
    };
    s.clients
        .iter()
        .flat_map(|g| g.needs.iter().map(move |n| (g, n)))
        .filter(|(_, need)| {
            if need.contains('/') {
                !dir.join(need).exists()
            } else {
                !on_path(need)
            }
        })
        .map(|(g, need)| (g.name.clone(), need.clone()))
        .collect()
}

/// The `wschaos` binary commands reach as `$WSCHAOS`: the `WSCHAOS` environment variable
/// when set; else this program when it is `wschaos`; else the `wschaos` next to it or one
/// folder up (a test binary under `target/*/deps/`). `None`: `$WSCHAOS` stays unset (and a
/// command that uses it fails, as an early exit, with the shell's own message).
pub fn wschaos_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WSCHAOS") {
        return Some(PathBuf::from(path));
    }
    let me = std::env::current_exe().ok()?;
    let name = format!("wschaos{}", std::env::consts::EXE_SUFFIX);
    if me.file_name().is_some_and(|n| n == name.as_str()) {
        return Some(me);
    }
    let dir = me.parent()?;
    [dir.join(&name), dir.parent()?.join(&name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// The scenario file's folder, for relative `cwd`s.
pub fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
