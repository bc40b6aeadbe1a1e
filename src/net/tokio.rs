//! The real network: `tokio::net` TCP.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

use super::{Connector, Listener};

/// Dials real TCP with `tokio::net`, with `TCP_NODELAY` set (frames are small and latency
/// matters more than batching here).
///
/// ```
/// use wschaos::client::ClientBuilder;
/// use wschaos::net::TokioNet;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (client, task) = ClientBuilder::new("ws://127.0.0.1:9/").unwrap().build(TokioNet, rand::rngs::StdRng::from_os_rng());
/// # use rand::SeedableRng; drop((client, task)); }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioNet;

impl Connector for TokioNet {
    type Stream = TcpStream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok((stream, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}
