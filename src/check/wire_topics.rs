//! Subscriptions on the wire: on every connection that becomes ready, the client asks for
//! each topic it wants exactly once (none forgotten, none twice), judged from the frames it
//! sent and received as its protocol's decoder reads them ([`crate::evidence::wire`]),
//! whatever the server does with them. A topic the server ended or refused may be asked
//! for again.

use std::collections::{BTreeMap, BTreeSet};

use super::topics::{deadline_index, restore_window};
use super::view::{Intents, end, pubsub_clients, slack};
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::evidence::wire::{Direction, WireEvent};
use crate::history::{ClientAction, Event, History};

pub(super) const CHECKER: Checker = Checker {
    name: "subscribed_on_wire",
    severity: super::Severity::Subscriptions,
    promise: "on every connection that becomes ready, the client asks for each topic it wants exactly once: none forgotten, none twice",
    applies: super::pubsub,
    needs: &[Evidence::Wire, Evidence::Intents],
    check: |cx, h| check(cx, h).into(),
};

/// One connection of one client process, as the wire showed it.
#[derive(Default)]
struct Connection<'h> {
    /// Its frames: (record index, time, direction, what it said).
    frames: Vec<(usize, u64, Direction, &'h WireEvent)>,
    /// When the server said it was ready.
    ready: Option<(usize, u64)>,
    /// When it ended: its close frame or end of stream, the process's next dial or exit.
    end: Option<u64>,
}

fn check(cx: &Context, h: &History) -> Vec<Violation> {
    let intents = Intents::new(cx, h);
    // The restore window, widened by the run's slack (on the real network, the machine's
    // measured scheduling delay).
    let window = restore_window(cx) + slack(cx);
    let mut out = Vec::new();
    for (client, _) in pubsub_clients(cx) {
        for (conn, c) in connections(h, &client) {
            judge(cx, h, (&client, conn, &c), (&intents, window), &mut out);
        }
    }
    out
}

/// Each connection of `client`, by its dial number, process after process.
fn connections<'h>(h: &'h History, client: &str) -> Vec<(u32, Connection<'h>)> {
    let mut done = Vec::new();
    let mut open: BTreeMap<u32, Connection<'h>> = BTreeMap::new();
    let finish = |open: &mut BTreeMap<u32, Connection<'h>>, done: &mut Vec<_>, t: u64| {
        for (n, mut c) in std::mem::take(open) {
            c.end.get_or_insert(t);
            done.push((n, c));
        }
    };
    for (k, r) in h.of(client) {
        match &r.event {
            Event::Action {
                action: ClientAction::Exit | ClientAction::Start,
                ..
            } => finish(&mut open, &mut done, r.t),
            // A new dial: the connections before it are over (or, for a client that keeps
            // two, no longer the one it restores).
            Event::Dial { .. } => {
                for c in open.values_mut() {
                    c.end.get_or_insert(r.t);
                }
            }
            Event::Wire {
                conn, dir, said, ..
            } => {
                let c = open.entry(*conn).or_default();
                match &**said {
                    WireEvent::Closed { .. } => {
                        c.end.get_or_insert(r.t);
                    }
                    WireEvent::Ready => {
                        c.ready.get_or_insert((k, r.t));
                    }
                    _ => {}
                }
                c.frames.push((k, r.t, *dir, said));
            }
            _ => {}
        }
    }
    finish(&mut open, &mut done, u64::MAX);
    done
}

