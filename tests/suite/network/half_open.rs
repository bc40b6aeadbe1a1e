//! A half-open connection: the server completes the handshake, says welcome, and then never
//! reads or answers again, without closing. Only the client's heartbeat can notice.

use std::time::Duration;

use futures::SinkExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wschaos::client::{Policy, Reason, Status};

use crate::support::*;

pub async fn heartbeat_detects_a_server_that_went_silent() {
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let zombie = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let welcome = r#"{"type":"welcome","epoch":1,"client":"alice","online":1}"#;
        ws.send(Message::text(welcome)).await.unwrap();
        std::future::pending::<()>().await;
        drop(ws);
    });
    let policy = Policy {
        ping_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(200),
        ..fast_policy()
    };
    let (alice, _task) = client_over(&url, "alice", policy, wschaos::net::TokioNet);
    let mut changes = alice.status_changes();
    let seen = statuses_until(&mut changes, "the heartbeat to fire", |s| {
        matches!(s, Status::Disconnected { .. })
    })
    .await;
    assert_eq!(seen[1], Status::Connected);
    assert!(
        matches!(
            seen[2],
            Status::Disconnected {
                reason: Reason::HeartbeatTimeout,
                ..
            }
        ),
        "{seen:?}"
    );
    zombie.abort();
}
