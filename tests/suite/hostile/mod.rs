//! The server against hostile clients on loopback. Each case runs next to a well-behaved
//! subscriber and publisher whose deliveries must stay intact, and gets a clear close code
//! or error frame; the server never falls over.

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wschaos::client::TopicEvent;
use wschaos::protocol::{ErrorCode, ServerFrame};
use wschaos::server::ServerConfig;

use crate::support::*;

pub mod servers;

type Ws = WebSocketStream<TcpStream>;

/// A raw WebSocket to the server, no reconnecting client around it.
async fn raw(url: &str) -> Ws {
    let stream = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("{url}?client=mallory"), stream)
        .await
        .unwrap();
    ws
}

/// The next server frame, skipping welcome and presence.
async fn next_reply(ws: &mut Ws) -> Option<Result<ServerFrame, Message>> {
    within("a reply", async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Text(text)) => match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::Welcome { .. } | ServerFrame::Presence { .. }) => continue,
                    Ok(frame) => return Some(Ok(frame)),
                    Err(_) => return Some(Err(Message::Text(text))),
                },
                Ok(Message::Close(close)) => return Some(Err(Message::Close(close))),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
}

async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match next_reply(ws).await {
            Some(Err(Message::Close(Some(frame)))) => return Some(frame.code),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

/// A subscriber and a publisher that must not notice the attack: `n` messages, in order.
struct Bystanders {
    alice: wschaos::client::Client,
    news: wschaos::client::Subscription,
    bob: wschaos::client::Client,
    sent: u64,
}

impl Bystanders {
    async fn join(url: &str) -> Bystanders {
        let (alice, _) = client(url, "alice");
        let news = alice.subscribe("news").unwrap();
        let (bob, _) = client(url, "bob");
        connected(&alice).await;
        connected(&bob).await;
        alice.flushed().await;
        Bystanders {
            alice,
            news,
            bob,
            sent: 0,
        }
    }

    async fn still_fine(&mut self) {
        for _ in 0..5 {
            self.sent += 1;
            self.bob.publish("news", format!("m{}", self.sent)).unwrap();
        }
        let first = self.sent - 4;
        for n in first..=self.sent {
            match next_item(&mut self.news, "a bystander's message").await {
                TopicEvent::Message(m) => assert_eq!(m.data, format!("m{n}")),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            *self.alice.status().borrow(),
            wschaos::client::Status::Connected
        );
    }
}

async fn setup(config: ServerConfig) -> (TestServer, Bystanders) {
    let server = TestServer::start(any_port(), config).await;
    let mut by = Bystanders::join(&server.url()).await;
    by.still_fine().await;
    (server, by)
}

pub async fn malformed_json_and_unknown_operations_get_error_frames_and_the_connection_stays() {
    let (server, mut by) = setup(ServerConfig::default()).await;
    let mut ws = raw(&server.url()).await;
    for garbage in [
        "{not json",
        r#"{"type":"shout","x":1}"#,
        r#"{"type":"publish","topic":"news"}"#,
        "null",
        "",
    ] {
        ws.send(Message::text(garbage)).await.unwrap();
        match next_reply(&mut ws).await {
            Some(Ok(ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            })) => {}
            other => panic!("{garbage:?}: {other:?}"),
        }
    }
    ws.send(Message::text(r#"{"type":"subscribe","topic":"news"}"#))
        .await
        .unwrap();
    assert!(
        matches!(
            next_reply(&mut ws).await,
            Some(Ok(ServerFrame::Subscribed { .. }))
        ),
        "still served"
    );
    by.still_fine().await;
}

pub async fn bad_topics_and_subscription_floods_are_refused_per_request() {
    let (server, mut by) = setup(ServerConfig {
        max_subscriptions: 8,
        ..ServerConfig::default()
    })
    .await;
    let mut ws = raw(&server.url()).await;
    for topic in [String::new(), "a\u{7}b".into(), "x".repeat(500)] {
        let frame = serde_json::json!({ "type": "subscribe", "topic": topic }).to_string();
        ws.send(Message::text(frame)).await.unwrap();
        assert!(matches!(
            next_reply(&mut ws).await,
            Some(Ok(ServerFrame::Error {
                code: ErrorCode::BadTopic,
                ..
            }))
        ));
    }
    let mut refused = 0;
    for k in 0..50 {
        ws.send(Message::text(format!(
            r#"{{"type":"subscribe","topic":"t{k}"}}"#
        )))
        .await
        .unwrap();
        match next_reply(&mut ws).await {
            Some(Ok(ServerFrame::Subscribed { .. })) => {}
            Some(Ok(ServerFrame::Error {
                code: ErrorCode::TooManySubscriptions,
                ..
            })) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 42, "8 subscriptions allowed, the other 42 refused");
    by.still_fine().await;
}

pub async fn an_oversized_message_closes_with_1009_and_binary_with_1003() {
    let (server, mut by) = setup(ServerConfig {
        max_message_size: 4096,
        ..ServerConfig::default()
    })
    .await;
    let mut big = raw(&server.url()).await;
    let _ = big.send(Message::text("x".repeat(100_000))).await;
    assert_eq!(close_code(&mut big).await, Some(CloseCode::Size));
    let mut binary = raw(&server.url()).await;
    binary.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_code(&mut binary).await, Some(CloseCode::Unsupported));
    by.still_fine().await;
}

/// A raw frame: text (`first`) or continuation, final or not.
fn fragment(data: &str, first: bool, last: bool) -> Message {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let op = if first { Data::Text } else { Data::Continue };
    Message::Frame(Frame::message(data.to_string(), OpCode::Data(op), last))
}

pub async fn fragment_floods_are_bounded_by_the_message_limit() {
    let (server, mut by) = setup(ServerConfig {
        max_message_size: 4096,
        ..ServerConfig::default()
    })
    .await;
    // A message that never ends: fragments pile up to the limit, then close 1009.
    let mut endless = raw(&server.url()).await;
    let chunk = "x".repeat(100);
    let _ = endless.feed(fragment(&chunk, true, false)).await;
    for _ in 0..1000 {
        if endless.feed(fragment(&chunk, false, false)).await.is_err() {
            break;
        }
    }
    let _ = endless.flush().await;
    assert_eq!(close_code(&mut endless).await, Some(CloseCode::Size));
    by.still_fine().await;

    // 3,000 one-byte fragments under the limit: one message, judged as a whole (not JSON).
    let mut confetti = raw(&server.url()).await;
    confetti.feed(fragment("x", true, false)).await.unwrap();
    for _ in 0..3000 {
        confetti.feed(fragment("x", false, false)).await.unwrap();
    }
    confetti.feed(fragment("x", false, true)).await.unwrap();
    confetti.flush().await.unwrap();
    match next_reply(&mut confetti).await {
        Some(Ok(ServerFrame::Error { code, .. })) => assert_eq!(code, ErrorCode::BadFrame),
        other => panic!("{other:?}"),
    }
    by.still_fine().await;

    // A continuation with no message begun is a protocol error: close 1002.
    let mut orphan = raw(&server.url()).await;
    orphan.send(fragment("x", false, true)).await.unwrap();
    assert_eq!(close_code(&mut orphan).await, Some(CloseCode::Protocol));
    by.still_fine().await;
}

pub async fn a_client_that_never_reads_is_cut_off_and_nobody_waits_for_it() {
    let (mut server, mut by) = setup(ServerConfig {
        queue: 16,
        ..ServerConfig::default()
    })
    .await;
    let mut lazy = raw(&server.url()).await;
    lazy.send(Message::text(r#"{"type":"subscribe","topic":"news"}"#))
        .await
        .unwrap();
    assert!(matches!(
        next_reply(&mut lazy).await,
        Some(Ok(ServerFrame::Subscribed { .. }))
    ));
    // It never reads again. 16 MB of 60 KB messages fill the kernel's buffers and then its
    // queue of 16 frames; the bystander, who reads, gets every one.
    let payload = "y".repeat(60_000);
    for n in 1..=280u64 {
        by.bob.publish("news", format!("{n}:{payload}")).unwrap();
        match next_item(&mut by.news, "a big message").await {
            TopicEvent::Message(m) => assert!(m.data.starts_with(&format!("{n}:"))),
            other => panic!("{other:?}"),
        }
    }
    server
        .wait_for("the slow consumer to be dropped", |e| {
            matches!(e, wschaos::server::Event::Rejected { client, reason, .. } if client == "mallory" && reason.starts_with("slow consumer")).then_some(())
        })
        .await;
    by.still_fine().await;
}

pub async fn too_many_connections_are_refused_at_the_handshake_with_503() {
    let (server, mut by) = setup(ServerConfig {
        max_connections: 4,
        ..ServerConfig::default()
    })
    .await;
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..6 {
        let addr = server
            .url()
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(addr).await.unwrap();
        match tokio_tungstenite::client_async(format!("{}?client=m", server.url()), stream).await {
            Ok((ws, _)) => held.push(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 503);
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        (held.len(), refused),
        (2, 4),
        "2 bystanders + 2 held = the limit of 4"
    );
    by.still_fine().await;
}
