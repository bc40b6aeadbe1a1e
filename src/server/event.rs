//! What the server saw, reported to an observer in the order it happened.

use serde::Serialize;

use crate::protocol::{GapReason, Position};

/// A connection's number, unique within one run of the server.
pub type ConnId = u64;

/// One thing the server saw. The simulation records these; tests assert on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A handshake completed.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The client's identity.
        client: String,
        /// Clients online, this one included.
        online: u64,
    },
    /// A handshake failed or was refused.
    Refused {
        /// Why.
        reason: String,
    },
    /// A connection ended.
    Disconnected {
        /// The connection.
        conn: ConnId,
        /// The client's identity.
        client: String,
        /// Why it ended.
        reason: String,
        /// Clients online after it left.
        online: u64,
    },
    /// A client subscribed (or resubscribed) to a topic.
    Subscribed {
        /// The connection.
        conn: ConnId,
        /// The client.
        client: String,
        /// The topic.
        topic: String,
        /// The position the client resumed from, if any.
        resume: Option<Position>,
        /// Set when the resume could not be honoured in full.
        gap: Option<GapReason>,
    },
    /// A client unsubscribed.
    Unsubscribed {
        /// The connection.
        conn: ConnId,
        /// The client.
        client: String,
        /// The topic.
        topic: String,
    },
    /// A client published; `seq` is `None` when the message was a duplicate and dropped.
    Published {
        /// The connection.
        conn: ConnId,
        /// The client.
        client: String,
        /// The topic.
        topic: String,
        /// The client's message id.
        id: u64,
        /// The sequence assigned, or `None` for a dropped duplicate.
        seq: Option<u64>,
    },
    /// The broadcast server relayed a client's text frame to every connection open then.
    Relayed {
        /// The sender's connection.
        conn: ConnId,
        /// The sender.
        client: String,
        /// The frame's length in bytes.
        len: usize,
        /// Its fingerprint ([`crate::protocol::digest`]).
        digest: u64,
        /// How many connections it was queued for (the sender's included).
        to: u64,
    },
    /// A client closed its connection cleanly: its close frame arrived (the server answers
    /// it and the connection ends; a `disconnected` follows).
    ClientClosed {
        /// The connection.
        conn: ConnId,
        /// The client.
        client: String,
        /// The code in its close frame, if it gave one.
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u16>,
    },
    /// A client sent something the server refused (an error frame or a close followed).
    Rejected {
        /// The connection.
        conn: ConnId,
        /// The client.
        client: String,
        /// What was wrong.
        reason: String,
    },
}
