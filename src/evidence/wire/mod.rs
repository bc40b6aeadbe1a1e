//! The wire as evidence: what each frame of a client's connection says, decoded into typed
//! events a checker can judge, whatever protocol the client speaks.
//!
//! A [`Decoder`] reads one connection's text frames, in both directions, in order, and says
//! what each one means: a subscription asked, confirmed, refused or ended; a message
//! delivered (with the id or sequence the protocol has, if any); a publish; the connection
//! ready; a heartbeat; an error. It keeps whatever state its protocol needs to say that
//! (graphql-transport-ws names a subscription by an id chosen at subscribe time; Phoenix
//! replies by ref), and a new connection gets a new decoder. WebSocket control frames
//! (close, ping, pong) are read by the harness, not by decoders.
//!
//! Built in: [`Wschaos`] (this crate's protocol), [`Broadcast`] (the original article's),
//! [`GraphqlTransportWs`] and [`Phoenix`] (Channels v2 JSON). A protocol of JSON frames can
//! be declared without code in a scenario file's `[protocol]` table ([`Declared`]). A
//! protocol of your own in Rust is a small implementation of [`Decoder`], which a client
//! under test names in [`crate::sim::ClientUnderTest::wire`] to have its frames read so:
//!
//! ```
//! use wschaos::evidence::wire::{Decoder, Direction, WireEvent};
//!
//! /// `{"op":"join","room":"r"}` up, `{"op":"joined","room":"r"}` and
//! /// `{"op":"say","room":"r","n":7,"text":"hi"}` down.
//! #[derive(Default)]
//! struct Rooms;
//!
//! impl Decoder for Rooms {
//!     fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>) {
//!         let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
//!             return out.push(WireEvent::Unknown);
//!         };
//!         let room = v["room"].as_str().map(str::to_string);
//!         out.push(match (dir, v["op"].as_str(), room) {
//!             (Direction::ToServer, Some("join"), Some(topic)) => {
//!                 WireEvent::Subscribe { topic, id: None }
//!             }
//!             (Direction::ToServer, Some("leave"), topic) => {
//!                 WireEvent::Unsubscribe { topic, id: None }
//!             }
//!             (Direction::ToClient, Some("joined"), topic) => {
//!                 WireEvent::Subscribed { topic, id: None }
//!             }
//!             (Direction::ToClient, Some("say"), topic) => WireEvent::Delivered {
//!                 topic,
//!                 id: None,
//!                 seq: v["n"].as_u64(),
//!             },
//!             _ => WireEvent::Unknown,
//!         });
//!     }
//! }
//!
//! let mut rooms = Rooms;
//! let mut seen = Vec::new();
//! rooms.text(Direction::ToServer, r#"{"op":"join","room":"lobby"}"#, &mut seen);
//! rooms.text(Direction::ToClient, r#"{"op":"say","room":"lobby","n":1,"text":"hi"}"#, &mut seen);
//! assert_eq!(seen[0], WireEvent::Subscribe { topic: "lobby".into(), id: None });
//! assert_eq!(
//!     seen[1],
//!     WireEvent::Delivered { topic: Some("lobby".into()), id: None, seq: Some(1) }
//! );
//! ```

mod broadcast;
mod declared;
mod graphql_transport_ws;
mod phoenix;
pub(crate) mod reader;
mod wschaos;

pub use broadcast::Broadcast;
pub use declared::Declared;
pub use graphql_transport_ws::GraphqlTransportWs;
pub use phoenix::Phoenix;
pub use wschaos::Wschaos;

