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
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::evidence::wire::reader::Reader;
use crate::evidence::wire::{Direction, WireEvent};
use crate::history::Event;
use crate::server::{self, Admission};
use crate::sim::Recorder;

use super::wire::{self, Seen, Stream};

/// The state of one client's link to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkState {
    /// Client to server: bytes pass when open.
    pub up: Gate,
    /// Server to client.
    pub down: Gate,
    /// Added to every chunk, each way.
    pub latency: Duration,
    /// How the proxy answers handshakes (with a [`Ledger`] only: in a foreign server's
    /// place; the built-in server does its own).
    pub admission: Admission,
    /// Kicks ordered so far (with a [`Ledger`] only): a connection open when the count
    /// grows gets a close frame with `kick_code` at its next frame boundary, and its server
    /// side is closed.
    pub kicks: u64,
    /// The close code of the latest kick.
    pub kick_code: u16,
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

/// The proxy's record of a server that keeps none of its own (a `[server] command`): each
/// connection opened (its handshake answered 101), refused (another status) and ended,
/// as the built-in server would have recorded it, with connection numbers it gives.
/// Shared by every proxy of a run. Cheap to clone.
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<Books>>);

#[derive(Default)]
struct Books {
    epoch: u64,
    next: u64,
    online: u64,
}

