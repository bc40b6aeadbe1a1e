//! `serve` and `connect` as real processes under the signals that stop them: Ctrl-C
//! (SIGINT) and SIGTERM (`timeout`, systemd, `docker stop`, the real-network runner). Every
//! wait is bounded and every process started here is stopped.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child whose stdout lines arrive on a channel; killed when dropped.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    stdin: Option<std::process::ChildStdin>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wschaos"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wschaos");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let value =
                    serde_json::from_str(&line).unwrap_or(serde_json::json!({ "raw": line }));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Proc {
            child,
            lines,
            stdin,
        }
    }

    /// Writes one line to its stdin.
    fn tell(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write to stdin");
    }

    /// The next line that satisfies `want`, within 10 s.
    fn until(&self, what: &str, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if want(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("no {what} line within 10 s: {e}"),
            }
        }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Its exit status, within 10 s; and every line it printed after the last one read.
    fn exit(&mut self) -> (ExitStatus, Vec<serde_json::Value>) {
        let mut rest = Vec::new();
        // The reader thread ends at EOF, which comes when the process exits.
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => rest.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("still running 10 s after the signal")
                }
            }
        }
        (self.child.wait().expect("wait"), rest)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn state(line: &serde_json::Value) -> &str {
    line["state"].as_str().unwrap_or("")
}

pub fn connect_ends_cleanly_on_ctrl_c_and_on_sigterm() {
    for sig in ["INT", "TERM"] {
        // Nothing listens on port 1: the client is somewhere in its retry loop.
        let mut client = Proc::start(&["connect", "ws://127.0.0.1:1/", "--initial-delay", "50ms"]);
        client.until("disconnected", |l| state(l) == "disconnected");
        client.signal(sig);
        let (status, rest) = client.exit();
        assert_eq!(status.code(), Some(0), "SIG{sig}: {rest:?}");
        let last = rest.iter().rev().find(|l| l["event"] == "status");
        assert_eq!(last.map(state), Some("closed"), "SIG{sig}: {rest:?}");
    }
}

pub fn serve_stops_gracefully_on_sigterm_and_ctrl_c_with_1012() {
    for sig in ["TERM", "INT"] {
        let mut server = Proc::start(&["serve", "--bind", "127.0.0.1:0"]);
        let url = server.until("listening", |l| l["event"] == "listening")["url"]
            .as_str()
            .unwrap()
            .to_string();
        let client = Proc::start(&["connect", &url, "--initial-delay", "5s"]);
        client.until("connected", |l| state(l) == "connected");
        server.signal(sig);
        let (status, rest) = server.exit();
        assert_eq!(status.code(), Some(0), "SIG{sig}: {rest:?}");
        assert!(
            rest.iter().any(|l| l["event"] == "stopped"),
            "SIG{sig}: {rest:?}"
        );
        // The client heard a service restart, not a dropped connection.
        let lost = client.until("disconnected", |l| state(l) == "disconnected");
        assert_eq!(lost["reason"]["code"], 1012, "SIG{sig}: {lost}");
    }
}

pub fn serve_takes_fault_commands_on_stdin() {
    let mut server = Proc::start(&["serve", "--bind", "127.0.0.1:0"]);
    let url = server.until("listening", |l| l["event"] == "listening")["url"]
        .as_str()
        .unwrap()
        .to_string();
    let client = Proc::start(&["connect", &url, "--initial-delay", "100ms"]);
    client.until("connected", |l| state(l) == "connected");
    server.tell("kick 4000");
    server.until("control", |l| {
        l["event"] == "control" && l["line"] == "kick 4000"
    });
    let lost = client.until("disconnected", |l| state(l) == "disconnected");
    assert_eq!(lost["reason"]["code"], 4000, "{lost}");
    client.until("connected again", |l| state(l) == "connected");
    server.tell("kick 1005");
    let refused = server.until("control_refused", |l| l["event"] == "control_refused");
    assert!(
        refused["error"].as_str().unwrap().contains("1005"),
        "{refused}"
    );
    server.tell("stop");
    let (status, rest) = server.exit();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(rest.iter().any(|l| l["event"] == "stopped"), "{rest:?}");
}
