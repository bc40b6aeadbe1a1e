//! What subscribers receive, and the streams that carry it across reconnects.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::Changes;
use super::Status;
use crate::protocol::{ErrorCode, GapReason};

/// A message delivered on a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The topic.
    pub topic: String,
    /// The server epoch the sequence number belongs to.
    pub epoch: u64,
    /// The topic's sequence number in that epoch.
    pub seq: u64,
    /// The publishing client.
    pub from: String,
    /// The publisher's message id.
    pub id: u64,
    /// The payload.
    pub data: String,
    /// The server's number for the connection it arrived on (from its welcome; 0 when
    /// unknown). With `epoch` it names one connection at the server.
    pub conn: u64,
}

/// One item of a [`Subscription`]: a message, or an explicit notice that messages were missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TopicEvent {
    /// A message.
    Message(Delivery),
    /// Messages were missed and cannot be recovered; delivery continues at `next_seq`.
    Gap {
        /// The topic.
        topic: String,
        /// Why they were missed.
        reason: GapReason,
        /// The server epoch `next_seq` belongs to (0 when unknown, for a local lag).
        epoch: u64,
        /// The next sequence that will be delivered (0 when unknown, for a local lag).
        next_seq: u64,
    },
}

/// Server-wide events: the welcome of each connection, presence, and server errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerEvent {
    /// A connection was accepted; the server's epoch and the identity it gave this client.
    Welcome {
        /// The server epoch.
        epoch: u64,
        /// This client's identity.
        client: String,
        /// Clients online, this one included.
        online: u64,
    },
    /// Clients came or went: the changes of one `presence` frame, oldest first (a server
    /// gathers them, so a restart's reconnect storm arrives in a few events, not one per
    /// client). A server speaking the article's broadcast protocol gives one change each.
    Presence {
        /// Who joined or left, in order.
        changes: Changes,
        /// Clients online now.
        online: u64,
    },
    /// The server refused a request.
    Error {
        /// The error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The server sent a frame outside the protocol (it may not be a wschaos server).
    Unintelligible {
        /// What could not be understood.
        error: String,
    },
}

/// The stream of one topic. It keeps yielding across reconnects and ends when the topic is
/// unsubscribed or the client is closed. Falling more than `Policy::subscriber_buffer`
/// events behind yields a [`TopicEvent::Gap`] with reason `Lagged` instead of the skipped events.
///
/// ```no_run
/// # async fn demo(client: wschaos::client::Client) {
/// use futures::StreamExt;
/// let mut news = client.subscribe("news").unwrap();
/// while let Some(event) = news.next().await {
///     println!("{event:?}");
/// }
/// # }
/// ```
pub struct Subscription {
    topic: String,
    inner: BroadcastStream<Arc<TopicEvent>>,
}

impl Subscription {
    pub(crate) fn new(topic: &str, rx: broadcast::Receiver<Arc<TopicEvent>>) -> Self {
        Subscription {
            topic: topic.to_string(),
            inner: BroadcastStream::new(rx),
        }
    }

    /// The topic this stream carries.
    ///
    /// ```
    /// # fn demo(client: wschaos::client::Client) -> Result<(), wschaos::client::ClientError> {
    /// assert_eq!(client.subscribe("news")?.topic(), "news");
    /// # Ok(()) }
    /// ```
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl Stream for Subscription {
    type Item = TopicEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TopicEvent>> {
        let topic = self.topic.clone();
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|r| match r {
                Ok(event) => Arc::unwrap_or_clone(event),
                Err(BroadcastStreamRecvError::Lagged(_)) => lagged(topic),
            })
        })
    }
}

fn lagged(topic: String) -> TopicEvent {
    TopicEvent::Gap {
        topic,
        reason: GapReason::Lagged,
        epoch: 0,
        next_seq: 0,
    }
}

/// A stream over a broadcast channel where falling behind yields `Err(Lagged(n))`.
///
/// The channel carries `Arc<T>`: its buffer (`subscriber_buffer` slots, allocated up front)
/// then costs a pointer per slot, not a whole item.
pub struct Broadcast<T> {
    inner: BroadcastStream<Arc<T>>,
}

/// `n` items were skipped because the reader fell behind its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("fell behind: {0} items skipped")]
pub struct Lagged(pub u64);

impl<T: Clone + Send + Sync + 'static> Broadcast<T> {
    pub(crate) fn new(rx: broadcast::Receiver<Arc<T>>) -> Self {
        Broadcast {
            inner: BroadcastStream::new(rx),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Stream for Broadcast<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|r| {
                r.map(Arc::unwrap_or_clone)
                    .map_err(|BroadcastStreamRecvError::Lagged(n)| Lagged(n))
            })
        })
    }
}

/// Every status change, each exactly once, starting with the status at the time of the call.
/// Ends after `Closed`. Unbounded: keep reading it, or drop it.
pub struct StatusChanges {
    inner: mpsc::UnboundedReceiver<Status>,
}

impl StatusChanges {
    pub(crate) fn new(inner: mpsc::UnboundedReceiver<Status>) -> Self {
        StatusChanges { inner }
    }
}

impl Stream for StatusChanges {
    type Item = Status;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Status>> {
        self.inner.poll_recv(cx)
    }
}
