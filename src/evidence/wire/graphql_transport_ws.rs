//! graphql-transport-ws (the npm `graphql-ws` library's protocol; Apollo and urql use it):
//! `connection_init` / `connection_ack`, then `subscribe` with a client-chosen `id`,
//! answered by `next` messages, an `error` or a `complete`; `ping` / `pong` either way.
//!
//! A subscription's topic is part of its operation, as documented in `scenarios/README.md`:
//! the `topic` string of its variables, else its `operationName`, else its query text. A
//! message's sequence is the `seq` number of the first field of its `data`, when there is
//! one (the built-in server sends `{"data":{"message":{"topic","seq","from","id","data"}}}`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Decoder, Direction, WireEvent, string};

/// Decodes graphql-transport-ws; remembers each subscription's topic by its id.
#[derive(Debug, Default)]
pub struct GraphqlTransportWs {
    topics: BTreeMap<String, String>,
}

/// The topic of a `subscribe` message's payload.
pub(crate) fn topic_of(payload: &Value) -> Option<String> {
    payload["variables"]["topic"]
        .as_str()
        .or_else(|| payload["operationName"].as_str())
        .or_else(|| payload["query"].as_str().map(str::trim))
        .map(str::to_string)
}

/// True for an operation whose query is a mutation.
fn is_mutation(payload: &Value) -> bool {
    payload["query"]
        .as_str()
        .is_some_and(|q| q.trim_start().starts_with("mutation"))
}

impl Decoder for GraphqlTransportWs {
    fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>) {
        let Some(v) = super::json(text) else {
            return out.push(WireEvent::Unknown);
        };
        let id = string(&v["id"]);
        let topic = id.as_ref().and_then(|id| self.topics.get(id).cloned());
        out.push(match (dir, v["type"].as_str()) {
            (Direction::ToServer, Some("connection_init")) => WireEvent::Hello,
            (Direction::ToClient, Some("connection_ack")) => WireEvent::Ready,
            (_, Some("ping" | "pong")) => WireEvent::Heartbeat,
            // A mutation publishes (the built-in server's `publish`): not a subscription.
            (Direction::ToServer, Some("subscribe")) if is_mutation(&v["payload"]) => {
                WireEvent::Publish {
                    topic: topic_of(&v["payload"]),
                    id,
                }
            }
            (Direction::ToServer, Some("subscribe")) => match (id, topic_of(&v["payload"])) {
                (Some(id), Some(topic)) => {
                    self.topics.insert(id.clone(), topic.clone());
                    WireEvent::Subscribe {
                        topic,
                        id: Some(id),
                    }
                }
                _ => WireEvent::Unknown,
            },
            (Direction::ToClient, Some("next")) => WireEvent::Delivered {
                topic,
                id: None,
                seq: (v["payload"]["data"].as_object())
                    .and_then(|data| data.values().next())
                    .and_then(|first| first["seq"].as_u64()),
            },
            (Direction::ToClient, Some("error")) => {
                if let Some(id) = &id {
                    self.topics.remove(id);
                }
                WireEvent::Refused {
                    topic,
                    id,
                    reason: v["payload"].to_string(),
                }
            }
            (dir, Some("complete")) => {
                if let Some(id) = &id {
                    self.topics.remove(id);
                }
                match dir {
                    Direction::ToServer => WireEvent::Unsubscribe { topic, id },
                    Direction::ToClient => WireEvent::Ended { topic, id },
                }
            }
            _ => WireEvent::Unknown,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::wire::decode_all;
    use Direction::*;

    #[test]
    fn a_subscription_is_followed_by_its_id_from_subscribe_to_complete() {
        let query =
            r#""query":"subscription ($topic: String!) { message(topic: $topic) { seq data } }""#;
        let subscribe = format!(
            r#"{{"id":"1","type":"subscribe","payload":{{{query},"variables":{{"topic":"news"}}}}}}"#
        );
        let seen = decode_all(
            &mut GraphqlTransportWs::default(),
            &[
                (ToServer, r#"{"type":"connection_init","payload":{}}"#),
                (ToClient, r#"{"type":"connection_ack"}"#),
                (ToServer, &subscribe),
                (
                    ToClient,
                    r#"{"id":"1","type":"next","payload":{"data":{"message":{"seq":5,"data":"x"}}}}"#,
                ),
                (ToClient, r#"{"type":"ping"}"#),
                (ToServer, r#"{"type":"pong"}"#),
                (ToServer, r#"{"id":"1","type":"complete"}"#),
                (
                    ToClient,
                    r#"{"id":"1","type":"next","payload":{"data":{}}}"#,
                ),
                (
                    ToServer,
                    r#"{"id":"2","type":"subscribe","payload":{"query":"subscription Ticks { ticks }","operationName":"Ticks"}}"#,
                ),
                (
                    ToClient,
                    r#"{"id":"2","type":"error","payload":[{"message":"no"}]}"#,
                ),
                (ToServer, r#"{"type":"subscribe"}"#),
            ],
        );
        let news = Some("news".to_string());
        assert_eq!(
            seen,
            [
                WireEvent::Hello,
                WireEvent::Ready,
                WireEvent::Subscribe {
                    topic: "news".into(),
                    id: Some("1".into())
                },
                WireEvent::Delivered {
                    topic: news.clone(),
                    id: None,
                    seq: Some(5)
                },
                WireEvent::Heartbeat,
                WireEvent::Heartbeat,
                WireEvent::Unsubscribe {
                    topic: news,
                    id: Some("1".into())
                },
                // A `next` after the complete names no subscription any more.
                WireEvent::Delivered {
                    topic: None,
                    id: None,
                    seq: None
                },
                WireEvent::Subscribe {
                    topic: "Ticks".into(),
                    id: Some("2".into())
                },
                WireEvent::Refused {
                    topic: Some("Ticks".into()),
                    id: Some("2".into()),
                    reason: r#"[{"message":"no"}]"#.into()
                },
                WireEvent::Unknown,
            ]
        );
    }
}
