//! The wire protocol between the pub/sub client and the broadcast server.
//!
//! Every frame is one WebSocket text frame holding one JSON object with a `type` field.
//! The client names itself in the URL query (`ws://host:port/?client=ID`) so the server can
//! announce it at the handshake and deduplicate its messages across reconnects.
//!
//! ```
//! use wschaos::protocol::{ClientFrame, ServerFrame};
//! let frame = ClientFrame::Subscribe { topic: "news".into(), resume: None };
//! assert_eq!(frame.to_json(), r#"{"type":"subscribe","topic":"news"}"#);
//! let back: ClientFrame = serde_json::from_str(&frame.to_json()).unwrap();
//! assert_eq!(back, frame);
//! # let _ = ServerFrame::Unsubscribed { topic: "news".into() };
//! ```

use serde::{Deserialize, Serialize};

/// Where a subscriber stopped reading a topic: the server epoch and the last sequence seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// The server epoch the sequence belongs to; sequences restart when the epoch changes.
    pub epoch: u64,
    /// The last sequence number delivered to the subscriber.
    pub seq: u64,
}

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Start receiving a topic; `resume` asks for everything after a known position.
    Subscribe {
        /// The topic name.
        topic: String,
        /// Resume after this position instead of starting from now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Position>,
    },
    /// Stop receiving a topic.
    Unsubscribe {
        /// The topic name.
        topic: String,
    },
    /// Publish a message to every subscriber of a topic.
    Publish {
        /// The topic name.
        topic: String,
        /// Per-client message id, strictly increasing; the server drops an id it has seen.
        id: u64,
        /// The payload.
        data: String,
    },
}

/// Why a subscriber missed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The server restarted: messages of the previous epoch after the position are gone.
    Epoch,
    /// The server's bounded history no longer holds the messages after the position.
    History,
    /// The position is ahead of anything the server knows (it lost its state).
    Unknown,
    /// The local subscriber fell behind its buffer and messages were skipped for it.
    Lagged,
    /// The client saw sequence numbers skipped (or a new epoch) with no notice from the
    /// server, and says so rather than pass the loss on in silence.
    Missed,
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    /// First frame on every connection.
    Welcome {
        /// The server's epoch, different at every start.
        epoch: u64,
        /// The identity the server gave this connection's client.
        client: String,
        /// Clients online, this one included.
        online: u64,
        /// The server's number for this connection, unique within the epoch (0 for one it
        /// never registered, such as a flap's).
        #[serde(default)]
        conn: u64,
    },
    /// Who came and went since the last presence frame, in order, and how many are online
    /// now. The server gathers changes for `presence_every` (or until it sends any other
    /// frame) and sends each connection one frame with the changes made while it was
    /// connected (its own join included): each change reaches each client connected at that
    /// moment exactly once, in as few frames as a restart's reconnect storm allows.
    Presence {
        /// The changes, oldest first.
        changes: Vec<Change>,
        /// Clients online when the frame was sent.
        online: u64,
    },
    /// A client connected (the article's broadcast protocol, [`Protocol::Broadcast`]:
    /// sent at once to every connected client, the new one included).
    Joined {
        /// Who joined.
        client: String,
        /// Clients online after the join.
        online: u64,
    },
    /// A client disconnected ([`Protocol::Broadcast`]: sent at once to every remaining
    /// client).
    Left {
        /// Who left.
        client: String,
        /// Clients online after the leave.
        online: u64,
    },
    /// A subscription is in place; messages after `seq` follow.
    Subscribed {
        /// The topic name.
        topic: String,
        /// The server epoch.
        epoch: u64,
        /// The topic's last sequence at the moment of subscribing (before any replay).
        seq: u64,
    },
    /// A subscription was removed.
    Unsubscribed {
        /// The topic name.
        topic: String,
    },
    /// A message published to a topic.
    Message {
        /// The topic name.
        topic: String,
        /// The topic's sequence number of this message, starting at 1 in each epoch.
        seq: u64,
        /// The publishing client.
        from: String,
        /// The publisher's message id.
        id: u64,
        /// The payload.
        data: String,
    },
    /// Messages after a resume position cannot be replayed.
    Gap {
        /// The topic name.
        topic: String,
        /// Why they cannot.
        reason: GapReason,
        /// The first sequence that follows in the current epoch (replay resumes from here).
        next_seq: u64,
    },
    /// A published message was accepted (or was a duplicate and dropped).
    Ack {
        /// The publisher's message id.
        id: u64,
        /// True when the id had been seen before and the message was not delivered again.
        duplicate: bool,
    },
    /// The request could not be served; the connection stays open.
    Error {
        /// A stable machine-readable code.
        code: ErrorCode,
        /// A human-readable explanation.
        message: String,
    },
}

