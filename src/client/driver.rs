//! The connection task: dial, handshake, serve, back off, again, until closed.
//!
//! It is the only code that touches the socket. Every await is raced against the shared
//! wake-up so that `close()` stops it promptly wherever it is: after `close()` there is no
//! dial, no timer and no task.
//!
//! Two counters drive it. `failures` counts consecutive failed attempts (a failed dial, or
//! a connection lost before it stayed up for `stable_after`) and decides when to give up
//! (`max_attempts`); `step` picks the backoff bound. Both start over only after a
//! connection that lasted, so a server that accepts and drops at once sees the delays grow
//! and the attempt number climb, and `max_attempts` ends it.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use rand::{Rng, RngCore};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;

use crate::tls::MaybeTls;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::defects::{Defect, Defects};
use super::shared::{Session, Shared};
use super::target::Target;
use super::{Policy, Reason, Status};
use crate::heartbeat::{Beat, Heartbeat};
use crate::net::Connector;

pub(crate) struct Driver<C: Connector, S> {
    pub(crate) connector: C,
    pub(crate) target: Target,
    pub(crate) policy: Policy,
    pub(crate) rng: Box<dyn RngCore + Send + Sync>,
    pub(crate) shared: Arc<Shared<S>>,
    pub(crate) defects: Defects,
    /// What only a client with deliberate defects keeps; absent from a normal build.
    #[cfg(feature = "defects")]
    pub(crate) lab: Lab,
}

/// The state of the deliberate defects that need some (the `defects` feature only).
#[cfg(feature = "defects")]
#[derive(Default)]
pub(crate) struct Lab {
    /// The heartbeat of the last connection, for a client with `Defect::HeartbeatLeaks`.
    pub(crate) leaked: Option<Heartbeat>,
    /// When the pending retry was scheduled, for a client with `Defect::StaleDeadline`.
    pub(crate) scheduled: Option<Instant>,
}

/// How a connection ended: `None` when the user closed the client, else why it was lost.
type End = Option<Reason>;

enum Ended {
    Closed,
    Failed(Reason),
    Lost { reason: Reason, stable: bool },
}

impl<C: Connector, S: Session> Driver<C, S> {
    pub(crate) async fn run(mut self) {
        self.until_closed().await;
    }

    async fn until_closed(&mut self) {
        let (mut failures, mut step) = (0u32, 0u32);
        loop {
            self.shared.take_reconnect();
            if !self.shared.set_status(Status::Connecting {
                attempt: failures + 1,
            }) {
                return;
            }
            // A failed dial, or a connection lost before `stable_after`, is one more failed
            // attempt (so a server that accepts and drops ends in `Failed` too); a
            // connection that lasted starts both counters over.
            let (reason, stable) = match self.connect_and_serve().await {
                Ended::Closed => return,
                Ended::Failed(reason) => (reason, false),
                Ended::Lost { reason, stable } => (reason, stable),
            };
            // After `Failed` and `reconnect()`, the backoff starts over.
            let over = |step: u32| {
                if self.defects.has(Defect::KeepsBackoffAfterFailed) {
                    step
                } else {
                    0
                }
            };
            if self.terminal(&reason) {
                if !self.give_up(reason).await {
                    return;
                }
                (failures, step) = (0, over(step));
                continue;
            }
            (failures, step) = if stable && self.defects.has(Defect::NeverResetsBackoff) {
                (0, step + 1)
            } else if stable {
                (0, 1)
            } else {
                (failures + 1, step + 1)
            };
            if self.policy.max_attempts.is_some_and(|max| failures >= max) {
                if !self.give_up(reason).await {
                    return;
                }
                (failures, step) = (0, over(step));
                continue;
            }
            let unit = self.rng.random::<f64>();
            let restart_code = matches!(reason, Reason::ServerClosed { code: 1012, .. });
            let retry_in = if restart_code && self.defects.has(Defect::RedialsAtOnceOn1012) {
                std::time::Duration::ZERO
            } else {
                self.policy.delay(step, unit)
            };
            let waiting = Status::Disconnected {
                attempt: failures + 1,
                retry_in,
                reason,
            };
            let clean_close = matches!(
                waiting,
                Status::Disconnected {
                    reason: Reason::ServerClosed { .. },
                    ..
                }
            );
            let wait = if clean_close && self.defects.has(Defect::StaysDownAfterCleanClose) {
                std::time::Duration::from_secs(365 * 24 * 3600)
            } else {
                retry_in
            };
            self.note_scheduled();
            if !self.shared.set_status(waiting) || !self.back_off(wait).await {
                return;
            }
        }
    }

