//! Client processes of a real-network run: started through `sh -c` in their own process
//! group, their stdout read line by line (probe lines into the history, the rest kept as
//! the client's log), client actions written to their stdin, and every one of them (and
//! everything they started) stopped when the run ends: SIGTERM to the group, SIGKILL after
//! a grace period. A process that exits early is recorded, never waited for. Each process
//! gets a temporary directory of its own (`TMPDIR`, unless its environment sets one), removed
//! once its group is gone: what a client leaves there (a browser's profile and singleton
//! socket, which a stopped Chromium does not clean up) goes with it.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, watch};

use crate::client::Status;
use crate::history::Event;
use crate::sim::Recorder;

/// Longest stdout line kept; a longer one is cut (a flood never grows memory unbounded).
pub const MAX_LINE: usize = 64 * 1024;
/// Log lines kept per client; the oldest go first, and the count of dropped lines is kept.
pub const MAX_LOG: usize = 2_000;

/// What a client process printed that was not a probe line, and how it ended.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// The last [`MAX_LOG`] lines (stdout lines that are not probe lines, and stderr).
    pub lines: Vec<String>,
    /// Lines dropped because there were more than [`MAX_LOG`].
    pub dropped: u64,
    /// The run has begun to stop it, or told it to `close`: an exit from now on is not its
    /// own doing.
    stopping: bool,
    /// When (ms since the start) and how it exited, when it did before the run stopped it
    /// (`exit 3`, `killed by signal 9`).
    pub exited: Option<(u64, String)>,
}

impl Log {
    /// `; its last lines: a | b | c` (the last three), or nothing when it printed none.
    pub fn last_lines(&self) -> String {
        let last: Vec<&str> = (self.lines.iter().rev().take(3).rev())
            .map(String::as_str)
            .collect();
        if last.is_empty() {
            String::new()
        } else {
            format!("; its last lines: {}", last.join(" | "))
        }
    }

    fn push(&mut self, line: String) {
        if self.lines.len() == MAX_LOG {
            self.lines.remove(0);
            self.dropped += 1;
        }
        self.lines.push(line);
    }
}

/// How one client process is started.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The client's name (`GROUP-INDEX`).
    pub name: String,
    /// The shell command, placeholders already filled in.
    pub command: String,
    /// Working directory; default: the current one.
    pub cwd: Option<std::path::PathBuf>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Its stdout carries probe lines (a client); else every line is its log (a server).
    pub probes: bool,
    /// A line containing this text (stdout or stderr) makes [`ClientProcess::ready`] true.
    pub ready_line: Option<String>,
    /// Where its status changes go as they are read, besides the history (a run with steps
    /// fired `on` a status change).
    pub statuses: Option<mpsc::UnboundedSender<(String, Status)>>,
}

/// A running client process.
pub struct ClientProcess {
    name: String,
    /// Its pid, which is also its process group's id; `None` once stopped.
    pid: Option<u32>,
    /// Set when it exits; a task owns the child and waits for it.
    exit: watch::Receiver<bool>,
    stdin: Option<ChildStdin>,
    log: Arc<Mutex<Log>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// Set once it printed its `ready_line`.
    ready: watch::Receiver<bool>,
    /// Its `TMPDIR`, removed once it is stopped (or dropped).
    tmp: Option<Scratch>,
}

