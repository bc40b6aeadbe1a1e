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
//! Real time is noisy: timing checks judge with a tolerance ([`TOLERANCE`], plus the worst
//! scheduling delay measured during the run: a busy machine reads every instant late) instead of the
//! simulation's tick, and a check that needs what a client did not report (it printed no
//! probe lines) or what a server command does not record is reported not judged for it
//! ([`provided`]), never as a pass.

mod builtin;
mod lag;
mod probe;
mod process;
mod proxy;
mod upstream;
pub(crate) mod wire;

pub use builtin::on_real_network;
pub use process::{ClientProcess, Log, MAX_LINE, MAX_LOG, Spec};
pub use proxy::{Gate, Ledger, LinkState, Names, Proxy};
pub use upstream::server_port;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::check::{self, Verdict};
use crate::evidence::{Evidence, Provided};
use crate::history::{ClientAction, Event, History};
use crate::scenario::{Action, Scenario};
use crate::sim::Recorder;
use crate::sim::plan::{self, Effect};
use upstream::Server;

/// The timing tolerance of a real run: the `tick` its checks judge with (a process is
/// scheduled, a socket read, a line printed, with that much slack on a busy machine).
pub const TOLERANCE: Duration = Duration::from_millis(250);

/// The finding of a client process that ended by itself before the run stopped it.
pub const PROCESS_EXITED: &str = "process_exited";

/// Time a client process gets to stop after SIGTERM before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// A real run that could not be carried out (as opposed to a broken invariant).
#[derive(Debug, Error)]
pub enum RealError {
    /// The file cannot run on the real network as it is.
    #[error("{0}")]
    Unsupported(String),
    /// The server command could not be started, or was not ready in time.
    #[error("{0}")]
    Server(String),
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
    /// What happened, in milliseconds since the start.
    pub history: History,
    /// The verdict of the checkers that apply.
    pub verdict: Verdict,
    /// Each client's log (what it printed that was not a probe line) and how it ended.
    pub logs: BTreeMap<String, Log>,
    /// The server command's log (what it printed, and whether it exited by itself);
    /// `None` for the built-in server.
    pub server_log: Option<Log>,
}

