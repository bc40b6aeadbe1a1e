//! The server's fault knobs on a real network: kick, flap, reject. Clients report each with
//! the right reason and recover; a kick only hits the connections that existed at the time.

use wschaos::client::{Reason, Status};
use wschaos::server::{Admission, ServerConfig, controls};

use crate::support::*;

pub async fn a_kick_closes_current_connections_once_and_later_ones_stay() {
    let (knobs, controls) = controls();
    let mut server = TestServer::start_with(any_port(), ServerConfig::default(), controls).await;
    let (alice, _task) = client(&server.url(), "alice");
    let mut changes = alice.status_changes();
    statuses_until(&mut changes, "Connected", |s| *s == Status::Connected).await;

    knobs.kick(1001);
    let kicked = statuses_until(&mut changes, "Connected again", |s| *s == Status::Connected).await;
    assert!(
        matches!(
            &kicked[0],
            Status::Disconnected {
                reason: Reason::ServerClosed { code: 1001, .. },
                ..
            }
        ),
        "{kicked:?}"
    );
    // The new connection is not kicked: a publish makes the round trip on it.
    let mut news = alice.subscribe("news").unwrap();
    alice.publish("news", "still here").unwrap();
    let got = next_item(&mut news, "the message").await;
    assert!(matches!(got, wschaos::client::TopicEvent::Message(m) if m.data == "still here"));
    assert_eq!(*alice.status().borrow(), Status::Connected);
    let kicks = server
        .events_until("alice's publish", |e| matches!(e, wschaos::server::Event::Published { .. }))
        .await
        .into_iter()
        .filter(|e| matches!(e, wschaos::server::Event::Disconnected { reason, .. } if reason.starts_with("kicked")))
        .count();
    assert_eq!(kicks, 1);
}

pub async fn reject_and_flap_windows_are_reported_with_their_reasons() {
    let (knobs, controls) = controls();
    let server = TestServer::start_with(any_port(), ServerConfig::default(), controls).await;
    knobs.admit(Admission::Reject { status: 503 });
    let (alice, _task) = client(&server.url(), "alice");
    let mut changes = alice.status_changes();
    let rejected = statuses_until(&mut changes, "a rejection", |s| {
        matches!(s, Status::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            rejected.last(),
            Some(Status::Disconnected {
                reason: Reason::Rejected { status: 503 },
                ..
            })
        ),
        "{rejected:?}"
    );

    knobs.admit(Admission::Flap);
    let flapped = statuses_until(&mut changes, "a flap", |s| {
        matches!(
            s,
            Status::Disconnected {
                reason: Reason::ServerClosed { code: 1011, .. },
                ..
            }
        )
    })
    .await;
    assert!(
        flapped.contains(&Status::Connected),
        "a flap completes the handshake first: {flapped:?}"
    );

    knobs.admit(Admission::Accept);
    statuses_until(&mut changes, "Connected for good", |s| {
        *s == Status::Connected
    })
    .await;
}

/// The knobs' owner going away (`wschaos serve` whose stdin ended) is not a kick: it used
/// to close every connection with code 0.
pub async fn dropping_the_knobs_kicks_nobody() {
    let (knobs, controls) = controls();
    let mut server = TestServer::start_with(any_port(), ServerConfig::default(), controls).await;
    let (alice, _task) = client(&server.url(), "alice");
    let mut changes = alice.status_changes();
    statuses_until(&mut changes, "Connected", |s| *s == Status::Connected).await;
    drop(knobs);
    // The connection still carries a round trip, and the server recorded no disconnect.
    let mut news = alice.subscribe("news").unwrap();
    alice.publish("news", "still here").unwrap();
    let got = next_item(&mut news, "the message").await;
    assert!(matches!(got, wschaos::client::TopicEvent::Message(m) if m.data == "still here"));
    let seen = server
        .events_until("alice's publish", |e| {
            matches!(e, wschaos::server::Event::Published { .. })
        })
        .await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, wschaos::server::Event::Disconnected { .. })),
        "{seen:?}"
    );
    assert_eq!(*alice.status().borrow(), Status::Connected);
}
