//! Invariant 5: after `close()`: status `Closed` at once, then nothing at all from that
//! client (no dial, no status, no delivery), whatever time passes.

use super::view::{clients, closed_at, slack};
use super::{Checker, Violation};
use crate::client::Status;
use crate::history::{Event, History};
use crate::scenario::Scenario;
use crate::server;

pub(super) const CHECKER: Checker = Checker {
    name: "silence_after_close",
    promise: "after close(): status Closed, then no dial and no event, whatever time passes",
    check,
};

fn check(s: &Scenario, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, _) in clients(s) {
        let Some(t_close) = closed_at(h, &client) else {
            continue;
        };
        let after: Vec<(usize, &crate::history::Record)> =
            h.of(&client).filter(|(_, r)| r.t >= t_close).collect();
        let closed = after.iter().position(|(_, r)| {
            matches!(
                &r.event,
                Event::Status {
                    status: Status::Closed,
                    ..
                }
            )
        });
        let Some(closed) = closed else {
            let msg = "close() was called but the status never became closed".to_string();
            out.push(Violation::new(
                CHECKER.name,
                Some(&client),
                t_close,
                msg,
                vec![],
            ));
            continue;
        };
        // The server's side: a dial still in flight at close() must not open afterwards.
        let late = h.records.iter().enumerate().find(|(_, r)| {
            r.t > t_close + slack(s)
                && matches!(&r.event, Event::Server { event: server::Event::Connected { client: c, .. }, .. } if *c == client)
        });
        if let Some((k, r)) = late {
            let msg = format!(
                "the server accepted a connection from it {}ms after close(): a dial in flight was not cancelled",
                r.t - t_close
            );
            out.push(Violation::new(
                CHECKER.name,
                Some(&client),
                r.t,
                msg,
                vec![after[closed].0, k],
            ));
        }
        for (i, r) in &after[closed + 1..] {
            let noisy = matches!(
                r.event,
                Event::Dial { .. }
                    | Event::Status { .. }
                    | Event::Delivered { .. }
                    | Event::Gap { .. }
                    | Event::Presence { .. }
                    | Event::Frame { .. }
            );
            if noisy {
                let what = serde_json::to_value(&r.event)
                    .ok()
                    .and_then(|v| v["kind"].as_str().map(String::from))
                    .unwrap_or_default();
                let msg = format!("{what} after close()");
                out.push(Violation::new(
                    CHECKER.name,
                    Some(&client),
                    r.t,
                    msg,
                    vec![after[closed].0, *i],
                ));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn closing() -> Builder {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .at(
                10,
                Event::Action {
                    client: "c-0".into(),
                    action: ClientAction::Close,
                },
            )
            .status(10, "c-0", Status::Closed)
    }

    #[test]
    fn quiet_after_close_passes() {
        assert!(check(&simple(1, ""), &closing().build()).is_empty());
    }

    #[test]
    fn a_dial_after_close_is_caught() {
        let found = check(&simple(1, ""), &closing().dial(3000, "c-0").build());
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].t, found[0].message.as_str()),
            (3000, "dial after close()")
        );
    }

    #[test]
    fn a_connection_opening_at_the_server_after_close_is_caught() {
        let found = check(&simple(1, ""), &closing().open(3000, 1, 1, "c-0").build());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("2990ms after close()"),
            "{found:?}"
        );
        // Within a tick of close() the handshake may already have been on the wire.
        assert!(check(&simple(1, ""), &closing().open(12, 1, 1, "c-0").build()).is_empty());
    }
}
