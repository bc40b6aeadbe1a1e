//! Invariant 20, the broadcast protocol's delivery (`[server] protocol = "broadcast"`):
//! every frame the server relayed reaches each client connected at that moment, once.
//!
//! The protocol has no resume: a frame in flight when a connection drops is gone, and that
//! is no client's fault. So a frame is owed to a connection only when the connection stayed
//! open for the run's slack after the relay and nothing stood in the way from the
//! connection's opening until then (no partition, hold or latency change on its link, no
//! crash, kick or restart: a stream that lost segments stays dead after its link heals). A frame is
//! never owed twice: one received more often than it was relayed to that client is a
//! duplicate, whatever happened around it. Frames are matched by their digest
//! ([`crate::protocol::digest`]), so a client that prints no frames (or a server that is
//! not the built-in one) gives this check nothing to judge.

use std::collections::BTreeMap;

use super::view::{clear, clients, conns, end, slack};
use super::{Checker, Context, Violation};
use crate::evidence::Evidence;
use crate::history::{Event, History};
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "relayed",
    severity: super::Severity::Loss,
    promise: "every frame the broadcast server relayed reached each client connected then, once",
    applies: super::broadcast,
    needs: &[Evidence::Frames, Evidence::ServerRecord],
    check: |cx, h| check(cx, h).into(),
};

/// For one client and one digest: relays that reached one of its connections (record
/// indices), the ones among them that were owed, and the frames it received.
#[derive(Default)]
struct Tally {
    sent: Vec<usize>,
    owed: Vec<usize>,
    got: Vec<usize>,
}

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let relays: Vec<(usize, u64, u64, u64)> = (h.records.iter().enumerate())
        .filter_map(|(i, r)| match r.event.server() {
            Some((epoch, server::Event::Relayed { digest, .. })) => Some((i, r.t, epoch, *digest)),
            _ => None,
        })
        .collect();
    if relays.is_empty() {
        return Vec::new();
    }
    let hosts: BTreeMap<String, String> = (clients(s).into_iter())
        .map(|(name, g)| (name, g.host.clone()))
        .collect();
    let all = conns(h);
    let windows = h.fault_windows();
    let (slack, end) = (slack(s), end(s));
    let mut tallies: BTreeMap<(String, u64), Tally> = BTreeMap::new();
    for &(i, t, epoch, digest) in &relays {
        for c in all.iter().filter(|c| c.epoch == epoch && c.open_before(i)) {
            let tally = tallies.entry((c.client.clone(), digest)).or_default();
            tally.sent.push(i);
            let gone = c.close_t.or_else(|| c.exited.map(|k| h.records[k].t));
            let stayed = t + slack <= end && gone.is_none_or(|g| g >= t + slack);
            let host = hosts.get(&c.client).map_or("", String::as_str);
            // A stream that lost segments stays dead after the link heals: the link must
            // have been clear since the connection opened.
            if stayed && clear(s, &windows, host, (c.open_t, t + slack), true) {
                tally.owed.push(i);
            }
        }
    }
    for (i, r) in h.records.iter().enumerate() {
        if let Event::Frame { client, digest, .. } = &r.event {
            if let Some(tally) = tallies.get_mut(&(client.to_string(), *digest)) {
                tally.got.push(i);
            }
        }
    }
    let mut out = Vec::new();
    for ((client, digest), tally) in &tallies {
        let v = |t, msg: String, events| Violation::new(CHECKER.name, Some(client), t, msg, events);
        if tally.got.len() > tally.sent.len() {
            let extra = tally.got[tally.sent.len()];
            out.push(v(
                h.records[extra].t,
                format!(
                    "received frame #{digest:016x} {} times; it was relayed to this client {} times",
                    tally.got.len(),
                    tally.sent.len()
                ),
                tally.sent.iter().chain(&tally.got).copied().collect(),
            ));
        } else if tally.got.len() < tally.owed.len() {
            let missing = tally.owed[tally.got.len()];
            out.push(v(
                h.records[missing].t,
                format!(
                    "frame #{digest:016x} relayed while this client was connected (and stayed so, on a clear link) never reached it: received {} of {} owed",
                    tally.got.len(),
                    tally.owed.len()
                ),
                tally.owed.iter().chain(&tally.got).copied().collect(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn relayed(digest: u64) -> server::Event {
        server::Event::Relayed {
            conn: 1,
            client: "a-0".into(),
            len: 3,
            digest,
            to: 2,
        }
    }

    fn frame(client: &str, digest: u64) -> Event {
        Event::Frame {
            client: client.into(),
            len: 3,
            digest,
        }
    }

    const TWO: &str = "name = \"t\"\nduration = \"30s\"\n[[clients]]\nname = \"a\"\nmode = \"raw\"\n[[clients]]\nname = \"b\"\nmode = \"raw\"\n";

    fn both_connected() -> Builder {
        Builder::default()
            .at(0, Event::ServerUp { epoch: 1 })
            .open(10, 1, 1, "a-0")
            .open(10, 1, 2, "b-0")
            .server(1000, 1, relayed(7))
    }

    fn found(h: History) -> Vec<String> {
        check(&scenario(TWO), &h)
            .into_iter()
            .map(|v| format!("{v:?}"))
            .collect()
    }

    #[test]
    fn a_frame_each_connected_client_received_once_passes() {
        let h = both_connected()
            .at(1001, frame("a-0", 7))
            .at(1001, frame("b-0", 7))
            .build();
        assert_eq!(found(h), Vec::<String>::new());
    }

    #[test]
    fn a_missing_frame_and_a_duplicate_are_found() {
        let h = both_connected()
            .at(1001, frame("a-0", 7))
            .at(1002, frame("a-0", 7))
            .build();
        let found = found(h);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|m| m.contains("a-0") && m.contains("2 times")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("b-0") && m.contains("never reached")),
            "{found:?}"
        );
    }

    #[test]
    fn a_frame_in_flight_when_the_connection_dropped_is_not_owed() {
        let h = both_connected()
            .at(1001, frame("a-0", 7))
            .close(1002, 1, 2, "b-0")
            .build();
        assert_eq!(found(h), Vec::<String>::new());
        // Nor one sent into a partition of its link.
        let h = both_connected()
            .at(1001, frame("a-0", 7))
            .fault(
                1000,
                Fault::Partition {
                    link: Link::new(SERVER_HOST, "clients", false),
                },
            )
            .build();
        assert_eq!(found(h), Vec::<String>::new());
    }
}
