//! The handles a user holds: [`ClientBuilder`], [`Client`] (pub/sub) and [`RawClient`].

use std::future::Future;
use std::sync::Arc;

use rand::{RngCore, SeedableRng};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[cfg(feature = "defects")]
use super::Defect;
use super::defects::Defects;
use super::driver::Driver;
use super::events::{Broadcast, ServerEvent, StatusChanges, Subscription};
use super::pubsub::PubSub;
use super::raw::RawSession;
use super::shared::{Session, Shared};
use super::tap::Tap;
use super::target::Target;
use super::{ClientError, Policy, Status};
use crate::net::{Connector, TokioNet};
use crate::tls::ClientTls;

/// Configures a client: URL, policy, identity; then builds it over a transport.
///
/// ```no_run
/// use wschaos::client::{ClientBuilder, Policy};
/// # async fn demo() -> Result<(), wschaos::client::ClientError> {
/// // Real network: dials with tokio, seeds jitter from the OS.
/// let client = ClientBuilder::new("ws://127.0.0.1:9000/")?.client_id("alice").spawn();
/// let news = client.subscribe("news")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    target: Target,
    policy: Policy,
    defects: Defects,
    client_id: Option<String>,
    tap: Tap,
}

impl ClientBuilder {
    /// Starts from a `ws://host[:port][/path]` URL. `wss://` is not supported yet.
    ///
    /// ```no_run
    /// use wschaos::client::ClientBuilder;
    /// assert!(ClientBuilder::new("ws://127.0.0.1:9000/feed").is_ok());
    /// let err = ClientBuilder::new("http://127.0.0.1:9000/").unwrap_err();
    /// assert!(err.to_string().contains("not a WebSocket scheme"));
    /// ```
    pub fn new(url: &str) -> Result<Self, ClientError> {
        Ok(ClientBuilder {
            target: Target::parse(url)?,
            policy: Policy::default(),
            client_id: None,
            defects: Defects::default(),
            tap: Tap::default(),
        })
    }

    /// Sends `Authorization: Bearer TOKEN` with every handshake (see
    /// `ServerConfig::token`). Refused when the token cannot be a header value.
    ///
    /// ```
    /// use wschaos::client::ClientBuilder;
    /// let builder = ClientBuilder::new("ws://127.0.0.1:9000/")?.bearer_token("s3cret")?;
    /// assert!(ClientBuilder::new("ws://127.0.0.1:9000/")?.bearer_token("bad\ntoken").is_err());
    /// # Ok::<(), wschaos::client::ClientError>(())
    /// ```
    pub fn bearer_token(mut self, token: &str) -> Result<Self, ClientError> {
        let value = format!("Bearer {token}");
        if tokio_tungstenite::tungstenite::http::HeaderValue::from_str(&value).is_err() {
            return Err(ClientError::InvalidUrl {
                url: self.target.url.clone(),
                reason: "the bearer token has characters a header cannot carry".into(),
            });
        }
        self.target
            .headers
            .retain(|(name, _)| name != "authorization");
        self.target.headers.push(("authorization".into(), value));
        Ok(self)
    }

    /// What a `wss://` client trusts, instead of the public roots (webpki-roots): a private
    /// CA or a self-signed server. Refused for a `ws://` URL, which would silently not use it.
    ///
    /// ```
    /// use wschaos::client::ClientBuilder;
    /// use wschaos::tls::ClientTls;
    /// let id = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    /// let trust = ClientTls::trusting_pem(id.cert.pem().as_bytes()).unwrap();
    /// let builder = ClientBuilder::new("wss://localhost:9443/")?.tls(trust.clone())?;
    /// assert!(ClientBuilder::new("ws://localhost:9000/")?.tls(trust).is_err());
    /// # Ok::<(), wschaos::client::ClientError>(())
    /// ```
    pub fn tls(mut self, trust: ClientTls) -> Result<Self, ClientError> {
        if self.target.tls.is_none() {
            return Err(ClientError::InvalidUrl {
                url: self.target.url.clone(),
                reason: "TLS settings given for a ws:// URL; use wss://".into(),
            });
        }
        self.target.tls = Some(trust);
        Ok(self)
    }

    /// Gives the client a deliberate bug that lives in its own state (wschaos's own
    /// tests, through [`crate::sim::DefectiveClient`], which injects the others from
    /// outside). Only with the `defects` feature.
    #[cfg(feature = "defects")]
    pub(crate) fn defect(mut self, defect: Defect) -> Self {
        debug_assert!(
            crate::sim::is_inside(defect),
            "{defect:?} is injected from outside"
        );
        self.defects = self.defects.with(defect);
        self
    }

    /// Reports every event to `tap` as it is emitted (the harness's causal history).
    pub(crate) fn tap(mut self, tap: Tap) -> Self {
        self.tap = tap;
        self
    }