fn judge(
    cx: &Context,
    h: &History,
    (client, conn, c): (&str, u32, &Connection),
    (intents, window): (&Intents, u64),
    out: &mut Vec<Violation>,
) {
    let v = |t, msg: String, events| Violation::new(CHECKER.name, Some(client), t, msg, events);
    // None twice: a topic asked for while the connection holds it.
    let mut held: BTreeSet<&str> = BTreeSet::new();
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for &(k, t, dir, said) in &c.frames {
        match (dir, said) {
            (Direction::ToServer, WireEvent::Subscribe { topic, .. }) => {
                if !held.insert(topic) {
                    out.push(v(
                        t,
                        format!(
                            "asked for topic {topic:?} twice on the connection of dial #{conn}"
                        ),
                        vec![first[topic.as_str()], k],
                    ));
                }
                first.insert(topic, k);
            }
            (
                _,
                WireEvent::Unsubscribe {
                    topic: Some(topic), ..
                }
                | WireEvent::Ended {
                    topic: Some(topic), ..
                }
                | WireEvent::Refused {
                    topic: Some(topic), ..
                },
            ) => {
                held.remove(topic.as_str());
            }
            _ => {}
        }
    }
    // None forgotten: what the client wanted from the moment the connection was ready
    // until the window after it, asked for on it by then.
    let Some((ready_k, ready_t)) = c.ready else {
        return; // never ready: nothing to restore on it
    };
    let deadline = ready_t + window;
    if c.end.is_some_and(|e| e < deadline) || deadline > end(cx) {
        return;
    }
    let asked: BTreeSet<&str> = (c.frames.iter())
        .filter(|(_, t, _, _)| *t <= deadline)
        .filter_map(|(_, _, dir, said)| match (dir, said) {
            (Direction::ToServer, WireEvent::Subscribe { topic, .. }) => Some(topic.as_str()),
            _ => None,
        })
        .collect();
    let wanted = intents
        .before(client, ready_k)
        .intersection(&intents.before(client, deadline_index(h, deadline)))
        .cloned()
        .collect::<BTreeSet<String>>();
    for topic in wanted.iter().filter(|t| !asked.contains(t.as_str())) {
        out.push(v(
            deadline,
            format!(
                "never asked for topic {topic:?} within {window}ms of the connection of dial #{conn} becoming ready"
            ),
            vec![ready_k],
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;
    use crate::scenario::Scenario;
    use Direction::{ToClient, ToServer};

    fn judged(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(check(&Context::simulated(s), h))
    }

    fn subscribe(topic: &str) -> WireEvent {
        WireEvent::Subscribe {
            topic: topic.into(),
            id: None,
        }
    }

    /// `c-0` (topic `t`) dials twice; `second` says what it sends on the second
    /// connection, which is ready at 10 s.
    fn story(second: &[(u64, WireEvent)]) -> History {
        let mut b = Builder::default()
            .dial(0, "c-0")
            .wire(1, "c-0", 1, ToServer, subscribe("t"))
            .wire(2, "c-0", 1, ToClient, WireEvent::Ready)
            .wire(
                5_000,
                "c-0",
                1,
                ToClient,
                WireEvent::Closed { code: Some(1012) },
            )
            .dial(9_000, "c-0")
            .wire(10_000, "c-0", 2, ToClient, WireEvent::Ready);
        for (t, said) in second {
            b = b.wire(*t, "c-0", 2, ToServer, said.clone());
        }
        b.build()
    }

    #[test]
    fn each_wanted_topic_is_asked_for_once_on_every_ready_connection() {
        let s = simple(1, "");
        assert!(judged(&s, &story(&[(10_001, subscribe("t"))])).is_empty());
        let forgot = judged(&s, &story(&[]));
        assert_eq!(forgot.len(), 1, "{forgot:?}");
        assert!(
            forgot[0].message.starts_with("never asked for topic \"t\"")
                && forgot[0].message.contains("dial #2"),
            "{}",
            forgot[0].message
        );
        let twice = judged(
            &s,
            &story(&[(10_001, subscribe("t")), (10_002, subscribe("t"))]),
        );
        assert_eq!(twice.len(), 1, "{twice:?}");
        assert!(twice[0].message.contains("twice"), "{}", twice[0].message);
    }

    #[test]
    fn a_topic_the_server_ended_or_refused_may_be_asked_for_again() {
        let s = simple(1, "");
        let again = |gone: WireEvent| {
            let h = Builder::default()
                .dial(0, "c-0")
                .wire(1, "c-0", 1, ToServer, subscribe("t"))
                .wire(2, "c-0", 1, ToClient, WireEvent::Ready)
                .wire(3, "c-0", 1, ToClient, gone)
                .wire(4, "c-0", 1, ToServer, subscribe("t"))
                .build();
            judged(&s, &h)
        };
        let topic = Some("t".to_string());
        assert!(
            again(WireEvent::Ended {
                topic: topic.clone(),
                id: None
            })
            .is_empty()
        );
        assert!(
            again(WireEvent::Refused {
                topic,
                id: None,
                reason: "busy".into()
            })
            .is_empty()
        );
    }

    #[test]
    fn a_connection_that_ends_within_the_window_or_the_run_is_not_judged() {
        // Ends 500 ms after it is ready: too soon to owe anything.
        let h = Builder::default()
            .dial(0, "c-0")
            .wire(1, "c-0", 1, ToClient, WireEvent::Ready)
            .wire(500, "c-0", 1, ToClient, WireEvent::Closed { code: None })
            .build();
        assert!(judged(&simple(1, ""), &h).is_empty());
        // Ready 500 ms before the run ends.
        let s = simple(1, "");
        let last = end(&Context::simulated(&s));
        let h = Builder::default()
            .dial(0, "c-0")
            .wire(last - 500, "c-0", 1, ToClient, WireEvent::Ready)
            .build();
        assert!(judged(&s, &h).is_empty());
    }
}