/// Why `s` cannot run on the real network, if it cannot. A group without a `command` runs
/// as `wschaos connect` processes ([`on_real_network`]).
pub fn unsupported(s: &Scenario) -> Option<String> {
    if let Some(g) = s
        .clients
        .iter()
        .find(|g| g.command.is_some() && g.publish.is_some())
    {
        return Some(format!(
            "group {:?}: `publish` drives the built-in client; a client process publishes by itself (e.g. `$WSCHAOS connect {{url}} --publish news:m{{{{n}}}} --every 100ms`)",
            g.name
        ));
    }
    let hands_over = |step: &crate::scenario::Step| {
        matches!(
            step.action,
            Action::GracefulRestart {
                hand_over: true,
                ..
            }
        )
    };
    if s.server.command.is_some() && s.timeline.iter().any(hands_over) {
        return Some(
            "`graceful_restart` with `hand_over` keeps the built-in server's socket for the next server; a `[server] command` is a process of its own, which wschaos cannot hand a socket to".into(),
        );
    }
    None
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
    // Built-in groups in a file with processes run as `wschaos connect` processes.
    let translated;
    let scenario = if scenario.clients.iter().any(|g| g.command.is_none()) {
        translated = on_real_network(scenario).map_err(RealError::Unsupported)?;
        &translated
    } else {
        scenario
    };
    let recorder = Recorder::real();
    let probe = lag::LagProbe::start(tokio::time::Instant::now() - recorder.now());
    let io = |what: &str| {
        let what = what.to_string();
        move |error| RealError::Io { what, error }
    };
    let names = Names::default();
    let mut server = Server::start(&scenario.server, &recorder, &names, dir).await?;
    let ledger = server.ledger();
    let mut proxies: BTreeMap<String, (String, Proxy)> = BTreeMap::new();
    // Status changes, as the clients print them, for the steps fired `on` one.
    let armed = plan::armed(scenario)
        .into_values()
        .flatten()
        .collect::<Vec<_>>();
    let (status_tx, mut statuses) = tokio::sync::mpsc::unbounded_channel();
    let mut fleet = Fleet {
        recorder: recorder.clone(),
        processes: BTreeMap::new(),
        specs: BTreeMap::new(),
        earlier: BTreeMap::new(),
        pending: BTreeMap::new(),
    };
    for g in &scenario.clients {
        for name in g.client_names() {
            let proxy = Proxy::start_with(
                &name,
                server.addr(),
                recorder.clone(),
                names.clone(),
                ledger.clone(),
                Some(g.wire(scenario)),
            )
            .await
            .map_err(io(&format!("starting the proxy of {name}")))?;
            let port = proxy.addr().port();
            let url = match g.asks_for_protocol(scenario) {
                true => format!(
                    "ws://127.0.0.1:{port}/?protocol={}",
                    g.speaks(scenario).name()
                ),
                false => format!("ws://127.0.0.1:{port}/"),
            };
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
                cwd: Some(working_dir(dir, g.cwd.as_deref())),
                env,
                probes: true,
                ready_line: None,
                statuses: (!armed.is_empty()).then(|| status_tx.clone()),
            };
            let process = ClientProcess::start(&spec, &recorder)
                .map_err(io(&format!("starting {name} ({})", spec.command)))?;
            fleet.processes.insert(name.clone(), process);
            fleet.specs.insert(name.clone(), spec);
            proxies.insert(name, (g.host.clone(), proxy));
        }
    }
    drop(status_tx);
    // How often each armed step's client has reached its status.
    let mut seen = vec![0u32; armed.len()];
    let start = tokio::time::Instant::now() - recorder.now();
    let end = start + scenario.duration;
    let mut effects = plan::effects(scenario).into_iter().peekable();
    loop {
        let next_effect = effects.peek().map(|(at, _)| *at);
        let next_start = fleet.pending.keys().next().map(|(at, _)| *at);
        let next = [next_effect, next_start].into_iter().flatten().min();
        let wake = next.map_or(end, |at| start + at);
        tokio::select! {
            biased;
            Some((client, status)) = statuses.recv() => {
                // A step fired by this change runs now (a real run's "same instant": as
                // soon as the client's line is read).
                let name = crate::scenario::StatusName::of(&status);
                for (armed, seen) in armed.iter().zip(seen.iter_mut()) {
                    if armed.client != client || armed.trigger.on != name {
                        continue;
                    }
                    *seen += 1;
                    if *seen == armed.trigger.nth {
                        let at = recorder.now();
                        fleet.act(&client, &armed.action, at).await;
                    }
                }
                continue;
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        if next.is_none() {
            break;
        }
        if next_start.is_some() && next_start <= next_effect.or(next_start) {
            fleet
                .start_next(scenario.duration)
                .map_err(io("restarting a client"))?;
            continue;
        }
        let Some((at, effect)) = effects.next() else {
            break;
        };
        match effect {
            Effect::Fault(fault) => {
                recorder.record(Event::Fault {
                    fault: Box::new(fault.clone()),
                });
                server.begin(&fault, &proxies).await;
            }
            Effect::Heal(heal) => {
                server.heal(&heal, &proxies).await?;
                recorder.record(Event::Heal {
                    heal: Box::new(heal),
                });
            }
            Effect::Client { client, action, .. } => fleet.act(&client, &action, at).await,
        }
    }
    tokio::time::sleep_until(end).await;
    let logs = fleet.stop().await;
    drop(proxies);
    let (server_log, failed_start) = match server.stop().await {
        Some(end) => (Some(end.log), end.failed_start),
        None => (None, None),
    };
    let records: Vec<_> = recorder
        .take()
        .into_iter()
        .filter(|r| r.t <= scenario.duration.as_millis() as u64)
        .collect();
    let history = History::new(scenario.name.clone(), 0, records);
    let lag = probe.stop(scenario.tick);
    let mut verdict = judge(scenario, &history, lag);
    // A client process that ends by itself is a finding, whatever else it did: it cannot
    // come back from anything after that.
    let judged_exits = !scenario.expect.skip.iter().any(|c| c == PROCESS_EXITED);
    for (name, log) in logs.iter().filter(|_| judged_exits) {
        if let Some((t, how)) = &log.exited {
            verdict.violations.push(check::Violation {
                invariant: PROCESS_EXITED,
                client: Some(name.clone()),
                t: *t,
                message: format!(
                    "the client process exited by itself ({how}){}",
                    log.last_lines()
                ),
                events: Vec::new(),
            });
        }
    }
    // A server command that ends by itself leaves nothing to judge a client against.
    if let Some((t, how)) = server_log.as_ref().and_then(|l| l.exited.as_ref()) {
        verdict.violations.push(check::Violation {
            invariant: PROCESS_EXITED,
            client: None,
            t: *t,
            message: format!(
                "the server command exited by itself ({how}){}",
                server_log.as_ref().map(Log::last_lines).unwrap_or_default()
            ),
            events: Vec::new(),
        });
    }
    if let Some((t, why)) = failed_start {
        verdict.violations.push(check::Violation {
            invariant: PROCESS_EXITED,
            client: None,
            t,
            message: format!("the server did not come back after a restart: {why}"),
            events: Vec::new(),
        });
    }
    verdict.violations.sort_by_key(|v| v.t);
    if judged_exits && !logs.is_empty() {
        verdict.checked.push(PROCESS_EXITED);
    }
    Ok(RealRun {
        history,
        verdict,
        logs,
        server_log,
    })
}

/// The client processes of a run: running ones, how to start each again, the logs of
/// the processes they had before, and restarts due.
struct Fleet {
    recorder: Recorder,
    processes: BTreeMap<String, ClientProcess>,
    specs: BTreeMap<String, Spec>,
    /// The logs of restarted clients' earlier processes.
    earlier: BTreeMap<String, Log>,
    /// Restarted clients' next processes, by when they start.
    pending: BTreeMap<(Duration, String), ()>,
}

impl Fleet {
    /// Carries out a client action at `at`: `restart_client` kills the process and starts
    /// its command again after `down`; any other action is a line on its stdin.
    async fn act(&mut self, client: &str, action: &Action, at: Duration) {
        if let Action::RestartClient { down, .. } = action {
            // A client between processes has nothing to restart.
            let Some(process) = self.processes.remove(client) else {
                return;
            };
            let log = process.kill(GRACE).await;
            let log = match self.earlier.remove(client) {
                Some(before) => before.then(log),
                None => log,
            };
            self.earlier.insert(client.to_string(), log);
            self.recorder.record(Event::Action {
                client: client.to_string().into(),
                action: ClientAction::Exit,
            });
            self.pending.insert((at + *down, client.to_string()), ());
            return;
        }
        let (Some(process), Some(line)) = (self.processes.get_mut(client), action_line(action))
        else {
            return;
        };
        if let Some(a) = action.recorded() {
            self.recorder.record(Event::Action {
                client: client.to_string().into(),
                action: a,
            });
        }
        process.tell(&line).await;
    }

    /// Starts the next restarted client's command again (unless that is past `duration`).
    fn start_next(&mut self, duration: Duration) -> std::io::Result<()> {
        let Some(((at, client), ())) = self.pending.pop_first() else {
            return Ok(());
        };
        let Some(spec) = self.specs.get(&client).filter(|_| at <= duration) else {
            return Ok(());
        };
        self.recorder.record(Event::Action {
            client: client.clone().into(),
            action: ClientAction::Start,
        });
        let process = ClientProcess::start(spec, &self.recorder)?;
        self.processes.insert(client, process);
        Ok(())
    }

    /// Stops every process; each client's log, its earlier processes' first.
    async fn stop(mut self) -> BTreeMap<String, Log> {
        let mut logs = BTreeMap::new();
        for (name, process) in std::mem::take(&mut self.processes) {
            let log = process.stop(GRACE).await;
            let log = match self.earlier.remove(&name) {
                Some(before) => before.then(log),
                None => log,
            };
            logs.insert(name, log);
        }
        // Clients whose last process was killed and never started again (down past the end).
        logs.extend(self.earlier);
        logs
    }
}

/// What a real run provides for each client: its dials and connections (the proxy saw
/// them) always; its statuses and what it received when it printed status lines; the frames
/// it received when it printed frame lines (or status lines: it speaks the probe protocol);
/// the server's record of subscriptions and publishes only from the built-in server.
pub fn provided(scenario: &Scenario, history: &History) -> Provided {
    let mut statuses = BTreeSet::new();
    let mut frames = BTreeSet::new();
    for r in &history.records {
        match &r.event {
            Event::Status { client, .. } => {
                statuses.insert(&**client);
                frames.insert(&**client);
            }
            Event::Frame { client, .. } => {
                frames.insert(&**client);
            }
            _ => {}
        }
    }
    let builtin = scenario.server.command.is_none();
    // A client that speaks the probe protocol says what it subscribes to; otherwise only
    // its group's `topics` say it.
    let declared: BTreeSet<String> = (scenario.clients.iter())
        .filter(|g| !g.topics.is_empty())
        .flat_map(crate::scenario::Group::client_names)
        .collect();
    let names = scenario
        .clients
        .iter()
        .flat_map(crate::scenario::Group::client_names);
    names.fold(Provided::new(), |p, name| {
        let name = name.as_str();
        let kinds = [
            (true, Evidence::Dials),
            (true, Evidence::Connections),
            (statuses.contains(name), Evidence::Statuses),
            (statuses.contains(name), Evidence::Received),
            (frames.contains(name), Evidence::Frames),
            (builtin, Evidence::ServerRecord),
            // Every client dials through its proxy, which decodes every frame.
            (true, Evidence::Wire),
            (
                declared.contains(name) || statuses.contains(name),
                Evidence::Intents,
            ),
        ];
        p.client(
            name,
            kinds.into_iter().filter(|(has, _)| *has).map(|(_, k)| k),
        )
    })
}

/// Checks a real run's history: every checker, with the run's tolerance, on what the run
/// provided for each client ([`provided`]); a client a checker cannot judge is reported not
/// judged, with the reason. A client that must be back after each heal is given `settle`
/// unless the file says otherwise (`expect.reconnect_within`). `lag` is how late the
/// machine woke timers during the run, at worst ([`check::Context::lag`]).
pub fn judge(scenario: &Scenario, history: &History, lag: crate::evidence::Lag) -> Verdict {
    // The tolerance grows by the worst scheduling delay of the run: an instant the
    // machine read late is not the client's doing.
    let tolerance = TOLERANCE + lag.worst(0, crate::evidence::window::ms(scenario.duration));
    let mut cx = check::Context::observed(scenario, provided(scenario, history), tolerance);
    cx.lag = lag;
    cx.reconnect_within = cx.reconnect_within.or(Some(scenario.settle));
    check::verdict(&cx, history)
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
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where a command of a file in `dir` runs: its `cwd`, relative to the file, or else the
/// file's own folder (so a file runs the same from wherever it is started).
pub(crate) fn working_dir(dir: &Path, cwd: Option<&Path>) -> PathBuf {
    cwd.map_or_else(|| dir.to_path_buf(), |c| dir.join(c))
}
