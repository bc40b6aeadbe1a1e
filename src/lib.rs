//! wschaos finds reconnect bugs in WebSocket clients before their users do.
//!
//! # The map
//!
//! - [`client`]: the reference reconnecting client. [`client::ClientBuilder`] builds a
//!   [`client::Client`] (pub/sub: subscriptions restored after every reconnect, an outbox,
//!   resume with gap notices) or a [`client::RawClient`] (any WebSocket server), each with a
//!   [`client::Status`] stream a UI can lock on and a [`client::Policy`] (backoff, jitter,
//!   attempts, timeouts, heartbeat).
//! - [`server`]: the broadcast server, [`server::run`]: topics, presence (joined/left to
//!   everyone), per-topic sequences and history for resume, duplicate drop, heartbeats,
//!   bounded per-connection queues, graceful shutdown with close code 1012.
//! - [`protocol`]: the JSON frames the two exchange.
//! - [`evidence`]: the contract between worlds and checkers: the kinds of evidence a
//!   checker needs and a world provides per client, and the judgement windows a fault
//!   opens for a client by its declared bounds. [`check`] judges with it: per checker and
//!   client, passed, violated, or not judged (with the reason).
//! - [`net`]: the transport seam. Client and server never dial or listen themselves; they
//!   run over a [`net::Connector`] / [`net::Listener`]: real TCP with [`net::TokioNet`], or
//!   turmoil's simulated TCP with [`net::TurmoilNet`].
//! - [`real`]: the same scenario files on the real network: client processes (any
//!   language) behind one fault-injecting proxy each, the built-in server on loopback, the
//!   history judged by the same checkers ([`real::run`]).
//! - [`testing`]: your own client under `cargo test`: [`testing::Suite`] turns scenario
//!   files (yours and the bundled library) into named tests of your
//!   [`sim::ClientUnderTest`]; [`testing::check_file`] checks one file and seed.
//! - [`world`]: where a file runs, decided by the file: [`world::World::Simulated`]
//!   (deterministic, replays) or [`world::World::RealNetwork`] (the processes it names);
//!   callers ask the world what they may do with a file.
//! - [`tls`]: `wss://` for both, through rustls: [`tls::ServerTls`] in
//!   [`server::ServerConfig::tls`], [`tls::ClientTls`] in [`client::ClientBuilder::tls`].
//!
//! # A client and a server on loopback
//!
//! ```
//! use futures::StreamExt;
//! use wschaos::client::{ClientBuilder, TopicEvent};
//! use wschaos::server::{self, ServerConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(server::run(listener, ServerConfig::default(), std::future::pending()));
//!
//! let client = ClientBuilder::new(&url)?.client_id("alice").spawn();
//! let mut news = client.subscribe("news")?;
//! client.publish("news", "hello")?;
//! match news.next().await {
//!     Some(TopicEvent::Message(m)) => assert_eq!(m.data, "hello"),
//!     other => panic!("{other:?}"),
//! }
//! client.close();
//! # Ok(()) }
//! ```
//!
//! # Determinism
//!
//! Client and server take time only from tokio's clock, randomness only from an injected
//! seeded RNG, iterate only ordered collections, put `biased;` in every `select!`, and spawn
//! nothing behind the caller's back: [`client::ClientBuilder::build`] hands back the
//! connection task and [`server::run`] is a single future. Inside a turmoil host, spawn
//! them with `tokio::task::spawn_local` and a run is a pure function of its seed.

pub mod cases;
pub mod check;
pub mod client;
pub(crate) mod duration_serde;
pub mod evidence;
#[cfg(feature = "explore")]
pub mod explore;
pub(crate) mod heartbeat;
pub mod history;
pub mod net;
pub mod protocol;
pub mod real;
pub mod report;
pub mod scenario;
pub mod server;
pub mod sim;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod world;
