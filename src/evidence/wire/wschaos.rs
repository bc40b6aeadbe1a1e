//! This crate's protocol (`crate::protocol`): the reference client's frames as the wire
//! shows them, so that what its probe reports and what it sent can be cross-checked.

use super::{Decoder, Direction, WireEvent};
use crate::protocol::{ClientFrame, ServerFrame};

/// Decodes wschaos's own frames.
#[derive(Debug, Default)]
pub struct Wschaos;

impl Decoder for Wschaos {
    fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>) {
        out.push(match dir {
            Direction::ToServer => match serde_json::from_str::<ClientFrame>(text) {
                Ok(ClientFrame::Subscribe { topic, .. }) => {
                    WireEvent::Subscribe { topic, id: None }
                }
                Ok(ClientFrame::Unsubscribe { topic }) => WireEvent::Unsubscribe {
                    topic: Some(topic),
                    id: None,
                },
                Ok(ClientFrame::Publish { topic, id, .. }) => WireEvent::Publish {
                    topic: Some(topic),
                    id: Some(id.to_string()),
                },
                Err(_) => WireEvent::Unknown,
            },
            Direction::ToClient => match serde_json::from_str::<ServerFrame>(text) {
                Ok(ServerFrame::Welcome { .. }) => WireEvent::Ready,
                Ok(ServerFrame::Subscribed { topic, .. }) => WireEvent::Subscribed {
                    topic: Some(topic),
                    id: None,
                },
                Ok(ServerFrame::Message {
                    topic,
                    seq,
                    from,
                    id,
                    ..
                }) => WireEvent::Delivered {
                    topic: Some(topic),
                    id: Some(format!("{from}#{id}")),
                    seq: Some(seq),
                },
                Ok(ServerFrame::Error { message, .. }) => WireEvent::Error { message },
                Ok(_) => WireEvent::Other,
                Err(_) => WireEvent::Unknown,
            },
        });
    }

    /// This crate's server and client write the `type` first (serde's tagged enums): a
    /// message, a presence change, an acknowledgement or a publish is known by its prefix.
    fn routine(&self, dir: Direction, text: &str) -> bool {
        let routine: &[&str] = match dir {
            Direction::ToClient => &[
                r#"{"type":"message","#,
                r#"{"type":"ack","#,
                r#"{"type":"presence","#,
                r#"{"type":"joined","#,
                r#"{"type":"left","#,
            ],
            Direction::ToServer => &[r#"{"type":"publish","#],
        };
        routine.iter().any(|p| text.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::wire::decode_all;
    use Direction::*;

    #[test]
    fn the_reference_protocol_reads_as_evidence() {
        let seen = decode_all(
            &mut Wschaos,
            &[
                (
                    ToClient,
                    r#"{"type":"welcome","epoch":7,"client":"c","online":1}"#,
                ),
                (ToServer, r#"{"type":"subscribe","topic":"news"}"#),
                (
                    ToClient,
                    r#"{"type":"subscribed","topic":"news","epoch":7,"seq":0}"#,
                ),
                (
                    ToClient,
                    r#"{"type":"message","topic":"news","seq":1,"from":"p","id":3,"data":"x"}"#,
                ),
                (
                    ToServer,
                    r#"{"type":"publish","topic":"news","id":4,"data":"y"}"#,
                ),
                (ToServer, r#"{"type":"unsubscribe","topic":"news"}"#),
                (ToClient, r#"{"type":"ack","id":4,"duplicate":false}"#),
                (ToServer, "not json"),
            ],
        );
        let topic = Some("news".to_string());
        assert_eq!(
            seen,
            [
                WireEvent::Ready,
                WireEvent::Subscribe {
                    topic: "news".into(),
                    id: None
                },
                WireEvent::Subscribed {
                    topic: topic.clone(),
                    id: None
                },
                WireEvent::Delivered {
                    topic: topic.clone(),
                    id: Some("p#3".into()),
                    seq: Some(1)
                },
                WireEvent::Publish {
                    topic: topic.clone(),
                    id: Some("4".into())
                },
                WireEvent::Unsubscribe { topic, id: None },
                WireEvent::Other,
                WireEvent::Unknown,
            ]
        );
    }

    /// A frame its prefix calls routine decodes to nothing the simulation records.
    #[test]
    fn routine_frames_are_never_recorded_ones() {
        let frames = [
            (
                ToClient,
                r#"{"type":"message","topic":"news","seq":1,"from":"p","id":3,"data":"x"}"#,
            ),
            (ToClient, r#"{"type":"ack","id":4,"duplicate":false}"#),
            (ToClient, r#"{"type":"joined","client":"c","online":2}"#),
            (ToClient, r#"{"type":"left","client":"c","online":1}"#),
            (ToClient, r#"{"type":"presence","changes":[],"online":1}"#),
            (
                ToServer,
                r#"{"type":"publish","topic":"news","id":4,"data":"y"}"#,
            ),
        ];
        for (dir, text) in frames {
            assert!(Wschaos.routine(dir, text), "{text}");
            let said = decode_all(&mut Wschaos, &[(dir, text)]);
            assert!(said.iter().all(|e| !e.recorded()), "{text}: {said:?}");
        }
        assert!(!Wschaos.routine(ToServer, r#"{"type":"subscribe","topic":"news"}"#));
        assert!(!Wschaos.routine(
            ToClient,
            r#"{"type":"welcome","epoch":7,"client":"c","online":1}"#
        ));
    }
}
