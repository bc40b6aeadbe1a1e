//! The original article's broadcast protocol: every text frame a client sends is relayed to
//! everyone connected; `joined` and `left` frames announce presence. No topics, no welcome,
//! no ids: a frame up is a publish, a frame down a delivery.

use super::{Decoder, Direction, WireEvent};

/// Decodes the broadcast protocol.
#[derive(Debug, Default)]
pub struct Broadcast;

impl Decoder for Broadcast {
    fn text(&mut self, dir: Direction, text: &str, out: &mut Vec<WireEvent>) {
        let presence = || {
            super::json(text).is_some_and(|v| {
                matches!(v["type"].as_str(), Some("joined" | "left")) && v["client"].is_string()
            })
        };
        out.push(match dir {
            Direction::ToServer => WireEvent::Publish {
                topic: None,
                id: None,
            },
            Direction::ToClient if presence() => WireEvent::Other,
            Direction::ToClient => WireEvent::Delivered {
                topic: None,
                id: None,
                seq: None,
            },
        });
    }

    /// No frame of this protocol starts, ends or refuses anything: there is no welcome and
    /// there are no subscriptions.
    fn routine(&self, _: Direction, _: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::wire::decode_all;
    use Direction::*;

    #[test]
    fn frames_up_are_publishes_frames_down_deliveries_and_presence_is_neither() {
        let seen = decode_all(
            &mut Broadcast,
            &[
                (ToClient, r#"{"type":"joined","client":"a","online":2}"#),
                (ToServer, "hello"),
                (ToClient, "hello"),
                (ToClient, r#"{"type":"joined"}"#),
            ],
        );
        let delivered = WireEvent::Delivered {
            topic: None,
            id: None,
            seq: None,
        };
        assert_eq!(
            seen,
            [
                WireEvent::Other,
                WireEvent::Publish {
                    topic: None,
                    id: None
                },
                delivered.clone(),
                delivered,
            ]
        );
    }
}
