//! The wire of a simulated client's connection, read as it passes: every byte the client
//! writes and reads goes through a [`WireTap`], which finds the WebSocket frames in it
//! ([`crate::real::wire::Stream`], the reader the real-network proxy uses) and has the
//! server protocol's decoder ([`crate::evidence::wire`]) say what each text frame means.
//! What starts, ends or refuses the connection's readiness or a subscription goes into the
//! history as [`crate::history::Event::Wire`], at the moment the client sent or received
//! it. The bytes pass unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::client::Probe;
use crate::evidence::wire::{self, Decoder, Direction, WireEvent};
use crate::real::wire::{Seen, Stream};

/// The longest text message decoded; a longer one is recorded as not understood.
pub const MAX_TEXT: usize = 1 << 20;

/// A client's connection, decoded as it passes.
pub struct WireTap<S> {
    inner: S,
    probe: Probe,
    /// The dial this connection came from.
    conn: u32,
    up: Stream,
    down: Stream,
    decoder: Box<dyn Decoder>,
    said: Vec<WireEvent>,
    /// Its end was recorded (a close frame, or the end of the stream): once is enough.
    ended: bool,
}

impl<S> WireTap<S> {
    /// Taps `inner`, the connection of dial `conn`, decoding with `decoder`.
    pub(crate) fn new(inner: S, probe: Probe, conn: u32, decoder: Box<dyn Decoder>) -> Self {
        WireTap {
            inner,
            probe,
            conn,
            up: Stream::keeping_texts(MAX_TEXT),
            down: Stream::keeping_texts(MAX_TEXT),
            decoder,
            said: Vec::new(),
            ended: false,
        }
    }

    fn saw(&mut self, dir: Direction, bytes: &[u8]) {
        let stream = match dir {
            Direction::ToServer => &mut self.up,
            Direction::ToClient => &mut self.down,
        };
        for seen in stream.feed(bytes) {
            match seen {
                Seen::Text(Some(text)) if !self.decoder.routine(dir, &text) => {
                    self.decoder.text(dir, &text, &mut self.said);
                }
                Seen::Text(None) => self.said.push(WireEvent::Unknown),
                Seen::Close { code, .. } if !self.ended => {
                    self.ended = true;
                    self.said.push(WireEvent::Closed { code });
                }
                _ => {}
            }
        }
        for said in self.said.drain(..).filter(WireEvent::recorded) {
            self.probe.wire(self.conn, dir, said);
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for WireTap<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireTap")
            .field("inner", &self.inner)
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WireTap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let got = &buf.filled()[before..];
        if got.is_empty() && buf.remaining() > 0 && !this.ended {
            this.ended = true;
            (this.probe).wire(
                this.conn,
                Direction::ToClient,
                WireEvent::Closed { code: None },
            );
        }
        this.saw(Direction::ToClient, got);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WireTap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        this.saw(Direction::ToServer, &data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The decoder for a server of `protocol`.
pub(crate) fn decoder(protocol: crate::protocol::Protocol) -> Box<dyn Decoder> {
    match protocol {
        crate::protocol::Protocol::Wschaos => Box::new(wire::Wschaos),
        crate::protocol::Protocol::Broadcast => Box::new(wire::Broadcast),
    }
}
