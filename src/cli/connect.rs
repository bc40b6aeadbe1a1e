//! `wschaos connect`: a reconnecting client on a real network, narrated as JSON lines.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use wschaos::client::{Client, ClientBuilder, Policy, RawClient, Status};
use wschaos::net::TokioNet;
use wschaos::tls::ClientTls;

use super::{Exit, bad_input, output};

/// Options of `wschaos connect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server URL, e.g. ws://127.0.0.1:9000/
    url: String,
    /// Subscribe to a topic (repeatable).
    #[arg(long = "subscribe", value_name = "TOPIC")]
    subscribe: Vec<String>,
    /// Publish TEXT to TOPIC, once or with --every; {count} in TEXT becomes a counter.
    #[arg(long, value_name = "TOPIC:TEXT")]
    publish: Option<String>,
    /// With --raw: send TEXT as a text frame, once or with --every; {count} becomes a counter.
    #[arg(long, value_name = "TEXT")]
    send: Option<String>,
    /// Repeat --publish / --send at this interval (e.g. 1s, 500ms).
    #[arg(long, value_parser = humantime::parse_duration)]
    every: Option<Duration>,
    /// Raw mode: no protocol, works against any WebSocket server; prints every frame.
    #[arg(long)]
    raw: bool,
    /// Send `Authorization: Bearer TOKEN` with each handshake.
    #[arg(long, env = "WSCHAOS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// For wss://: trust the certificates in this PEM file (a private CA or a self-signed
    /// server) instead of the public roots.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Identity at the server (pub/sub); default: random.
    #[arg(long)]
    client_id: Option<String>,
    /// Upper bound of the first retry delay.
    #[arg(long, value_parser = humantime::parse_duration)]
    initial_delay: Option<Duration>,
    /// Largest retry delay.
    #[arg(long, value_parser = humantime::parse_duration)]
    max_delay: Option<Duration>,
    /// Give up after this many failed dials in a row (exit 1); default: never.
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Quiet time before the client pings.
    #[arg(long, value_parser = humantime::parse_duration)]
    ping_interval: Option<Duration>,
    /// Time a ping may go unanswered.
    #[arg(long, value_parser = humantime::parse_duration)]
    pong_timeout: Option<Duration>,
    /// The whole reconnect policy as JSON, with the keys of a scenario's `policy` table,
    /// e.g. '{"initial_delay":"200ms","jitter":0.5}'; the flags above override it.
    #[arg(long, env = "WSCHAOS_POLICY", value_name = "JSON")]
    policy: Option<String>,
    /// First --publish / --send this long after the start (default: at once).
    #[arg(long, value_parser = humantime::parse_duration)]
    start: Option<Duration>,
    /// No --publish / --send later than this long after the start (default: never stop).
    #[arg(long, value_parser = humantime::parse_duration)]
    stop: Option<Duration>,
    /// After giving up (`failed`), keep running and wait for `reconnect` on stdin instead
    /// of exiting 1.
    #[arg(long)]
    stay: bool,
}

impl Args {
    fn policy(&self) -> Result<Policy, String> {
        let d = match &self.policy {
            Some(json) => serde_json::from_str::<Policy>(json)
                .map_err(|e| format!("--policy (or WSCHAOS_POLICY) {json:?}: {e}"))?,
            None => Policy::default(),
        };
        Ok(Policy {
            initial_delay: self.initial_delay.unwrap_or(d.initial_delay),
            max_delay: self.max_delay.unwrap_or(d.max_delay),
            max_attempts: self.max_attempts.or(d.max_attempts),
            ping_interval: self.ping_interval.unwrap_or(d.ping_interval),
            pong_timeout: self.pong_timeout.unwrap_or(d.pong_timeout),
            ..d
        })
    }

    /// When the --publish / --send workload runs: (first, last), from the start.
    fn window(&self) -> (Duration, Option<Duration>) {
        (self.start.unwrap_or_default(), self.stop)
    }

    fn check(&self) -> Result<Option<(String, String)>, String> {
        if self.raw && (self.publish.is_some() || !self.subscribe.is_empty()) {
            return Err(
                "--raw speaks no protocol: use --send instead of --publish/--subscribe".into(),
            );
        }
        if !self.raw && self.send.is_some() {
            return Err("--send needs --raw; in pub/sub mode use --publish TOPIC:TEXT".into());
        }
        if self.every.is_some_and(|d| d.is_zero()) {
            return Err("--every must be more than zero".into());
        }
        if let (start, Some(stop)) = self.window() {
            if stop < start {
                return Err(format!(
                    "--stop {} comes before --start {}",
                    humantime::format_duration(stop),
                    humantime::format_duration(start)
                ));
            }
        }
        match &self.publish {
            None => Ok(None),
            Some(spec) => match spec.split_once(':') {
                Some((topic, text)) if !topic.is_empty() => Ok(Some((topic.into(), text.into()))),
                _ => Err(format!(
                    "--publish {spec:?}: write TOPIC:TEXT, e.g. news:hello"
                )),
            },
        }
    }
}

