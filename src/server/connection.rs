//! One connection: handshake, then frames both ways until it ends.
//!
//! Writes are bounded by `write_timeout` and the outgoing queue by `queue`, so a stuck or
//! partitioned peer costs the server one timeout and one bounded buffer, never the others'
//! progress. Reads are bounded by `max_message_size`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::hub::{CloseAsked, Hub, Identity};
use super::{Admission, ConnId, Controls, Event, ServerConfig};
use crate::heartbeat::{Beat, Heartbeat};
use crate::net::ByteStream;
use crate::protocol::Protocol;
use crate::tls::MaybeTls;

pub(crate) type SharedHub = Arc<Mutex<Hub>>;

pub(crate) fn lock(hub: &SharedHub) -> MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What tells a connection to close: the server stopping, and the fault knobs.
pub(crate) struct Signals {
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) controls: Controls,
}

/// Serves one accepted stream until it ends or the server stops.
pub(crate) async fn serve<S: ByteStream>(
    stream: S,
    peer: std::net::SocketAddr,
    hub: SharedHub,
    config: Arc<ServerConfig>,
    mut signals: Signals,
) {
    // A kick ordered before this connection existed is not for it.
    signals.controls.kicks.borrow_and_update();
    let admission = *signals.controls.admission.borrow();
    let Some(stream) = secure(stream, &hub, &config).await else {
        return;
    };
    let Some((mut ws, mut identity)) = handshake(stream, &hub, &config, admission).await else {
        return;
    };
    if let Some(name) = signals.controls.namer.as_ref().and_then(|n| n.name(peer)) {
        identity.client = Some(name);
    }
    if admission == Admission::Flap {
        // Accepted, welcomed, and dropped at once: the session opened, so a client's
        // "reset the backoff on open" bug shows. Nobody else is told (no presence).
        lock(&hub).observe(Event::Refused {
            reason: "flap: closed right after the welcome".into(),
        });
        // wschaos's welcome; another protocol's session opens with the upgrade.
        if identity.protocol.unwrap_or(config.protocol) == Protocol::Wschaos {
            let welcome = crate::protocol::ServerFrame::Welcome {
                epoch: config.epoch,
                client: identity.client.clone().unwrap_or_default(),
                online: 0,
                conn: 0,
            };
            let _ = ws.send(Message::text(welcome.to_json())).await;
        }
        close(&mut ws, (CloseCode::Error, "flapping"), None, &config).await;
        return;
    }
    if !config.welcome_delay.is_zero() {
        tokio::time::sleep(config.welcome_delay).await;
    }
    let offered = identity.offered_graphql;
    let (conn, mut queue) = lock(&hub).register(identity);
    let reason = if lock(&hub).protocol_of(conn) == Protocol::GraphqlTransportWs && !offered {
        let why = "Subprotocol not acceptable: offer graphql-transport-ws";
        lock(&hub).reject(conn, why);
        let code = CloseCode::from(super::graphql::SUBPROTOCOL_NOT_ACCEPTABLE);
        close(&mut ws, (code, why), Some((conn, &hub)), &config).await;
        why.to_string()
    } else {
        pump(&mut ws, conn, &mut queue, &hub, &config, &mut signals).await
    };
    lock(&hub).unregister(conn, &reason);
}

/// The TLS handshake when the server has a certificate, bounded by `handshake_timeout`.
async fn secure<S: ByteStream>(
    stream: S,
    hub: &SharedHub,
    config: &ServerConfig,
) -> Option<MaybeTls<S>> {
    let Some(tls) = &config.tls else {
        return Some(MaybeTls::Plain(stream));
    };
    let reason = match timeout(config.handshake_timeout, tls.accept(stream)).await {
        Ok(Ok(tls)) => return Some(tls),
        Ok(Err(e)) => format!("TLS handshake failed: {e}"),
        Err(_) => "TLS handshake timeout".to_string(),
    };
    lock(hub).observe(Event::Refused { reason });
    None
}

