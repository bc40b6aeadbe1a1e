//! `wschaos serve`: the broadcast server on a real network.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use wschaos::protocol::Protocol;
use wschaos::server::{self, Admission, ControlHandle, ServerConfig};
use wschaos::tls::ServerTls;

use super::{Exit, bad_input, output};

/// Options of `wschaos serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Loopback by default: expose it on purpose, not by accident.
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: SocketAddr,
    /// Server epoch; default: the start time in milliseconds, so every start differs.
    #[arg(long)]
    epoch: Option<u64>,
    /// Messages kept per topic for resume.
    #[arg(long, default_value_t = ServerConfig::default().history)]
    history: usize,
    /// Quiet time before the server pings a client (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    ping_interval: Duration,
    /// Require `Authorization: Bearer TOKEN` at the handshake (else HTTP 401).
    #[arg(long, env = "WSCHAOS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Allow browser connections only from this origin (repeatable; else HTTP 403).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Largest message accepted, in bytes (larger closes with 1009).
    #[arg(long, default_value_t = ServerConfig::default().max_message_size)]
    max_message_size: usize,
    /// The protocol: `wschaos` (topics, resume, acknowledged publishes), `broadcast` (the
    /// original article's: every text frame relayed to every client; join and leave events),
    /// `graphql-transport-ws` (npm graphql-ws: a subscription's topic is its
    /// `variables.topic`, a mutation publishes) or `phoenix` (Phoenix Channels v2: a
    /// channel's topic is a topic, a push publishes). A client may ask for wschaos's
    /// protocol with `?protocol=wschaos` in its URL (a built-in publisher, say).
    #[arg(long, value_enum, default_value = "wschaos")]
    protocol: ProtocolArg,
    /// Serve wss://: the certificate chain, PEM (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM (needs --tls-cert).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// `--protocol`'s values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ProtocolArg {
    Wschaos,
    Broadcast,
    GraphqlTransportWs,
    Phoenix,
}

/// Serves until Ctrl-C.
pub async fn run(args: Args) -> Exit {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match ServerTls::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => return bad_input(e),
        },
        _ => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let listener = match tokio::net::TcpListener::bind(args.bind).await {
        Ok(l) => l,
        Err(e) => return bad_input(format!("cannot listen on {}: {e}", args.bind)),
    };
    let epoch = args.epoch.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    });
    let config = ServerConfig {
        epoch,
        history: args.history,
        ping_interval: args.ping_interval,
        max_message_size: args.max_message_size,
        token: args.token,
        allowed_origins: args.allowed_origins,
        tls,
        protocol: match args.protocol {
            ProtocolArg::Wschaos => Protocol::Wschaos,
            ProtocolArg::Broadcast => Protocol::Broadcast,
            ProtocolArg::GraphqlTransportWs => Protocol::GraphqlTransportWs,
            ProtocolArg::Phoenix => Protocol::Phoenix,
        },
        ..ServerConfig::default()
    };
    let addr = listener.local_addr().map_or(args.bind, |a| a);
    output::line(
        Some("listening"),
        &json!({ "addr": addr.to_string(), "url": format!("{scheme}://{addr}/"), "epoch": epoch, "protocol": config.protocol }),
    );
    let (knobs, controls) = server::controls();
    tokio::spawn(control(knobs));
    let shutdown = super::stop_signal();
    server::run_with(
        listener,
        config,
        shutdown,
        |event| output::line(None, event),
        controls,
    )
    .await;
    output::line(Some("stopped"), &json!({}));
    Exit::Ok
}

/// The control channel: the simulation's fault commands, typed on stdin by a person or
/// written by a script, one per line: `kick CODE`, `flap`, `reject STATUS`, `admit`,
/// `stop` (graceful: drain, 1012). Each is answered with a `control` line, or a
/// `control_refused` line saying why. The end of stdin ends nothing.
async fn control(knobs: ControlHandle) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match command(line) {
            Ok(Control::Kick(code)) => knobs.kick(code),
            Ok(Control::Admit(admission)) => knobs.admit(admission),
            Ok(Control::Stop) => knobs.shut_down(),
            Err(why) => {
                output::line(
                    Some("control_refused"),
                    &json!({ "line": line, "error": why }),
                );
                continue;
            }
        }
        output::line(Some("control"), &json!({ "line": line }));
    }
}

enum Control {
    Kick(u16),
    Admit(Admission),
    Stop,
}

fn command(line: &str) -> Result<Control, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |w: Option<&&str>, what: &str| -> Result<u16, String> {
        w.ok_or(format!("{what} missing"))?
            .parse()
            .map_err(|_| format!("{what} must be a number"))
    };
    match words.first().copied() {
        Some("kick") => {
            let code = number(words.get(1), "close code")?;
            if !(1000..=4999).contains(&code) || [1004, 1005, 1006, 1015].contains(&code) {
                return Err(format!("close code {code} cannot be sent"));
            }
            Ok(Control::Kick(code))
        }
        Some("reject") => {
            let status = number(words.get(1), "HTTP status")?;
            if !(400..=599).contains(&status) {
                return Err(format!("HTTP status {status} is not an error"));
            }
            Ok(Control::Admit(Admission::Reject { status }))
        }
        Some("flap") => Ok(Control::Admit(Admission::Flap)),
        Some("admit") => Ok(Control::Admit(Admission::Accept)),
        Some("stop") => Ok(Control::Stop),
        _ => Err("commands: kick CODE, reject STATUS, flap, admit, stop".into()),
    }
}