    /// Sets the reconnect policy (default: [`Policy::default`]).
    ///
    /// ```no_run
    /// use wschaos::client::{ClientBuilder, Policy};
    /// let builder = ClientBuilder::new("ws://127.0.0.1:9000/")?
    ///     .policy(Policy { max_attempts: Some(3), ..Policy::default() });
    /// # Ok::<(), wschaos::client::ClientError>(())
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Names the client to the server (`?client=ID` in the URL). It must stay the same
    /// across reconnects so the server can drop duplicate publishes. Default: drawn from the
    /// RNG for a pub/sub client; none for a raw one.
    ///
    /// ```no_run
    /// use wschaos::client::ClientBuilder;
    /// let builder = ClientBuilder::new("ws://127.0.0.1:9000/")?.client_id("alice");
    /// # Ok::<(), wschaos::client::ClientError>(())
    /// ```
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// Builds a pub/sub client over `connector`, drawing jitter (and a default identity)
    /// from `rng`. Returns the handle and the connection task, which the caller spawns
    /// (`tokio::task::spawn_local` inside a turmoil host keeps a simulation deterministic).
    /// The task ends after [`Client::close`].
    ///
    /// ```no_run
    /// use rand::SeedableRng;
    /// use wschaos::client::ClientBuilder;
    /// use wschaos::net::TurmoilNet;
    /// # fn demo() -> Result<(), wschaos::client::ClientError> {
    /// // Inside a turmoil host: simulated TCP, a seeded RNG, spawn_local.
    /// let (client, task) = ClientBuilder::new("ws://server:9000/")?
    ///     .build(TurmoilNet, rand_chacha::ChaCha8Rng::seed_from_u64(7));
    /// tokio::task::spawn_local(task);
    /// # Ok(()) }
    /// ```
    pub fn build<C: Connector>(
        self,
        connector: C,
        mut rng: impl RngCore + Send + Sync + 'static,
    ) -> (Client, impl Future<Output = ()> + Send + 'static) {
        let id = self
            .client_id
            .clone()
            .unwrap_or_else(|| format!("c-{:016x}", rng.next_u64()));
        // The session tells this process's ids apart from an earlier process's under the
        // same client id, whose ids also started at 1.
        let drawn = rng.next_u64();
        let session = if self.defects.has(super::defects::Defect::ReusesSession) {
            // What a client that stored its session would send: the same every time.
            format!("{:016x}", crate::protocol::digest(id.as_bytes()))
        } else {
            format!("{drawn:016x}")
        };
        let target = self
            .target
            .with_query("client", &id)
            .with_query("session", &session);
        let session = PubSub::new(&self.policy, self.defects, self.tap.clone());
        let (handle, task) = start(
            session,
            self.tap,
            connector,
            target,
            self.policy,
            self.defects,
            rng,
        );
        (Client { handle, id }, task)
    }

    /// Builds a raw client (no protocol, any WebSocket server) over `connector`.
    ///
    /// ```no_run
    /// use rand::SeedableRng;
    /// use wschaos::client::ClientBuilder;
    /// use wschaos::net::TokioNet;
    /// # async fn demo() -> Result<(), wschaos::client::ClientError> {
    /// let (raw, task) = ClientBuilder::new("ws://127.0.0.1:9000/")?
    ///     .build_raw(TokioNet, rand_chacha::ChaCha8Rng::seed_from_u64(7));
    /// tokio::spawn(task);
    /// # Ok(()) }
    /// ```
    pub fn build_raw<C: Connector>(
        self,
        connector: C,
        rng: impl RngCore + Send + Sync + 'static,
    ) -> (RawClient, impl Future<Output = ()> + Send + 'static) {
        let session = RawSession::new(&self.policy, self.tap.clone(), self.defects);
        // No protocol, but an identity in the URL when given, as an app puts one there.
        let target = match &self.client_id {
            Some(id) => self.target.with_query("client", id),
            None => self.target,
        };
        let (handle, task) = start(
            session,
            self.tap,
            connector,
            target,
            self.policy,
            self.defects,
            rng,
        );
        (RawClient { handle }, task)
    }

    /// Real network convenience: builds over [`TokioNet`] with an OS-seeded RNG and
    /// `tokio::spawn`s the task. Must be called inside a tokio runtime. Never use it
    /// inside a simulation: the seed would not be reproducible.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wschaos::client::ClientError> {
    /// let client = wschaos::client::ClientBuilder::new("ws://127.0.0.1:9000/")?.spawn();
    /// # Ok(()) }
    /// ```
    pub fn spawn(self) -> Client {
        let (client, task) = self.build(TokioNet, rand::rngs::StdRng::from_os_rng());
        tokio::spawn(task);
        client
    }