// The callback's error type is tungstenite's HTTP response, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn handshake<S: ByteStream>(
    stream: S,
    hub: &SharedHub,
    config: &ServerConfig,
    admission: Admission,
) -> Option<(WebSocketStream<S>, Identity)> {
    let mut identity = Identity::default();
    let full = lock(hub).is_full();
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if let Admission::Reject { status } = admission {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Err(refusal(status, "rejected (fault injection)"));
        }
        if full {
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "server full: max_connections reached",
            ));
        }
        check_access(request, config).map_err(|(status, why)| refusal(status, why))?;
        identity = parse_identity(request.uri().query().unwrap_or(""))
            .map_err(|e| refusal(StatusCode::BAD_REQUEST, &e))?;
        let mut response = response;
        let protocol = identity.protocol.unwrap_or(config.protocol);
        if protocol == Protocol::GraphqlTransportWs && offers(request, super::graphql::SUBPROTOCOL)
        {
            identity.offered_graphql = true;
            response.headers_mut().insert(
                "sec-websocket-protocol",
                super::graphql::SUBPROTOCOL
                    .parse()
                    .expect("a valid header value"),
            );
        }
        Ok(response)
    };
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(crate::protocol::READ_BUFFER)
        .write_buffer_size(crate::protocol::WRITE_BUFFER)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    let accepted = timeout(
        config.handshake_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config)),
    )
    .await;
    let reason = match accepted {
        Ok(Ok(ws)) => return Some((ws, identity)),
        Ok(Err(e)) => format!("handshake failed: {e}"),
        Err(_) => "handshake timeout".to_string(),
    };
    lock(hub).observe(Event::Refused { reason });
    None
}

/// The bearer token and the origin allow-list, checked at the handshake.
fn check_access(
    request: &Request,
    config: &ServerConfig,
) -> Result<(), (StatusCode, &'static str)> {
    if let Some(token) = &config.token {
        let given = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let expected = format!("Bearer {token}");
        if !same_secret(given.as_bytes(), expected.as_bytes()) {
            return Err((StatusCode::UNAUTHORIZED, "missing or wrong bearer token"));
        }
    }
    if let Some(origin) = request
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
    {
        if !config.allowed_origins.is_empty() && !config.allowed_origins.iter().any(|o| o == origin)
        {
            return Err((StatusCode::FORBIDDEN, "origin not allowed"));
        }
    }
    Ok(())
}

/// True when the handshake offers the WebSocket subprotocol `name`.
fn offers(request: &Request, name: &str) -> bool {
    (request.headers().get_all("sec-websocket-protocol").iter())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == name)
}

/// Compares secrets in time that depends only on their lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[allow(clippy::result_large_err)]
fn refusal(status: StatusCode, why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_string()));
    *response.status_mut() = status;
    response
}