/// One change of who is online, in a [`ServerFrame::Presence`]:
/// `{"joined":"subs-1"}` or `{"left":"subs-1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// This client connected.
    Joined(String),
    /// This client disconnected.
    Left(String),
}

impl Change {
    /// Who came or went.
    pub fn client(&self) -> &str {
        match self {
            Change::Joined(c) | Change::Left(c) => c,
        }
    }

    /// True for a join.
    pub fn joined(&self) -> bool {
        matches!(self, Change::Joined(_))
    }
}

/// Machine-readable error codes of [`ServerFrame::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known operation.
    BadFrame,
    /// A topic name is empty, too long or has control characters.
    BadTopic,
    /// The connection holds the maximum number of subscriptions.
    TooManySubscriptions,
}

impl ClientFrame {
    /// Serialises the frame as the JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialise")
    }
}

impl ServerFrame {
    /// Serialises the frame as the JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }

    /// Parses a frame from its JSON text: exactly what `serde_json::from_str` accepts and
    /// returns, faster for the frames a client receives most.
    ///
    /// An internally tagged enum (`"type"` inside the object) makes serde buffer the whole
    /// object before it knows which variant to read: for a `presence` frame of 1,000 names,
    /// a thousand extra allocations. A frame as this server writes it starts with its
    /// `"type"`, so a `message` or `presence` frame is read straight into its variant; any
    /// other text, and any text that fails that way, goes through serde's own path, so
    /// errors and edge cases are serde's.
    ///
    /// ```
    /// use wschaos::protocol::ServerFrame;
    /// let text = r#"{"type":"message","topic":"t","seq":1,"from":"a","id":2,"data":"hi"}"#;
    /// let frame = ServerFrame::from_json(text).unwrap();
    /// assert_eq!(frame, serde_json::from_str(text).unwrap());
    /// assert!(ServerFrame::from_json(r#"{"type":"message","topic":"t"}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<ServerFrame, serde_json::Error> {
        let tag = text
            .strip_prefix(r#"{"type":""#)
            .and_then(|rest| rest.split_once('"'))
            .map(|(tag, _)| tag);
        let direct = match tag {
            Some("message") => serde_json::from_str::<direct::Message>(text)
                .ok()
                .map(ServerFrame::from),
            Some("presence") => serde_json::from_str::<direct::Presence>(text)
                .ok()
                .map(ServerFrame::from),
            _ => None,
        };
        match direct {
            Some(frame) => Ok(frame),
            None => serde_json::from_str(text),
        }
    }
}

/// The variants [`ServerFrame::from_json`] reads without buffering: the same fields, plus
/// the `type` it has already looked at.
mod direct {
    use serde::Deserialize;
    use serde::de::IgnoredAny;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Message {
        #[serde(rename = "type")]
        _type: IgnoredAny,
        topic: String,
        seq: u64,
        from: String,
        id: u64,
        data: String,
    }

