//! Phoenix Channels, v2 JSON serializer (npm `phoenix` 1.7): each frame is
//! `[join_ref, ref, topic, event, payload]`. A client joins a channel with `phx_join` and
//! leaves with `phx_leave`, each answered by a `phx_reply` carrying its `ref` and
//! `{"status": "ok" | "error", "response": ...}`; the server ends a channel with
//! `phx_close` or `phx_error` (after which a client rejoins); `heartbeat` on the `phoenix`
//! topic keeps the socket alive. Any other event down is a broadcast on the channel's topic
//! (its `seq`, when its payload carries a number by that name); up, a push.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Decoder, Direction, WireEvent, string};

/// Decodes Phoenix Channels v2; remembers what each pending `ref` asked.
#[derive(Debug, Default)]
pub struct Phoenix {
    pending: BTreeMap<String, Asked>,
}

#[derive(Debug)]
enum Asked {
    Join {
        topic: String,
        join_ref: Option<String>,
    },
    Leave,
    Heartbeat,
}

impl Decoder for Phoenix {
    /// Phoenix has no greeting: a socket is ready to join once it is open.
    fn upgraded(&mut self, out: &mut Vec<WireEvent>) {
        out.push(WireEvent::Ready);
    }

    fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>) {
        let Some(Value::Array(f)) = super::json(text) else {
            return out.push(WireEvent::Unknown);
        };
        let [join_ref, r#ref, topic, event, payload] = f.as_slice() else {
            return out.push(WireEvent::Unknown);
        };
        let (join_ref, r#ref) = (string(join_ref), string(r#ref));
        let (Some(topic), Some(event)) = (topic.as_str(), event.as_str()) else {
            return out.push(WireEvent::Unknown);
        };
        let topic = topic.to_string();
        let asked = |this: &mut Self, what: Asked| {
            if let Some(r) = &r#ref {
                this.pending.insert(r.clone(), what);
            }
        };
        out.push(match (dir, event) {
            (Direction::ToServer, "heartbeat") if topic == "phoenix" => {
                asked(self, Asked::Heartbeat);
                WireEvent::Heartbeat
            }
            (Direction::ToServer, "phx_join") => {
                let join_ref = join_ref.or_else(|| r#ref.clone());
                asked(
                    self,
                    Asked::Join {
                        topic: topic.clone(),
                        join_ref: join_ref.clone(),
                    },
                );
                WireEvent::Subscribe {
                    topic,
                    id: join_ref,
                }
            }
            (Direction::ToServer, "phx_leave") => {
                asked(self, Asked::Leave);
                WireEvent::Unsubscribe {
                    topic: Some(topic),
                    id: join_ref,
                }
            }
            (Direction::ToServer, _) => WireEvent::Publish {
                topic: Some(topic),
                id: r#ref,
            },
            (Direction::ToClient, "phx_reply") => {
                let ok = payload["status"].as_str() == Some("ok");
                match r#ref.and_then(|r| self.pending.remove(&r)) {
                    Some(Asked::Join { topic, join_ref }) if ok => WireEvent::Subscribed {
                        topic: Some(topic),
                        id: join_ref,
                    },
                    Some(Asked::Join { topic, join_ref }) => WireEvent::Refused {
                        topic: Some(topic),
                        id: join_ref,
                        reason: payload["response"].to_string(),
                    },
                    Some(Asked::Heartbeat) => WireEvent::Heartbeat,
                    Some(Asked::Leave) | None => WireEvent::Other,
                }
            }
            (Direction::ToClient, "phx_close" | "phx_error") => WireEvent::Ended {
                topic: Some(topic),
                id: join_ref,
            },
            (Direction::ToClient, _) => WireEvent::Delivered {
                topic: Some(topic),
                id: None,
                seq: payload["seq"].as_u64(),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::wire::decode_all;
    use Direction::*;

    #[test]
    fn joins_replies_broadcasts_leaves_and_heartbeats_read_as_evidence() {
        let seen = decode_all(
            &mut Phoenix::default(),
            &[
                (ToServer, r#"["1","1","room:lobby","phx_join",{}]"#),
                (
                    ToClient,
                    r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]"#,
                ),
                (
                    ToClient,
                    r#"[null,null,"room:lobby","new_msg",{"seq":4,"body":"hi"}]"#,
                ),
                (
                    ToServer,
                    r#"["1","2","room:lobby","new_msg",{"body":"yo"}]"#,
                ),
                (ToServer, r#"[null,"3","phoenix","heartbeat",{}]"#),
                (
                    ToClient,
                    r#"[null,"3","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
                ),
                (ToServer, r#"["4","4","room:vip","phx_join",{}]"#),
                (
                    ToClient,
                    r#"["4","4","room:vip","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#,
                ),
                (ToClient, r#"["1","1","room:lobby","phx_error",{}]"#),
                (ToServer, r#"["1","5","room:lobby","phx_leave",{}]"#),
                (ToServer, r#"{"topic":"old v1 object"}"#),
            ],
        );
        let lobby = Some("room:lobby".to_string());
        assert_eq!(
            seen,
            [
                WireEvent::Subscribe {
                    topic: "room:lobby".into(),
                    id: Some("1".into())
                },
                WireEvent::Subscribed {
                    topic: lobby.clone(),
                    id: Some("1".into())
                },
                WireEvent::Delivered {
                    topic: lobby.clone(),
                    id: None,
                    seq: Some(4)
                },
                WireEvent::Publish {
                    topic: lobby.clone(),
                    id: Some("2".into())
                },
                WireEvent::Heartbeat,
                WireEvent::Heartbeat,
                WireEvent::Subscribe {
                    topic: "room:vip".into(),
                    id: Some("4".into())
                },
                WireEvent::Refused {
                    topic: Some("room:vip".into()),
                    id: Some("4".into()),
                    reason: r#"{"reason":"unauthorized"}"#.into()
                },
                WireEvent::Ended {
                    topic: lobby.clone(),
                    id: Some("1".into())
                },
                WireEvent::Unsubscribe {
                    topic: lobby,
                    id: Some("1".into())
                },
                WireEvent::Unknown,
            ]
        );
    }
}
