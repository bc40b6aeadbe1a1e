//! The broadcast server.
//!
//! [`run`] serves WebSocket clients on any [`Listener`] until `shutdown` resolves. On every
//! connect and disconnect it tells every client (`joined` / `left`, with the count online),
//! as the classic chat-room server does; it relays published messages to a topic's
//! subscribers with per-topic sequence numbers, keeps a bounded history so a client can
//! resume after a reconnect, and drops duplicate publishes by (client, session, id).
//!
//! The server is one future: connections are polled inside it, nothing is spawned, so it
//! runs the same under `tokio::spawn`, in a `LocalSet` or in a turmoil host.
//!
//! Shutdown is designed, not hoped for: when `shutdown` resolves the server stops
//! accepting, tells every connection to close with 1012 (service restart), and returns
//! once each has closed (bounded by `write_timeout`). No `left` is announced while it
//! closes: everyone is leaving, and n connections would make n² frames.

mod config;
mod connection;
mod controls;
mod dedup;
mod event;
mod hub;

pub use config::ServerConfig;
pub use controls::{Admission, ControlHandle, Controls, controls};
pub use event::{ConnId, Event};

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;

use self::hub::Hub;
use crate::net::Listener;

/// Serves clients on `listener` until `shutdown` resolves, then closes every connection
/// with 1012 and returns.
///
/// ```no_run
/// use wschaos::server::{self, ServerConfig};
/// # async fn demo() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
/// server::run(listener, ServerConfig::default(), async { let _ = tokio::signal::ctrl_c().await; }).await;
/// # Ok(()) }
/// ```
pub async fn run<L: Listener>(
    listener: L,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    run_observed(listener, config, shutdown, |_| {}).await
}

/// Like [`run`], and reports everything the server sees to `observer`, in order, as it
/// happens (it is called under the server's lock: keep it quick).
///
/// ```
/// use wschaos::server::{self, Event, ServerConfig};
/// # async fn demo() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let observe = |event: &Event| println!("{event:?}");
/// server::run_observed(listener, ServerConfig::default(), std::future::pending(), observe).await;
/// # Ok(()) }
/// ```
pub async fn run_observed<L: Listener>(
    listener: L,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
    observer: impl FnMut(&Event) + Send + 'static,
) {
    run_with(listener, config, shutdown, observer, Controls::default()).await
}

/// Like [`run_observed`], with fault knobs ([`controls`]) that make it flap, reject
/// handshakes or kick everyone.
///
/// ```
/// use wschaos::server::{self, Admission, ServerConfig};
/// # async fn demo() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (knobs, controls) = server::controls();
/// knobs.admit(Admission::Flap);
/// server::run_with(listener, ServerConfig::default(), std::future::pending(), |_| {}, controls).await;
/// # Ok(()) }
/// ```
pub async fn run_with<L: Listener>(
    mut listener: L,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
    observer: impl FnMut(&Event) + Send + 'static,
    controls: Controls,
) {
    let config = Arc::new(config);
    let hub = Arc::new(Mutex::new(Hub::new((*config).clone(), Box::new(observer))));
    let (stop, stopped) = watch::channel(false);
    let mut connections = FuturesUnordered::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // An order given before this server started is not for it.
    let mut orders = controls.shutdowns.clone();
    orders.borrow_and_update();
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Ok(()) = orders.changed() => break,
            Some(()) = connections.next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let signals = connection::Signals { stop: stopped.clone(), controls: controls.clone() };
                    connections.push(connection::serve(stream, hub.clone(), config.clone(), signals));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
        }
    }
    drop(listener);
    connection::lock(&hub).close_all();
    let _ = stop.send(true);
    while connections.next().await.is_some() {}
}