    impl From<Message> for super::ServerFrame {
        fn from(m: Message) -> Self {
            super::ServerFrame::Message {
                topic: m.topic,
                seq: m.seq,
                from: m.from,
                id: m.id,
                data: m.data,
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Presence {
        #[serde(rename = "type")]
        _type: IgnoredAny,
        changes: Vec<super::Change>,
        online: u64,
    }

    impl From<Presence> for super::ServerFrame {
        fn from(p: Presence) -> Self {
            super::ServerFrame::Presence {
                changes: p.changes,
                online: p.online,
            }
        }
    }
}

/// Checks a topic name: 1 to [`MAX_TOPIC_LEN`] bytes, no control characters.
///
/// ```
/// use wschaos::protocol::validate_topic;
/// assert!(validate_topic("news").is_ok());
/// assert!(validate_topic("").is_err());
/// ```
pub fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("topic name is empty".into());
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(format!(
            "topic name is {} bytes, the limit is {MAX_TOPIC_LEN}",
            topic.len()
        ));
    }
    if topic.chars().any(char::is_control) {
        return Err("topic name contains a control character".into());
    }
    Ok(())
}

/// Bytes read from the socket at a time, client and server. tungstenite zeroes its read
/// buffer up to this size before every read (128 KiB by default), which dominated the
/// simulation's profile; 8 KiB still takes many small frames per read.
pub(crate) const READ_BUFFER: usize = 2 * 1024;

/// Bytes a connection gathers before writing them to the socket (tungstenite's
/// `write_buffer_size`, 128 KiB by default). Its buffer keeps the largest size it reached,
/// so this, with [`PRESENCE_CHUNK`], bounds what each idle connection holds.
pub(crate) const WRITE_BUFFER: usize = 8 * 1024;

/// The most changes one `presence` frame carries. More go out in several frames, in
/// order, cut at multiples of this within each gathering, so that clients hearing the same
/// stretch get the same frames.
pub const PRESENCE_CHUNK: usize = 128;

/// The longest topic name, in bytes.
pub const MAX_TOPIC_LEN: usize = 128;

/// Which protocol the built-in server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// This module's: topics, sequences, resume, acknowledged publishes, presence.
    #[default]
    Wschaos,
    /// The original article's aiohttp server: every text frame from a client is relayed,
    /// unchanged, to every client connected at that moment (its sender too), and each join
    /// and leave goes to everyone (`joined` and `left` frames, as here). No welcome, no
    /// topics, no resume: a frame in flight when a connection drops is gone.
    Broadcast,
    /// graphql-transport-ws, the protocol of npm `graphql-ws` (Apollo, urql): a
    /// subscription's topic is its `variables.topic`; a mutation publishes. No resume: a
    /// message published while a client was away is not sent again.
    #[serde(rename = "graphql-transport-ws", alias = "graphql_transport_ws")]
    GraphqlTransportWs,
    /// Phoenix Channels (v2 JSON, npm `phoenix`): a channel's topic is a topic, a push of
    /// any other event on a joined channel publishes. No resume.
    Phoenix,
}

impl Protocol {
    /// Its name in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Wschaos => "wschaos",
            Protocol::Broadcast => "broadcast",
            Protocol::GraphqlTransportWs => "graphql-transport-ws",
            Protocol::Phoenix => "phoenix",
        }
    }

    /// True for the protocols the reference client speaks (a simulated run of the
    /// reference client needs one of these).
    pub fn spoken_by_reference_client(self) -> bool {
        matches!(self, Protocol::Wschaos | Protocol::Broadcast)
    }
}

