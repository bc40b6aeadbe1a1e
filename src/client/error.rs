//! Errors a client user can act on.

use thiserror::Error;

/// An error from building or using a client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The URL could not be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The outbox holds `capacity` sends already; retry later or raise `Policy::outbox_capacity`.
    #[error(
        "outbox full: {capacity} sends are waiting for the connection (Policy::outbox_capacity)"
    )]
    OutboxFull {
        /// The configured capacity.
        capacity: usize,
    },
    /// The client was closed; nothing more can be sent.
    #[error("the client is closed")]
    Closed,
    /// The topic name is not allowed.
    #[error("bad topic name {topic:?}: {reason}")]
    BadTopic {
        /// The topic given.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
}
