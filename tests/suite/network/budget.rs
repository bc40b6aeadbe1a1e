//! An outage longer than the attempt budget ends in `Failed`; `reconnect()` recovers.

use std::sync::atomic::Ordering;

use wschaos::client::{Policy, Reason, Status};
use wschaos::server::ServerConfig;

use crate::support::*;

pub async fn gives_up_after_max_attempts_then_reconnect_recovers() {
    let server = TestServer::start(any_port(), ServerConfig::default()).await;
    let connector = counted();
    let policy = Policy {
        max_attempts: Some(3),
        ..fast_policy()
    };
    let (alice, task) = client_over(&server.url(), "alice", policy, connector.clone());
    let mut changes = alice.status_changes();
    statuses_until(&mut changes, "Connected", |s| *s == Status::Connected).await;
    let addr = server.addr;
    server.stop().await;
    let dials_before = connector.dials.load(Ordering::SeqCst);

    let outage = statuses_until(&mut changes, "Failed", |s| {
        matches!(s, Status::Failed { .. })
    })
    .await;
    assert_legal(&[vec![Status::Connected], outage.clone()].concat());
    let connecting: Vec<u32> = outage
        .iter()
        .filter_map(|s| {
            if let Status::Connecting { attempt } = s {
                Some(*attempt)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        connecting,
        [1, 2, 3],
        "exactly max_attempts dials: {outage:?}"
    );
    assert_eq!(connector.dials.load(Ordering::SeqCst) - dials_before, 3);
    assert!(
        matches!(
            outage.last(),
            Some(Status::Failed {
                reason: Reason::Dial { .. }
            })
        ),
        "{outage:?}"
    );
    assert!(
        !task.is_finished(),
        "Failed waits for reconnect(); it is not the end"
    );

    let _server = TestServer::start(addr, ServerConfig::default()).await;
    alice.reconnect();
    let back = statuses_until(&mut changes, "Connected after reconnect()", |s| {
        *s == Status::Connected
    })
    .await;
    assert_eq!(back, [Status::Connecting { attempt: 1 }, Status::Connected]);
}
