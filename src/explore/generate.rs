//! Swarm mode: draw a fault schedule and client actions within the scenario's `[swarm]`
//! bounds, with proptest strategies seeded from the run's seed, so one scenario file spans
//! a family of runs and each member is reproducible from its seed.

use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::scenario::{Action, Scenario, StatusName, Step, Swarm, Trigger};

/// `base` with drawn steps added (kept valid: no overlapping restarts or admission windows,
/// everything healed before the last `settle` of the run) and `seeds = [seed]`.
///
/// ```
/// let base = wschaos::scenario::parse("name = \"q\"\nduration = \"60s\"\n[[clients]]\nname = \"c\"\n[swarm]\n", "q.toml").unwrap();
/// let a = wschaos::explore::swarm(&base, 7);
/// assert_eq!(a, wschaos::explore::swarm(&base, 7));
/// assert!(!a.timeline.is_empty());
/// ```
pub fn swarm(base: &Scenario, seed: u64) -> Scenario {
    let bounds = base.swarm.clone().unwrap_or_default();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
    );
    let drawn = steps(base, &bounds)
        .new_tree(&mut runner)
        .map(|tree| tree.current())
        .unwrap_or_default();
    let mut scenario = base.clone();
    if bounds.policies {
        draw_policies(&mut scenario, seed);
    }
    let drawn = sanitize(&scenario, &bounds, drawn);
    scenario.timeline.extend(drawn);
    scenario.timeline.extend(triggered(base, &bounds, seed));
    scenario.timeline.sort_by_key(|s| s.at);
    scenario.seeds = vec![seed];
    scenario
}

/// Client actions fired by status changes: a status, which time it is reached (1 to 3), a
/// client or group and an action, drawn from a stream of their own so that the rest of the
/// schedule does not move.
fn triggered(base: &Scenario, bounds: &Swarm, seed: u64) -> Vec<Step> {
    use rand::{Rng, SeedableRng};
    let [low, high] = bounds.triggered_count;
    let clients = action_targets(base);
    if high == 0 || clients.is_empty() || bounds.actions.is_empty() {
        return Vec::new();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(crate::sim::derive(seed, 0x7219));
    let statuses = [
        StatusName::Connecting,
        StatusName::Connected,
        StatusName::Disconnected,
    ];
    let topics = if bounds.topics.is_empty() {
        vec!["news".to_string()]
    } else {
        bounds.topics.clone()
    };
    (0..rng.random_range(low..=high.max(low)))
        .map(|_| {
            let client = clients[rng.random_range(0..clients.len())].clone();
            let topic = topics[rng.random_range(0..topics.len())].clone();
            let verb = bounds.actions[rng.random_range(0..bounds.actions.len())].as_str();
            let action = client_action(verb, client, topic, 0);
            Step {
                at: Duration::ZERO,
                on: Some(Trigger {
                    on: statuses[rng.random_range(0..statuses.len())],
                    nth: rng.random_range(1..=3),
                }),
                action,
                span: 0..0,
            }
        })
        .collect()
}

/// The client action `verb` names, for `client` and `topic`; `salt` (a number drawn for
/// the step anyway, its time) picks a restarted process's downtime, so that adding the verb
/// to a file's list leaves the draws of its other steps as they were.
fn client_action(verb: &str, client: String, topic: String, salt: u64) -> Action {
    match verb {
        "restart_client" => Action::RestartClient {
            client,
            down: Duration::from_millis(salt % 4 * 750),
        },
        "subscribe" => Action::Subscribe { client, topic },
        "unsubscribe" => Action::Unsubscribe { client, topic },
        "publish" => Action::Publish {
            client,
            topic,
            data: None,
        },
        "close" => Action::Close { client },
        _ => Action::Reconnect { client },
    }
}

/// The clients and groups drawn actions may name: each pub/sub group and its first three
/// clients.
fn action_targets(base: &Scenario) -> Vec<String> {
    base.clients
        .iter()
        .filter(|g| g.mode == crate::scenario::Mode::Pubsub)
        .flat_map(|g| {
            let mut names = vec![g.name.clone()];
            names.extend(g.client_names().take(3));
            names
        })
        .collect()
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&crate::sim::derive(seed, i as u64 + 0x5eed).to_le_bytes());
    }
    bytes
}

/// Where drawn steps may go: after `from`, healed before the last `settle`; with
/// `anywhere`, from the first instant to the end.
fn span(base: &Scenario, bounds: &Swarm) -> (u64, u64) {
    let last = last(base, bounds).as_millis() as u64;
    let first = if bounds.anywhere {
        0
    } else {
        (bounds.from.as_millis() as u64).min(last)
    };
    (first, last.max(first + 1))
}

