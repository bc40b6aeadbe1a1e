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
use crate::evidence::wire::reader::Reader;
use crate::evidence::wire::{Decoder, Direction};

/// A client's connection, decoded as it passes.
pub struct WireTap<S> {
    inner: S,
    probe: Probe,
    /// The dial this connection came from.
    conn: u32,
    reader: Reader,
}

impl<S> WireTap<S> {
    /// Taps `inner`, the connection of dial `conn`, decoding with `decoder`.
    pub(crate) fn new(inner: S, probe: Probe, conn: u32, decoder: Box<dyn Decoder>) -> Self {
        WireTap {
            inner,
            probe,
            conn,
            reader: Reader::new(decoder),
        }
    }

    fn saw(&mut self, dir: Direction, bytes: &[u8]) {
        let (probe, conn) = (&self.probe, self.conn);
        self.reader
            .read(dir, bytes, |said| probe.wire(conn, dir, said));
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
        if got.is_empty() && buf.remaining() > 0 {
            let (probe, conn) = (&this.probe, this.conn);
            (this.reader).end(|said| probe.wire(conn, Direction::ToClient, said));
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
