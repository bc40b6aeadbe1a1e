//! The client against hostile servers: each misbehaviour ends the connection with a clear
//! reason in the status stream, the client reconnects per policy and never panics.

use std::time::Duration;

use futures::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wschaos::client::{Policy, Reason, Status};

use crate::support::*;

/// Serves every connection with `act`, forever.
async fn hostile<F, Fut>(act: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(act(stream));
        }
    });
    url
}

fn policy() -> Policy {
    Policy {
        handshake_timeout: Duration::from_millis(300),
        ..fast_policy()
    }
}

/// The first two failures and the dial between them: the client reports and retries.
async fn two_failures(url: &str) -> Vec<Status> {
    let (alice, _task) = client_over(url, "alice", policy(), wschaos::net::TokioNet);
    let mut changes = alice.status_changes();
    let failures = std::cell::Cell::new(0);
    statuses_until(&mut changes, "two failures", |s| {
        failures.set(failures.get() + usize::from(matches!(s, Status::Disconnected { .. })));
        failures.get() == 2
    })
    .await
}

fn reasons(statuses: &[Status]) -> Vec<&Reason> {
    statuses
        .iter()
        .filter_map(|s| {
            if let Status::Disconnected { reason, .. } = s {
                Some(reason)
            } else {
                None
            }
        })
        .collect()
}

pub async fn a_server_that_never_completes_the_handshake_times_out_and_is_retried() {
    let url = hostile(|stream| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
    .await;
    let seen = two_failures(&url).await;
    assert_eq!(
        reasons(&seen),
        [&Reason::HandshakeTimeout, &Reason::HandshakeTimeout],
        "{seen:?}"
    );
}

pub async fn garbage_bytes_after_the_handshake_are_a_protocol_error() {
    let url = hostile(|stream| async move {
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let _ = ws.get_mut().write_all(&[0xff; 64]).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let seen = two_failures(&url).await;
    for reason in reasons(&seen) {
        assert!(
            matches!(reason, Reason::Error { error } if error.contains("WebSocket protocol error")),
            "{seen:?}"
        );
    }
}

pub async fn frames_after_the_close_frame_do_not_confuse_the_client() {
    let url = hostile(|stream| async move {
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let close = CloseFrame {
            code: CloseCode::Away,
            reason: "bye".into(),
        };
        let _ = ws.send(Message::Close(Some(close))).await;
        // Raw text frames after the close: an unmasked server frame "late".
        let _ = ws
            .get_mut()
            .write_all(&[0x81, 0x04, b'l', b'a', b't', b'e'])
            .await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let seen = two_failures(&url).await;
    for reason in reasons(&seen) {
        assert!(
            matches!(reason, Reason::ServerClosed { code: 1001, .. }),
            "{seen:?}"
        );
    }
}

pub async fn a_frame_bigger_than_the_limit_ends_the_connection_without_buffering_it() {
    let url = hostile(|stream| async move {
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        // A header announcing a 1 TiB text frame; the body never comes.
        let mut header = vec![0x81, 127];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let _ = ws.get_mut().write_all(&header).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let seen = two_failures(&url).await;
    for reason in reasons(&seen) {
        assert!(
            matches!(reason, Reason::Error { error } if error.contains("Space limit exceeded") || error.contains("too long")),
            "{seen:?}"
        );
    }
}

pub async fn the_policy_bounds_the_messages_a_client_accepts() {
    // Welcome (small, accepted), then a 2 KiB message against a 1 KiB limit, fragmented so
    // that no single frame is over it: the whole message counts.
    let url = hostile(|stream| async move {
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let welcome = r#"{"type":"welcome","epoch":1,"client":"alice","online":1}"#;
        let _ = ws.send(Message::text(welcome)).await;
        for (i, last) in [(0, false), (1, false), (2, false), (3, true)] {
            let op = if i == 0 { Data::Text } else { Data::Continue };
            let part = "x".repeat(512);
            let _ = ws
                .feed(Message::Frame(Frame::message(part, OpCode::Data(op), last)))
                .await;
        }
        let _ = ws.flush().await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let small = Policy {
        max_message_size: 1024,
        ..policy()
    };
    let (alice, _task) = client_over(&url, "alice", small, wschaos::net::TokioNet);
    let mut changes = alice.status_changes();
    let failures = std::cell::Cell::new(0);
    let seen = statuses_until(&mut changes, "two failures", |s| {
        failures.set(failures.get() + usize::from(matches!(s, Status::Disconnected { .. })));
        failures.get() == 2
    })
    .await;
    assert!(seen.contains(&Status::Connected), "{seen:?}");
    for reason in reasons(&seen) {
        assert!(
            matches!(reason, Reason::Error { error } if error.contains("too long") || error.contains("Space limit")),
            "{seen:?}"
        );
    }
}

/// A WebSocket server that is not a wschaos server: it greets, then says nothing more.
async fn not_a_wschaos_server(stream: tokio::net::TcpStream) {
    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
    let _ = ws.send(Message::text("hello, I am an echo server")).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
}

pub async fn a_server_that_does_not_speak_the_protocol_is_reported_as_such() {
    let url = hostile(not_a_wschaos_server).await;
    let seen = two_failures(&url).await;
    assert!(
        !seen.contains(&Status::Connected),
        "no welcome, so never connected: {seen:?}"
    );
    let attempts: Vec<u32> = seen
        .iter()
        .filter_map(|s| match s {
            Status::Disconnected { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [2, 3], "each is a failed attempt: {seen:?}");
    for reason in reasons(&seen) {
        assert!(
            matches!(reason, Reason::Error { error } if error.starts_with("the server does not speak the wschaos protocol")),
            "{seen:?}"
        );
    }
}

pub async fn a_server_that_never_welcomes_is_given_up_on_after_max_attempts() {
    let url = hostile(not_a_wschaos_server).await;
    let policy = Policy {
        max_attempts: Some(2),
        ..policy()
    };
    let (alice, _task) = client_over(&url, "alice", policy, wschaos::net::TokioNet);
    let mut changes = alice.status_changes();
    let seen = statuses_until(&mut changes, "gave up", |s| {
        matches!(s, Status::Failed { .. })
    })
    .await;
    let dials = seen
        .iter()
        .filter(|s| matches!(s, Status::Connecting { .. }))
        .count();
    assert_eq!(dials, 2, "{seen:?}");
    alice.close();
}
