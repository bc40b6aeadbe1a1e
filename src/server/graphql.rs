//! The built-in server's graphql-transport-ws (the protocol of npm `graphql-ws`, which
//! Apollo and urql use), for the same topics the wschaos protocol serves:
//!
//! - `connection_init` is answered by `connection_ack`; a second one closes with 4429, and a
//!   connection that sends none within `handshake_timeout` is closed with 4408.
//! - `subscribe` with a `subscription` operation subscribes its id to the topic of its
//!   `variables.topic`; each message published there comes as
//!   `{"id","type":"next","payload":{"data":{"message":{"topic","seq","from","id","data"}}}}`.
//!   A subscribe before the ack closes with 4401; one with an id already in use, with 4409.
//! - `subscribe` with a `mutation` operation publishes `variables.data` (a string, else its
//!   JSON text) to `variables.topic` (with `variables.id`, a number, as its id): answered by
//!   `next` with `{"data":{"publish":{"seq"}}}`, then `complete`.
//! - `complete` from the client ends a subscription; `ping` is answered by `pong`.
//! - A message the protocol does not define, or one without what it needs, closes with
//!   4400, as the reference server does; the WebSocket subprotocol must be offered (else
//!   4406).

use serde_json::{Value, json};

/// The WebSocket subprotocol a client offers at the handshake.
pub(crate) const SUBPROTOCOL: &str = "graphql-transport-ws";

/// A message from a client.
#[derive(Debug, PartialEq)]
pub(crate) enum Request {
    Init,
    Ping,
    Pong,
    Subscribe {
        id: String,
        topic: String,
    },
    Publish {
        id: String,
        topic: String,
        data: String,
        message_id: u64,
    },
    Complete {
        id: String,
    },
}

/// Why a connection is closed: the protocol's close code and reason.
pub(crate) type Close = (u16, String);

/// Bad request: a message the protocol does not define or cannot use.
pub(crate) const BAD_REQUEST: u16 = 4400;
/// A subscribe before the connection was acknowledged.
pub(crate) const UNAUTHORIZED: u16 = 4401;
/// The subprotocol was not offered.
pub(crate) const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
/// No `connection_init` in time.
pub(crate) const INIT_TIMEOUT: u16 = 4408;
/// A subscribe with an id already in use.
pub(crate) const SUBSCRIBER_EXISTS: u16 = 4409;
/// A second `connection_init`.
pub(crate) const TOO_MANY_INITS: u16 = 4429;

fn bad(why: impl Into<String>) -> Close {
    (BAD_REQUEST, why.into())
}

/// Reads one text message from a client.
pub(crate) fn parse(text: &str) -> Result<Request, Close> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("Invalid message: {e}")))?;
    let id = || match &v["id"] {
        Value::String(id) if !id.is_empty() => Ok(id.clone()),
        _ => Err(bad("Invalid message: an id must be a non-empty string")),
    };
    match v["type"].as_str() {
        Some("connection_init") => Ok(Request::Init),
        Some("ping") => Ok(Request::Ping),
        Some("pong") => Ok(Request::Pong),
        Some("complete") => Ok(Request::Complete { id: id()? }),
        Some("subscribe") => {
            let id = id()?;
            let payload = &v["payload"];
            let Some(query) = payload["query"].as_str() else {
                return Err(bad("Invalid message: subscribe needs payload.query"));
            };
            let vars = &payload["variables"];
            let Some(topic) = vars["topic"].as_str().map(str::to_string) else {
                return Err(bad(
                    "Invalid message: this server needs variables.topic, the topic to subscribe or publish to",
                ));
            };
            if query.trim_start().starts_with("mutation") {
                let data = match &vars["data"] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let message_id = vars["id"].as_u64().unwrap_or(0);
                Ok(Request::Publish {
                    id,
                    topic,
                    data,
                    message_id,
                })
            } else {
                Ok(Request::Subscribe { id, topic })
            }
        }
        Some(other) => Err(bad(format!("Invalid message type {other:?}"))),
        None => Err(bad("Invalid message: no type")),
    }
}

pub(crate) fn ack() -> String {
    json!({"type": "connection_ack"}).to_string()
}

pub(crate) fn pong() -> String {
    json!({"type": "pong"}).to_string()
}

/// A message published on a subscription's topic, for subscription `id`.
pub(crate) fn next_message(
    id: &str,
    topic: &str,
    seq: u64,
    from: &str,
    message_id: u64,
    data: &str,
) -> String {
    json!({
        "id": id,
        "type": "next",
        "payload": {"data": {"message": {
            "topic": topic, "seq": seq, "from": from, "id": message_id, "data": data
        }}}
    })
    .to_string()
}

/// A mutation's result: the sequence number its message got.
pub(crate) fn published(id: &str, seq: u64) -> String {
    json!({"id": id, "type": "next", "payload": {"data": {"publish": {"seq": seq}}}}).to_string()
}

/// The server ends operation `id`.
pub(crate) fn complete(id: &str) -> String {
    json!({"id": id, "type": "complete"}).to_string()
}

/// Operation `id` failed (a topic refused, too many subscriptions).
pub(crate) fn error(id: &str, message: &str) -> String {
    json!({"id": id, "type": "error", "payload": [{"message": message}]}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_mutations_and_control_messages_are_read() {
        let sub = r#"{"id":"1","type":"subscribe","payload":{"query":"subscription ($topic: String!) { message(topic: $topic) { seq } }","variables":{"topic":"news"}}}"#;
        assert_eq!(
            parse(sub),
            Ok(Request::Subscribe {
                id: "1".into(),
                topic: "news".into()
            })
        );
        let publish = r#"{"id":"p","type":"subscribe","payload":{"query":"mutation ($topic: String!, $data: String!) { publish(topic: $topic, data: $data) { seq } }","variables":{"topic":"news","data":"hi","id":7}}}"#;
        assert_eq!(
            parse(publish),
            Ok(Request::Publish {
                id: "p".into(),
                topic: "news".into(),
                data: "hi".into(),
                message_id: 7
            })
        );
        assert_eq!(parse(r#"{"type":"connection_init"}"#), Ok(Request::Init));
        assert_eq!(parse(r#"{"type":"ping","payload":{}}"#), Ok(Request::Ping));
        assert_eq!(
            parse(r#"{"id":"1","type":"complete"}"#),
            Ok(Request::Complete { id: "1".into() })
        );
    }

    #[test]
    fn what_the_protocol_does_not_define_is_a_bad_request() {
        for text in [
            "not json",
            r#"{"type":"subscribe","payload":{"query":"subscription { x }"}}"#,
            r#"{"id":"","type":"complete"}"#,
            r#"{"id":"1","type":"subscribe","payload":{"query":"subscription { x }"}}"#,
            r#"{"id":"1","type":"subscribe","payload":{}}"#,
            r#"{"type":"start"}"#,
            r#"{"payload":{}}"#,
        ] {
            let (code, why) = parse(text).unwrap_err();
            assert_eq!(code, BAD_REQUEST, "{text}: {why}");
            assert!(!why.is_empty());
        }
    }
}
