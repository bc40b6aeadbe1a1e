//! A verdict never depends on names: every library scenario, with its client hosts and
//! groups renamed to names that contain hyphens, digits, `server` and `edge`, gets the same
//! verdict (the same invariants fire, seed by seed) as under its own names.

use std::collections::BTreeSet;
use std::path::PathBuf;
use wschaos::world::World;

use wschaos::check;
use wschaos::history::SERVER_HOST;
use wschaos::scenario::{Action, Scenario};
use wschaos::sim;

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

fn renamed(original: &Scenario) -> Scenario {
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

fn fired(s: &Scenario, seed: u64) -> BTreeSet<&'static str> {
    let history = sim::run(s, seed).unwrap();
    check::check(s, &history)
        .violations
        .iter()
        .map(|v| v.invariant)
        .collect()
}

#[test]
fn every_library_scenario_gets_the_same_verdict_under_other_names() {
    let files = wschaos::cases::discover(&[PathBuf::from("scenarios")]).unwrap();
    assert!(files.len() >= 20, "{} scenario files", files.len());
    let mut compared = 0;
    for file in files {
        let original = wschaos::scenario::load(&file).unwrap();
        if !World::of(&original).replays() {
            continue; // client processes: real time, not a simulation
        }
        let other = renamed(&original);
        for seed in &original.seeds {
            let (a, b) = (fired(&original, *seed), fired(&other, *seed));
            assert_eq!(
                a,
                b,
                "{} seed {seed}: renamed hosts and groups change the verdict",
                file.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 50, "{compared} runs compared");
}

/// The two false positives of name-parsing checkers, reproduced directly: a hold on a
/// client host with a hyphen in its name, and a partition between two client hosts, one
/// of them named with `server` in it.
#[test]
fn faults_between_oddly_named_hosts_do_not_cry_wolf() {
    let s = wschaos::scenario::parse(
        r#"
name = "odd-names"
duration = "40s"
[[clients]]
name = "subs"
host = "edge-1"
topics = ["news"]
[[clients]]
name = "pub"
host = "my-server-2"
publish = { topic = "news", every = "500ms" }
[[timeline]]
at = "5s"
do = "hold"
between = ["server", "edge-1"]
for = "3s"
[[timeline]]
at = "15s"
do = "partition"
between = ["edge-1", "my-server-2"]
for = "10s"
"#,
        "odd-names.toml",
    )
    .unwrap();
    for seed in 1..=5 {
        let history = sim::run(&s, seed).unwrap();
        let verdict = check::check(&s, &history);
        assert!(verdict.passed(), "seed {seed}: {:#?}", verdict.violations);
    }
}
