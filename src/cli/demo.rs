//! `wschaos demo`: the whole story on loopback in a few seconds. A server, a subscriber
//! (alice) and a publisher (bob); the server is stopped and restarted twice while bob keeps
//! publishing. Every line is JSON; the last one says whether alice got every message.
//!
//! This is a show on a real network, so it waits in wall-clock time; the simulation
//! (`wschaos run`, coming) makes the same story deterministic.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tokio::sync::oneshot;
use wschaos::client::{Client, ClientBuilder, Policy, Status, Subscription, TopicEvent};
use wschaos::server::{self, ServerConfig};

use super::{Exit, bad_input, output};

/// Options of `wschaos demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long the server stays down at each restart.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    downtime: Duration,
    /// Messages bob publishes in each phase (before, during and after each outage).
    #[arg(long, default_value_t = 3)]
    messages: u64,
}

const TOPIC: &str = "news";

/// Runs the demo; exit 1 if alice missed or duplicated a message.
pub async fn run(args: Args) -> Exit {
    let (addr, mut server) = match start_server(SocketAddr::from(([127, 0, 0, 1], 0)), 1).await {
        Ok(started) => started,
        Err(e) => return bad_input(format!("cannot listen on loopback: {e}")),
    };
    let url = format!("ws://{addr}/");
    let policy = Policy {
        initial_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        ping_interval: Duration::from_secs(2),
        pong_timeout: Duration::from_secs(1),
        ..Policy::default()
    };
    let alice = spawn_client(&url, "alice", &policy);
    let bob = spawn_client(&url, "bob", &policy);
    let (Ok(alice), Ok(bob)) = (alice, bob) else {
        return bad_input("bad demo URL");
    };
    let Ok(news) = alice.subscribe(TOPIC) else {
        return bad_input("bad topic");
    };
    let received = tokio::spawn(collect(news));
    let narration = narrate(&alice);
    let mut sent = Vec::new();
    for restart in 1..=2u64 {
        connected(&alice).await;
        connected(&bob).await;
        publish_batch(&bob, &mut sent, args.messages);
        settle(&bob).await;
        output::line(
            Some("demo"),
            &json!({ "step": "server stops", "restart": restart }),
        );
        server.stop().await;
        publish_batch(&bob, &mut sent, args.messages);
        tokio::time::sleep(args.downtime).await;
        match start_server(addr, 1 + restart).await {
            Ok((_, s)) => server = s,
            Err(e) => return bad_input(format!("cannot listen on {addr} again: {e}")),
        }
        output::line(
            Some("demo"),
            &json!({ "step": "server restarted", "restart": restart }),
        );
    }
    connected(&alice).await;
    connected(&bob).await;
    publish_batch(&bob, &mut sent, args.messages);
    settle(&bob).await;
    alice.close();
    bob.close();
    server.stop().await;
    let got = received.await.unwrap_or_default();
    // The status stream ends at `closed`: its last line comes before the verdict.
    let _ = tokio::time::timeout(Duration::from_secs(5), narration).await;
    verdict(&sent, &got)
}

/// A running server and how to stop it.
struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Graceful stop; returns once every connection is closed.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn start_server(addr: SocketAddr, epoch: u64) -> std::io::Result<(SocketAddr, Running)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let config = ServerConfig {
        epoch,
        ..ServerConfig::default()
    };
    let shutdown = async {
        let _ = stopped.await;
    };
    let observe = |e: &server::Event| output::tagged(Some(("source", "server")), e);
    let task = tokio::spawn(server::run_observed(listener, config, shutdown, observe));
    Ok((addr, Running { stop, task }))
}

fn spawn_client(
    url: &str,
    id: &str,
    policy: &Policy,
) -> Result<Client, wschaos::client::ClientError> {
    Ok(ClientBuilder::new(url)?
        .client_id(id)
        .policy(policy.clone())
        .spawn())
}

/// Prints the client's status changes until its stream ends (at `closed`).
fn narrate(client: &Client) -> tokio::task::JoinHandle<()> {
    let mut changes = client.status_changes();
    let id = client.id().to_string();
    tokio::spawn(async move {
        while let Some(status) = changes.next().await {
            output::line(Some("status"), &json!({ "client": id, "status": status }));
        }
    })
}

async fn collect(mut news: Subscription) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(event) = news.next().await {
        output::line(None, &event);
        if let TopicEvent::Message(m) = event {
            got.push(m.data);
        }
    }
    got
}

fn publish_batch(bob: &Client, sent: &mut Vec<String>, n: u64) {
    for _ in 0..n {
        let data = format!("message {}", sent.len() + 1);
        if bob.publish(TOPIC, data.clone()).is_ok() {
            sent.push(data);
        }
    }
}

async fn connected(client: &Client) {
    let mut status = client.status();
    let _ = status
        .wait_for(|s| matches!(s, Status::Connected | Status::Closed))
        .await;
}

/// Waits until the server acknowledged everything bob published.
async fn settle(bob: &Client) {
    bob.flushed().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn verdict(sent: &[String], got: &[String]) -> Exit {
    let ok = sent == got;
    output::line(
        Some("verdict"),
        &json!({ "published": sent.len(), "received": got.len(), "exactly_once_in_order": ok }),
    );
    if ok { Exit::Ok } else { Exit::Trouble }
}
