//! Warnings, not invariants: a fault that touched no connection tested nothing (a `flap`
//! window in which no client dialed, a partition of a host whose clients were all offline, a
//! kick with nobody connected). The scenario passes either way; `run` says so, and `run
//! --strict` fails it, so that a scenario cannot claim to test what it never exercised.

use serde::Serialize;

use super::Context;
use super::view::{Conn, clients, conns, end};
use crate::history::{Event, Fault, History};

/// Something about a run that is not a broken invariant but makes it test less than it
/// seems to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Milliseconds where it shows (the fault's beginning).
    pub t: u64,
    /// What, in a sentence.
    pub message: String,
}

/// A warning per fault that no connection or dial felt.
pub(super) fn warnings(s: &Context, h: &History) -> Vec<Warning> {
    let all = conns(h);
    let dials: Vec<(u64, &str)> = h
        .records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Dial { client } => Some((r.t, &**client)),
            _ => None,
        })
        .collect();
    let hosts: Vec<(String, String)> = clients(s)
        .into_iter()
        .map(|(name, g)| (name, g.host.clone()))
        .collect();
    let host_of = |client: &str| {
        hosts
            .iter()
            .find(|(n, _)| n == client)
            .map(|(_, h)| h.as_str())
    };
    let mut out = Vec::new();
    for w in h.fault_windows() {
        let (from, to) = (w.from, w.to.unwrap_or(end(s)));
        let open_in = |c: &Conn| c.open_t <= to && c.close_t.is_none_or(|x| x >= from);
        // Open when it began (a kick or a crash ends connections in that very instant).
        let open_then = |c: &Conn| c.open_t <= from && c.close_t.is_none_or(|x| x >= from);
        let dialed_in = |t: u64| from <= t && t <= to;
        let why = match &w.fault {
            Fault::Crash | Fault::Shutdown { .. } | Fault::Die => (!all.iter().any(open_then)
                && !dials.iter().any(|(t, _)| dialed_in(*t)))
            .then_some("no connection was open and no client dialed while the server was down"),
            Fault::Kick { .. } => {
                (!all.iter().any(open_then)).then_some("no connection was open to kick")
            }
            Fault::Flap | Fault::Reject { .. } => (!dials.iter().any(|(t, _)| dialed_in(*t)))
                .then_some(
                    "no client dialed during its window, and it affects only new handshakes",
                ),
            Fault::Partition { link } | Fault::Hold { link } | Fault::Latency { link, .. } => {
                let on_link =
                    |client: &str| host_of(client).is_some_and(|h| link.joins_server_and(h));
                let felt = all.iter().any(|c| on_link(&c.client) && open_in(c))
                    || dials.iter().any(|(t, c)| on_link(c) && dialed_in(*t));
                (!felt).then_some(
                    "no client on its link was connected or dialing during it (a link between two client hosts carries nothing)",
                )
            }
        };
        if let Some(why) = why {
            out.push(Warning {
                t: from,
                message: format!(
                    "the {} at {from}ms ({}) touched no connection: {why}",
                    w.fault.verb(),
                    w.fault
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;
    use crate::history::{Heal, Link, SERVER_HOST};

    #[test]
    fn a_flap_with_no_dial_in_its_window_is_reported_and_one_with_a_dial_is_not() {
        let flap = |dial_at: u64| {
            Builder::default()
                .open(10, 1, 1, "c-0")
                .fault(5_000, Fault::Flap)
                .dial(dial_at, "c-0")
                .heal(10_000, Heal::Admit)
                .build()
        };
        let found = warnings(&Context::simulated(&simple(1, "")), &flap(20_000));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("only new handshakes"),
            "{found:?}"
        );
        assert!(warnings(&Context::simulated(&simple(1, "")), &flap(7_000)).is_empty());
    }

    #[test]
    fn a_partition_is_felt_only_by_clients_on_its_link() {
        let cut = |host: &str| {
            let link = Link::new(SERVER_HOST, host, false);
            Builder::default()
                .open(10, 1, 1, "c-0")
                .fault(5_000, Fault::Partition { link: link.clone() })
                .heal(8_000, Heal::Repair { link })
                .build()
        };
        assert!(warnings(&Context::simulated(&simple(1, "")), &cut("clients")).is_empty());
        let elsewhere = warnings(&Context::simulated(&simple(1, "")), &cut("edge"));
        assert_eq!(elsewhere.len(), 1, "{elsewhere:?}");
    }

    #[test]
    fn a_kick_with_nobody_connected_is_reported() {
        let h = Builder::default()
            .fault(5_000, Fault::Kick { code: 1001 })
            .build();
        assert_eq!(warnings(&Context::simulated(&simple(1, "")), &h).len(), 1);
    }
}
