//! A server restart: status moves, the same stream keeps yielding, topics restored once,
//! offline publishes delivered once and in order.

use wschaos::client::{Reason, Status, TopicEvent};
use wschaos::protocol::GapReason;
use wschaos::server::{Event, ServerConfig};

use crate::support::*;

fn data(event: TopicEvent) -> String {
    match event {
        TopicEvent::Message(m) => m.data,
        TopicEvent::Gap { reason, .. } => format!("gap:{reason:?}"),
    }
}

pub async fn restart_keeps_streams_restores_topics_once_and_delivers_offline_publishes() {
    let mut server = TestServer::start(
        any_port(),
        ServerConfig {
            epoch: 1,
            ..ServerConfig::default()
        },
    )
    .await;
    let url = server.url();
    let (alice, _alice_task) = client(&url, "alice");
    let (bob, _bob_task) = client(&url, "bob");
    let mut alice_status = alice.status_changes();
    let mut news = alice.subscribe("news").unwrap();
    let _sports = alice.subscribe("sports").unwrap();
    let mut subscribed = 0;
    server
        .wait_for("alice's two subscriptions", |e| {
            subscribed += matches!(e, Event::Subscribed { client, .. } if client == "alice") as u32;
            (subscribed == 2).then_some(())
        })
        .await;
    connected(&bob).await;
    bob.publish("news", "before").unwrap();
    assert_eq!(data(next_item(&mut news, "first message").await), "before");
    let before = statuses_until(&mut alice_status, "Connected", |s| *s == Status::Connected).await;
    assert_eq!(
        before,
        [Status::Connecting { attempt: 1 }, Status::Connected]
    );

    let addr = server.addr;
    server.stop().await;
    let mut bob_status = bob.status();
    within(
        "bob offline",
        bob_status.wait_for(|s| *s != Status::Connected),
    )
    .await
    .unwrap();
    bob.publish("news", "offline 1").unwrap();
    bob.publish("news", "offline 2").unwrap();
    let outage = statuses_until(&mut alice_status, "a failed redial", |s| {
        matches!(
            s,
            Status::Disconnected {
                reason: Reason::Dial { .. },
                ..
            }
        )
    })
    .await;
    let mut server = TestServer::start(
        addr,
        ServerConfig {
            epoch: 2,
            ..ServerConfig::default()
        },
    )
    .await;
    let back = statuses_until(&mut alice_status, "Connected again", |s| {
        *s == Status::Connected
    })
    .await;

    let story: Vec<Status> = [vec![Status::Connected], outage.clone(), back].concat();
    assert_legal(&story);
    assert!(
        matches!(
            &outage[0],
            Status::Disconnected {
                attempt: 1,
                reason: Reason::ServerClosed { code: 1012, .. },
                ..
            }
        ),
        "the drop is reported with the server's close code: {outage:?}"
    );
    assert!(
        matches!(outage[1], Status::Connecting { attempt: 1 }),
        "{outage:?}"
    );

    // Frames of one connection are handled in order: once alice's marker is published,
    // everything her reconnect sent before it has been seen.
    alice.publish("marker", "m").unwrap();
    let seen = server
        .events_until("alice's marker", |e| matches!(e, Event::Published { client, topic, .. } if client == "alice" && topic == "marker"))
        .await;
    let mut restored: Vec<&str> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Subscribed { client, topic, .. } if client == "alice" => Some(topic.as_str()),
            _ => None,
        })
        .collect();
    restored.sort();
    assert_eq!(
        restored,
        ["news", "sports"],
        "each topic restored exactly once"
    );

    assert_eq!(
        data(next_item(&mut news, "the epoch gap").await),
        format!("gap:{:?}", GapReason::Epoch)
    );
    assert_eq!(data(next_item(&mut news, "offline 1").await), "offline 1");
    assert_eq!(data(next_item(&mut news, "offline 2").await), "offline 2");
    connected(&bob).await;
    bob.publish("news", "after").unwrap();
    assert_eq!(
        data(next_item(&mut news, "after").await),
        "after",
        "nothing was delivered twice in between"
    );
}

pub async fn presence_reaches_every_client() {
    let server = TestServer::start(any_port(), ServerConfig::default()).await;
    let (alice, _a) = client(&server.url(), "alice");
    let mut events = alice.server_events();
    connected(&alice).await;
    let (bob, _b) = client(&server.url(), "bob");
    connected(&bob).await;
    bob.close();
    use wschaos::client::ServerEvent::*;
    use wschaos::protocol::Change;
    assert_eq!(
        next_item(&mut events, "welcome").await.unwrap(),
        Welcome {
            epoch: 0,
            client: "alice".into(),
            online: 1
        }
    );
    // The server gathers changes (`presence_every`): how they are split into frames depends
    // on timing; their order, and that each arrives once, do not.
    let (mut changes, mut last_online) = (Vec::new(), 0);
    while changes.len() < 3 {
        match next_item(&mut events, "presence").await.unwrap() {
            Presence {
                changes: more,
                online,
            } => {
                changes.extend(more);
                last_online = online;
            }
            other => panic!("not presence: {other:?}"),
        }
    }
    assert_eq!(
        changes,
        [
            Change::Joined("alice".into()),
            Change::Joined("bob".into()),
            Change::Left("bob".into())
        ]
    );
    assert_eq!(last_online, 1, "bob gone");
}

/// `run_handing_over`: after a graceful stop the port still accepts (the dial waits in the
/// backlog), and the successor serves that very connection; `run_with` refuses it.
pub async fn a_handed_over_socket_never_refuses_and_the_successor_serves_the_waiting_dial() {
    use futures::StreamExt;
    use wschaos::protocol::ServerFrame;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn(wschaos::server::run_handing_over(
        listener,
        ServerConfig::default(),
        async move {
            let _ = stopped.await;
        },
        |_| {},
        wschaos::server::Controls::default(),
    ));
    let (alice, _a) = client(&format!("ws://{addr}/"), "alice");
    connected(&alice).await;
    stop.send(()).unwrap();
    let listener = within("the first server's drain", first).await.unwrap();
    // Between the two servers: the dial is not refused.
    let waiting = within(
        "a dial between the servers",
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .expect("the kept socket accepts the dial into its backlog");
    let config = ServerConfig {
        epoch: 2,
        ..ServerConfig::default()
    };
    let second = tokio::spawn(wschaos::server::run(
        listener,
        config,
        std::future::pending(),
    ));
    let url = format!("ws://{addr}/?client=bob");
    let (mut ws, _) = within(
        "the handshake",
        tokio_tungstenite::client_async(url, waiting),
    )
    .await
    .unwrap();
    let first_frame = within("the welcome", ws.next()).await.unwrap().unwrap();
    let welcome: ServerFrame = serde_json::from_str(first_frame.to_text().unwrap()).unwrap();
    assert!(
        matches!(welcome, ServerFrame::Welcome { epoch: 2, .. }),
        "{welcome:?}"
    );
    connected(&alice).await;
    alice.close();
    second.abort();

    // Without the hand-over the port refuses once the server stopped.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let plain = tokio::spawn(wschaos::server::run(
        listener,
        ServerConfig::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    stop.send(()).unwrap();
    within("the plain server's stop", plain).await.unwrap();
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}