/// Connects and narrates until Ctrl-C or SIGTERM (exit 0, after a last `closed` status),
/// or until the client gives up (exit 1).
pub async fn run(args: Args) -> Exit {
    let publish = match args.check() {
        Ok(p) => p,
        Err(e) => return bad_input(e),
    };
    let policy = match args.policy() {
        Ok(p) => p,
        Err(e) => return bad_input(e),
    };
    // A closed client has its write timeout to say goodbye before the process exits.
    let goodbye = policy.write_timeout;
    let mut builder = match ClientBuilder::new(&args.url) {
        Ok(b) => b.policy(policy),
        Err(e) => return bad_input(e),
    };
    if let Some(token) = &args.token {
        builder = match builder.bearer_token(token) {
            Ok(b) => b,
            Err(e) => return bad_input(e),
        };
    }
    if let Some(path) = &args.ca_cert {
        let trusted = match ClientTls::trusting_pem_file(path) {
            Ok(t) => t,
            Err(e) => return bad_input(e),
        };
        builder = match builder.tls(trusted) {
            Ok(b) => b,
            Err(e) => return bad_input(e),
        };
    }
    if let Some(id) = &args.client_id {
        builder = builder.client_id(id);
    }
    if args.raw {
        // Subscribe to the status before the task runs, so the first change is not missed.
        let (client, task) = builder.build_raw(TokioNet, StdRng::from_os_rng());
        let status = client.status_changes().boxed();
        let driver = tokio::spawn(task);
        let lines = raw_lines(&client);
        let ticker = args.send.clone().map(|text| {
            let c = client.clone();
            repeat(args.every, args.window(), move |n| {
                client_send(&c, &text, n)
            })
        });
        tokio::spawn(obey(Obeyed::Raw(client.clone())));
        let exit = watch_status(Watched {
            status,
            lines,
            close: Some(Box::new(move || client.close())),
            _ticker: ticker,
            stay: args.stay,
        })
        .await;
        if matches!(exit, Exit::Ok) {
            finish(driver, goodbye).await;
        }
        exit
    } else {
        let (client, task) = builder.build(TokioNet, StdRng::from_os_rng());
        let status = client.status_changes().boxed();
        let driver = tokio::spawn(task);
        let mut sources: Vec<BoxStream<'static, Line>> = Vec::new();
        for topic in &args.subscribe {
            // The probe protocol's word for what this client wants (`topics_restored`
            // judges it by these lines when its group declares no `topics`).
            output::line(Some("subscribe"), &json!({ "topic": topic }));
            match client.subscribe(topic) {
                Ok(sub) => sources.push(sub.map(|event| Line::of(None, &event)).boxed()),
                Err(e) => return bad_input(e),
            }
        }
        let server = client.server_events().map(|event| match event {
            Ok(event) => Line::of(None, &event),
            Err(lagged) => Line::of(Some("lagged"), &json!({ "skipped": lagged.0 })),
        });
        sources.push(server.boxed());
        let lines = futures::stream::select_all(sources).boxed();
        let ticker = publish.map(|(topic, text)| {
            let c = client.clone();
            repeat(args.every, args.window(), move |n| {
                client_publish(&c, &topic, &text, n)
            })
        });
        tokio::spawn(obey(Obeyed::PubSub(client.clone())));
        let exit = watch_status(Watched {
            status,
            lines,
            close: Some(Box::new(move || client.close())),
            _ticker: ticker,
            stay: args.stay,
        })
        .await;
        if matches!(exit, Exit::Ok) {
            finish(driver, goodbye).await;
        }
        exit
    }
}

/// Lets a closed client's task end (its close frame written) before the process exits:
/// the status stream ends at `closed`, before the goodbye is on the wire, and exiting then
/// would reset the connection instead (the server sees no close frame). At most `within`
/// (the policy's write timeout) and a second; a client that gave up has nothing to send.
async fn finish(driver: tokio::task::JoinHandle<()>, within: std::time::Duration) {
    let _ = tokio::time::timeout(within + std::time::Duration::from_secs(1), driver).await;
}

/// One output line other than a status: a message, a gap, a server event, a raw frame.
struct Line {
    event: Option<&'static str>,
    body: serde_json::Value,
}

impl Line {
    fn of(event: Option<&'static str>, body: &impl serde::Serialize) -> Line {
        let body = serde_json::to_value(body).unwrap_or_else(|e| json!({ "error": e.to_string() }));
        Line { event, body }
    }
}

/// A raw client's incoming frames as output lines.
fn raw_lines(client: &RawClient) -> BoxStream<'static, Line> {
    client
        .incoming()
        .map(|frame| match frame {
            Ok(tokio_tungstenite::tungstenite::Message::Text(text)) => {
                Line::of(Some("frame"), &json!({ "text": text.as_str() }))
            }
            Ok(other) => Line::of(Some("frame"), &json!({ "binary_len": other.len() })),
            Err(lagged) => Line::of(Some("lagged"), &json!({ "skipped": lagged.0 })),
        })
        .boxed()
}

