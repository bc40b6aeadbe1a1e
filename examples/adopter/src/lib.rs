//! A small chat client: rooms to join and leave, messages to say, one status to show.
//! It runs over wschaos's reconnecting client, which restores the joined rooms after every
//! reconnect; the app's own logic is the room bookkeeping around it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use wschaos::client::{Client, ClientBuilder, ClientError, Policy, Subscription};
use wschaos::net::Connector;

/// A chat session.
pub struct Chat {
    client: Client,
    rooms: Mutex<BTreeSet<String>>,
}

impl Chat {
    /// A session for `user` at `url` over `connector`, with `rng` for jitter. Returns the
    /// session and its connection task, which the caller spawns.
    pub fn new<C: Connector>(
        url: &str,
        user: &str,
        policy: Policy,
        connector: C,
        rng: impl rand_core::RngCore + Send + Sync + 'static,
    ) -> Result<(Chat, impl Future<Output = ()> + Send + 'static), ClientError> {
        let (client, task) = ClientBuilder::new(url)?
            .policy(policy)
            .client_id(user)
            .build(connector, rng);
        let chat = Chat {
            client,
            rooms: Mutex::new(BTreeSet::new()),
        };
        Ok((chat, task))
    }

    /// The underlying client (its status and server events).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Joins `room`: its messages arrive on the stream, across reconnects. `None` when
    /// already in it.
    pub fn join(&self, room: &str) -> Result<Option<Subscription>, ClientError> {
        if !self.lock().insert(room.to_string()) {
            return Ok(None);
        }
        self.client.subscribe(room).map(Some)
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        if self.lock().remove(room) && !cfg!(feature = "bug") {
            self.client.unsubscribe(room);
        }
    }

    /// The rooms joined.
    pub fn rooms(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    /// Says `text` in `room`; queued while offline. Returns the message id.
    pub fn say(&self, room: &str, text: String) -> Result<u64, ClientError> {
        self.client.publish(room, text)
    }

    /// Ends the session for good.
    pub fn quit(&self) {
        self.client.close();
    }

    /// Tries again after the client gave up.
    pub fn retry(&self) {
        self.client.reconnect();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
