//! Invariant 10: a silent partition (or a silent server death, or a black hole) is noticed
//! within `ping_interval + pong_timeout`: every client that was connected across it leaves
//! `Connected` by then, unless the fault healed first.

use super::view::{clients, conns, ms, slack, statuses};
use super::{Checker, Context, Findings, Violation};
use crate::client::{Reason, Status};
use crate::evidence::Evidence;
use crate::evidence::window::{self, Reach, show};
use crate::history::{ClientAction, Event, Fault, History};

pub(super) const CHECKER: Checker = Checker {
    name: "heartbeat_detection",
    severity: super::Severity::Connection,
    promise: "a silent partition is detected within ping_interval + pong_timeout, and a live link is never declared dead",
    applies: super::every,
    needs: &[Evidence::Dials, Evidence::Connections],
    check,
};

fn check(s: &Context, h: &History) -> Findings {
    let mut out = Findings::default();
    false_alarms(s, h, &mut out.violations);
    let server_conns = conns(h);
    for (k, r) in h.records.iter().enumerate() {
        let Some(fault) = r.event.fault() else {
            continue;
        };
        let hosts: Vec<&str> = match (fault, fault.isolates()) {
            (Fault::Die, _) => s.clients.iter().map(|g| g.host.as_str()).collect(),
            (_, Some(host)) => vec![host],
            _ => continue,
        };
        let target = fault.target();
        let healed_at = h.records[k..].iter().find_map(|x| match &x.event {
            Event::Heal { heal } if Some(heal.target()) == target => Some(x.t),
            _ => None,
        });
        for (client, g) in clients(s)
            .into_iter()
            .filter(|(_, g)| hosts.contains(&g.host.as_str()))
        {
            // Under the client's liveness rule, by its and the server's heartbeat: a cut of
            // only the client's direction is noticed when the server's heartbeat ends the
            // connection (`window::reach`).
            let bound = match window::reach(fault, &g.host, &g.policy, &s.server) {
                Reach::Silent(d) => ms(d),
                _ => ms(g.policy.detection_bound()),
            }
            .saturating_add(slack(s));
            if healed_at.is_some_and(|t| t < r.t.saturating_add(bound)) {
                continue;
            }
            let late = r.t.saturating_add(bound) > s.end;
            let seen = statuses(h, &client);
            let missed = if !s.provided.has(&client, Evidence::Statuses) {
                // A client that reports no status (a process without probe lines) is
                // judged by what the proxy and the server saw: connected across the cut,
                // it must have dialed again within the bound.
                let was_connected = server_conns
                    .iter()
                    .any(|c| c.client == client && c.open_at(r.t));
                let redialed = h.of(&client).any(|(j, x)| {
                    j > k && x.t <= r.t + bound && matches!(x.event, Event::Dial { .. })
                });
                (was_connected && !redialed).then(|| format!(
                    "no new dial {bound}ms after the {} ({fault}) while its connection was silent: nothing noticed the dead link (judged from its dials; it reports no status)",
                    fault.verb()
                ))
            } else {
                let was_connected = seen
                    .iter()
                    .take_while(|(_, t, _)| *t <= r.t)
                    .last()
                    .is_some_and(|(_, _, st)| **st == Status::Connected);
                let left = seen
                    .iter()
                    .any(|(_, t, st)| *t > r.t && *t <= r.t + bound && **st != Status::Connected)
                    // A process that exited took its connection with it.
                    || h.of(&client).any(|(_, x)| {
                        x.t > r.t
                            && x.t <= r.t + bound
                            && matches!(
                                x.event,
                                Event::Action {
                                    action: ClientAction::Exit,
                                    ..
                                }
                            )
                    });
                (was_connected && !left).then(|| format!(
                    "still connected {bound}ms after the {} ({fault}); the heartbeat should have noticed",
                    fault.verb()
                ))
            };
            if let Some(msg) = missed.as_ref().filter(|_| late) {
                let why = format!(
                    "the run ends {} after the {} at {}, before its detection bound of {}: {msg}",
                    show(s.end.saturating_sub(r.t)),
                    fault.verb(),
                    show(r.t),
                    show(bound)
                );
                out.not_judged(CHECKER.name, &client, Some(r.t), why);
            } else if let Some(msg) = missed {
                out.push(Violation::new(
                    CHECKER.name,
                    Some(&client),
                    r.t + bound,
                    msg,
                    vec![k],
                ));
            }
        }
    }
    out
}

