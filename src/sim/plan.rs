//! The timeline, flattened into primitive effects at simulated times, in order.
//!
//! A `restart` becomes a crash and a start, a `graceful_restart` a shutdown order and a start; a fault with `for` becomes its beginning and its
//! healing; a client action naming a group becomes one action per client.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::history::{Fault, Heal, Link};
use crate::scenario::{Action, Scenario, Trigger};

/// One thing the step loop does between two `sim.step()` calls.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// A fault begins (recorded as it is).
    Fault(Fault),
    /// A fault heals (recorded as it is).
    Heal(Heal),
    /// A client action for one client, with the host it lives on.
    Client {
        host: String,
        client: String,
        action: Action,
    },
}

pub(crate) fn effects(s: &Scenario) -> Vec<(Duration, Effect)> {
    let mut out = Vec::new();
    for step in s.timeline.iter().filter(|st| st.on.is_none()) {
        expand(s, step.at, &step.action, &mut out);
    }
    // Stable: effects at the same time keep the file's order.
    out.sort_by_key(|(t, _)| *t);
    out
}

fn expand(s: &Scenario, at: Duration, action: &Action, out: &mut Vec<(Duration, Effect)>) {
    let mut faults = Vec::new();
    let mut fault = |at: Duration, f: Fault| faults.push((at, Effect::Fault(f)));
    let link = |between: &[String; 2], oneway: bool| Link::new(&between[0], &between[1], oneway);
    let mut heals = Vec::new();
    match action {
        Action::Restart { down } => {
            fault(at, Fault::Crash);
            heals.push((at + *down, Heal::Start));
        }
        Action::GracefulRestart { down, hand_over } => {
            fault(
                at,
                Fault::Shutdown {
                    hand_over: *hand_over,
                },
            );
            heals.push((at + *down, Heal::Start));
        }
        Action::Crash => fault(at, Fault::Crash),
        Action::Start => heals.push((at, Heal::Start)),
        Action::Die => fault(at, Fault::Die),
        Action::Partition {
            between,
            oneway,
            for_,
        } => {
            let link = link(between, *oneway);
            fault(at, Fault::Partition { link: link.clone() });
            if let Some(d) = for_ {
                heals.push((at + *d, Heal::Repair { link }));
            }
        }
        Action::Repair { between, oneway } => heals.push((
            at,
            Heal::Repair {
                link: link(between, *oneway),
            },
        )),
        Action::Hold { between, for_ } => {
            let link = link(between, false);
            fault(at, Fault::Hold { link: link.clone() });
            if let Some(d) = for_ {
                heals.push((at + *d, Heal::Release { link }));
            }
        }
        Action::Release { between } => heals.push((
            at,
            Heal::Release {
                link: link(between, false),
            },
        )),
        Action::Latency {
            between,
            latency,
            for_,
        } => {
            let link = link(between, false);
            fault(
                at,
                Fault::Latency {
                    link: link.clone(),
                    latency: *latency,
                },
            );
            if let Some(d) = for_ {
                heals.push((
                    at + *d,
                    Heal::Latency {
                        link,
                        latency: s.network.latency,
                    },
                ));
            }
        }
        Action::Flap { for_ } => {
            fault(at, Fault::Flap);
            heals.push((at + *for_, Heal::Admit));
        }
        Action::Reject { for_, status } => {
            fault(at, Fault::Reject { status: *status });
            heals.push((at + *for_, Heal::Admit));
        }
        Action::Kick { code } => fault(at, Fault::Kick { code: *code }),
        Action::Subscribe { client, .. }
        | Action::Unsubscribe { client, .. }
        | Action::Publish { client, .. }
        | Action::Close { client }
        | Action::Reconnect { client }
        | Action::RestartClient { client, .. } => {
            for (host, client) in clients_named(s, client) {
                out.push((
                    at,
                    Effect::Client {
                        host,
                        client,
                        action: action.clone(),
                    },
                ));
            }
        }
    }
    out.extend(faults);
    out.extend(heals.into_iter().map(|(t, h)| (t, Effect::Heal(h))));
}

/// A client action armed to fire on a status change of one client.
#[derive(Debug, Clone)]
pub(crate) struct Armed {
    pub(crate) client: String,
    pub(crate) trigger: Trigger,
    pub(crate) action: Action,
}

/// The steps fired by status changes, one per client they name, by host.
pub(crate) fn armed(s: &Scenario) -> BTreeMap<String, Vec<Armed>> {
    let mut out: BTreeMap<String, Vec<Armed>> = BTreeMap::new();
    for step in &s.timeline {
        let (Some(trigger), Some(target)) = (&step.on, step.action.client()) else {
            continue;
        };
        for (host, client) in clients_named(s, target) {
            out.entry(host).or_default().push(Armed {
                client,
                trigger: trigger.clone(),
                action: step.action.clone(),
            });
        }
    }
    out
}

/// Every client a `restart_client` step may restart (at a time or on a status change).
pub(crate) fn restartable(s: &Scenario) -> std::collections::BTreeSet<String> {
    s.timeline
        .iter()
        .filter_map(|step| match &step.action {
            Action::RestartClient { client, .. } => Some(client),
            _ => None,
        })
        .flat_map(|target| clients_named(s, target).into_iter().map(|(_, c)| c))
        .collect()
}

/// The (host, client) pairs a client reference names: a whole group, or `GROUP-INDEX`.
fn clients_named(s: &Scenario, target: &str) -> Vec<(String, String)> {
    s.clients
        .iter()
        .flat_map(|g| g.client_names().map(move |name| (g, name)))
        .filter(|(g, name)| g.name == target || name == target)
        .map(|(g, name)| (g.host.clone(), name))
        .collect()
}
