//! A protocol wschaos does not know, declared in a scenario file's `[protocol]` table: JSON
//! object frames whose kind is one field, mapped to evidence by meaning. For any language,
//! no code: a team writes down which kinds of frame subscribe, confirm, refuse, end or
//! deliver, and where a frame keeps its topic, id and sequence.
//!
//! ```toml
//! [protocol]
//! name = "rooms"
//! kind = "op"              # the field naming a frame's kind (a dotted path: "msg.type")
//! topic = "room"           # where a frame keeps its topic
//! id = "ref"               # where it keeps a subscription's id (optional)
//! seq = "n"                # where a delivered message keeps its sequence (optional)
//! subscribe = ["join"]     # kinds a client sends ...
//! unsubscribe = ["leave"]
//! publish = ["say"]
//! ready = ["hello"]        # ... and kinds the server sends
//! subscribed = ["joined"]
//! refused = ["denied"]
//! delivered = ["said"]
//! ```
//!
//! Up (client to server): `hello`, `subscribe`, `unsubscribe`, `publish`; down: `ready`,
//! `subscribed`, `refused`, `ended`, `delivered`; either way: `heartbeat`, `error`. A frame of
//! no listed kind is [`WireEvent::Other`]; one that is not a JSON object with a string kind,
//! [`WireEvent::Unknown`]. A frame without a topic takes the one its id was subscribed with.
//! With no `ready` kind, a connection is ready once the server accepts the upgrade.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Decoder, Direction, WireEvent, string};

/// A declared protocol: the `[protocol]` table of a scenario file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Declared {
    /// Its name, for reports.
    pub name: String,
    /// The field naming a frame's kind (a dotted path into a JSON object).
    pub kind: String,
    /// The field keeping a frame's topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The field keeping a subscription's id, when the protocol has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The field keeping a delivered message's sequence number, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<String>,
    /// Kinds a client greets the server with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hello: Vec<String>,
    /// Kinds a server says a connection is ready with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready: Vec<String>,
    /// Kinds a client asks for a topic with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    /// Kinds a server confirms a subscription with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribed: Vec<String>,
    /// Kinds a server refuses a subscription with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Kinds a client ends a subscription with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsubscribe: Vec<String>,
    /// Kinds a server ends a subscription with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended: Vec<String>,
    /// Kinds a server delivers a message with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered: Vec<String>,
    /// Kinds a client publishes with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// Kinds of the protocol's own heartbeat, either way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heartbeat: Vec<String>,
    /// Kinds of an error not tied to one subscription, either way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<String>,
}

/// What a kind means, and which way it goes (`None`: either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Hello,
    Ready,
    Subscribe,
    Subscribed,
    Refused,
    Unsubscribe,
    Ended,
    Delivered,
    Publish,
    Heartbeat,
    Error,
}

impl Meaning {
    fn way(self) -> Option<Direction> {
        match self {
            Meaning::Hello | Meaning::Subscribe | Meaning::Unsubscribe | Meaning::Publish => {
                Some(Direction::ToServer)
            }
            Meaning::Ready
            | Meaning::Subscribed
            | Meaning::Refused
            | Meaning::Ended
            | Meaning::Delivered => Some(Direction::ToClient),
            Meaning::Heartbeat | Meaning::Error => None,
        }
    }
}