/// When every drawn window must have ended.
fn last(base: &Scenario, bounds: &Swarm) -> Duration {
    if bounds.anywhere {
        base.duration
    } else {
        base.duration.saturating_sub(base.settle)
    }
}

/// Draws every pub/sub group's whole policy, and the file's `settle`, from a stream of
/// their own (so the schedule's draws do not move): the corners a hand-written file never
/// visits (no jitter, no growth, one attempt, heartbeats from 300 ms to 30 s, settle
/// shorter than the ping).
fn draw_policies(s: &mut Scenario, seed: u64) {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(crate::sim::derive(seed, 0x9011));
    let mut ms = |options: &[u64]| Duration::from_millis(one(&mut rng, options));
    let mut draws: Vec<[Duration; 8]> = Vec::new();
    for _ in &s.clients {
        draws.push([
            ms(&[20, 50, 200, 500, 1000, 3000]),
            ms(&[1, 2, 8, 30]),
            ms(&[200, 1000, 5000]),
            ms(&[200, 1000, 5000]),
            ms(&[300, 2000, 10_000, 30_000]),
            ms(&[200, 2000, 5000]),
            ms(&[0, 1000, 5000, 20_000]),
            ms(&[0, 1, 2, 3]),
        ]);
    }
    s.settle = ms(&[1000, 5000, 15_000]).min(s.duration);
    for (g, d) in s.clients.iter_mut().zip(draws) {
        let [initial, growth, connect, handshake, ping, pong, stable, k] = d;
        let k = k.as_millis() as usize;
        let p = &mut g.policy;
        p.initial_delay = initial;
        // At least 100 ms (and a first delay of at least 20 ms): a client that redials
        // every millisecond through a long cut runs its host out of ports (the run ends
        // with an error that says so).
        p.max_delay = (initial * growth.as_millis() as u32).max(Duration::from_millis(100));
        p.multiplier = [1.0, 1.5, 2.0, 3.0][k];
        p.jitter = [0.0, 0.3, 1.0, 1.0][k];
        p.max_attempts = [None, Some(1), Some(3), Some(10)][(k + growth.as_millis() as usize) % 4];
        (p.connect_timeout, p.handshake_timeout) = (connect, handshake);
        (p.ping_interval, p.pong_timeout, p.stable_after) = (ping, pong, stable);
    }
}

/// One of `options`, uniformly.
fn one<T: Copy>(rng: &mut impl rand::Rng, options: &[T]) -> T {
    options[rng.random_range(0..options.len())]
}

/// One of `list` from the draws `pick` (0..3) and `window`: `list[pick]` for a list of
/// three (the defaults, so older swarm files keep drawing the same schedules), spread over
/// longer lists by the window, which is drawn uniformly too.
fn choose(list: &[u16], pick: usize, window: Duration) -> u16 {
    let salt = window.as_millis() as usize;
    list[(pick + 3 * salt) % list.len().max(1)]
}

