//! Real network, loopback: messages per second the server delivers to 100 subscribers,
//! wschaos's server against the aiohttp server in `benches/aiohttp_server.py`, driven by the
//! same load generator in the same run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::table::Table;

const SUBSCRIBERS: usize = 100;
/// Publishes per run: about 7 s of aiohttp.
pub const MESSAGES: usize = 10_000;
/// Publishes per run of wschaos: about 3 s, long enough that this VM's moments of noise
/// average out (at 10,000, about 0.6 s, five runs spread 27% to 33%).
const OURS: usize = 50_000;
/// Publishes in flight at most: well under both servers' per-connection queues, so the
/// figure is throughput, not who drops a slow consumer first.
const WINDOW: usize = 100;
const PAYLOAD: usize = 100;

/// A server process, killed when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start(mut command: Command, port: u16) -> Result<Server, String> {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{command:?} did not listen on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

pub fn ours(port: u16) -> Result<Server, String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wschaos"));
    command.args(["serve", "--bind", &format!("127.0.0.1:{port}")]);
    start(command, port)
}

/// A venv in `target/bench-venv` with aiohttp, made on first use.
fn python() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    let has_aiohttp = |p: &Path| {
        Command::new(p)
            .args(["-c", "import aiohttp"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_aiohttp(&python) {
        return Ok(python);
    }
    let run = |program: &Path, args: &[&str]| -> Result<(), String> {
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} {}: {}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let venv_arg = venv.to_string_lossy();
    run(Path::new("python3"), &["-m", "venv", &venv_arg])?;
    run(&python, &["-m", "pip", "install", "--quiet", "aiohttp"])?;
    if has_aiohttp(&python) {
        Ok(python)
    } else {
        Err("aiohttp did not install".into())
    }
}

fn aiohttp(port: u16) -> Result<Server, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/aiohttp_server.py");
    let mut command = Command::new(python()?);
    command.arg(script).arg(port.to_string());
    start(command, port)
}

pub async fn connect(port: u16, client: &str) -> Result<WebSocketStream<TcpStream>, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("ws://127.0.0.1:{port}/?client={client}");
    let (ws, _) = client_async(url, stream).await.map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Segments a run is timed in. A run's rate is the median of its segments' rates: a moment
/// of this shared VM's noise slows one segment and moves the median little, where it moved
/// a whole run's mean by up to 60%.
const SEGMENTS: usize = 10;

/// Deliveries per second: `messages` publishes, each to `SUBSCRIBERS` subscribers; the
/// median rate of the run's [`SEGMENTS`] equal segments.
pub async fn load(port: u16, messages: usize) -> Result<f64, String> {
    let windows = messages / WINDOW;
    if windows < SEGMENTS {
        return Err(format!(
            "{messages} messages make fewer than {SEGMENTS} windows of {WINDOW}"
        ));
    }

    let delivered = Arc::new(Semaphore::new(0));
    for i in 0..SUBSCRIBERS {
        let ws = connect(port, &format!("sub-{i}")).await?;
        let (mut tx, mut rx) = ws.split();
        let subscribe = r#"{"type":"subscribe","topic":"bench"}"#;
        tx.send(Message::text(subscribe))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match rx.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"subscribed\"") => break,
                Some(Ok(_)) => {}
                other => return Err(format!("sub-{i} did not subscribe: {other:?}")),
            }
        }
        let delivered = delivered.clone();
        tokio::spawn(async move {
            let _keep = tx;
            while let Some(Ok(frame)) = rx.next().await {
                if matches!(&frame, Message::Text(t) if t.contains("\"message\"")) {
                    delivered.add_permits(1);
                }
            }
        });
    }
    let (mut publisher, mut acks) = connect(port, "publisher").await?.split();
    tokio::spawn(async move { while let Some(Ok(_)) = acks.next().await {} });
    let data = "x".repeat(PAYLOAD);
    let per_segment = windows / SEGMENTS;
    let mut rates = Vec::with_capacity(SEGMENTS);
    let mut start = Instant::now();
    for window in 0..per_segment * SEGMENTS {
        for k in 0..WINDOW {
            let id = window * WINDOW + k + 1;
            let frame =
                format!(r#"{{"type":"publish","topic":"bench","id":{id},"data":"{data}"}}"#);
            publisher
                .feed(Message::text(frame))
                .await
                .map_err(|e| e.to_string())?;
        }
        publisher.flush().await.map_err(|e| e.to_string())?;
        let all = (WINDOW * SUBSCRIBERS) as u32;
        delivered
            .acquire_many(all)
            .await
            .map_err(|e| e.to_string())?
            .forget();
        if (window + 1) % per_segment == 0 {
            let delivered = (per_segment * WINDOW * SUBSCRIBERS) as f64;
            rates.push(delivered / start.elapsed().as_secs_f64());
            start = Instant::now();
        }
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

fn measure(server: Result<Server, String>, port: u16, messages: usize) -> Result<f64, String> {
    let _server = server?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), load(port, messages))
            .await
            .map_err(|_| "the load did not finish within 120 s".to_string())?
    })
}

/// Runs of each server, alternating; every run's ratio must meet the target.
const RUNS: usize = 5;

pub fn compare(table: &mut Table) {
    let figure = "real network: messages/s delivered to 100 subscribers";
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let port = free_port();
        let a = measure(self::ours(port), port, OURS);
        let port = free_port();
        let b = measure(aiohttp(port), port, MESSAGES);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                ours.push(a);
                theirs.push(b);
            }
            (a, b) => {
                let show = |r: Result<f64, String>| match r {
                    Ok(v) => format!("{v:.0}/s"),
                    Err(e) => format!("not measured: {e}"),
                };
                table.add(
                    &format!("{figure}, wschaos server"),
                    "≥ 10x aiohttp in each of 5 runs, spread ≤ 20%",
                    format!("wschaos {}, aiohttp {}", show(a), show(b)),
                    None,
                );
                return;
            }
        }
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
    let spread = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        hi / lo - 1.0
    };
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let worst = ratios.iter().copied().fold(f64::MAX, f64::min);
    let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.1}x")).collect();
    table.add(
        &format!("{figure}, wschaos server, {RUNS} runs"),
        "≥ 10x aiohttp in each of 5 runs, spread ≤ 20%",
        format!(
            "median {:.0}/s, spread {:.0}%; against aiohttp {}",
            median(&ours),
            spread(&ours) * 100.0,
            listed.join(", ")
        ),
        Some(worst >= 10.0 && spread(&ours) <= 0.2),
    );
    table.add(
        &format!("{figure}, aiohttp server (benches/aiohttp_server.py), {RUNS} runs"),
        "–",
        format!(
            "median {:.0}/s, spread {:.0}%",
            median(&theirs),
            spread(&theirs) * 100.0
        ),
        None,
    );
}