/// A process's own temporary directory, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    /// A new, empty directory under the system's temporary directory.
    fn new(client: &str) -> std::io::Result<Scratch> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let base = std::env::temp_dir();
        // The name is short: a Unix socket's path inside it (Chromium's) has ~100 bytes.
        let safe: String = (client.chars().filter(char::is_ascii_alphanumeric).take(16)).collect();
        loop {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = base.join(format!("wschaos-{}-{n}-{safe}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes it; an error is said in `log`.
    fn remove(self, log: &Mutex<Log>) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            lock(log).push(format!(
                "wschaos: could not remove its temporary directory {}: {e}",
                self.0.display()
            ));
        }
        std::mem::forget(self);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl ClientProcess {
    /// Starts `spec` in a new process group; its probe lines go to `recorder`.
    pub fn start(spec: &Spec, recorder: &Recorder) -> std::io::Result<ClientProcess> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .envs(&spec.env)
            .env("WSCHAOS_CLIENT", &spec.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let tmp = match spec.env.contains_key("TMPDIR") {
            true => None,
            false => Some(Scratch::new(&spec.name)?),
        };
        if let Some(tmp) = &tmp {
            cmd.env("TMPDIR", &tmp.0);
        }
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        let log = Arc::new(Mutex::new(Log::default()));
        let mut readers = Vec::new();
        let (ready_tx, ready) = watch::channel(false);
        let ready_tx = Arc::new(ready_tx);
        let is_ready = {
            let want = spec.ready_line.clone();
            move |line: &str, tx: &watch::Sender<bool>| {
                if want.as_deref().is_some_and(|w| line.contains(w)) {
                    tx.send_replace(true);
                }
            }
        };
        if let Some(out) = child.stdout.take() {
            let (name, recorder, log) = (spec.name.clone(), recorder.clone(), log.clone());
            let (probes, is_ready, tx) = (spec.probes, is_ready.clone(), ready_tx.clone());
            let statuses = spec.statuses.clone();
            readers.push(tokio::spawn(async move {
                read_lines(out, |line| {
                    is_ready(&line, &tx);
                    match super::probe::parse(&name, &line).filter(|_| probes) {
                        Some(event) => {
                            let status = match (&statuses, &event) {
                                (Some(_), Event::Status { status, .. }) => Some(status.clone()),
                                _ => None,
                            };
                            recorder.record(event);
                            if let (Some(to), Some(status)) = (&statuses, status) {
                                let _ = to.send((name.clone(), status));
                            }
                        }
                        None => lock(&log).push(line),
                    }
                })
                .await;
            }));
        }
        if let Some(err) = child.stderr.take() {
            let (log, tx) = (log.clone(), ready_tx.clone());
            readers.push(tokio::spawn(async move {
                read_lines(err, |line| {
                    is_ready(&line, &tx);
                    lock(&log).push(line)
                })
                .await;
            }));
        }
        let pid = child.id();
        let stdin = child.stdin.take();
        let (done, exit) = watch::channel(false);
        {
            let (log, recorder) = (log.clone(), recorder.clone());
            tokio::spawn(async move {
                let how = child
                    .wait()
                    .await
                    .map_or_else(|e| format!("lost: {e}"), describe);
                let mut log = lock(&log);
                if !log.stopping {
                    log.exited = Some((recorder.now().as_millis() as u64, how));
                }
                drop(log);
                let _ = done.send(true);
            });
        }
        Ok(ClientProcess {
            name: spec.name.clone(),
            pid,
            exit,
            stdin,
            log,
            readers,
            ready,
            tmp,
        })
    }

    /// Waits until it printed its `ready_line`; `false` when it exited first.
    pub async fn ready(&mut self) -> bool {
        let (mut exit, mut ready) = (self.exit.clone(), self.ready.clone());
        tokio::select! {
            biased;
            r = ready.wait_for(|r| *r) => r.is_ok(),
            _ = exit.wait_for(|e| *e) => *self.ready.borrow(),
        }
    }

    /// Its log so far (a copy).
    pub fn log(&self) -> Log {
        lock(&self.log).clone()
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes one action line (`close`, `subscribe news`, ...) to its stdin. A client that
    /// does not read stdin ignores it; one that has exited or closed stdin is noted in the
    /// log, and the run goes on.
    pub async fn tell(&mut self, line: &str) {
        if line == "close" {
            lock(&self.log).stopping = true;
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let sent = tokio::time::timeout(Duration::from_secs(1), async {
            stdin.write_all(format!("{line}\n").as_bytes()).await?;
            stdin.flush().await
        })
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            lock(&self.log).push(format!("wschaos: could not write {line:?} to its stdin"));
            self.stdin = None;
        }
    }

    /// True once the process has exited.
    pub fn exited(&self) -> bool {
        *self.exit.borrow()
    }

    async fn wait(&mut self, bound: Duration) -> bool {
        tokio::time::timeout(bound, self.exit.wait_for(|done| *done))
            .await
            .is_ok()
    }

    /// Stops it and everything it started: SIGTERM to its process group, SIGKILL to the
    /// group after `grace`. Returns its log once its output is read to the end (bounded).
    pub async fn stop(mut self, grace: Duration) -> Log {
        self.stdin = None;
        lock(&self.log).stopping = true;
        if let Some(pid) = self.pid.take() {
            signal_group(pid, Signal::Term);
            let deadline = tokio::time::Instant::now() + grace;
            // The shell may die at once while what it started still drains (a server
            // sending its close frames): the grace is the group's, not the leader's.
            let mut stopped = self.exited() || self.wait(grace).await;
            while stopped && group_alive(pid).await {
                if tokio::time::Instant::now() >= deadline {
                    stopped = false;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !stopped {
                lock(&self.log).push(format!(
                    "wschaos: still running {}ms after SIGTERM: killed",
                    grace.as_millis()
                ));
            }
            // Whatever is left in its group (the leader, or what it started) goes now.
            signal_group(pid, Signal::Kill);
            self.wait(grace).await;
        }
        for reader in self.readers.drain(..) {
            if tokio::time::timeout(grace, reader).await.is_err() {
                lock(&self.log).push("wschaos: output still open after the stop".into());
            }
        }
        if let Some(tmp) = self.tmp.take() {
            tmp.remove(&self.log);
        }
        lock(&self.log).clone()
    }
}

impl ClientProcess {
    /// Ends it at once, as a crash or a killed app ends: SIGKILL to its process group, no
    /// warning (its sockets close without a close frame). Returns its log once its output
    /// is read to the end (bounded), so nothing it printed is taken for its successor's.
    pub async fn kill(mut self, grace: Duration) -> Log {
        self.stdin = None;
        lock(&self.log).stopping = true;
        if let Some(pid) = self.pid.take() {
            signal_group(pid, Signal::Kill);
            if !self.wait(grace).await {
                lock(&self.log).push("wschaos: still running after SIGKILL".into());
            }
        }
        for reader in self.readers.drain(..) {
            if tokio::time::timeout(grace, reader).await.is_err() {
                lock(&self.log).push("wschaos: output still open after the kill".into());
            }
        }
        if let Some(tmp) = self.tmp.take() {
            tmp.remove(&self.log);
        }
        lock(&self.log).clone()
    }
}

impl Log {
    /// This log followed by `next`'s (a restarted client's next process), with a line
    /// between them; `exited` is the last process's.
    pub fn then(mut self, next: Log) -> Log {
        self.push("wschaos: the process was restarted (restart_client)".into());
        for line in next.lines {
            self.push(line);
        }
        self.dropped += next.dropped;
        self.exited = next.exited;
        self.stopping = next.stopping;
        self
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        // Interrupted (a panic, Ctrl-C): never leave the group behind.
        if let Some(pid) = self.pid.take() {
            signal_group(pid, Signal::Kill);
        }
        for reader in &self.readers {
            reader.abort();
        }
    }
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

fn describe(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match status.code() {
        Some(code) => format!("exit {code}"),
        None => "exited".into(),
    }
}

/// Calls `each` for every line, lines longer than [`MAX_LINE`] cut there.
async fn read_lines(from: impl tokio::io::AsyncRead + Unpin, mut each: impl FnMut(String)) {
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut long = false;
        loop {
            let chunk = match reader.fill_buf().await {
                Ok([]) | Err(_) => {
                    if !buf.is_empty() {
                        each(String::from_utf8_lossy(&buf).into_owned());
                    }
                    return;
                }
                Ok(chunk) => chunk,
            };
            let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..take.min(room)]);
            long |= take > room;
            reader.consume(take);
            if end {
                break;
            }
        }
        let mut line = String::from_utf8_lossy(&buf).trim_end().to_string();
        if long {
            line.push_str(" [cut]");
        }
        each(line);
    }
}

/// True while any process of the group `pid` leads is alive. On Linux from `/proc` (a
/// zombie waiting for a reaper that may never come counts as gone); elsewhere the shell's
/// `kill -0`.
async fn group_alive(pid: u32) -> bool {
    if let Ok(entries) = std::fs::read_dir("/proc") {
        return entries.flatten().any(|e| {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces, so from the last ')'.
            let mut rest = stat.rsplit(')').next().unwrap_or("").split_whitespace();
            let state = rest.next();
            let pgrp = rest.nth(1);
            pgrp == Some(pid.to_string().as_str()) && !matches!(state, Some("Z" | "X"))
        });
    }
    tokio::process::Command::new("sh")
        .args(["-c", "kill -0 -- \"-$1\" 2>/dev/null", "sh"])
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

enum Signal {
    Term,
    Kill,
}

fn signal_group(pid: u32, signal: Signal) {
    let name = match signal {
        Signal::Term => "TERM",
        Signal::Kill => "KILL",
    };
    // The shell's own `kill`: a negative pid names the process group (no `unsafe` here,
    // and no dependency on procps). Bounded: it returns at once.
    let sent = std::process::Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"-$2\" 2>/dev/null", "sh", name])
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(error) = sent {
        tracing::warn!(%error, pid, "could not signal a client's process group");
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A shell that dies at once on SIGTERM while what it started still drains: the
    /// grace is the group's, so the drain finishes before any SIGKILL.
    #[tokio::test]
    async fn the_grace_period_is_the_whole_groups() {
        let spec = Spec {
            name: "c".into(),
            command: r#"sh -c 'trap "sleep 0.3; echo drained; exit 0" TERM; echo up; while :; do sleep 0.05; done' & wait"#.into(),
            cwd: None,
            env: BTreeMap::new(),
            probes: false,
            ready_line: Some("up".into()),
            statuses: None,
        };
        let mut process = ClientProcess::start(&spec, &Recorder::real()).unwrap();
        assert!(process.ready().await);
        let log = process.stop(Duration::from_secs(5)).await;
        assert!(log.lines.iter().any(|l| l == "drained"), "{:?}", log.lines);
        assert!(
            !log.lines.iter().any(|l| l.contains("killed")),
            "{:?}",
            log.lines
        );
    }

    /// What a process leaves in its `TMPDIR` goes with it, stopped or killed; a `TMPDIR` of
    /// its own environment is its own, left alone.
    #[tokio::test]
    async fn its_temporary_directory_goes_with_it() {
        let spec = |env: BTreeMap<String, String>| {
            Spec {
            name: "page-0".into(),
            command: r#"mkdir "$TMPDIR/profile" && touch "$TMPDIR/profile/socket" && echo "up $TMPDIR"; while :; do sleep 0.05; done"#.into(),
            cwd: None,
            env,
            probes: false,
            ready_line: Some("up".into()),
            statuses: None,
        }
        };
        let dir_of = |log: &Log| -> std::path::PathBuf {
            let line = log
                .lines
                .iter()
                .find(|l| l.starts_with("up "))
                .expect("it said where");
            line["up ".len()..].into()
        };
        let mut stopped = ClientProcess::start(&spec(BTreeMap::new()), &Recorder::real()).unwrap();
        assert!(stopped.ready().await);
        let log = stopped.stop(Duration::from_secs(5)).await;
        let dir = dir_of(&log);
        assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
        assert!(!dir.exists(), "{} is left behind", dir.display());

        let mut killed = ClientProcess::start(&spec(BTreeMap::new()), &Recorder::real()).unwrap();
        assert!(killed.ready().await);
        let dir = dir_of(&killed.kill(Duration::from_secs(5)).await);
        assert!(!dir.exists(), "{} is left behind", dir.display());

        let own = Scratch::new("own").unwrap();
        let env = BTreeMap::from([("TMPDIR".to_string(), own.0.display().to_string())]);
        let mut process = ClientProcess::start(&spec(env), &Recorder::real()).unwrap();
        assert!(process.ready().await);
        let log = process.stop(Duration::from_secs(5)).await;
        assert_eq!(dir_of(&log), own.0);
        assert!(
            own.0.join("profile/socket").exists(),
            "its own TMPDIR is left alone"
        );
    }
}
