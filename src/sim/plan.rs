//! The timeline, flattened into primitive effects at simulated times, in order.
//!
//! A `restart` becomes a crash and a start, a `graceful_restart` a shutdown order and a start; a fault with `for` becomes its beginning and its
//! healing; a client action naming a group becomes one action per client.

use std::time::Duration;

use crate::scenario::{Action, Scenario};

/// One thing the step loop does between two `sim.step()` calls.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    Crash,
    /// The server's graceful shutdown (1012 to everyone); its host then stands idle.
    Shutdown,
    Start,
    Die,
    Partition {
        a: String,
        b: String,
        oneway: bool,
    },
    Repair {
        a: String,
        b: String,
        oneway: bool,
    },
    Hold {
        a: String,
        b: String,
    },
    Release {
        a: String,
        b: String,
    },
    Latency {
        a: String,
        b: String,
        latency: Duration,
        heal: bool,
    },
    Flap,
    Reject {
        status: u16,
    },
    Admit,
    Kick {
        code: u16,
    },
    /// A client action for one client, with the host it lives on.
    Client {
        host: String,
        client: String,
        action: Action,
    },
}

pub(crate) fn effects(s: &Scenario) -> Vec<(Duration, Effect)> {
    let mut out = Vec::new();
    for step in &s.timeline {
        expand(s, step.at, &step.action, &mut out);
    }
    // Stable: effects at the same time keep the file's order.
    out.sort_by_key(|(t, _)| *t);
    out
}

fn expand(s: &Scenario, at: Duration, action: &Action, out: &mut Vec<(Duration, Effect)>) {
    let pair = |between: &[String; 2]| (between[0].clone(), between[1].clone());
    match action {
        Action::Restart { down } => {
            out.push((at, Effect::Crash));
            out.push((at + *down, Effect::Start));
        }
        Action::GracefulRestart { down } => {
            out.push((at, Effect::Shutdown));
            out.push((at + *down, Effect::Start));
        }
        Action::Crash => out.push((at, Effect::Crash)),
        Action::Start => out.push((at, Effect::Start)),
        Action::Die => out.push((at, Effect::Die)),
        Action::Partition {
            between,
            oneway,
            for_,
        } => {
            let (a, b) = pair(between);
            out.push((
                at,
                Effect::Partition {
                    a: a.clone(),
                    b: b.clone(),
                    oneway: *oneway,
                },
            ));
            if let Some(d) = for_ {
                out.push((
                    at + *d,
                    Effect::Repair {
                        a,
                        b,
                        oneway: *oneway,
                    },
                ));
            }
        }
        Action::Repair { between, oneway } => {
            let (a, b) = pair(between);
            out.push((
                at,
                Effect::Repair {
                    a,
                    b,
                    oneway: *oneway,
                },
            ));
        }
        Action::Hold { between, for_ } => {
            let (a, b) = pair(between);
            out.push((
                at,
                Effect::Hold {
                    a: a.clone(),
                    b: b.clone(),
                },
            ));
            if let Some(d) = for_ {
                out.push((at + *d, Effect::Release { a, b }));
            }
        }
        Action::Release { between } => {
            let (a, b) = pair(between);
            out.push((at, Effect::Release { a, b }));
        }
        Action::Latency {
            between,
            latency,
            for_,
        } => {
            let (a, b) = pair(between);
            out.push((
                at,
                Effect::Latency {
                    a: a.clone(),
                    b: b.clone(),
                    latency: *latency,
                    heal: false,
                },
            ));
            if let Some(d) = for_ {
                out.push((
                    at + *d,
                    Effect::Latency {
                        a,
                        b,
                        latency: s.network.latency,
                        heal: true,
                    },
                ));
            }
        }
        Action::Flap { for_ } => {
            out.push((at, Effect::Flap));
            out.push((at + *for_, Effect::Admit));
        }
        Action::Reject { for_, status } => {
            out.push((at, Effect::Reject { status: *status }));
            out.push((at + *for_, Effect::Admit));
        }
        Action::Kick { code } => out.push((at, Effect::Kick { code: *code })),
        client_action => {
            let target = client_action.client().unwrap_or_default();
            for (host, client) in clients_named(s, target) {
                out.push((
                    at,
                    Effect::Client {
                        host,
                        client,
                        action: client_action.clone(),
                    },
                ));
            }
        }
    }
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
