//! The transport seam: how the client dials and how the server accepts a byte stream.
//!
//! Client and server never touch `tokio::net` themselves. They are generic over a
//! [`Connector`] (dial) and a [`Listener`] (accept), and run the WebSocket protocol over
//! whatever stream those return, so the same code runs on a real network ([`TokioNet`],
//! [`::tokio::net::TcpListener`]) and inside a turmoil simulation ([`TurmoilNet`],
//! [`::turmoil::net::TcpListener`]). Tests wrap a connector to count or fail dials.

mod tokio;
mod turmoil;

pub use self::tokio::TokioNet;
pub use self::turmoil::TurmoilNet;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use ::tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a WebSocket can run over.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for T {}

/// Dials a byte stream to `host:port`. Cheap to clone; one per client.
///
/// ```
/// use wschaos::net::{Connector, TokioNet};
/// # async fn demo() -> std::io::Result<()> {
/// let stream = TokioNet.connect("127.0.0.1", 9000).await?;
/// # drop(stream); Ok(()) }
/// ```
pub trait Connector: Clone + Send + Sync + 'static {
    /// The stream a successful dial yields.
    type Stream: ByteStream;
    /// Opens a stream; an error is a failed dial attempt.
    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Accepts byte streams; owned by the server.
///
/// ```
/// use wschaos::net::Listener;
/// # async fn demo() -> std::io::Result<()> {
/// let mut listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// println!("listening on {}", Listener::local_addr(&listener)?);
/// # Ok(()) }
/// ```
pub trait Listener: Send + 'static {
    /// The stream an accepted connection yields.
    type Stream: ByteStream;
    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
    /// The address the listener is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}
