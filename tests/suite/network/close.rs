//! `close()` ends everything: no dial, no timer, no task afterwards, whatever time passes.
//! Virtual time with a connector that refuses at once (no real I/O), so "whatever time
//! passes" can be an hour.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::DuplexStream;
use wschaos::client::{Policy, Status};
use wschaos::net::Connector;

use crate::support::*;

#[derive(Clone, Default)]
struct Refusing {
    dials: Arc<AtomicUsize>,
}

impl Connector for Refusing {
    type Stream = DuplexStream;

    async fn connect(&self, _host: &str, _port: u16) -> io::Result<DuplexStream> {
        self.dials.fetch_add(1, Ordering::SeqCst);
        Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"))
    }
}

pub async fn close_during_backoff_stops_all_dialing() {
    let connector = Refusing::default();
    let policy = Policy {
        initial_delay: Duration::from_secs(5),
        ..Policy::default()
    };
    let (alice, task) = client_over("ws://nowhere.test:1/", "alice", policy, connector.clone());
    let mut status = alice.status();
    within(
        "backoff",
        status.wait_for(|s| matches!(s, Status::Disconnected { .. })),
    )
    .await
    .unwrap();
    assert_eq!(connector.dials.load(Ordering::SeqCst), 1);

    alice.close();
    within("the connection task to end", task).await.unwrap();
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(
        connector.dials.load(Ordering::SeqCst),
        1,
        "no dial after close()"
    );
    assert_eq!(*alice.status().borrow(), Status::Closed);
    assert_eq!(
        alice.publish("t", "x"),
        Err(wschaos::client::ClientError::Closed)
    );
}

pub async fn dropping_every_handle_closes_the_client() {
    let connector = Refusing::default();
    let (alice, task) = client_over(
        "ws://nowhere.test:1/",
        "alice",
        Policy::default(),
        connector.clone(),
    );
    let mut changes = alice.status_changes();
    drop(alice);
    within("the connection task to end", task).await.unwrap();
    let last = statuses_until(&mut changes, "Closed", |s| *s == Status::Closed).await;
    assert_eq!(last.last(), Some(&Status::Closed));
}