    async fn connect_and_serve(&mut self) -> Ended {
        let Target { host, port, .. } = &self.target;
        let dial = timeout(self.connect_limit(), self.connector.connect(host, *port));
        let stream = match self.dialing(dial).await {
            None => return Ended::Closed,
            Some(Err(_)) => return Ended::Failed(Reason::ConnectTimeout),
            Some(Ok(Err(e))) => {
                return Ended::Failed(Reason::Dial {
                    error: dial_error(&e),
                });
            }
            Some(Ok(Ok(stream))) => stream,
        };
        let stream = match self.secure(stream).await {
            Ok(stream) => stream,
            Err(ended) => return ended,
        };
        let request = match self.target.request() {
            Ok(request) => request,
            Err(e) => {
                return Ended::Failed(Reason::Handshake {
                    error: e.to_string(),
                });
            }
        };
        let handshake = timeout(
            self.policy.handshake_timeout,
            tokio_tungstenite::client_async_with_config(request, stream, Some(self.ws_config())),
        );
        match self.dialing(handshake).await {
            None => Ended::Closed,
            Some(Err(_)) => Ended::Failed(Reason::HandshakeTimeout),
            Some(Ok(Err(WsError::Http(response)))) => Ended::Failed(Reason::Rejected {
                status: response.status().as_u16(),
            }),
            Some(Ok(Err(e))) => Ended::Failed(Reason::Handshake {
                error: e.to_string(),
            }),
            Some(Ok(Ok((ws, _response)))) => self.serve(ws).await,
        }
    }

    /// The TLS handshake for `wss://` (bounded by `handshake_timeout`); `ws://` passes.
    async fn secure(&mut self, stream: C::Stream) -> Result<MaybeTls<C::Stream>, Ended> {
        let Some(tls) = self.target.tls.clone() else {
            return Ok(MaybeTls::Plain(stream));
        };
        let host = self.target.host.clone();
        let handshake = timeout(self.policy.handshake_timeout, tls.connect(&host, stream));
        match self.unless_closed(handshake).await {
            None => Err(Ended::Closed),
            Some(Err(_)) => Err(Ended::Failed(Reason::HandshakeTimeout)),
            Some(Ok(Err(e))) => Err(Ended::Failed(Reason::Handshake {
                error: format!("TLS: {e}"),
            })),
            Some(Ok(Ok(stream))) => Ok(stream),
        }
    }

