//! Shared helpers: a restartable server on loopback, clients over counted dials, and waits
//! that synchronise on events (a timeout only turns a hang into a failure message).

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use wschaos::client::{Client, ClientBuilder, Policy, RawClient, Status, StatusChanges};
use wschaos::net::{Connector, TokioNet};
use wschaos::server::{self, Controls, Event, ServerConfig};

/// Long enough never to fire on a healthy run; it only bounds a hang.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A policy scaled for loopback tests: short delays, short timeouts.
pub fn fast_policy() -> Policy {
    Policy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(2),
        // These tests stop servers milliseconds after a client connects: a connection
        // counts as having lasted at once, so each loss starts a new outage at attempt 1.
        stable_after: Duration::ZERO,
        ..Policy::default()
    }
}

/// A running server: its events, and how to stop it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub events: mpsc::UnboundedReceiver<Event>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start(addr: SocketAddr, config: ServerConfig) -> TestServer {
        Self::start_with(addr, config, Controls::default()).await
    }

    /// With fault knobs.
    pub async fn start_with(
        addr: SocketAddr,
        config: ServerConfig,
        controls: Controls,
    ) -> TestServer {
        let listener = TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let observe = move |e: &Event| {
            let _ = tx.send(e.clone());
        };
        let task = tokio::spawn(server::run_with(
            listener, config, shutdown, observe, controls,
        ));
        TestServer {
            addr,
            events,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// Graceful shutdown; returns once every connection is closed.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        within("server shutdown", self.task).await.unwrap();
    }

    /// Waits for the first event `pick` accepts, returning it; earlier events are dropped.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        within(what, async {
            loop {
                let event = self.events.recv().await.expect("server stopped");
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
        })
        .await
    }

    /// Every event up to and including the first one `stop_at` accepts.
    pub async fn events_until(
        &mut self,
        what: &str,
        mut stop_at: impl FnMut(&Event) -> bool,
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        self.wait_for(what, |e| {
            seen.push(e.clone());
            stop_at(e).then_some(())
        })
        .await;
        seen
    }
}

/// Wraps a connector and counts its dials.
#[derive(Clone)]
pub struct Counted<C> {
    pub inner: C,
    pub dials: Arc<AtomicUsize>,
}

impl<C: Connector> Connector for Counted<C> {
    type Stream = C::Stream;

    async fn connect(&self, host: &str, port: u16) -> std::io::Result<C::Stream> {
        self.dials.fetch_add(1, Ordering::SeqCst);
        self.inner.connect(host, port).await
    }
}

pub fn counted() -> Counted<TokioNet> {
    Counted {
        inner: TokioNet,
        dials: Arc::new(AtomicUsize::new(0)),
    }
}

/// A pub/sub client over `connector` with a fixed seed; its task handle too.
pub fn client_over<C: Connector>(
    url: &str,
    id: &str,
    policy: Policy,
    connector: C,
) -> (Client, JoinHandle<()>) {
    let builder = ClientBuilder::new(url)
        .unwrap()
        .client_id(id)
        .policy(policy);
    let (client, task) = builder.build(connector, ChaCha8Rng::seed_from_u64(7));
    (client, tokio::spawn(task))
}

pub fn client(url: &str, id: &str) -> (Client, JoinHandle<()>) {
    client_over(url, id, fast_policy(), TokioNet)
}

pub fn raw_client(url: &str) -> RawClient {
    let builder = ClientBuilder::new(url).unwrap().policy(fast_policy());
    let (client, task) = builder.build_raw(TokioNet, ChaCha8Rng::seed_from_u64(7));
    tokio::spawn(task);
    client
}

/// Collects status changes up to and including the first one `last` accepts.
pub async fn statuses_until(
    changes: &mut StatusChanges,
    what: &str,
    last: impl Fn(&Status) -> bool,
) -> Vec<Status> {
    let mut seen = Vec::new();
    within(what, async {
        while let Some(status) = changes.next().await {
            let done = last(&status);
            seen.push(status);
            if done {
                return;
            }
        }
        panic!("status stream ended before {what}: {seen:?}");
    })
    .await;
    seen
}

pub async fn connected(client: &Client) {
    let mut status = client.status();
    within("Connected", status.wait_for(|s| *s == Status::Connected))
        .await
        .unwrap();
}

pub async fn next_item<S: Stream + Unpin>(stream: &mut S, what: &str) -> S::Item
where
    S::Item: Debug,
{
    within(what, stream.next())
        .await
        .unwrap_or_else(|| panic!("stream ended before {what}"))
}

/// Asserts that every consecutive pair of statuses is a legal move.
pub fn assert_legal(statuses: &[Status]) {
    for pair in statuses.windows(2) {
        assert!(
            pair[0].can_move_to(&pair[1]),
            "illegal move {:?} -> {:?} in {statuses:?}",
            pair[0],
            pair[1]
        );
    }
}

/// A loopback address for a server that may restart on it: a port outside the kernel's
/// ephemeral range (`wschaos::real::server_port`), so no connection of a test running
/// beside this one takes it while the server is down, and never one handed to another
/// test of this binary.
pub fn any_port() -> SocketAddr {
    let port = wschaos::real::server_port().expect("a free loopback port");
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A test's scratch folder under the system's temporary directory, empty at first and
/// removed on drop, passed or failed: a test run leaves nothing behind.
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("wschaos-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        Scratch(dir)
    }

    /// Scratch with `files` (name, text) written in it.
    pub fn with(tag: &str, files: &[(&str, &str)]) -> Scratch {
        let dir = Scratch::new(tag);
        for (file, text) in files {
            std::fs::write(dir.join(file), text).expect("the scratch folder is writable");
        }
        dir
    }
}

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
