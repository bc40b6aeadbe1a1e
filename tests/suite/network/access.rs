//! Security defaults at the handshake: a bearer token, an origin allow-list.

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wschaos::client::{ClientBuilder, Reason, Status};
use wschaos::server::ServerConfig;

use crate::support::*;

pub async fn a_token_is_required_when_configured() {
    let config = ServerConfig {
        token: Some("s3cret".into()),
        ..ServerConfig::default()
    };
    let server = TestServer::start(any_port(), config).await;
    let (anonymous, _t1) = client(&server.url(), "anonymous");
    let mut changes = anonymous.status_changes();
    gives_up_on_401(&mut changes).await;

    let builder = ClientBuilder::new(&server.url())
        .unwrap()
        .client_id("friend")
        .policy(fast_policy());
    let (friend, task) = builder.bearer_token("s3cret").unwrap().build(
        wschaos::net::TokioNet,
        <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1),
    );
    tokio::spawn(task);
    connected(&friend).await;

    let wrong = ClientBuilder::new(&server.url())
        .unwrap()
        .policy(fast_policy())
        .bearer_token("guess")
        .unwrap();
    let (wrong, task) = wrong.build(
        wschaos::net::TokioNet,
        <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2),
    );
    tokio::spawn(task);
    let mut changes = wrong.status_changes();
    gives_up_on_401(&mut changes).await;
}

/// 401 is terminal by default: the client gives up rather than retry a bad credential.
async fn gives_up_on_401(changes: &mut wschaos::client::StatusChanges) {
    let refused = statuses_until(changes, "a refusal", |s| {
        matches!(s, Status::Failed { .. } | Status::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            refused.last(),
            Some(Status::Failed {
                reason: Reason::Rejected { status: 401 }
            })
        ),
        "{refused:?}"
    );
}

async fn handshake_with_origin(url: &str, origin: Option<&str>) -> Result<(), u16> {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::client_async(request, stream).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("{e}"),
    }
}

pub async fn only_allowed_origins_may_connect_from_a_browser() {
    let config = ServerConfig {
        allowed_origins: vec!["https://app.example".into()],
        ..ServerConfig::default()
    };
    let server = TestServer::start(any_port(), config).await;
    assert_eq!(
        handshake_with_origin(&server.url(), Some("https://app.example")).await,
        Ok(())
    );
    assert_eq!(
        handshake_with_origin(&server.url(), Some("https://evil.example")).await,
        Err(403)
    );
    assert_eq!(
        handshake_with_origin(&server.url(), None).await,
        Ok(()),
        "non-browser clients send no Origin"
    );
}