/// A client's status stream, its other output lines and how to close it, whatever its
/// layer. One loop prints them all, the other lines first: what the client emitted before
/// a status change is printed before it (never a message after `closed`).
struct Watched {
    status: BoxStream<'static, Status>,
    lines: BoxStream<'static, Line>,
    close: Option<Box<dyn FnOnce() + Send>>,
    _ticker: Option<tokio::task::JoinHandle<()>>,
    /// `--stay`: a `failed` client waits for `reconnect` instead of ending the process.
    stay: bool,
}

/// Prints every status until the client ends. Ctrl-C or SIGTERM closes it: the last line
/// is then `closed`, and the exit code 0. Giving up ends it with 1, unless `--stay`.
async fn watch_status(mut watched: Watched) -> Exit {
    let mut stop = std::pin::pin!(super::stop_signal());
    let mut lines_open = true;
    loop {
        tokio::select! {
            biased;
            // Once fired, the signal future is done: never poll it again.
            () = &mut stop, if watched.close.is_some() => {
                if let Some(close) = watched.close.take() {
                    close();
                }
            }
            line = watched.lines.next(), if lines_open => match line {
                Some(line) => output::line(line.event, &line.body),
                None => lines_open = false,
            },
            status = watched.status.next() => match status {
                Some(status) => {
                    output::line(Some("status"), &status);
                    if matches!(status, Status::Failed { .. }) && !watched.stay {
                        return Exit::Trouble;
                    }
                }
                None => return Exit::Ok,
            },
        }
    }
}

/// `{count}` (and the older `{n}`, which clap's help cannot show) become the counter.
fn counted(text: &str, n: u64) -> String {
    let n = n.to_string();
    text.replace("{count}", &n).replace("{n}", &n)
}

enum Obeyed {
    PubSub(Client),
    Raw(RawClient),
}

/// The action protocol of real-network runs: one action per stdin line (`close`,
/// `reconnect`, `subscribe TOPIC`, `unsubscribe TOPIC`, `publish TOPIC DATA`, or for a raw
/// client `send TEXT`). Anything else is reported as an `action_refused` line; the end of
/// stdin ends nothing.
async fn obey(client: Obeyed) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let refused = |why: &str| {
            output::line(
                Some("action_refused"),
                &json!({ "line": line, "error": why }),
            )
        };
        match (&client, verb, rest) {
            (_, "", _) => {}
            (Obeyed::PubSub(c), "close", "") => c.close(),
            (Obeyed::Raw(c), "close", "") => c.close(),
            (Obeyed::PubSub(c), "reconnect", "") => c.reconnect(),
            (Obeyed::Raw(c), "reconnect", "") => c.reconnect(),
            (Obeyed::PubSub(c), "subscribe", topic) if !topic.is_empty() => {
                output::line(Some("subscribe"), &json!({ "topic": topic }));
                match c.subscribe(topic) {
                    Ok(sub) => {
                        tokio::spawn(
                            sub.for_each(|event| async move { output::line(None, &event) }),
                        );
                    }
                    Err(e) => refused(&e.to_string()),
                };
            }
            (Obeyed::PubSub(c), "unsubscribe", topic) if !topic.is_empty() => {
                output::line(Some("unsubscribe"), &json!({ "topic": topic }));
                c.unsubscribe(topic);
            }
            (Obeyed::PubSub(c), "publish", spec) if !spec.is_empty() => {
                let (topic, data) = spec.split_once(' ').unwrap_or((spec, ""));
                client_publish(c, topic, data, 0);
            }
            (Obeyed::Raw(c), "send", text) => client_send(c, text, 0),
            _ => refused("unknown action"),
        }
    }
}

/// Acts once at `start`, then every `every` (if given) until `stop`, all from now.
fn repeat(
    every: Option<Duration>,
    (start, stop): (Duration, Option<Duration>),
    mut act: impl FnMut(u64) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let zero = tokio::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep_until(zero + start).await;
        let mut n = 1;
        act(n);
        let Some(every) = every else { return };
        let mut ticks = tokio::time::interval_at(zero + start, every);
        ticks.tick().await;
        loop {
            let at = ticks.tick().await;
            if stop.is_some_and(|stop| at > zero + stop) {
                return;
            }
            n += 1;
            act(n);
        }
    })
}

fn client_publish(client: &Client, topic: &str, text: &str, n: u64) {
    let data = counted(text, n);
    match client.publish(topic, data.clone()) {
        Ok(id) => output::line(
            Some("published"),
            &json!({ "topic": topic, "id": id, "data": data }),
        ),
        Err(e) => output::line(
            Some("publish_refused"),
            &json!({ "topic": topic, "error": e.to_string() }),
        ),
    }
}

fn client_send(client: &RawClient, text: &str, n: u64) {
    let data = counted(text, n);
    match client.send(data.clone()) {
        Ok(()) => output::line(Some("sent"), &json!({ "text": data })),
        Err(e) => output::line(Some("send_refused"), &json!({ "error": e.to_string() })),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_counter_placeholder_is_filled_in() {
        assert_eq!(super::counted("m{count}/{n}", 7), "m7/7");
        assert_eq!(super::counted("plain", 7), "plain");
    }
}
