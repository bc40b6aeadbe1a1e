//! The broadcast server.
//!
//! [`run`] serves WebSocket clients on any [`Listener`] until `shutdown` resolves. It tells
//! every client who connected and disconnected (`presence` frames, with the count online),
//! as the classic chat-room server does; it relays published messages to a topic's
//! subscribers with per-topic sequence numbers, keeps a bounded history so a client can
//! resume after a reconnect, and drops duplicate publishes by (client, session, id).
//!
//! The server is one future: connections are polled inside it, nothing is spawned, so it
//! runs the same under `tokio::spawn`, in a `LocalSet` or in a turmoil host.
//!
//! Shutdown is designed, not hoped for: when `shutdown` resolves the server stops
//! accepting, tells every connection to close with 1012 (service restart), and returns
//! once each has closed: its close frame written (bounded by `write_timeout`) and answered
//! by the client's (bounded by `pong_timeout`), so that a client still sending cannot get a
//! TCP reset that discards what the server sent it last (its acks). No `left` is announced while it
//! closes: everyone is leaving, and n connections would make n² frames.
//!
//! [`run_handing_over`] stops the same way but keeps its listening socket open and hands
//! it back, for the next server to serve: a restart with no moment where dials are
//! refused, as systemd's socket activation gives a restarted service.

mod config;
mod connection;
mod controls;
mod dedup;
mod event;
mod graphql;
mod hub;
mod phoenix;

pub use config::ServerConfig;
#[cfg(feature = "defects")]
pub use config::ServerDefects;
pub use controls::{Admission, ControlHandle, Controls, controls};
pub use event::{ConnId, Event};

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;

use self::hub::Hub;
use crate::net::Listener;

/// The shortest and longest rest of the accept loop after a failed accept.
pub const ACCEPT_REST: (std::time::Duration, std::time::Duration) = (
    std::time::Duration::from_millis(5),
    std::time::Duration::from_secs(1),
);

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
    listener: L,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
    observer: impl FnMut(&Event) + Send + 'static,
    controls: Controls,
) {
    serve(listener, config, shutdown, observer, controls, || false).await;
}

/// Like [`run_with`], but at the shutdown it keeps the listening socket open (dials made
/// meanwhile wait in the kernel's backlog, they are not refused) and returns it once every
/// connection has closed, for the next server to take over: a graceful restart with no
/// moment where the port refuses.
///
/// ```
/// use wschaos::server::{self, ServerConfig};
/// # async fn demo() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// # drop(stop);
/// let shutdown = async move { let _ = stopped.await; };
/// let controls = server::Controls::default();
/// let listener = server::run_handing_over(listener, ServerConfig::default(), shutdown, |_| {}, controls).await;
/// // The successor, with a new epoch, on the same socket.
/// let next = ServerConfig { epoch: 2, ..ServerConfig::default() };
/// server::run(listener, next, std::future::pending()).await;
/// # Ok(()) }
/// ```
pub async fn run_handing_over<L: Listener>(
    listener: L,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
    observer: impl FnMut(&Event) + Send + 'static,
    controls: Controls,
) -> L {
    serve(listener, config, shutdown, observer, controls, || true)
        .await
        .expect("a listener kept for the successor")
}

/// The server; at the end, the listener back when `keep()` says so at the moment it stops
/// (else it is closed before the connections drain, so that dials are refused meanwhile).
pub(crate) async fn serve<L: Listener>(
    mut listener: L,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
    observer: impl FnMut(&Event) + Send + 'static,
    controls: Controls,
    keep: impl FnOnce() -> bool,
) -> Option<L> {
    let config = Arc::new(config);
    let hub = Arc::new(Mutex::new(Hub::new((*config).clone(), Box::new(observer))));
    let (stop, stopped) = watch::channel(false);
    let mut connections = FuturesUnordered::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // An order given before this server started is not for it.
    let mut orders = controls.shutdowns.clone();
    orders.borrow_and_update();
    // After a failed accept (out of file descriptors, say) the listener rests, doubling
    // from 5 ms to 1 s, instead of spinning; connections are served meanwhile.
    let mut rest = std::time::Duration::ZERO;
    let mut resting = false;
    let mut wake = std::pin::pin!(tokio::time::sleep(rest));
    // Joins and leaves gathered by the hub go out `presence_every` after the first of them.
    let presence_due = connection::lock(&hub).presence_due();
    let mut presence = std::pin::pin!(tokio::time::sleep(std::time::Duration::ZERO));
    let mut gathering = false;
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Ok(()) = orders.changed() => break,
            () = &mut presence, if gathering => {
                gathering = false;
                connection::lock(&hub).flush_presence();
            }
            () = presence_due.notified(), if !gathering => {
                presence.as_mut().reset(tokio::time::Instant::now() + config.presence_every);
                gathering = true;
            }
            Some(()) = connections.next(), if !connections.is_empty() => {}
            () = &mut wake, if resting => resting = false,
            accepted = listener.accept(), if !resting => match accepted {
                Ok((stream, peer)) => {
                    rest = std::time::Duration::ZERO;
                    let signals = connection::Signals { stop: stopped.clone(), controls: controls.clone() };
                    connections.push(connection::serve(stream, peer, hub.clone(), config.clone(), signals));
                }
                Err(error) => {
                    rest = (rest * 2).clamp(ACCEPT_REST.0, ACCEPT_REST.1);
                    tracing::warn!(%error, rest_ms = rest.as_millis() as u64, "accept failed; resting");
                    wake.as_mut().reset(tokio::time::Instant::now() + rest);
                    resting = true;
                }
            },
        }
    }
    let kept = if keep() {
        Some(listener)
    } else {
        drop(listener);
        None
    };
    connection::lock(&hub).close_all();
    let _ = stop.send(true);
    while connections.next().await.is_some() {}
    kept
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A listener whose every accept fails, as with EMFILE; counts the attempts.
    struct Exhausted(Arc<AtomicUsize>);

    impl Listener for Exhausted {
        type Stream = tokio::net::TcpStream;

        async fn accept(&mut self) -> std::io::Result<(Self::Stream, SocketAddr)> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::other("Too many open files (os error 24)"))
        }

        fn local_addr(&self) -> std::io::Result<SocketAddr> {
            Ok(SocketAddr::from(([127, 0, 0, 1], 9)))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_accept_rests_instead_of_spinning() {
        let tries = Arc::new(AtomicUsize::new(0));
        let stop = tokio::time::sleep(Duration::from_secs(10));
        run(Exhausted(tries.clone()), ServerConfig::default(), stop).await;
        // 5 ms doubling to 1 s: 5+10+...+640 ms is 1.3 s in 8 tries, then one a second.
        let n = tries.load(Ordering::SeqCst);
        assert!((15..=20).contains(&n), "{n} accepts in 10 s");
    }
}