/// Reads `client` and `session` from the query string.
fn parse_identity(query: &str) -> Result<Identity, String> {
    let mut identity = Identity::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value =
            percent_decode(value).ok_or_else(|| format!("bad percent-encoding in {key}"))?;
        let slot = match key {
            "client" => &mut identity.client,
            "session" => &mut identity.session,
            // A built-in client (a publisher) on a server of another protocol.
            "protocol" if value == "wschaos" => {
                identity.protocol = Some(Protocol::Wschaos);
                continue;
            }
            "protocol" => {
                return Err(format!(
                    "protocol={value}: only wschaos may be asked for in the query; the server speaks its own otherwise"
                ));
            }
            _ => continue,
        };
        if value.is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
            return Err(format!(
                "{key} must be 1 to 128 bytes without control characters"
            ));
        }
        *slot = Some(value);
    }
    Ok(identity)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn pump<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    conn: ConnId,
    queue: &mut mpsc::Receiver<Utf8Bytes>,
    hub: &SharedHub,
    config: &ServerConfig,
    signals: &mut Signals,
) -> String {
    let mut heartbeat = Heartbeat::new(Instant::now(), config.ping_interval, config.pong_timeout);
    // graphql-transport-ws: `connection_init` is due within the handshake timeout.
    let mut init_due = (lock(hub).protocol_of(conn) == Protocol::GraphqlTransportWs)
        .then(|| Instant::now() + config.handshake_timeout);
    loop {
        tokio::select! {
            biased;
            _ = signals.stop.changed() => {
                // What is queued (acks above all) goes out before the close: a publish the
                // server handled but never acknowledged would be resent to the next epoch
                // and delivered twice.
                let _ = drain(ws, queue, config).await;
                close(ws, (CloseCode::Restart, "server restart"), Some((conn, hub)), config).await;
                return "server shutdown".into();
            }
            // Only a kick: the knobs' owner going away (a `serve` whose stdin ended) is not one.
            Ok(()) = signals.controls.kicks.changed() => {
                let code = signals.controls.kicks.borrow().code;
                close(ws, (CloseCode::from(code), "kicked"), Some((conn, hub)), config).await;
                return format!("kicked with {code}");
            }
            out = queue.recv() => match out {
                Some(text) => {
                    if let Err(reason) = write_queued(ws, text, queue, WRITE_BATCH, config).await {
                        return reason;
                    }
                }
                None => {
                    close(ws, (CloseCode::Policy, "slow consumer: queue full"), Some((conn, hub)), config).await;
                    return "slow consumer".into();
                }
            },
            incoming = ws.next() => {
                heartbeat.on_rx(Instant::now());
                if let Some(reason) = receive(ws, conn, incoming, hub, config).await {
                    return reason;
                }
            }
            _ = sleep_until(init_due.unwrap_or_else(far_future)), if init_due.is_some() => {
                if lock(hub).acked(conn) {
                    init_due = None;
                } else {
                    let why = "Connection initialisation timeout";
                    lock(hub).reject(conn, why);
                    close(ws, (CloseCode::from(super::graphql::INIT_TIMEOUT), why), Some((conn, hub)), config).await;
                    return why.into();
                }
            }
            _ = sleep_until(heartbeat.deadline()) => match heartbeat.on_deadline(Instant::now()) {
                Beat::Ping => {
                    if let Err(reason) = write(ws, Message::Ping(Default::default()), config).await {
                        return reason;
                    }
                }
                Beat::Dead => return "heartbeat timeout".into(),
            },
        }
    }
}

/// Handles one incoming item; `Some(reason)` when the connection ends.
async fn receive<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    conn: ConnId,
    incoming: Option<Result<Message, WsError>>,
    hub: &SharedHub,
    config: &ServerConfig,
) -> Option<String> {
    let (code, why) = match incoming {
        Some(Ok(Message::Text(text))) => {
            let Err((code, why)) = lock(hub).handle_text(conn, &text) else {
                return None;
            };
            return Some(close_asked(ws, conn, (code, why), hub, config).await);
        }
        Some(Ok(Message::Close(frame))) => {
            lock(hub).client_closed(conn, frame.map(|f| u16::from(f.code)));
            let _ = timeout(config.write_timeout, ws.flush()).await;
            return Some("client closed".into());
        }
        Some(Ok(Message::Binary(_))) => (
            CloseCode::Unsupported,
            "binary frames are not supported".to_string(),
        ),
        Some(Ok(_ping_pong_or_raw)) => return None,
        Some(Err(WsError::Capacity(e))) => (CloseCode::Size, format!("message too big: {e}")),
        Some(Err(WsError::Protocol(e))) => (CloseCode::Protocol, format!("protocol error: {e}")),
        Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
            return Some("eof".into());
        }
        Some(Err(e)) => return Some(format!("error: {e}")),
    };
    lock(hub).reject(conn, &why);
    close(ws, (code, &why), Some((conn, hub)), config).await;
    Some(why)
}

/// Closes a connection as its protocol asked: what is queued goes first.
async fn close_asked<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    conn: ConnId,
    (code, why): CloseAsked,
    hub: &SharedHub,
    config: &ServerConfig,
) -> String {
    lock(hub).reject(conn, &why);
    close(ws, (CloseCode::from(code), &why), Some((conn, hub)), config).await;
    why
}