impl Declared {
    /// Each meaning's key and kinds.
    fn meanings(&self) -> [(&'static str, Meaning, &[String]); 11] {
        [
            ("hello", Meaning::Hello, &self.hello),
            ("ready", Meaning::Ready, &self.ready),
            ("subscribe", Meaning::Subscribe, &self.subscribe),
            ("subscribed", Meaning::Subscribed, &self.subscribed),
            ("refused", Meaning::Refused, &self.refused),
            ("unsubscribe", Meaning::Unsubscribe, &self.unsubscribe),
            ("ended", Meaning::Ended, &self.ended),
            ("delivered", Meaning::Delivered, &self.delivered),
            ("publish", Meaning::Publish, &self.publish),
            ("heartbeat", Meaning::Heartbeat, &self.heartbeat),
            ("error", Meaning::Error, &self.error),
        ]
    }

    /// Why the table cannot be read as a protocol: `(the text to point at, what is wrong)`.
    pub fn problem(&self) -> Option<(String, String)> {
        let path = |key: &str, p: &str| {
            let bad = p.is_empty() || p.split('.').any(str::is_empty);
            bad.then(|| {
                (
                    format!("{key} = \"{p}\""),
                    format!("`{key}` must be a field name or a dotted path (\"payload.topic\"), not {p:?}"),
                )
            })
        };
        if let Some(p) = path("kind", &self.kind) {
            return Some(p);
        }
        for (key, p) in [("topic", &self.topic), ("id", &self.id), ("seq", &self.seq)] {
            if let Some(p) = p.as_deref().and_then(|p| path(key, p)) {
                return Some(p);
            }
        }
        if self.subscribe.is_empty() {
            return Some((
                "[protocol]".into(),
                "a declared protocol needs `subscribe`: the kinds of frame a client asks for a topic with (what subscribed_on_wire judges)".into(),
            ));
        }
        if self.topic.is_none() {
            return Some((
                "[protocol]".into(),
                "a declared protocol needs `topic`: the field a subscribe keeps its topic in"
                    .into(),
            ));
        }
        let meanings = self.meanings();
        for (i, (key, meaning, kinds)) in meanings.iter().enumerate() {
            for kind in kinds.iter() {
                let clash = meanings[i + 1..].iter().find(|(_, other, theirs)| {
                    theirs.contains(kind)
                        && (meaning.way().is_none()
                            || other.way().is_none()
                            || meaning.way() == other.way())
                });
                if let Some((other, _, _)) = clash {
                    return Some((
                        format!("\"{kind}\""),
                        format!(
                            "kind \"{kind}\" is in both `{key}` and `{other}`: a frame going one way means one thing"
                        ),
                    ));
                }
            }
        }
        None
    }

    /// A decoder of this protocol, for one connection.
    pub fn decoder(self: &Arc<Self>) -> Box<dyn Decoder> {
        Box::new(DeclaredDecoder {
            spec: self.clone(),
            topics: BTreeMap::new(),
        })
    }

    fn meaning(&self, dir: Direction, kind: &str) -> Option<Meaning> {
        (self.meanings().into_iter())
            .find(|(_, m, kinds)| {
                m.way().is_none_or(|w| w == dir) && kinds.iter().any(|k| k == kind)
            })
            .map(|(_, m, _)| m)
    }
}

/// The field at a dotted `path` of `v`.
fn at<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, key| &v[key])
}

/// Decodes one connection of a declared protocol; remembers each subscription's topic by
/// its id.
struct DeclaredDecoder {
    spec: Arc<Declared>,
    topics: BTreeMap<String, String>,
}

impl Decoder for DeclaredDecoder {
    fn upgraded(&mut self, out: &mut Vec<WireEvent>) {
        if self.spec.ready.is_empty() {
            out.push(WireEvent::Ready);
        }
    }

    fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>) {
        let Some(v) = super::json(text).filter(Value::is_object) else {
            return out.push(WireEvent::Unknown);
        };
        let Some(kind) = at(&v, &self.spec.kind).as_str() else {
            return out.push(WireEvent::Unknown);
        };
        let field = |path: &Option<String>| path.as_deref().and_then(|p| string(at(&v, p)));
        let id = field(&self.spec.id);
        let topic = field(&self.spec.topic)
            .or_else(|| id.as_ref().and_then(|id| self.topics.get(id).cloned()));
        let Some(meaning) = self.spec.meaning(dir, kind) else {
            return out.push(WireEvent::Other);
        };
        let forget = |topics: &mut BTreeMap<String, String>| {
            if let Some(id) = &id {
                topics.remove(id);
            }
        };
        out.push(match meaning {
            Meaning::Hello => WireEvent::Hello,
            Meaning::Ready => WireEvent::Ready,
            Meaning::Heartbeat => WireEvent::Heartbeat,
            Meaning::Error => WireEvent::Error {
                message: text.chars().take(200).collect(),
            },
            Meaning::Subscribe => match topic {
                Some(topic) => {
                    if let Some(id) = &id {
                        self.topics.insert(id.clone(), topic.clone());
                    }
                    WireEvent::Subscribe { topic, id }
                }
                None => WireEvent::Unknown,
            },
            Meaning::Subscribed => WireEvent::Subscribed { topic, id },
            Meaning::Refused => {
                forget(&mut self.topics);
                WireEvent::Refused {
                    topic,
                    id,
                    reason: text.chars().take(200).collect(),
                }
            }
            Meaning::Unsubscribe => {
                forget(&mut self.topics);
                WireEvent::Unsubscribe { topic, id }
            }
            Meaning::Ended => {
                forget(&mut self.topics);
                WireEvent::Ended { topic, id }
            }
            Meaning::Delivered => WireEvent::Delivered {
                topic,
                id: None,
                seq: self.spec.seq.as_deref().and_then(|p| at(&v, p).as_u64()),
            },
            Meaning::Publish => WireEvent::Publish { topic, id },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::wire::decode_all;
    use Direction::*;

    /// wschaos's own protocol, declared: the table reads its frames as its decoder does.
    fn wschaos_declared() -> Arc<Declared> {
        Arc::new(Declared {
            name: "wschaos, declared".into(),
            kind: "type".into(),
            topic: Some("topic".into()),
            seq: Some("seq".into()),
            ready: vec!["welcome".into()],
            subscribe: vec!["subscribe".into()],
            subscribed: vec!["subscribed".into()],
            unsubscribe: vec!["unsubscribe".into()],
            delivered: vec!["message".into()],
            publish: vec!["publish".into()],
            error: vec!["error".into()],
            ..Declared::default()
        })
    }

    #[test]
    fn a_declared_protocol_reads_its_frames_as_a_built_in_decoder_would() {
        let frames = [
            (
                ToClient,
                r#"{"type":"welcome","epoch":1,"client":"c","online":1,"conn":1}"#,
            ),
            (ToServer, r#"{"type":"subscribe","topic":"news"}"#),
            (
                ToClient,
                r#"{"type":"subscribed","topic":"news","epoch":1,"seq":0}"#,
            ),
            (
                ToClient,
                r#"{"type":"message","topic":"news","seq":1,"from":"p","id":1,"data":"x"}"#,
            ),
            (
                ToServer,
                r#"{"type":"publish","topic":"news","id":1,"data":"x"}"#,
            ),
            (ToServer, r#"{"type":"unsubscribe","topic":"news"}"#),
            (ToClient, r#"{"type":"presence","changes":[],"online":1}"#),
            (ToClient, "not json"),
        ];
        let declared = decode_all(&mut *wschaos_declared().decoder(), &frames);
        let built_in = decode_all(&mut crate::evidence::wire::Wschaos, &frames);
        assert_eq!(declared.len(), built_in.len());
        // The built-in decoder knows more (ids, `from#id`, presence as Other): the
        // declared one agrees on every subscription, readiness and what it cannot read.
        for (d, b) in declared.iter().zip(&built_in) {
            if d.recorded() || b.recorded() {
                assert_eq!(d, b, "{declared:?}\n{built_in:?}");
            }
        }
    }

    #[test]
    fn ids_carry_topics_and_nested_fields_are_read() {
        let spec = Arc::new(Declared {
            name: "ops".into(),
            kind: "msg.op".into(),
            topic: Some("msg.args.room".into()),
            id: Some("ref".into()),
            subscribe: vec!["join".into()],
            ended: vec!["kicked".into()],
            ..Declared::default()
        });
        let seen = decode_all(
            &mut *spec.decoder(),
            &[
                (
                    ToServer,
                    r#"{"ref":7,"msg":{"op":"join","args":{"room":"lobby"}}}"#,
                ),
                (ToClient, r#"{"ref":7,"msg":{"op":"kicked"}}"#),
                (ToClient, r#"{"msg":{"op":"join"}}"#),
            ],
        );
        assert_eq!(
            seen,
            [
                WireEvent::Subscribe {
                    topic: "lobby".into(),
                    id: Some("7".into())
                },
                WireEvent::Ended {
                    topic: Some("lobby".into()),
                    id: Some("7".into())
                },
                // `join` down means nothing here.
                WireEvent::Other,
            ]
        );
    }

    #[test]
    fn a_table_that_cannot_be_a_protocol_says_why() {
        let ok = wschaos_declared();
        assert_eq!(ok.problem(), None);
        let no_subscribe = Declared {
            subscribe: Vec::new(),
            ..(*ok).clone()
        };
        assert!(
            no_subscribe
                .problem()
                .unwrap()
                .1
                .contains("needs `subscribe`")
        );
        let clash = Declared {
            subscribed: vec!["subscribe".into()],
            unsubscribe: vec!["subscribe".into()],
            ..(*ok).clone()
        };
        let (at, why) = clash.problem().unwrap();
        assert_eq!(at, "\"subscribe\"");
        assert!(why.contains("`subscribe` and `unsubscribe`"), "{why}");
        let bad_path = Declared {
            kind: "a..b".into(),
            ..(*ok).clone()
        };
        assert!(bad_path.problem().unwrap().1.contains("dotted path"));
    }
}