use serde::Serialize;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// What one frame says. A frame may say nothing a checker judges ([`WireEvent::Other`]) or
/// nothing the decoder understood ([`WireEvent::Unknown`]): both are said, never guessed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "wire", rename_all = "snake_case")]
pub enum WireEvent {
    /// The client asks to start the connection (graphql-transport-ws `connection_init`).
    Hello,
    /// The server says the connection is ready for subscriptions (a welcome, an ack).
    Ready,
    /// The client asks for a subscription: its topic, and the protocol's id for it.
    Subscribe {
        /// What it subscribes to, as the protocol names it.
        topic: String,
        /// The protocol's id for this subscription, if it has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The server confirms a subscription.
    Subscribed {
        /// Its topic, when the frame or the decoder's state tells it.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The protocol's id for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The server refuses a subscription.
    Refused {
        /// Its topic, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The protocol's id for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// What the server said.
        reason: String,
    },
    /// The client ends a subscription.
    Unsubscribe {
        /// Its topic, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The protocol's id for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The server ends a subscription (graphql-transport-ws `complete` from the server,
    /// Phoenix `phx_close`).
    Ended {
        /// Its topic, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The protocol's id for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A message delivered to the client.
    Delivered {
        /// Its topic, when the protocol has topics.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The message's or the publisher's id, when the protocol carries one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Its sequence number, when the protocol numbers messages.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A message the client publishes.
    Publish {
        /// Its topic, when the protocol has topics.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The client's id for it, when the protocol carries one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A heartbeat of the protocol's own (not a WebSocket ping), either way.
    Heartbeat,
    /// An error the peer reported, not tied to one subscription.
    Error {
        /// What it said.
        message: String,
    },
    /// The connection's end, as the harness saw it pass (decoders never say it): a close
    /// frame either way, with its code, or the stream's end without one.
    Closed {
        /// The close frame's code; `None` for a stream that ended without one (or a close
        /// frame without a code).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u16>,
    },
    /// A frame the protocol defines that no checker judges (presence, an ack).
    Other,
    /// A frame the decoder did not understand.
    Unknown,
}

impl std::fmt::Display for WireEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named = |f: &mut std::fmt::Formatter<'_>,
                     what: &str,
                     topic: Option<&str>,
                     id: &Option<String>| {
            write!(f, "{what}")?;
            if let Some(topic) = topic {
                write!(f, " {topic}")?;
            }
            match id {
                Some(id) => write!(f, " (id {id})"),
                None => Ok(()),
            }
        };
        match self {
            WireEvent::Hello => f.write_str("hello"),
            WireEvent::Ready => f.write_str("ready"),
            WireEvent::Subscribe { topic, id } => named(f, "subscribe", Some(topic), id),
            WireEvent::Subscribed { topic, id } => named(f, "subscribed", topic.as_deref(), id),
            WireEvent::Refused { topic, id, reason } => {
                named(f, "refused", topic.as_deref(), id)?;
                write!(f, ": {reason}")
            }
            WireEvent::Unsubscribe { topic, id } => named(f, "unsubscribe", topic.as_deref(), id),
            WireEvent::Ended { topic, id } => named(f, "ended", topic.as_deref(), id),
            WireEvent::Delivered { topic, id, .. } => named(f, "delivered", topic.as_deref(), id),
            WireEvent::Publish { topic, id } => named(f, "publish", topic.as_deref(), id),
            WireEvent::Heartbeat => f.write_str("heartbeat"),
            WireEvent::Error { message } => write!(f, "error: {message}"),
            WireEvent::Closed { code: Some(code) } => write!(f, "close {code}"),
            WireEvent::Closed { code: None } => f.write_str("end of stream"),
            WireEvent::Other => f.write_str("other"),
            WireEvent::Unknown => f.write_str("a frame its protocol does not define"),
        }
    }
}

impl WireEvent {
    /// True for what the history records from the wire: what starts, ends or refuses the
    /// connection's readiness or a subscription, and what the decoder could not read.
    pub fn recorded(&self) -> bool {
        !matches!(
            self,
            WireEvent::Delivered { .. }
                | WireEvent::Publish { .. }
                | WireEvent::Heartbeat
                | WireEvent::Other
        )
    }
}

/// Reads one connection's text frames, in order, both ways, as evidence.
pub trait Decoder: Send {
    /// What the text frame `text`, going `dir`, says: appended to `out` (usually one
    /// event; none or several where the protocol packs them so).
    fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>);

    /// True when `text`, going `dir`, can only say something routine (a delivery, a
    /// publish, a heartbeat, presence: nothing that starts, ends or refuses the connection's
    /// readiness or a subscription), told by a cheap look such as a prefix. A caller that
    /// keeps only the rest (the simulation's tap, see [`WireEvent::recorded`]) skips such
    /// frames undecoded: they are most of a connection's traffic. The default, `false`,
    /// has every frame decoded.
    fn routine(&self, dir: Direction, text: &str) -> bool {
        let _ = (dir, text);
        false
    }

    /// The server accepted the WebSocket upgrade (HTTP 101): what that says, appended to
    /// `out`. For a protocol with no greeting of its own (Phoenix, the article's broadcast),
    /// the connection is ready from here: [`WireEvent::Ready`]. The default says nothing.
    fn upgraded(&mut self, out: &mut Vec<WireEvent>) {
        let _ = out;
    }
}

/// Which decoder reads a connection: a built-in protocol's, one a scenario file declares in
/// its `[protocol]` table, or one of your own in Rust
/// ([`crate::sim::ClientUnderTest::wire`]).
#[derive(Clone)]
pub enum Wire {
    /// A protocol wschaos knows.
    Builtin(crate::protocol::Protocol),
    /// A protocol the scenario file declares.
    Declared(std::sync::Arc<Declared>),
    /// A decoder of your own, made anew for each connection.
    Custom(fn() -> Box<dyn Decoder>),
}

impl Wire {
    /// A decoder for one connection.
    pub fn decoder(&self) -> Box<dyn Decoder> {
        match self {
            Wire::Builtin(p) => for_protocol(*p),
            Wire::Declared(d) => d.decoder(),
            Wire::Custom(make) => make(),
        }
    }
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wire::Builtin(p) => write!(f, "Builtin({})", p.name()),
            Wire::Declared(d) => write!(f, "Declared({})", d.name),
            Wire::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// Two wires are the same when they read the same way; a decoder of your own is never the
/// same as another (functions have no meaningful equality).
impl PartialEq for Wire {
    fn eq(&self, other: &Wire) -> bool {
        match (self, other) {
            (Wire::Builtin(a), Wire::Builtin(b)) => a == b,
            (Wire::Declared(a), Wire::Declared(b)) => a == b,
            _ => false,
        }
    }
}

impl From<crate::protocol::Protocol> for Wire {
    fn from(p: crate::protocol::Protocol) -> Wire {
        Wire::Builtin(p)
    }
}

/// The decoder for a built-in server protocol.
pub fn for_protocol(protocol: crate::protocol::Protocol) -> Box<dyn Decoder> {
    match protocol {
        crate::protocol::Protocol::Wschaos => Box::new(Wschaos),
        crate::protocol::Protocol::Broadcast => Box::new(Broadcast),
        crate::protocol::Protocol::GraphqlTransportWs => Box::<GraphqlTransportWs>::default(),
        crate::protocol::Protocol::Phoenix => Box::<Phoenix>::default(),
    }
}

/// `text` parsed as JSON, or `None` (the caller says [`WireEvent::Unknown`]).
fn json(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text).ok()
}

/// A JSON field as an owned string: a string as is, a number in decimal.
fn string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) fn decode_all(
    decoder: &mut dyn Decoder,
    frames: &[(Direction, &str)],
) -> Vec<WireEvent> {
    let mut out = Vec::new();
    for (dir, text) in frames {
        decoder.text(*dir, text, &mut out);
    }
    out
}