/// A deadline that never comes, for a `select!` branch that is off.
fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(86_400 * 365)
}

/// Frames written per flush at most: what is already queued goes out in one write (one
/// segment, one syscall) instead of one per frame, which matters in a herd, when every
/// join is announced to every client.
const WRITE_BATCH: usize = 64;

/// Writes `first` and whatever else is already queued (up to `limit` frames in all), then
/// flushes, within one `write_timeout`.
async fn write_queued<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    first: Utf8Bytes,
    queue: &mut mpsc::Receiver<Utf8Bytes>,
    limit: usize,
    config: &ServerConfig,
) -> Result<(), String> {
    let batch = async {
        ws.feed(Message::Text(first)).await?;
        for _ in 1..limit {
            let Ok(next) = queue.try_recv() else { break };
            ws.feed(Message::Text(next)).await?;
        }
        ws.flush().await
    };
    timed(config, batch).await
}

/// Writes everything still queued (at most `queue` frames), within one `write_timeout`.
async fn drain<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    queue: &mut mpsc::Receiver<Utf8Bytes>,
    config: &ServerConfig,
) -> Result<(), String> {
    match queue.try_recv() {
        Ok(first) => write_queued(ws, first, queue, usize::MAX, config).await,
        Err(_) => Ok(()),
    }
}

async fn write<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    frame: Message,
    config: &ServerConfig,
) -> Result<(), String> {
    timed(config, ws.send(frame)).await
}

/// A write bounded by `write_timeout`, its failure as the connection's end reason.
async fn timed(
    config: &ServerConfig,
    write: impl Future<Output = Result<(), WsError>>,
) -> Result<(), String> {
    match timeout(config.write_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write failed: {e}")),
        Err(_) => Err("write timeout".into()),
    }
}

/// Closes connection `conn` with `code`: the close frame, then the closing handshake, whose
/// end is the client's close frame (recorded, as any close frame from a client is) or the
/// stream's end, within `pong_timeout`.
///
/// The handshake is what makes the frames sent before the close arrive: a client still
/// sending (a publisher) when the server drops its socket with that client's frames unread
/// gets a TCP reset, and its kernel discards what it had not read yet, acks included; the
/// client then resends messages the server took, to a restarted server that cannot know
/// them. A client answers the close frame only after reading everything before it.
async fn close<S: ByteStream>(
    ws: &mut WebSocketStream<S>,
    (code, reason): (CloseCode, &str),
    conn: Option<(ConnId, &SharedHub)>,
    config: &ServerConfig,
) {
    let frame = CloseFrame {
        code,
        reason: reason.to_string().into(),
    };
    let sent = timeout(config.write_timeout, ws.close(Some(frame))).await;
    if !sent.is_ok_and(|sent| sent.is_ok()) {
        return;
    }
    let answered = async {
        // Frames the client sent before it read the close are read and dropped.
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(frame) = message {
                return Some(frame.map(|f| u16::from(f.code)));
            }
        }
        None
    };
    if let (Ok(Some(code)), Some((conn, hub))) =
        (timeout(config.pong_timeout, answered).await, conn)
    {
        lock(hub).client_closed(conn, code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_comes_from_the_query() {
        let id = parse_identity("client=al%20ice&session=7&other=x").unwrap();
        assert_eq!(
            id,
            Identity {
                client: Some("al ice".into()),
                session: Some("7".into()),
                ..Identity::default()
            }
        );
        assert_eq!(parse_identity("").unwrap(), Identity::default());
        assert!(parse_identity("client=").is_err());
        assert!(parse_identity("client=%zz").is_err());
        assert!(parse_identity("client=%0A").is_err());
        let publisher = parse_identity("client=pub-0&protocol=wschaos").unwrap();
        assert_eq!(publisher.protocol, Some(Protocol::Wschaos));
        let e = parse_identity("protocol=phoenix").unwrap_err();
        assert!(e.contains("only wschaos"), "{e}");
    }
}
