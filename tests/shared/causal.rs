//! The history is causal: the reference client's events are recorded at the moment it emits
//! them, so within each client process they read in the order they happened. Checked over
//! every simulated library scenario and each of its seeds (`tests/scenarios.rs`, on the run
//! each file's test makes anyway):
//! - every dial comes right after the `connecting` status that announced it;
//! - every message and gap arrives while the process is connected, and carries the dial
//!   number of the connection that is up;
//! - nothing follows a process's `closed`;
//! - the dial numbers count each process's dials from 1, and start over in a new process.
//!
//! What the wire showed (`Event::Wire`) is the harness's reading of a connection, not the
//! client's report: a close frame may follow `closed`, and old connections may still speak
//! between a `connecting` and its dial.

use wschaos::client::Status;
use wschaos::history::{ClientAction, Event, History};

/// What one client process has been through so far.
#[derive(Default)]
struct Process {
    last: Option<Event>,
    status: Option<Status>,
    connected_on: Option<u32>,
    dials: u32,
    closed: bool,
}

/// Panics at the first record out of causal order; returns how many dials, messages and
/// gaps it checked.
pub fn check(history: &History, what: &str) -> usize {
    let mut checked = 0;
    let clients: std::collections::BTreeSet<&str> = history
        .records
        .iter()
        .filter_map(|r| r.event.client())
        .collect();
    for client in clients {
        let mut p = Process::default();
        for (i, r) in history.of(client) {
            let at = || format!("{what}: {client}, record {i} at {} ms: {:?}", r.t, r.event);
            if let Event::Action {
                action: ClientAction::Start,
                ..
            } = &r.event
            {
                p = Process::default();
            }
            // After close(), nothing from the client; the timeline may still tell it things
            // (actions, its process's end) and ask it to publish, which it refuses.
            // What the wire showed is the harness's reading of the connection, not the
            // client's report: its close frame follows its `closed`, as it should.
            let exit = matches!(
                r.event,
                Event::Action { .. }
                    | Event::Wire { .. }
                    | Event::Publish {
                        refused: Some(_),
                        ..
                    }
            );
            assert!(!p.closed || exit, "{} comes after closed", at());
            let dial = r
                .dial
                .unwrap_or_else(|| panic!("{} has no dial number", at()));
            match &r.event {
                Event::Dial { .. } => {
                    p.dials += 1;
                    assert_eq!(dial, p.dials, "{}", at());
                    assert!(
                        matches!(
                            &p.last,
                            Some(Event::Status {
                                status: Status::Connecting { .. },
                                ..
                            })
                        ),
                        "{} does not come right after connecting, but after {:?}",
                        at(),
                        p.last
                    );
                    checked += 1;
                }
                Event::Status { status, .. } => {
                    assert_eq!(dial, p.dials, "{}", at());
                    p.connected_on = (*status == Status::Connected).then_some(dial);
                    p.closed = *status == Status::Closed;
                    p.status = Some(status.clone());
                }
                Event::Delivered { .. } | Event::Gap { .. } => {
                    assert_eq!(
                        p.connected_on,
                        Some(dial),
                        "{} arrives while {:?}",
                        at(),
                        p.status
                    );
                    checked += 1;
                }
                _ => assert_eq!(dial, p.dials, "{}", at()),
            }
            // An action the timeline fired on the status change itself (an `on` step) is
            // recorded inside the transition: it does not come between it and the dial.
            if !matches!(r.event, Event::Action { .. } | Event::Wire { .. }) {
                p.last = Some(r.event.clone());
            }
        }
    }
    checked
}
