//! The probe protocol: JSON lines a client process may print on stdout so that wschaos can
//! judge what only the client knows (its status, what it received). The format is the one
//! `wschaos connect` prints; any other line is the client's log, kept, never an error.
//!
//! ```text
//! {"event":"status","state":"connecting","attempt":1}
//! {"event":"status","state":"connected"}
//! {"event":"status","state":"disconnected","attempt":2,"retry_in":"750ms","reason":{"kind":"eof"}}
//! {"event":"message","topic":"news","epoch":3,"seq":17,"from":"pub-0","id":9,"conn":2}
//! {"event":"gap","topic":"news","reason":"history","epoch":4,"next_seq":1}
//! {"event":"presence","changes":[{"joined":"subs-1"},{"left":"subs-4"}],"online":3}
//! {"event":"published","topic":"news","id":12}
//! {"event":"publish_refused","topic":"news","error":"the outbox is full (1024 waiting)"}
//! {"event":"frame","text":"pub-0#3"}
//! ```
//!
//! `welcome` and `presence` (who joined or left, in order) are the presence events it saw (the `presence` check);
//! `published` says the client accepted a publish under that message id (the id it sends
//! to the server), so the `outbox` check can follow it there. `frame` is a text frame a
//! client speaking no protocol received (`wschaos connect --raw`), for the `relayed` check
//! of the broadcast protocol.
//!
//! Other fields (`ts`, `data`, ...) are ignored.

use serde::Deserialize;

use crate::client::{ServerEvent, Status};
use crate::history::{ClientAction, Event};
use crate::protocol::GapReason;

#[derive(Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Status(Status),
    Message {
        topic: String,
        epoch: u64,
        seq: u64,
        from: String,
        id: u64,
        #[serde(default)]
        conn: u64,
    },
    Gap {
        topic: String,
        reason: GapReason,
        #[serde(default)]
        epoch: u64,
        #[serde(default)]
        next_seq: u64,
    },
    Published {
        topic: String,
        id: u64,
    },
    PublishRefused {
        topic: String,
        error: String,
    },
    /// A text frame a raw client received (`wschaos connect --raw`): judged against the
    /// broadcast server's record by its digest.
    Frame {
        text: String,
    },
    /// The client subscribes to a topic (its word for what it wants, as `wschaos connect`
    /// prints it for `--subscribe` and for a `subscribe` action).
    Subscribe {
        topic: String,
    },
    /// The client drops a topic.
    Unsubscribe {
        topic: String,
    },
    /// Welcome, presence, error: what `wschaos connect` prints as it sees them.
    #[serde(untagged)]
    Server(ServerEvent),
}

/// The history event a stdout line of `client` reports, or `None` for a log line.
pub fn parse(client: &str, line: &str) -> Option<Event> {
    let line: Line = serde_json::from_str(line.trim()).ok()?;
    let client = client.to_string();
    Some(match line {
        Line::Status(status) => Event::Status {
            client: client.into(),
            status,
        },
        Line::Message {
            topic,
            epoch,
            seq,
            from,
            id,
            conn,
        } => Event::Delivered {
            client: client.into(),
            topic: topic.into(),
            epoch,
            seq,
            from: from.into(),
            id,
            conn,
        },
        Line::Gap {
            topic,
            reason,
            epoch,
            next_seq,
        } => Event::Gap {
            client: client.into(),
            topic: topic.into(),
            reason,
            epoch,
            next_seq,
        },
        Line::Subscribe { topic } => Event::Action {
            client: client.into(),
            action: ClientAction::Subscribe { topic },
        },
        Line::Unsubscribe { topic } => Event::Action {
            client: client.into(),
            action: ClientAction::Unsubscribe { topic },
        },
        Line::Server(event) => Event::Presence {
            client: client.into(),
            event,
        },
        Line::Frame { text } => Event::Frame {
            client: client.into(),
            len: text.len(),
            digest: crate::protocol::digest(text.as_bytes()),
        },
        Line::Published { topic, id } => Event::Publish {
            client: client.into(),
            topic: topic.into(),
            id: Some(id),
            refused: None,
        },
        Line::PublishRefused { topic, error } => Event::Publish {
            client: client.into(),
            topic: topic.into(),
            id: None,
            refused: Some(error),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_wschaos_connect_prints_are_probe_lines() {
        let status = parse(
            "c",
            r#"{"ts":"2026-11-28T10:00:00.000Z","event":"status","state":"disconnected","attempt":2,"retry_in":"750ms","reason":{"kind":"eof"}}"#,
        );
        assert!(matches!(
            status,
            Some(Event::Status {
                status: Status::Disconnected { attempt: 2, .. },
                ..
            })
        ));
        let message = parse(
            "c",
            r#"{"ts":"x","event":"message","topic":"news","epoch":3,"seq":17,"from":"p","id":9,"data":"hi","conn":2}"#,
        );
        assert!(matches!(
            message,
            Some(Event::Delivered {
                seq: 17,
                conn: 2,
                ..
            })
        ));
        let gap = parse(
            "c",
            r#"{"event":"gap","topic":"news","reason":"history","epoch":4,"next_seq":1}"#,
        );
        assert!(matches!(gap, Some(Event::Gap { next_seq: 1, .. })));
        let joined = parse(
            "c",
            r#"{"ts":"x","event":"presence","changes":[{"joined":"subs-1"},{"left":"subs-2"}],"online":3}"#,
        );
        let Some(Event::Presence {
            event: ServerEvent::Presence { changes, online: 3 },
            ..
        }) = joined
        else {
            panic!("a presence line: {joined:?}");
        };
        assert_eq!(
            *changes,
            [
                crate::protocol::Change::Joined("subs-1".into()),
                crate::protocol::Change::Left("subs-2".into())
            ]
        );
        let published = parse(
            "c",
            r#"{"ts":"x","event":"published","topic":"news","id":4,"data":"m4"}"#,
        );
        assert!(matches!(
            published,
            Some(Event::Publish {
                id: Some(4),
                refused: None,
                ..
            })
        ));
        let refused = parse(
            "c",
            r#"{"event":"publish_refused","topic":"news","error":"closed"}"#,
        );
        assert!(matches!(
            refused,
            Some(Event::Publish {
                id: None,
                refused: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn subscribe_lines_say_what_the_client_wants() {
        let asked = parse("c", r#"{"ts":"x","event":"subscribe","topic":"news"}"#);
        assert!(
            matches!(&asked, Some(Event::Action { action: ClientAction::Subscribe { topic }, .. }) if topic == "news"),
            "{asked:?}"
        );
        let dropped = parse("c", r#"{"event":"unsubscribe","topic":"news"}"#);
        assert!(
            matches!(&dropped, Some(Event::Action { action: ClientAction::Unsubscribe { topic }, .. }) if topic == "news"),
            "{dropped:?}"
        );
    }

    #[test]
    fn anything_else_is_a_log_line() {
        for line in [
            "hello",
            "{}",
            r#"{"event":"status","state":"dancing"}"#,
            "[1,2]",
            "",
        ] {
            assert!(parse("c", line).is_none(), "{line}");
        }
    }
}
