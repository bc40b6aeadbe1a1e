//! The simulated network: `turmoil::net` TCP, for use inside a turmoil host.

use std::io;
use std::net::SocketAddr;

use turmoil::net::{TcpListener, TcpStream};

use super::{Connector, Listener};

/// Dials simulated TCP inside a turmoil simulation; `host` is a turmoil host name.
///
/// ```
/// use rand::SeedableRng;
/// use wschaos::client::ClientBuilder;
/// use wschaos::net::TurmoilNet;
/// let mut sim = turmoil::Builder::new().build();
/// sim.client("alice", async {
///     let (client, task) = ClientBuilder::new("ws://server:9000/")?
///         .build(TurmoilNet, rand_chacha::ChaCha8Rng::seed_from_u64(1));
///     tokio::task::spawn_local(task);
///     client.close();
///     Ok(())
/// });
/// sim.run().unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilNet;

impl Connector for TurmoilNet {
    type Stream = TcpStream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        TcpStream::connect((host, port)).await
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}