    /// Real network convenience for [`RawClient`]; see [`ClientBuilder::spawn`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wschaos::client::ClientError> {
    /// let raw = wschaos::client::ClientBuilder::new("ws://127.0.0.1:9000/")?.spawn_raw();
    /// raw.send("hello")?;
    /// # Ok(()) }
    /// ```
    pub fn spawn_raw(self) -> RawClient {
        let (client, task) = self.build_raw(TokioNet, rand::rngs::StdRng::from_os_rng());
        tokio::spawn(task);
        client
    }
}

fn start<C: Connector, S: Session>(
    session: S,
    tap: Tap,
    connector: C,
    target: Target,
    policy: Policy,
    defects: Defects,
    rng: impl RngCore + Send + Sync + 'static,
) -> (Handle<S>, impl Future<Output = ()> + Send + 'static) {
    let shared = Shared::new(session, tap);
    let driver = Driver {
        connector,
        target,
        policy,
        rng: Box::new(rng),
        shared: shared.clone(),
        defects,
        #[cfg(feature = "defects")]
        lab: Default::default(),
    };
    (
        Handle {
            guard: Arc::new(CloseOnDrop(shared)),
        },
        driver.run(),
    )
}

/// Shared by every clone of a handle; the last one dropped closes the client.
struct CloseOnDrop<S: Session>(Arc<Shared<S>>);

impl<S: Session> Drop for CloseOnDrop<S> {
    fn drop(&mut self) {
        self.0.close();
    }
}

struct Handle<S: Session> {
    guard: Arc<CloseOnDrop<S>>,
}

impl<S: Session> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Handle {
            guard: self.guard.clone(),
        }
    }
}

impl<S: Session> Handle<S> {
    fn shared(&self) -> &Shared<S> {
        &self.guard.0
    }
}

/// The pub/sub client: topics survive reconnects, publishes are never lost silently.
///
/// Cheap to clone; every clone drives the same connection. Dropping the last clone closes it.
#[derive(Clone)]
pub struct Client {
    handle: Handle<PubSub>,
    id: String,
}

impl Client {
    /// Subscribes to `topic`. The stream survives every reconnect: the client restores the
    /// subscription itself, resuming after the last message seen. Subscribing again to a
    /// topic already held returns another stream and sends nothing.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut news = client.subscribe("news")?;
    /// while let Some(event) = news.next().await {
    ///     println!("{event:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn subscribe(&self, topic: &str) -> Result<Subscription, ClientError> {
        let rx = self
            .handle
            .shared()
            .with_session_and_wake(|s| s.subscribe(topic))?;
        Ok(Subscription::new(topic, rx))
    }

    /// Unsubscribes from `topic` and ends its streams. Returns false if it was not held.
    /// A topic unsubscribed while offline is not restored at the next connection.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let _news = client.subscribe("news")?;
    /// assert!(client.unsubscribe("news"));
    /// assert!(!client.unsubscribe("news"));
    /// # Ok(()) }
    /// ```
    pub fn unsubscribe(&self, topic: &str) -> bool {
        self.handle
            .shared()
            .with_session_and_wake(|s| s.unsubscribe(topic))
    }

    /// Publishes `data` to `topic` and returns the message id. Offline, the message waits in
    /// the outbox and is sent after the topics are restored; every message is resent until
    /// the server acknowledges it, and the server drops duplicates by id.
    ///
    /// ```no_run
    /// use wschaos::client::ClientError;
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// match client.publish("news", "hello") {
    ///     Ok(id) => println!("queued as {id}"),
    ///     Err(ClientError::OutboxFull { capacity }) => println!("{capacity} sends already waiting"),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn publish(&self, topic: &str, data: impl Into<String>) -> Result<u64, ClientError> {
        self.handle
            .shared()
            .with_session_and_wake(|s| s.publish(topic, data.into()))
    }

    /// The topics this client wants, in order.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let _b = client.subscribe("b")?;
    /// let _a = client.subscribe("a")?;
    /// assert_eq!(client.topics(), ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn topics(&self) -> Vec<String> {
        self.handle.shared().with_session(|s| s.topics())
    }

    /// Publishes not yet acknowledged by the server (queued or in flight).
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// client.publish("news", "x")?;
    /// println!("{} publishes not yet acknowledged", client.pending());
    /// # Ok(()) }
    /// ```
    pub fn pending(&self) -> usize {
        *self.handle.shared().with_session(|s| s.pending()).borrow()
    }

    /// Resolves once the server has acknowledged every publish made so far (at once when
    /// none is pending), or the client is closed.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), wschaos::client::ClientError> {
    /// client.publish("news", "bye")?;
    /// client.flushed().await;
    /// client.close();
    /// # Ok(()) }
    /// ```
    pub async fn flushed(&self) {
        let mut pending = self.handle.shared().with_session(|s| s.pending());
        let _ = pending.wait_for(|n| *n == 0).await;
    }

    /// Welcome, presence (who joined or left) and error events from the server, across
    /// reconnects.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use wschaos::client::ServerEvent;
    /// use wschaos::protocol::Change;
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut events = client.server_events();
    /// while let Some(Ok(event)) = events.next().await {
    ///     if let ServerEvent::Presence { changes, online } = event {
    ///         for change in &changes {
    ///             let verb = if change.joined() { "joined" } else { "left" };
    ///             println!("{} {verb}, {online} online", change.client());
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn server_events(&self) -> Broadcast<ServerEvent> {
        Broadcast::new(self.handle.shared().with_session(PubSub::server_events))
    }

    /// This client's identity at the server.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// println!("I am {}", client.id());
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The current status, as a `watch` a UI can lock on.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use wschaos::client::Status;
    /// let mut status = client.status();
    /// status.wait_for(|s| *s == Status::Connected).await?;
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> watch::Receiver<Status> {
        self.handle.shared().status()
    }

    /// Every status change from now on, each exactly once.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut changes = client.status_changes();
    /// while let Some(status) = changes.next().await {
    ///     println!("{}", status.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn status_changes(&self) -> StatusChanges {
        StatusChanges::new(self.handle.shared().status_changes())
    }

    /// Closes the client: status `Closed`, streams end, no dial or timer afterwards.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// client.close();
    /// assert_eq!(*client.status().borrow(), wschaos::client::Status::Closed);
    /// # Ok(()) }
    /// ```
    pub fn close(&self) {
        self.handle.shared().close();
    }

    /// After `Failed`, starts dialing again; while waiting in backoff, dials at once.
    /// Otherwise does nothing.
    ///
    /// ```no_run
    /// # async fn demo(client: wschaos::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use wschaos::client::Status;
    /// if matches!(*client.status().borrow(), Status::Failed { .. }) {
    ///     client.reconnect();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn reconnect(&self) {
        self.handle.shared().request_reconnect();
    }
}