/// A heartbeat timeout needs a cause: a fault on the client's link to the server (a cut,
/// a hold, a latency change) or a server gone silent, during the connection it ended or
/// within `ping_interval + pong_timeout` before it. (A stream that lost segments to a cut
/// stays dead after the repair, so the damage lasts as long as the connection.) Without
/// one the link was alive and answering, and the client declared it dead (say, with
/// heartbeat state carried over from an earlier connection).
fn false_alarms(s: &Context, h: &History, out: &mut Vec<Violation>) {
    let windows = h.fault_windows();
    for (client, g) in clients(s) {
        let bound = ms(g.policy.detection_bound()) + slack(s);
        let seen = statuses(h, &client);
        for (n, &(i, t, status)) in seen.iter().enumerate() {
            let (Status::Disconnected { reason, .. } | Status::Failed { reason }) = status else {
                continue;
            };
            if *reason != Reason::HeartbeatTimeout {
                continue;
            }
            // Since the dial that opened the connection it ended.
            let since = seen[..n]
                .iter()
                .rev()
                .find(|(_, _, s)| matches!(s, Status::Connecting { .. }))
                .map_or(0, |(_, at, _)| *at)
                .min(t.saturating_sub(bound));
            let caused = windows.iter().any(|w| {
                let on_link = match &w.fault {
                    Fault::Partition { link }
                    | Fault::Hold { link }
                    | Fault::Latency { link, .. } => link.joins_server_and(&g.host),
                    Fault::Die | Fault::Crash | Fault::Shutdown { .. } => true,
                    Fault::Flap | Fault::Reject { .. } | Fault::Kick { .. } => false,
                };
                on_link && w.from <= t && w.to.is_none_or(|end| end + slack(s) >= since)
            });
            if !caused {
                let msg = format!(
                    "declared its connection dead (heartbeat timeout) with no fault on its link in the {bound}ms before: the link was alive"
                );
                out.push(Violation::new(CHECKER.name, Some(&client), t, msg, vec![i]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    #[test]
    fn a_client_without_statuses_is_judged_by_its_dials() {
        let link = crate::history::Link::new("server", "clients", false);
        let cut = |redial: Option<u64>| {
            let mut b = Builder::default()
                .dial(0, "c-0")
                .open(5, 1, 1, "c-0")
                .fault(1_000, Fault::Partition { link: link.clone() });
            if let Some(t) = redial {
                b = b.dial(t, "c-0");
            }
            b.build()
        };
        let s = simple(1, "");
        let silent = crate::evidence::Provided::new()
            .client("c-0", [Evidence::Dials, Evidence::Connections]);
        let cx = Context::observed(&s, silent, s.tick);
        // The default policy notices within 10 s + 5 s.
        assert!(super::check(&cx, &cut(Some(14_000))).violations.is_empty());
        let found = super::check(&cx, &cut(None)).violations;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("nothing noticed the dead link"));
    }

    fn partitioned(detect_at: Option<u64>) -> History {
        let mut b = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .at(
                1000,
                Event::Fault {
                    fault: Box::new(Fault::Partition {
                        link: Link::new("clients", SERVER_HOST, false),
                    }),
                },
            );
        if let Some(t) = detect_at {
            b = b.status(t, "c-0", disconnected(1, 100));
        }
        b.build()
    }

    #[test]
    fn detection_within_the_bound_passes() {
        assert!(check(&simple(1, ""), &partitioned(Some(1000 + 14_000))).is_empty());
    }

    #[test]
    fn no_detection_is_caught() {
        let found = check(&simple(1, ""), &partitioned(None));
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("still connected"));
    }

    #[test]
    fn a_heartbeat_timeout_with_no_fault_on_the_link_is_a_false_alarm() {
        let dead = Status::Disconnected {
            attempt: 1,
            retry_in: std::time::Duration::from_millis(100),
            reason: Reason::HeartbeatTimeout,
        };
        let alone = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .status(3000, "c-0", dead.clone())
            .build();
        let found = check(&simple(1, ""), &alone);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("the link was alive"));
        let cut = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(
                1000,
                Fault::Partition {
                    link: Link::new(SERVER_HOST, "clients", false),
                },
            )
            .status(3000, "c-0", dead)
            .build();
        assert!(check(&simple(1, ""), &cut).is_empty());
    }
}
