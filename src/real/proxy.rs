//! One loopback listener per client, relaying to the server: every dial that reaches it is
//! that client's (attribution with no change to the client), and the link between the two
//! can be cut, held or slowed, as the simulation does to a host's link.
//!
//! It alters nothing: bytes pass through unchanged in both directions (handshake, any
//! subprotocol, path, query or header, every frame). A cut link stops relaying in the cut
//! direction (on a real network TCP would retransmit, then give up: the peers see silence,
//! not an error); a new dial over a cut link is accepted and held, and dropped when the
//! link heals, as a dial whose SYN was lost times out. A held link pauses the same way and
//! lets held dials through when released. Latency delays every chunk by the same amount.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::history::Event;
use crate::sim::Recorder;

/// The state of one client's link to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkState {
    /// Client to server: bytes pass when open.
    pub up: Gate,
    /// Server to client.
    pub down: Gate,
    /// Added to every chunk, each way.
    pub latency: Duration,
}

/// One direction of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gate {
    /// Bytes pass.
    #[default]
    Open,
    /// Nothing passes; dials made now are dropped when it opens (a partition).
    Cut,
    /// Nothing passes; it all goes on when it opens (a hold).
    Held,
}

/// Which client each of the proxies' upstream connections belongs to, by the local
/// address of that connection (the peer address the server sees).
#[derive(Clone, Default)]
pub struct Names(Arc<Mutex<BTreeMap<SocketAddr, String>>>);

impl Names {
    /// The client whose proxy connection comes from `peer`.
    pub fn get(&self, peer: SocketAddr) -> Option<String> {
        self.lock().get(&peer).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SocketAddr, String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running proxy; dropping it stops it and closes every connection it relays.
pub struct Proxy {
    addr: SocketAddr,
    link: watch::Sender<LinkState>,
    _tasks: JoinSet<()>,
}

/// Largest chunk relayed at once.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight per direction before the reader waits (the latency queue).
const QUEUE: usize = 256;

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) for `client`, relaying to `upstream`.
    pub async fn start(
        client: &str,
        upstream: SocketAddr,
        recorder: Recorder,
        names: Names,
    ) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (link, state) = watch::channel(LinkState::default());
        let mut tasks = JoinSet::new();
        let client = Arc::<str>::from(client);
        tasks.spawn(accept_loop(
            listener, client, upstream, state, recorder, names,
        ));
        Ok(Proxy {
            addr,
            link,
            _tasks: tasks,
        })
    }

    /// Where the client dials.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the link: cut, hold, release, slow down.
    pub fn set(&self, change: impl FnOnce(&mut LinkState)) {
        self.link.send_modify(change);
    }
}

async fn accept_loop(
    listener: TcpListener,
    client: Arc<str>,
    upstream: SocketAddr,
    state: watch::Receiver<LinkState>,
    recorder: Recorder,
    names: Names,
) {
    let mut conns = JoinSet::new();
    let mut pause = Duration::from_millis(5);
    loop {
        tokio::select! {
            biased;
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    pause = Duration::from_millis(5);
                    recorder.record(Event::Dial { client: client.to_string() });
                    conns.spawn(relay(stream, upstream, state.clone(), (names.clone(), client.clone())));
                }
                // Out of file descriptors or the like: back off instead of spinning.
                Err(error) => {
                    tracing::warn!(%error, %client, "proxy accept failed");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            },
        }
    }
}

/// Waits until `gate` of the link is open. `Err` when a cut healed (the dial is lost), or
/// when the proxy stopped.
async fn opened(
    state: &mut watch::Receiver<LinkState>,
    gate: fn(&LinkState) -> Gate,
) -> Result<(), ()> {
    let mut was = Gate::Open;
    loop {
        let now = gate(&state.borrow_and_update());
        match now {
            Gate::Open if was == Gate::Cut => return Err(()),
            Gate::Open => return Ok(()),
            other => was = other,
        }
        state.changed().await.map_err(|_| ())?;
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    mut state: watch::Receiver<LinkState>,
    (names, name): (Names, Arc<str>),
) {
    let mut client = client;
    let _ = client.set_nodelay(true);
    // A dial over a cut or held link waits here; over a cut one it is dropped at the heal.
    // What the client sends meanwhile (its handshake) is kept for the server; a client that
    // gives up and hangs up first never reaches the server, as a real SYN answered after
    // the client gave up is refused by the client's end.
    let mut early = Vec::new();
    {
        let gate = opened(&mut state, |l| l.up);
        tokio::pin!(gate);
        let mut buf = vec![0u8; CHUNK];
        loop {
            tokio::select! {
                biased;
                open = &mut gate => match open {
                    Ok(()) => break,
                    Err(()) => return,
                },
                read = client.read(&mut buf), if early.len() < CHUNK => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => early.extend_from_slice(&buf[..n]),
                },
            }
        }
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        // The server is down: the client sees its connection end before any answer.
        return;
    };
    let _ = server.set_nodelay(true);
    if server.write_all(&early).await.is_err() {
        return;
    }
    let from = server.local_addr().ok();
    if let Some(from) = from {
        names.lock().insert(from, name.to_string());
    }
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, state.clone(), |l| l.up);
    let down = pump(sr, cw, state, |l| l.down);
    // Each direction ends on its own (a half-close passes through); both end the relay.
    let _ = tokio::join!(up, down);
    if let Some(from) = from {
        names.lock().remove(&from);
    }
}

/// Relays one direction: a reader that stamps chunks, a writer that waits for the stamp
/// plus the latency and for the gate.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    gate: fn(&LinkState) -> Gate,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((read_at, chunk)) = rx.recv().await {
            let latency = state.borrow().latency;
            // Only a real delay goes through the timer: a zero one would still wait for
            // the timer's next turn (up to a millisecond a chunk).
            if !latency.is_zero() && read_at + latency > Instant::now() {
                tokio::time::sleep_until(read_at + latency).await;
            }
            // A cut healing here does not lose what the peers already sent: TCP would
            // have retransmitted it.
            loop {
                let now = gate(&state.borrow_and_update());
                if now == Gate::Open {
                    break;
                }
                if state.changed().await.is_err() {
                    return;
                }
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