/// A frame's fingerprint in histories (FNV-1a, 64 bits, over its payload): the broadcast
/// server's record of what it relayed and the clients' of what they received name the same
/// frame by it, without keeping every payload. Stable across platforms and runs.
///
/// ```
/// assert_eq!(wschaos::protocol::digest(b""), 0xcbf2_9ce4_8422_2325);
/// assert_ne!(wschaos::protocol::digest(b"a#1"), wschaos::protocol::digest(b"a#2"));
/// ```
pub fn digest(payload: &[u8]) -> u64 {
    payload.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_round_trip() {
        let frames = [
            ServerFrame::Welcome {
                epoch: 7,
                client: "a".into(),
                online: 2,
                conn: 3,
            },
            ServerFrame::Gap {
                topic: "t".into(),
                reason: GapReason::Epoch,
                next_seq: 1,
            },
            ServerFrame::Message {
                topic: "t".into(),
                seq: 3,
                from: "b".into(),
                id: 9,
                data: "x".into(),
            },
            ServerFrame::Error {
                code: ErrorCode::BadTopic,
                message: "no".into(),
            },
        ];
        for frame in frames {
            let back: ServerFrame = serde_json::from_str(&frame.to_json()).unwrap();
            assert_eq!(back, frame);
        }
    }

    /// `from_json` and serde's own decode agree on every text: frames as the server writes
    /// them, and the same texts with a byte deleted, inserted or changed, fields swapped,
    /// the type repeated (both `Ok` with the same frame, or both `Err`).
    #[test]
    fn the_direct_decode_agrees_with_serde_on_frames_and_their_mutations() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        let samples = [
            ServerFrame::Message {
                topic: "news".into(),
                seq: 3,
                from: "pub-0".into(),
                id: 9,
                data: "x \"quoted\" \u{e9}\n".into(),
            },
            ServerFrame::Presence {
                changes: vec![Change::Joined("a".into()), Change::Left("b\"c".into())],
                online: 7,
            },
            ServerFrame::Presence {
                changes: vec![],
                online: 0,
            },
            ServerFrame::Ack {
                id: 4,
                duplicate: false,
            },
        ];
        let mut texts: Vec<String> = samples.iter().map(ServerFrame::to_json).collect();
        texts.extend([
            r#"{"type":"message","type":"message","topic":"t","seq":1,"from":"a","id":2,"data":""}"#.into(),
            r#"{"type":"message","seq":1,"topic":"t","from":"a","id":2,"data":""}"#.into(),
            r#"{"type":"presence","online":1,"changes":[{"joined":"a"}]}"#.into(),
            r#"{"type":"presence","changes":[{"joined":"a","left":"b"}],"online":1}"#.into(),
            r#"{"type":"presence","changes":null,"online":1}"#.into(),
            r#"{"type":"message","topic":"t","seq":-1,"from":"a","id":2,"data":""}"#.into(),
            r#"{"type":"message"}"#.into(),
            r#"{"type":"presence"#.into(),
        ]);
        let alphabet = br#"{}[]":,0-9aZ\ "#;
        for text in texts.clone() {
            for _ in 0..300 {
                let mut bytes = text.clone().into_bytes();
                let at = rng.random_range(0..=bytes.len());
                let byte = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = byte,
                    _ => bytes.insert(at, byte),
                }
                if let Ok(mutated) = String::from_utf8(bytes) {
                    texts.push(mutated);
                }
            }
        }
        let (mut ok, mut err) = (0, 0);
        for text in &texts {
            let serde = serde_json::from_str::<ServerFrame>(text);
            let direct = ServerFrame::from_json(text);
            match (&serde, &direct) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{text}");
                    ok += 1;
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{text}");
                    err += 1;
                }
                _ => panic!("{text}: serde {serde:?}, direct {direct:?}"),
            }
        }
        assert!(
            ok > 20 && err > 1000,
            "both kinds covered: {ok} ok, {err} errors"
        );
    }

    #[test]
    fn unknown_fields_and_types_are_rejected() {
        assert!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"subscribe","topic":"t","x":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"shout"}"#).is_err());
    }

    #[test]
    fn topic_names_are_checked() {
        assert!(validate_topic("news").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a\nb").is_err());
        assert!(validate_topic(&"x".repeat(MAX_TOPIC_LEN + 1)).is_err());
        assert!(validate_topic(&"x".repeat(MAX_TOPIC_LEN)).is_ok());
    }
}
