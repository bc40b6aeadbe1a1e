//! Raw mode against a plain WebSocket server that does not speak the wschaos protocol:
//! the same incoming stream keeps yielding across a restart of that server.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use wschaos::client::Status;

use crate::support::*;

/// Greets each connection with "hello from {generation}" and echoes text frames.
async fn plain_server(addr: SocketAddr, generation: u32) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        ws.send(Message::text(format!("hello from {generation}")))
            .await
            .unwrap();
        while let Some(Ok(frame)) = ws.next().await {
            if let Message::Text(text) = frame {
                ws.send(Message::text(format!("echo {text}")))
                    .await
                    .unwrap();
            }
        }
    });
    (addr, task)
}

fn text(frame: Message) -> String {
    frame.into_text().unwrap().to_string()
}

pub async fn raw_stream_survives_a_plain_server_restart() {
    let (addr, first) = plain_server(any_port(), 1).await;
    let client = raw_client(&format!("ws://{addr}/"));
    let mut incoming = client.incoming();
    assert_eq!(
        text(next_item(&mut incoming, "greeting 1").await.unwrap()),
        "hello from 1"
    );
    client.send("a").unwrap();
    assert_eq!(
        text(next_item(&mut incoming, "echo a").await.unwrap()),
        "echo a"
    );

    first.abort();
    let _ = first.await;
    let mut status = client.status();
    within("the drop", status.wait_for(|s| *s != Status::Connected))
        .await
        .unwrap();
    let (_, _second) = plain_server(addr, 2).await;
    assert_eq!(
        text(next_item(&mut incoming, "greeting 2").await.unwrap()),
        "hello from 2"
    );
    client.send("b").unwrap();
    assert_eq!(
        text(next_item(&mut incoming, "echo b").await.unwrap()),
        "echo b"
    );
}