fn steps(base: &Scenario, bounds: &Swarm) -> impl Strategy<Value = Vec<Step>> {
    let (first, last) = span(base, bounds);
    let max_window = (bounds.max_window.as_millis() as u64).max(100);
    let hosts: Vec<String> = {
        let mut h: Vec<String> = base.clients.iter().map(|g| g.host.clone()).collect();
        h.dedup();
        h
    };
    let faults = bounds.faults.clone();
    let (codes, statuses) = (bounds.kick_codes.clone(), bounds.reject_statuses.clone());
    let fault = (
        0..faults.len().max(1),
        first..last,
        100..=max_window,
        0..hosts.len().max(1),
        0..3usize,
    )
        .prop_map(move |(verb, at, window, host, pick)| {
            let window = Duration::from_millis(window);
            let between = || {
                [
                    "server".to_string(),
                    hosts.get(host).cloned().unwrap_or_else(|| "clients".into()),
                ]
            };
            let action = match faults.get(verb).map(String::as_str).unwrap_or("restart") {
                "partition" => Action::Partition {
                    between: between(),
                    oneway: pick == 1,
                    for_: Some(window),
                },
                "hold" => Action::Hold {
                    between: between(),
                    for_: Some(window),
                },
                "latency" => Action::Latency {
                    between: between(),
                    latency: whole_ms(window / 20),
                    for_: Some(window),
                },
                "flap" => Action::Flap { for_: window },
                "reject" => Action::Reject {
                    for_: window,
                    status: choose(&statuses, pick, window),
                },
                "kick" => Action::Kick {
                    code: choose(&codes, pick, window),
                },
                "graceful_restart" => Action::GracefulRestart {
                    down: window,
                    hand_over: false,
                },
                "handover" => Action::GracefulRestart {
                    down: if pick == 0 { Duration::ZERO } else { window },
                    hand_over: true,
                },
                _ => Action::Restart { down: window },
            };
            Step {
                at: Duration::from_millis(at),
                on: None,
                action,
                span: 0..0,
            }
        });
    let clients = action_targets(base);
    let (actions, topics) = (bounds.actions.clone(), bounds.topics.clone());
    // Half the actions land inside a drawn fault's window: bugs hide around reconnects.
    let action = (
        0..actions.len().max(1),
        first..last,
        0..clients.len().max(1),
        0..topics.len().max(1),
        any::<Option<(usize, u16)>>(),
    )
        .prop_map(move |(verb, at, who, topic, anchor)| {
            let client = clients.get(who).cloned().unwrap_or_default();
            let topic = topics.get(topic).cloned().unwrap_or_else(|| "news".into());
            let verb = actions.get(verb).map_or("reconnect", String::as_str);
            let action = client_action(verb, client, topic, at);
            (
                Step {
                    at: Duration::from_millis(at),
                    on: None,
                    action,
                    span: 0..0,
                },
                anchor,
            )
        });
    let [fmin, fmax] = bounds.faults_count;
    let [amin, amax] = bounds.actions_count;
    let no_actions = bounds.actions.is_empty() || clients_empty(base);
    let (amin, amax) = if no_actions { (0, 0) } else { (amin, amax) };
    (
        prop::collection::vec(fault, fmin..=fmax.max(fmin)),
        prop::collection::vec(action, amin..=amax.max(amin)),
    )
        .prop_map(|(mut faults, actions)| {
            let anchored: Vec<Step> = actions
                .into_iter()
                .map(|(step, anchor)| anchor_in(&faults, step, anchor))
                .collect();
            faults.extend(anchored);
            faults
        })
}

/// Moves `step` inside the window of fault `anchor.0` (at a fraction `anchor.1 / 65536` of
/// it), when there is an anchor and a fault with a window.
fn anchor_in(faults: &[Step], mut step: Step, anchor: Option<(usize, u16)>) -> Step {
    let Some((which, fraction)) = anchor else {
        return step;
    };
    let Some(fault) = (!faults.is_empty()).then(|| &faults[which % faults.len()]) else {
        return step;
    };
    let window = fault.action.window().unwrap_or(Duration::from_millis(500));
    step.at = whole_ms(fault.at + window.mul_f64(f64::from(fraction) / 65536.0));
    step
}

/// Durations are written to files in whole milliseconds: draw them that way.
fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn clients_empty(base: &Scenario) -> bool {
    !base
        .clients
        .iter()
        .any(|g| g.mode == crate::scenario::Mode::Pubsub)
}

/// Drops drawn steps that would make no sense together (or that validation refuses: two
/// server stops at once, overlapping admission windows or faults on one link, including
/// the file's own steps), and keeps windows inside the run.
fn sanitize(base: &Scenario, bounds: &Swarm, mut drawn: Vec<Step>) -> Vec<Step> {
    drawn.sort_by_key(|s| s.at);
    let last = last(base, bounds);
    let mut busy: Vec<(&'static str, String, Duration, Duration)> = Vec::new();
    for step in base.timeline.iter().filter(|st| st.on.is_none()) {
        if let Some((key, link)) = key(&step.action) {
            let end = step.at + step.action.window().unwrap_or_default();
            busy.push((key, link, step.at, end));
        }
    }
    let mut kept = Vec::new();
    for step in drawn {
        let start = step.at;
        let end = start + step.action.window().unwrap_or_default();
        if end > last {
            continue;
        }
        let key = key(&step.action);
        let clash = key.as_ref().is_some_and(|(k, l)| {
            (busy.iter()).any(|(bk, bl, b, e)| bk == k && bl == l && start <= *e && *b <= end)
        });
        let server_down = busy
            .iter()
            .any(|(k, _, b, e)| *k == "server" && start >= *b && start <= *e);
        if clash || (server_down && matches!(step.action, Action::Kick { .. })) {
            continue;
        }
        if let Some((k, l)) = key {
            busy.push((k, l, start, end));
        }
        kept.push(step);
    }
    kept
}

/// What a fault occupies, so that two drawn steps never hold it at once.
fn key(action: &Action) -> Option<(&'static str, String)> {
    Some(match action {
        Action::Restart { .. } | Action::GracefulRestart { .. } => ("server", String::new()),
        Action::Flap { .. } | Action::Reject { .. } => ("admission", String::new()),
        Action::Partition { between, .. }
        | Action::Hold { between, .. }
        | Action::Latency { between, .. } => ("link", between.join("-")),
        _ => return None,
    })
}