    fn ws_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(crate::protocol::READ_BUFFER)
            .max_message_size(Some(self.policy.max_message_size))
            .max_frame_size(Some(self.policy.max_message_size))
    }

    /// `Defect::StaleDeadline`: remembers when the retry was scheduled.
    #[cfg(feature = "defects")]
    fn note_scheduled(&mut self) {
        self.lab.scheduled = Some(Instant::now());
    }

    #[cfg(not(feature = "defects"))]
    fn note_scheduled(&mut self) {}

    /// How long the TCP dial may take: `connect_timeout` from now (for a client with
    /// `Defect::StaleDeadline`, from when the retry was scheduled).
    fn connect_limit(&self) -> std::time::Duration {
        #[cfg(feature = "defects")]
        if let Some(at) = self
            .lab
            .scheduled
            .filter(|_| self.defects.has(Defect::StaleDeadline))
        {
            return (at + self.policy.connect_timeout).saturating_duration_since(Instant::now());
        }
        self.policy.connect_timeout
    }

    /// The heartbeat a client with `Defect::HeartbeatLeaks` carried over, if any.
    fn leaked_heartbeat(&mut self) -> Option<Heartbeat> {
        #[cfg(feature = "defects")]
        return self
            .lab
            .leaked
            .take()
            .filter(|_| self.defects.has(Defect::HeartbeatLeaks));
        #[cfg(not(feature = "defects"))]
        None
    }

    /// Keeps a dead connection's heartbeat for the next one (`Defect::HeartbeatLeaks`).
    fn leak_heartbeat(&mut self, heartbeat: Heartbeat) {
        #[cfg(feature = "defects")]
        if self.defects.has(Defect::HeartbeatLeaks) {
            self.lab.leaked = Some(heartbeat);
        }
        #[cfg(not(feature = "defects"))]
        let _ = heartbeat;
    }

    async fn serve(&mut self, mut ws: WebSocketStream<MaybeTls<C::Stream>>) -> Ended {
        let opened = Instant::now();
        let mut connected = false;
        let Err(end) = self.session(&mut ws, opened, &mut connected).await;
        match end {
            None => {
                self.close_politely(&mut ws).await;
                Ended::Closed
            }
            // Never accepted (no welcome): a failed attempt, not a lost connection, so the
            // attempt counter grows and `max_attempts` can end it.
            Some(reason) if !connected => {
                self.shared.with_session(S::on_lost);
                Ended::Failed(reason)
            }
            Some(reason) => {
                self.shared.with_session(S::on_lost);
                Ended::Lost {
                    reason,
                    stable: opened.elapsed() >= self.policy.stable_after,
                }
            }
        }
    }

    /// Restores the session, reports `Connected` once the peer accepted it (`connected`
    /// says whether it did), then moves frames both ways until the connection ends:
    /// `Err(None)` when closed by the user, `Err(Some(reason))` when lost.
    async fn session(
        &mut self,
        ws: &mut WebSocketStream<MaybeTls<C::Stream>>,
        opened: Instant,
        connected: &mut bool,
    ) -> Result<Infallible, End> {
        let mut restore = Vec::new();
        self.shared.with_session(|s| s.on_open(&mut restore));
        for frame in restore {
            self.write(ws, frame).await?;
        }
        // The peer has `handshake_timeout` from the upgrade to accept the session.
        let accept_by = opened + self.policy.handshake_timeout;
        let mut heartbeat = self.leaked_heartbeat().unwrap_or_else(|| {
            Heartbeat::new(opened, self.policy.ping_interval, self.policy.pong_timeout)
        });
        loop {
            if !*connected && self.shared.with_session(|s| s.ready()) {
                if !self.shared.set_status(Status::Connected) {
                    return Err(None);
                }
                *connected = true;
            }

            if let Some(frame) = self.shared.with_session(S::next_outgoing) {
                self.write(ws, frame).await?;
                if self.defects.has(Defect::OwnSendsAreLife) {
                    heartbeat.on_rx(Instant::now());
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = self.shared.woken() => {
                    if self.shared.is_closed() {
                        return Err(None);
                    }
                }
                incoming = ws.next() => {
                    heartbeat.on_rx(Instant::now());
                    self.receive(incoming)?;
                }
                _ = sleep_until(accept_by), if !*connected => {
                    return Err(Some(Reason::HandshakeTimeout));
                }
                _ = sleep_until(heartbeat.deadline()) => match heartbeat.on_deadline(Instant::now()) {
                    Beat::Ping => self.write(ws, Message::Ping(Default::default())).await?,
                    Beat::Dead => {
                        self.leak_heartbeat(heartbeat);
                        return Err(Some(Reason::HeartbeatTimeout));
                    }
                },
            }
        }
    }

    fn receive(&self, incoming: Option<Result<Message, WsError>>) -> Result<(), End> {
        match incoming {
            Some(Ok(frame @ (Message::Text(_) | Message::Binary(_)))) => self
                .shared
                .with_session(|s| s.on_frame(frame))
                .map_err(|error| Some(Reason::Error { error })),
            Some(Ok(Message::Close(frame))) => Err(Some(match frame {
                Some(f) => Reason::ServerClosed {
                    code: f.code.into(),
                    reason: f.reason.to_string(),
                },
                None => Reason::ServerClosed {
                    code: 1005,
                    reason: String::new(),
                },
            })),
            Some(Ok(_ping_pong_or_raw_frame)) => Ok(()),
            None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                Err(Some(Reason::Eof))
            }
            Some(Err(e)) => Err(Some(Reason::Error {
                error: e.to_string(),
            })),
        }
    }

    async fn write(
        &self,
        ws: &mut WebSocketStream<MaybeTls<C::Stream>>,
        frame: Message,
    ) -> Result<(), End> {
        match self
            .unless_closed(timeout(self.policy.write_timeout, ws.send(frame)))
            .await
        {
            None => Err(None),
            Some(Err(_)) => Err(Some(Reason::WriteTimeout)),
            Some(Ok(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))) => {
                Err(Some(Reason::Eof))
            }
            Some(Ok(Err(e))) => Err(Some(Reason::Error {
                error: e.to_string(),
            })),
            Some(Ok(Ok(()))) => Ok(()),
        }
    }

    /// Best effort: tell the server with a 1000 close frame, bounded by `write_timeout`.
    async fn close_politely(&self, ws: &mut WebSocketStream<MaybeTls<C::Stream>>) {
        if self.defects.has(Defect::ClosesWithoutFrame) {
            return;
        }
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "client closed".into(),
        };
        let _ = timeout(self.policy.write_timeout, ws.close(Some(frame))).await;
    }

    /// Waits out a backoff delay. False when the client was closed meanwhile.
    async fn back_off(&self, delay: std::time::Duration) -> bool {
        let mut wait = std::pin::pin!(sleep(delay));
        loop {
            tokio::select! {
                biased;
                _ = self.shared.woken() => {
                    if self.shared.is_closed() {
                        return false;
                    }
                    if self.shared.take_reconnect() {
                        return true;
                    }
                }
                _ = &mut wait => return true,
            }
        }
    }

    /// Waits in `Failed` for `reconnect()`. False when closed instead.
    /// True when the server said not to come back (a terminal close code or status).
    fn terminal(&self, reason: &Reason) -> bool {
        self.policy.is_terminal(reason)
    }

    /// `Failed`, then wait for `reconnect()`; false when closed instead.
    async fn give_up(&self, reason: Reason) -> bool {
        self.shared.set_status(Status::Failed { reason }) && self.wait_for_reconnect().await
    }

    async fn wait_for_reconnect(&self) -> bool {
        loop {
            self.shared.woken().await;
            if self.shared.is_closed() {
                return false;
            }
            if self.shared.take_reconnect() {
                return true;
            }
        }
    }

    /// Runs `fut` unless the client is closed first (then `None`).
    /// A step of opening a connection, cancelled by `close()` like every other await
    /// (`Defect::DialOutlivesClose`: not cancelled).
    async fn dialing<F: Future>(&self, fut: F) -> Option<F::Output> {
        if self.defects.has(Defect::DialOutlivesClose) {
            return Some(fut.await);
        }
        self.unless_closed(fut).await
    }

    async fn unless_closed<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                biased;
                _ = self.shared.woken() => {
                    if self.shared.is_closed() {
                        return None;
                    }
                }
                out = &mut fut => return Some(out),
            }
        }
    }
}

/// A failed dial's error as a reader needs it: what went wrong, not only where (turmoil's
/// refusal says just the address).
fn dial_error(e: &std::io::Error) -> String {
    let kind = e.kind().to_string();
    let text = e.to_string();
    if text.to_lowercase().contains(&kind.to_lowercase()) {
        text
    } else {
        format!("{kind}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_dial_error_says_what_went_wrong_once() {
        let sim = Error::new(ErrorKind::ConnectionRefused, "192.168.0.1:9000");
        assert_eq!(
            super::dial_error(&sim),
            "connection refused: 192.168.0.1:9000"
        );
        let os = Error::new(
            ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        assert_eq!(super::dial_error(&os), "Connection refused (os error 111)");
    }
}