/// The raw reconnecting WebSocket: works against any server. Incoming frames and the
/// sender survive reconnects; frames are delivered at most once.
#[derive(Clone)]
pub struct RawClient {
    handle: Handle<RawSession>,
}

impl RawClient {
    /// Queues a frame; it is sent as soon as a connection is up.
    ///
    /// ```no_run
    /// # async fn demo(raw: wschaos::client::RawClient) -> Result<(), Box<dyn std::error::Error>> {
    /// raw.send("hello")?;
    /// # Ok(()) }
    /// ```
    pub fn send(&self, frame: impl Into<Message>) -> Result<(), ClientError> {
        let frame = frame.into();
        self.handle
            .shared()
            .with_session_and_wake(|s| s.send(frame))
    }

    /// Every text and binary frame received, across reconnects, until closed.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn demo(raw: wschaos::client::RawClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut frames = raw.incoming();
    /// while let Some(Ok(frame)) = frames.next().await {
    ///     println!("{frame}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn incoming(&self) -> Broadcast<Message> {
        Broadcast::new(self.handle.shared().with_session(RawSession::incoming))
    }

    /// The current status, as a `watch` a UI can lock on.
    ///
    /// ```no_run
    /// # async fn demo(raw: wschaos::client::RawClient) -> Result<(), Box<dyn std::error::Error>> {
    /// use wschaos::client::Status;
    /// let mut status = raw.status();
    /// status.wait_for(|s| *s == Status::Connected).await?;
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> watch::Receiver<Status> {
        self.handle.shared().status()
    }

    /// Every status change from now on, each exactly once.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn demo(raw: wschaos::client::RawClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut changes = raw.status_changes();
    /// while let Some(status) = changes.next().await {
    ///     println!("{}", status.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn status_changes(&self) -> StatusChanges {
        StatusChanges::new(self.handle.shared().status_changes())
    }

    /// Closes the client: status `Closed`, streams end, no dial or timer afterwards.
    ///
    /// ```no_run
    /// # async fn demo(raw: wschaos::client::RawClient) -> Result<(), Box<dyn std::error::Error>> {
    /// raw.close();
    /// assert_eq!(*raw.status().borrow(), wschaos::client::Status::Closed);
    /// # Ok(()) }
    /// ```
    pub fn close(&self) {
        self.handle.shared().close();
    }

    /// After `Failed`, starts dialing again; while waiting in backoff, dials at once.
    ///
    /// ```no_run
    /// # async fn demo(raw: wschaos::client::RawClient) -> Result<(), Box<dyn std::error::Error>> {
    /// use wschaos::client::Status;
    /// if matches!(*raw.status().borrow(), Status::Failed { .. }) {
    ///     raw.reconnect();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn reconnect(&self) {
        self.handle.shared().request_reconnect();
    }
}
