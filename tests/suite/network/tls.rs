//! `wss://` end to end, with a certificate generated inside the test (rcgen): delivery and
//! a restart over TLS, and clear refusals when either side will not speak TLS.

use futures::StreamExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wschaos::client::{Client, ClientBuilder, Reason, Status, TopicEvent};
use wschaos::server::{Event, ServerConfig};
use wschaos::tls::{ClientTls, ServerTls};

use crate::support::*;

/// A self-signed identity for `localhost`: the server's TLS settings, and a client trust
/// store holding exactly that certificate.
fn identity() -> (ServerTls, ClientTls) {
    let id = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (id.cert.pem(), id.signing_key.serialize_pem());
    (
        ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).unwrap(),
        ClientTls::trusting_pem(cert.as_bytes()).unwrap(),
    )
}

fn tls_config(tls: &ServerTls) -> ServerConfig {
    ServerConfig {
        tls: Some(tls.clone()),
        ..ServerConfig::default()
    }
}

fn wss_client(port: u16, id: &str, trust: Option<ClientTls>) -> Client {
    let mut builder = ClientBuilder::new(&format!("wss://localhost:{port}/"))
        .unwrap()
        .client_id(id)
        .policy(fast_policy());
    if let Some(trust) = trust {
        builder = builder.tls(trust).unwrap();
    }
    let (client, task) = builder.build(wschaos::net::TokioNet, ChaCha8Rng::seed_from_u64(3));
    tokio::spawn(task);
    client
}

async fn first_refusal(client: &Client) -> Reason {
    let mut changes = client.status_changes();
    let seen = statuses_until(&mut changes, "a failed attempt", |s| {
        matches!(s, Status::Disconnected { .. })
    })
    .await;
    match seen.last() {
        Some(Status::Disconnected { reason, .. }) => reason.clone(),
        other => panic!("{other:?}"),
    }
}

/// The server says why it refused: the TLS handshake failed.
async fn assert_tls_refused(server: &mut TestServer) {
    let refused = server
        .wait_for("the server's view", |e| match e {
            Event::Refused { reason } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(refused.contains("TLS handshake failed"), "{refused}");
}

pub async fn messages_flow_over_wss_and_survive_a_restart() {
    let (server_tls, trust) = identity();
    let mut server = TestServer::start(any_port(), tls_config(&server_tls)).await;
    let addr = server.addr;
    let alice = wss_client(addr.port(), "alice", Some(trust.clone()));
    let bob = wss_client(addr.port(), "bob", Some(trust));
    let mut news = bob.subscribe("news").unwrap();
    server
        .wait_for("bob's subscription", |e| {
            matches!(e, Event::Subscribed { client, .. } if client == "bob").then_some(())
        })
        .await;
    alice.publish("news", "over tls").unwrap();
    match next_item(&mut news, "the first message").await {
        TopicEvent::Message(m) => assert_eq!(m.data, "over tls"),
        other => panic!("{other:?}"),
    }

    server.stop().await;
    let mut server = TestServer::start(addr, tls_config(&server_tls)).await;
    server
        .wait_for("bob's subscription restored over TLS", |e| {
            matches!(e, Event::Subscribed { client, .. } if client == "bob").then_some(())
        })
        .await;
    connected(&alice).await;
    alice.publish("news", "after the restart").unwrap();
    let after = within("the message after the restart", async {
        loop {
            match news.next().await {
                Some(TopicEvent::Message(m)) => return m.data,
                Some(TopicEvent::Gap { .. }) => continue,
                None => panic!("the subscription ended"),
            }
        }
    })
    .await;
    assert_eq!(after, "after the restart");
}

pub async fn a_client_that_does_not_trust_the_certificate_refuses_it_clearly() {
    let (server_tls, _) = identity();
    let (_, someone_else) = identity();
    let mut server = TestServer::start(any_port(), tls_config(&server_tls)).await;
    let client = wss_client(server.addr.port(), "wary", Some(someone_else));
    let reason = first_refusal(&client).await;
    let Reason::Handshake { error } = &reason else {
        panic!("{reason:?}")
    };
    assert!(
        error.starts_with("TLS:") && error.contains("certificate"),
        "{error}"
    );
    assert_tls_refused(&mut server).await;
}

pub async fn plain_ws_against_a_tls_server_is_refused_by_the_server() {
    let (server_tls, _) = identity();
    let mut server = TestServer::start(any_port(), tls_config(&server_tls)).await;
    let (plain, _task) = client(&server.url(), "plain");
    let reason = first_refusal(&plain).await;
    assert!(
        matches!(reason, Reason::Handshake { .. } | Reason::HandshakeTimeout),
        "{reason:?}"
    );
    assert_tls_refused(&mut server).await;
}

pub async fn a_wss_client_against_a_plain_server_fails_in_the_tls_handshake() {
    let server = TestServer::start(any_port(), ServerConfig::default()).await;
    let (_, trust) = identity();
    let client = wss_client(server.addr.port(), "hopeful", Some(trust));
    let reason = first_refusal(&client).await;
    assert!(
        matches!(&reason, Reason::Handshake { error } if error.starts_with("TLS:")),
        "{reason:?}"
    );
}