impl Ledger {
    /// The server started again: connections from now on are this epoch's.
    pub fn up(&self, epoch: u64) {
        let mut b = self.lock();
        b.epoch = epoch;
        b.online = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Books> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn opened(&self, recorder: &Recorder, client: &str) -> (u64, u64) {
        let mut b = self.lock();
        b.next += 1;
        b.online += 1;
        recorder.record(Event::Server {
            epoch: b.epoch,
            event: Box::new(server::Event::Connected {
                conn: b.next,
                client: client.to_string(),
                online: b.online,
            }),
        });
        (b.epoch, b.next)
    }

    fn closed(&self, recorder: &Recorder, (epoch, conn): (u64, u64), client: &str, reason: String) {
        let mut b = self.lock();
        if b.epoch == epoch {
            b.online = b.online.saturating_sub(1);
        }
        recorder.record(Event::Server {
            epoch,
            event: Box::new(server::Event::Disconnected {
                conn,
                client: client.to_string(),
                reason,
                online: if b.epoch == epoch { b.online } else { 0 },
            }),
        });
    }

    fn refused(&self, recorder: &Recorder, reason: String) {
        let b = self.lock();
        recorder.record(Event::Server {
            epoch: b.epoch,
            event: Box::new(server::Event::Refused { reason }),
        });
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
        Proxy::start_with(client, upstream, recorder, names, None, None).await
    }

    /// As [`Proxy::start`]; with a `ledger`, the proxy also reads the WebSocket stream
    /// (never changing it), records each connection there, and answers `admission` and
    /// `kicks` itself: for a server that does neither (a `[server] command`). With
    /// `decoding`, it reads every frame both ways with that protocol's decoder and records
    /// what starts, ends or refuses readiness or a subscription (`Event::Wire`).
    pub async fn start_with(
        client: &str,
        upstream: SocketAddr,
        recorder: Recorder,
        names: Names,
        ledger: Option<Ledger>,
        decoding: Option<crate::evidence::wire::Wire>,
    ) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (link, state) = watch::channel(LinkState::default());
        let mut tasks = JoinSet::new();
        let client = Arc::<str>::from(client);
        tasks.spawn(accept_loop(
            listener,
            Ctx {
                client,
                upstream,
                recorder,
                names,
                ledger,
                decoding,
                dials: Arc::new(AtomicU32::new(0)),
            },
            state,
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

/// What every connection of one proxy shares.
#[derive(Clone)]
struct Ctx {
    client: Arc<str>,
    upstream: SocketAddr,
    recorder: Recorder,
    names: Names,
    ledger: Option<Ledger>,
    /// The protocol whose frames are decoded, if any.
    decoding: Option<crate::evidence::wire::Wire>,
    /// The dials accepted so far: a connection's number.
    dials: Arc<AtomicU32>,
}

/// What the frames of one relayed connection say, for the history (`Event::Wire`).
struct WireLog {
    client: Arc<str>,
    conn: u32,
    recorder: Recorder,
    reader: Mutex<Reader>,
}

impl WireLog {
    /// `bytes` passed going `dir`.
    fn read(&self, dir: Direction, bytes: &[u8]) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        reader.read(dir, bytes, |said| self.record(dir, said));
    }

    /// The stream going `dir` ended.
    fn end(&self, dir: Direction) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        reader.end(|said| self.record(dir, said));
    }

    fn record(&self, dir: Direction, said: WireEvent) {
        self.recorder.record(Event::Wire {
            client: self.client.to_string().into(),
            conn: self.conn,
            dir,
            said: Box::new(said),
        });
    }
}

/// Reads `bytes` into `tap` when it watches `dir`.
fn tapped(tap: Option<(&WireLog, Direction)>, dir: Direction, bytes: &[u8]) {
    if let Some((log, _)) = tap.filter(|(_, d)| *d == dir) {
        log.read(dir, bytes);
    }
}

async fn accept_loop(listener: TcpListener, ctx: Ctx, state: watch::Receiver<LinkState>) {
    let mut conns = JoinSet::new();
    let mut pause = Duration::from_millis(5);
    loop {
        tokio::select! {
            biased;
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    pause = Duration::from_millis(5);
                    ctx.recorder.record(Event::Dial { client: ctx.client.to_string().into() });
                    let conn = ctx.dials.fetch_add(1, Ordering::Relaxed) + 1;
                    conns.spawn(relay(stream, state.clone(), ctx.clone(), conn));
                }
                // Out of file descriptors or the like: back off instead of spinning.
                Err(error) => {
                    tracing::warn!(%error, client = %ctx.client, "proxy accept failed");
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

async fn relay(client: TcpStream, mut state: watch::Receiver<LinkState>, ctx: Ctx, conn: u32) {
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
    let admission = state.borrow().admission;
    if let (Some(ledger), Admission::Reject { status }) = (&ctx.ledger, admission) {
        refuse(client, early, status, ledger, &ctx.recorder).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(ctx.upstream).await else {
        // The server is down: the client sees its connection end before any answer.
        return;
    };
    let _ = server.set_nodelay(true);
    let wire = ctx.decoding.as_ref().map(|wire| WireLog {
        client: ctx.client.clone(),
        conn,
        recorder: ctx.recorder.clone(),
        reader: Mutex::new(Reader::new(wire.decoder())),
    });
    if let Some(wire) = &wire {
        wire.read(Direction::ToServer, &early);
    }
    if server.write_all(&early).await.is_err() {
        return;
    }
    let from = server.local_addr().ok();
    if let Some(from) = from {
        ctx.names.lock().insert(from, ctx.client.to_string());
    }
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    match &ctx.ledger {
        None => {
            let up = pump(
                cr,
                sw,
                state.clone(),
                |l| l.up,
                tap(&wire, Direction::ToServer),
            );
            let down = pump(sr, cw, state, |l| l.down, tap(&wire, Direction::ToClient));
            // Each direction ends on its own (a half-close passes through); both end it.
            let _ = tokio::join!(up, down);
        }
        Some(ledger) => watched((cr, cw), (sr, sw), state, (&ctx, wire.as_ref()), ledger).await,
    }
    if let Some(from) = from {
        ctx.names.lock().remove(&from);
    }
}

/// How long a kicked client gets to answer the close frame and hang up.
const CLOSING: Duration = Duration::from_secs(2);

/// Answers a dial in the server's place with an HTTP refusal, once the client's handshake
/// request has arrived (bounded: [`CLOSING`], [`wire::MAX_HEAD`]).
async fn refuse(
    mut client: TcpStream,
    mut early: Vec<u8>,
    status: u16,
    ledger: &Ledger,
    recorder: &Recorder,
) {
    let mut head = Stream::new();
    let mut done = !head.feed(&early).is_empty();
    let read_head = async {
        let mut buf = vec![0u8; 4096];
        while !done && early.len() <= wire::MAX_HEAD {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    early.extend_from_slice(&buf[..n]);
                    done = !head.feed(&buf[..n]).is_empty();
                }
            }
        }
        true
    };
    if !matches!(tokio::time::timeout(CLOSING, read_head).await, Ok(true)) {
        return;
    }
    ledger.refused(
        recorder,
        format!("answered HTTP {status} by the proxy (reject)"),
    );
    let _ = client.write_all(wire::refusal(status).as_bytes()).await;
    let _ = client.shutdown().await;
}

/// Relays a connection to a server that keeps no record: reads both streams as WebSocket
/// (changing nothing), records the connection in the `ledger`, and does `flap` and `kick`
/// in the server's place: a close frame to the client at a frame boundary, the server's
/// side closed.
async fn watched(
    (cr, cw): (OwnedReadHalf, OwnedWriteHalf),
    (sr, sw): (OwnedReadHalf, OwnedWriteHalf),
    state: watch::Receiver<LinkState>,
    (ctx, wire): (&Ctx, Option<&WireLog>),
    ledger: &Ledger,
) {
    let (cut_tx, cut) = watch::channel(false);
    let mut open = None;
    let first = FirstClose::default();
    let up = pump_until_cut(cr, sw, state.clone(), cut.clone(), (&first, wire));
    let down = pump_down(
        sr,
        cw,
        state,
        cut_tx,
        (ctx, ledger, &mut open),
        (&first, wire),
    );
    let closing = async {
        let mut cut = cut.clone();
        if cut.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(CLOSING).await;
    };
    tokio::select! {
        biased;
        _ = async { tokio::join!(up, down) } => {}
        _ = closing => {}
    }
    if let Some((conn, reason)) = open.take() {
        // Unless the proxy ended it (a kick, a flap): whoever sent the first close frame.
        let reason = match (
            reason,
            first
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        ) {
            (Some(reason), _) => reason,
            (None, Some((side, Some(code)))) => format!("the {side} closed it ({code})"),
            (None, Some((side, None))) => format!("the {side} closed it"),
            (None, None) => "it ended without a close frame".into(),
        };
        ledger.closed(&ctx.recorder, conn, &ctx.client, reason);
    }
}

/// Which side sent the first close frame of a connection ("client" or "server"), and its
/// code.
#[derive(Default)]
struct FirstClose(Mutex<Option<(&'static str, Option<u16>)>>);

impl FirstClose {
    fn saw(&self, side: &'static str, code: Option<u16>) {
        let mut first = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        first.get_or_insert((side, code));
    }
}

/// The open connection of a [`watched`] relay, and why the proxy ended it (if it did).
type Open = Option<((u64, u64), Option<String>)>;

/// Client to server, until the server side is cut: then what the client still sends (its
/// answer to the close frame) is read and dropped, and the server's side is shut.
async fn pump_until_cut(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    mut cut: watch::Receiver<bool>,
    (first, wire): (&FirstClose, Option<&WireLog>),
) {
    let mut buf = vec![0u8; CHUNK];
    let mut stream = Stream::new();
    let up = wire.map(|w| (w, Direction::ToServer));
    loop {
        tokio::select! {
            biased;
            Ok(()) = cut.wait_for(|c| *c).map(|r| r.map(|_| ())), if !*cut.borrow() => {
                let _ = to.shutdown().await;
            }
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) if *cut.borrow() => tapped(up, Direction::ToServer, &buf[..n]),
                Ok(n) => {
                    tapped(up, Direction::ToServer, &buf[..n]);
                    for seen in stream.feed(&buf[..n]) {
                        if let Seen::Close { code, .. } = seen {
                            first.saw("client", code);
                        }
                    }
                    let latency = state.borrow().latency;
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    while state.borrow_and_update().up != Gate::Open {
                        if state.changed().await.is_err() {
                            return;
                        }
                    }
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
    if let Some(wire) = wire {
        wire.end(Direction::ToServer);
    }
    let _ = to.shutdown().await;
}

/// Server to client, read as WebSocket: records the opening, and injects a flap's or a
/// kick's close frame where a frame ends.
async fn pump_down(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    cut: watch::Sender<bool>,
    (ctx, ledger, open): (&Ctx, &Ledger, &mut Open),
    (first, log): (&FirstClose, Option<&WireLog>),
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let reader = read_chunks(from, tx, None);
    let down = log.map(|l| (l, Direction::ToClient));
    let writer = async {
        let mut stream = Stream::new();
        // Kicks ordered before this connection opened are not its own.
        let mut seen_kicks = u64::MAX;
        // The client has been sent whole frames so far: an injected frame may follow.
        let mut boundary = false;
        loop {
            let kick = {
                let l = state.borrow_and_update();
                (l.kicks > seen_kicks).then_some(l.kick_code)
            };
            if let Some(code) = kick.filter(|_| boundary) {
                tapped(down, Direction::ToClient, &wire::close_frame(code));
                inject(&mut to, code, &mut state).await;
                if let Some((_, reason)) = open.as_mut() {
                    *reason = Some(format!("kicked by the proxy with {code}"));
                }
                let _ = cut.send(true);
                return;
            }
            let next = tokio::select! {
                biased;
                changed = state.changed(), if kick.is_none() && open.is_some() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
                next = rx.recv() => next,
            };
            let Some((read_at, chunk)) = next else {
                break;
            };
            let latency = state.borrow().latency;
            if !latency.is_zero() && read_at + latency > Instant::now() {
                tokio::time::sleep_until(read_at + latency).await;
            }
            while state.borrow_and_update().down != Gate::Open {
                if state.changed().await.is_err() {
                    return;
                }
            }
            // The chunk goes out in one write, unless the proxy must cut in: a flap right
            // after the handshake's answer, a kick at the chunk's first frame boundary
            // (what follows it then never reaches the client).
            let was_boundary = boundary;
            let mut cut_in: Option<(usize, u16, String)> = None;
            for seen in stream.feed(&chunk) {
                match seen {
                    Seen::Close { code, .. } => first.saw("server", code),
                    Seen::Head {
                        status: Some(101),
                        end,
                    } => {
                        *open = Some((ledger.opened(&ctx.recorder, &ctx.client), None));
                        let l = *state.borrow();
                        seen_kicks = l.kicks;
                        if l.admission == Admission::Flap {
                            cut_in = Some((end, 1011, "flapped by the proxy (1011)".into()));
                            break;
                        }
                    }
                    Seen::Head {
                        status: Some(status),
                        ..
                    } => {
                        ledger.refused(&ctx.recorder, format!("the server answered HTTP {status}"))
                    }
                    // Texts are kept only by a stream that asked to (not yet here).
                    Seen::Head { status: None, .. } | Seen::Text(_) => {}
                    Seen::Frame { end, .. } => {
                        let l = *state.borrow();
                        if l.kicks > seen_kicks {
                            let at = if was_boundary { 0 } else { end };
                            let code = l.kick_code;
                            cut_in = Some((at, code, format!("kicked by the proxy with {code}")));
                            break;
                        }
                    }
                }
            }
            let upto = cut_in.as_ref().map_or(chunk.len(), |(at, ..)| *at);
            tapped(down, Direction::ToClient, &chunk[..upto]);
            if to.write_all(&chunk[..upto]).await.is_err() {
                return;
            }
            if let Some((_, code, why)) = cut_in {
                tapped(down, Direction::ToClient, &wire::close_frame(code));
                inject(&mut to, code, &mut state).await;
                if let Some((_, reason)) = open.as_mut() {
                    *reason = Some(why);
                }
                let _ = cut.send(true);
                return;
            }
            boundary = stream.at_boundary();
        }
        if let Some(log) = log {
            log.end(Direction::ToClient);
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// Sends a close frame with `code` to the client (through the link's gate) and ends the
/// client's side of the stream.
async fn inject(to: &mut OwnedWriteHalf, code: u16, state: &mut watch::Receiver<LinkState>) {
    while state.borrow_and_update().down != Gate::Open {
        if state.changed().await.is_err() {
            return;
        }
    }
    let _ = to.write_all(&wire::close_frame(code)).await;
    let _ = to.shutdown().await;
}

/// Reads chunks, stamped with the time they arrived, until the end or the receiver goes;
/// a `tap` reads them as they come (what a client sent, when it sent it).
async fn read_chunks(
    mut from: OwnedReadHalf,
    tx: mpsc::Sender<(Instant, Vec<u8>)>,
    tap: Option<(&WireLog, Direction)>,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                if let Some((log, dir)) = tap {
                    log.end(dir);
                }
                return;
            }
            Ok(n) => {
                if let Some((log, dir)) = tap {
                    log.read(dir, &buf[..n]);
                }
                if tx.send((Instant::now(), buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Relays one direction: a reader that stamps chunks, a writer that waits for the stamp
/// plus the latency and for the gate. A `tap` reads what the client sends as it reads it,
/// and what the client is sent as it writes it.
async fn pump(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    gate: fn(&LinkState) -> Gate,
    tap: Option<(&WireLog, Direction)>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let reader = read_chunks(from, tx, tap.filter(|(_, d)| *d == Direction::ToServer));
    let down = tap.filter(|(_, d)| *d == Direction::ToClient);
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
            tapped(down, Direction::ToClient, &chunk);
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        if let Some((log, dir)) = down {
            log.end(dir);
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// `wire` watching `dir`, when there is one.
fn tap(wire: &Option<WireLog>, dir: Direction) -> Option<(&WireLog, Direction)> {
    wire.as_ref().map(|w| (w, dir))
}
