//! The built-in server's Phoenix Channels (v2 JSON serializer, as npm `phoenix` speaks it:
//! `[join_ref, ref, topic, event, payload]`), for the same topics the wschaos protocol
//! serves:
//!
//! - `phx_join` joins the channel of its topic (a topic is a channel): answered by
//!   `phx_reply` `{"status":"ok","response":{}}` with the join's refs. A join of a topic the
//!   socket already joined closes the old channel first (`phx_close` with the old
//!   `join_ref`), as Phoenix does.
//! - `phx_leave` is answered `ok`, then `phx_close`.
//! - `heartbeat` on the `phoenix` topic is answered `ok`.
//! - Any other event pushed on a joined topic publishes its payload there: every socket that
//!   joined it gets `[null, null, topic, event, payload]`, the payload (an object) with the
//!   message's `seq` and `from` added, and the push is answered `ok` with `{"seq"}`. A push on
//!   a topic not joined is answered `error` `{"reason":"unmatched topic"}`.
//! - A frame that is not such an array is answered by nothing (Phoenix logs it); it is
//!   recorded as rejected.

use serde_json::{Map, Value, json};

/// A message from a client.
#[derive(Debug, PartialEq)]
pub(crate) enum Request {
    Heartbeat {
        r#ref: Value,
    },
    Join {
        join_ref: Value,
        r#ref: Value,
        topic: String,
    },
    Leave {
        join_ref: Value,
        r#ref: Value,
        topic: String,
    },
    Push {
        join_ref: Value,
        r#ref: Value,
        topic: String,
        event: String,
        payload: Value,
    },
}

/// Reads one text message from a client.
pub(crate) fn parse(text: &str) -> Result<Request, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Array(mut f) = v else {
        return Err("not a [join_ref, ref, topic, event, payload] array".into());
    };
    if f.len() != 5 {
        return Err(format!("an array of {} items, not 5", f.len()));
    }
    let payload = f.pop().unwrap_or(Value::Null);
    let event = f.pop().unwrap_or(Value::Null);
    let topic = f.pop().unwrap_or(Value::Null);
    let r#ref = f.pop().unwrap_or(Value::Null);
    let join_ref = f.pop().unwrap_or(Value::Null);
    let (Value::String(topic), Value::String(event)) = (topic, event) else {
        return Err("topic and event must be strings".into());
    };
    Ok(match event.as_str() {
        "heartbeat" if topic == "phoenix" => Request::Heartbeat { r#ref },
        // A channel's join_ref is its join's ref.
        "phx_join" => Request::Join {
            join_ref: if join_ref.is_null() {
                r#ref.clone()
            } else {
                join_ref
            },
            r#ref,
            topic,
        },
        "phx_leave" => Request::Leave {
            join_ref,
            r#ref,
            topic,
        },
        _ => Request::Push {
            join_ref,
            r#ref,
            topic,
            event,
            payload,
        },
    })
}

/// A ref as a number (refs are counters, sent as strings), for a published message's id.
pub(crate) fn number(r#ref: &Value) -> Option<u64> {
    match r#ref {
        Value::String(s) => s.parse().ok(),
        other => other.as_u64(),
    }
}

/// A reply to the push `r#ref`.
pub(crate) fn reply(
    join_ref: &Value,
    r#ref: &Value,
    topic: &str,
    ok: bool,
    response: Value,
) -> String {
    let status = if ok { "ok" } else { "error" };
    json!([join_ref, r#ref, topic, "phx_reply", {"status": status, "response": response}])
        .to_string()
}

/// The server closes the channel `join_ref` of `topic`.
pub(crate) fn close(join_ref: &Value, topic: &str) -> String {
    json!([join_ref, join_ref, topic, "phx_close", {}]).to_string()
}

/// A message published on `topic`, for every socket that joined it.
pub(crate) fn broadcast(topic: &str, event: &str, payload: &Value) -> String {
    json!([Value::Null, Value::Null, topic, event, payload]).to_string()
}

/// The payload of a published message: the pushed payload (an object, else under `data`)
/// with its `seq` and `from`.
pub(crate) fn payload(pushed: Value, seq: u64, from: &str) -> Value {
    let mut object = match pushed {
        Value::Object(o) => o,
        other => Map::from_iter([("data".to_string(), other)]),
    };
    object.insert("seq".into(), seq.into());
    object.insert("from".into(), from.into());
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_leaves_heartbeats_and_pushes_are_read() {
        assert_eq!(
            parse(r#"["3","3","room:lobby","phx_join",{}]"#),
            Ok(Request::Join {
                join_ref: json!("3"),
                r#ref: json!("3"),
                topic: "room:lobby".into()
            })
        );
        assert_eq!(
            parse(r#"[null,"4","phoenix","heartbeat",{}]"#),
            Ok(Request::Heartbeat { r#ref: json!("4") })
        );
        assert_eq!(
            parse(r#"["3","5","room:lobby","phx_leave",{}]"#),
            Ok(Request::Leave {
                join_ref: json!("3"),
                r#ref: json!("5"),
                topic: "room:lobby".into()
            })
        );
        assert_eq!(
            parse(r#"["3","6","room:lobby","new_msg",{"body":"hi"}]"#),
            Ok(Request::Push {
                join_ref: json!("3"),
                r#ref: json!("6"),
                topic: "room:lobby".into(),
                event: "new_msg".into(),
                payload: json!({"body": "hi"})
            })
        );
        for bad in ["{}", "[1,2,3]", r#"[null,null,1,"x",{}]"#, "nope"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_broadcast_carries_the_pushed_payload_with_its_sequence() {
        let p = payload(json!({"body": "hi"}), 4, "subs-0");
        assert_eq!(
            broadcast("room:lobby", "new_msg", &p),
            r#"[null,null,"room:lobby","new_msg",{"body":"hi","seq":4,"from":"subs-0"}]"#
        );
        assert_eq!(
            payload(json!("x"), 1, "a"),
            json!({"data": "x", "seq": 1, "from": "a"})
        );
    }
}
