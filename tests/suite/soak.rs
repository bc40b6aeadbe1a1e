//! A soak on the real network (loopback): many reference clients subscribed, a publisher
//! that never stops, and the server restarted over and over. Every accepted message must be
//! accounted for at every subscriber: delivered once, in order, or covered by a gap notice.
//!
//! The test suite runs a small soak (40 subscribers, 3 restarts). The long one:
//!
//! ```text
//! SOAK_CLIENTS=500 SOAK_RESTARTS=50 cargo test --release --test suite soak -- --nocapture
//! ```
//!
//! prints the resident memory after each restart and, from 10 restarts on, also requires it
//! to stay flat (the last reading within 1.5x of the first, or 32 MiB above it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use wschaos::client::{Client, ClientBuilder, Policy, Subscription, TopicEvent};
use wschaos::server::{Event, ServerConfig};

use crate::support::*;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn policy() -> Policy {
    Policy {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        ..Policy::default()
    }
}

fn spawn_client(url: &str, id: &str) -> Client {
    ClientBuilder::new(url)
        .unwrap()
        .client_id(id)
        .policy(policy())
        .spawn()
}

/// One subscriber's running account, kept small so that memory readings mean something:
/// the last id, the holes in the id sequence (and whether a gap notice covered each), the
/// last few events for the failure message, and the first ordering error.
#[derive(Default)]
struct Account {
    last: u64,
    gap_pending: bool,
    received: usize,
    holes: Vec<(u64, u64, bool)>,
    recent: std::collections::VecDeque<String>,
    error: Option<String>,
}

impl Account {
    fn see(&mut self, event: &TopicEvent) {
        let line = match event {
            TopicEvent::Message(m) => format!("id {} (epoch {} seq {})", m.id, m.epoch, m.seq),
            TopicEvent::Gap {
                reason, next_seq, ..
            } => format!("gap {reason:?} next {next_seq}"),
        };
        if self.recent.len() == 8 {
            self.recent.pop_front();
        }
        self.recent.push_back(line);
        match event {
            TopicEvent::Gap { .. } => self.gap_pending = true,
            TopicEvent::Message(m) if m.id <= self.last => {
                if self.error.is_none() {
                    self.error = Some(format!(
                        "message {} after {}: duplicated or out of order; last events: {:?}",
                        m.id, self.last, self.recent
                    ));
                }
            }
            TopicEvent::Message(m) => {
                if m.id > self.last + 1 {
                    self.holes.push((self.last, m.id, self.gap_pending));
                }
                self.received += 1;
                self.last = m.id;
                self.gap_pending = false;
            }
        }
    }

    /// Every accepted id was received, or lies in a hole a gap notice covered: returns
    /// (received, announced as gaps).
    fn settle(&self, who: &str, accepted: &[u64]) -> (usize, usize) {
        if let Some(error) = &self.error {
            panic!("{who}: {error}");
        }
        let mut excused = 0;
        for &(after, before, covered) in &self.holes {
            let missing = accepted
                .iter()
                .filter(|id| **id > after && **id < before)
                .count();
            assert!(
                covered || missing == 0,
                "{who}: {missing} accepted messages between {after} and {before} were neither delivered nor covered by a gap"
            );
            excused += missing;
        }
        (self.received, excused)
    }
}

/// A subscriber's account, and the last message id it got.
struct Collector {
    account: Arc<Mutex<Account>>,
    last: watch::Receiver<u64>,
}

fn collect(mut subscription: Subscription) -> Collector {
    let account = Arc::new(Mutex::new(Account::default()));
    let (tx, last) = watch::channel(0);
    let sink = account.clone();
    tokio::spawn(async move {
        while let Some(event) = subscription.next().await {
            sink.lock().unwrap().see(&event);
            if let TopicEvent::Message(m) = &event {
                tx.send_replace(m.id);
            }
        }
    });
    Collector { account, last }
}

fn rss_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

async fn all_subscribed(server: &mut TestServer, clients: usize) {
    let mut subscribed = std::collections::BTreeSet::new();
    server
        .wait_for("every subscriber back", |e| {
            if let Event::Subscribed { client, .. } = e {
                subscribed.insert(client.clone());
            }
            (subscribed.len() == clients).then_some(())
        })
        .await;
}

pub async fn every_message_is_delivered_once_or_announced_across_restarts() {
    let clients = setting("SOAK_CLIENTS", 40);
    let restarts = setting("SOAK_RESTARTS", 3);
    let config = |epoch| ServerConfig {
        epoch,
        ..ServerConfig::default()
    };
    let mut server = TestServer::start(any_port(), config(1)).await;
    let (addr, url) = (server.addr, server.url());
    let subscribers: Vec<Client> = (0..clients)
        .map(|i| spawn_client(&url, &format!("sub-{i}")))
        .collect();
    let collectors: Vec<Collector> = subscribers
        .iter()
        .map(|c| collect(c.subscribe("soak").unwrap()))
        .collect();
    all_subscribed(&mut server, clients).await;
    let publisher = Arc::new(spawn_client(&url, "publisher"));
    connected(&publisher).await;

    // Publishes every 2 ms until told to stop; returns the ids the client accepted.
    let (stop, mut stopped) = watch::channel(false);
    let pump = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            loop {
                tokio::select! {
                    biased;
                    _ = stopped.changed() => return accepted,
                    _ = tick.tick() => {
                        if let Ok(id) = publisher.publish("soak", "payload") {
                            accepted.push(id);
                        }
                    }
                }
            }
        })
    };

    let mut memory = Vec::new();
    for round in 0..restarts {
        // Let traffic flow, then restart while it does.
        let before = *collectors[0].last.borrow();
        within("traffic before the restart", async {
            let mut last = collectors[0].last.clone();
            last.wait_for(|id| *id >= before + 50).await.unwrap();
        })
        .await;
        server.stop().await;
        server = TestServer::start(addr, config(round as u64 + 2)).await;
        all_subscribed(&mut server, clients).await;
        memory.extend(rss_kib());
    }

    // Stop publishing; everything accepted reaches the server, then every subscriber.
    stop.send_replace(true);
    let accepted = pump.await.unwrap();
    within("the outbox to drain", publisher.flushed()).await;
    let final_id = *accepted.last().expect("something was published");
    for (i, c) in collectors.iter().enumerate() {
        let mut last = c.last.clone();
        within(&format!("sub-{i} to catch up"), async {
            last.wait_for(|id| *id >= final_id).await.unwrap();
        })
        .await;
    }

    let (mut delivered, mut gaps) = (0, 0);
    for (i, c) in collectors.iter().enumerate() {
        let account = c.account.lock().unwrap();
        let (got, excused) = account.settle(&format!("sub-{i}"), &accepted);
        delivered += got;
        gaps += excused;
    }
    eprintln!(
        "soak: {clients} subscribers, {restarts} restarts, {} messages accepted, \
         {delivered} deliveries, {gaps} announced as gaps, RSS after each restart (KiB): {memory:?}",
        accepted.len()
    );
    assert!(delivered > 0);
    if let (true, Some(first), Some(last)) = (restarts >= 10, memory.first(), memory.last()) {
        assert!(
            *last <= (first * 3 / 2).max(first + 32 * 1024),
            "memory grew from {first} KiB to {last} KiB"
        );
    }
}
