//! The library's scenarios under other names: client hosts and groups renamed to names that
//! contain hyphens, digits, `server` and `edge`. A verdict never depends on names, so each
//! simulated file's test (`tests/scenarios.rs`) runs it renamed too and compares.

use wschaos::history::SERVER_HOST;
use wschaos::scenario::{Action, Scenario};

fn host(name: &str) -> String {
    if name == SERVER_HOST {
        name.to_string()
    } else {
        format!("{name}-server-edge-2")
    }
}

fn group(name: &str) -> String {
    format!("edge-{name}-server-7")
}

/// A client reference: a group name, or `GROUP-INDEX`.
fn client(scenario: &Scenario, target: &str) -> String {
    for g in &scenario.clients {
        if target == g.name {
            return group(&g.name);
        }
        if let Some(index) = target
            .strip_prefix(g.name.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|i| i.parse::<usize>().is_ok())
        {
            return format!("{}-{index}", group(&g.name));
        }
    }
    panic!("{target} names no client of {}", scenario.name)
}

/// `original` with every client host and group renamed, everywhere it names them.
pub fn renamed(original: &Scenario) -> Scenario {
    let mut s = original.clone();
    for g in &mut s.clients {
        g.name = group(&g.name);
        g.host = host(&g.host);
    }
    for step in &mut s.timeline {
        match &mut step.action {
            Action::Partition { between, .. }
            | Action::Repair { between, .. }
            | Action::Hold { between, .. }
            | Action::Release { between }
            | Action::Latency { between, .. } => {
                for h in between.iter_mut() {
                    *h = host(h);
                }
            }
            Action::Subscribe { client: c, .. }
            | Action::Unsubscribe { client: c, .. }
            | Action::Publish { client: c, .. }
            | Action::Close { client: c }
            | Action::Reconnect { client: c }
            | Action::RestartClient { client: c, .. } => *c = client(original, c),
            Action::Restart { .. }
            | Action::GracefulRestart { .. }
            | Action::Crash
            | Action::Start
            | Action::Die
            | Action::Flap { .. }
            | Action::Reject { .. }
            | Action::Kick { .. } => {}
        }
    }
    let expect = &mut s.expect;
    expect.final_status = std::mem::take(&mut expect.final_status)
        .into_iter()
        .map(|(g, v)| (group(&g), v))
        .collect();
    expect.sequence = std::mem::take(&mut expect.sequence)
        .into_iter()
        .map(|(g, v)| (group(&g), v))
        .collect();
    s
}
