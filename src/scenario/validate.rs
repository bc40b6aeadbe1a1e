//! What a scenario means, checked before anything runs: names resolve, times fit the run,
//! windows make sense, limits hold. The first problem is reported, located.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::error::{ScenarioError, Source, suggest};
use super::model::{SWARM_ACTIONS, SWARM_FAULTS};
use super::{Action, Group, Mode, Scenario, Step};
use crate::protocol::validate_topic;

/// Most seeds a scenario may list.
pub const MAX_SEEDS: usize = 1000;
/// Most clients in one scenario.
pub const MAX_CLIENTS: usize = 10_000;
/// Most clients on one simulated host (its ephemeral ports must outlast their dials).
pub const MAX_CLIENTS_PER_HOST: usize = 2_000;
/// Longest simulated run.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

const STATUS_NAMES: [&str; 5] = [
    "connecting",
    "connected",
    "disconnected",
    "failed",
    "closed",
];

pub(crate) fn validate(s: &Scenario, src: &Source<'_>) -> Result<(), ScenarioError> {
    header(s, src)?;
    if let Some((at, why)) = s
        .protocol
        .as_ref()
        .and_then(crate::evidence::wire::Declared::problem)
    {
        return Err(src.near(0, &at, why, None));
    }
    let mut seen = BTreeSet::new();
    for g in &s.clients {
        group(g, s, src, &mut seen)?;
    }
    let total = (s.clients.iter()).fold(0usize, |n, g| n.saturating_add(g.count));
    if total > MAX_CLIENTS {
        return Err(src.near(
            0,
            "[[clients]]",
            format!("{total} clients in all; the limit is {MAX_CLIENTS}"),
            None,
        ));
    }
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    for g in &s.clients {
        let n = per_host.entry(g.host.as_str()).or_default();
        *n = n.saturating_add(g.count);
    }
    if let Some((host, n)) = per_host
        .into_iter()
        .find(|(_, n)| *n > MAX_CLIENTS_PER_HOST)
    {
        return Err(src.near(
            0,
            "[[clients]]",
            format!("{n} clients on host \"{host}\"; the limit is {MAX_CLIENTS_PER_HOST} per host"),
            Some(format!(
                "a simulated host has 16,384 ephemeral ports, and each dial takes one: clients \
                 that reconnect a few times would wrap around them onto connections still \
                 open. Spread the clients over groups with their own `host`, at most \
                 {MAX_CLIENTS_PER_HOST} each (benches/workloads/w10000.toml does)"
            )),
        ));
    }
    timeline(s, src)?;
    expect(s, src)
}

fn header(s: &Scenario, src: &Source<'_>) -> Result<(), ScenarioError> {
    let key = |k: &str, msg: String| src.near(0, &format!("{k} "), msg, None);
    if s.name.trim().is_empty() {
        return Err(key("name", "`name` is empty".into()));
    }
    if s.seeds.is_empty() || s.seeds.len() > MAX_SEEDS {
        return Err(key(
            "seeds",
            format!(
                "`seeds` lists {} seeds; give 1 to {MAX_SEEDS}",
                s.seeds.len()
            ),
        ));
    }
    if s.duration.is_zero() || s.duration > MAX_DURATION {
        return Err(key(
            "duration",
            format!(
                "`duration` must be more than 0 and at most {}",
                show(MAX_DURATION)
            ),
        ));
    }
    if s.tick.is_zero() || s.tick > Duration::from_secs(1) || s.tick > s.duration {
        return Err(key(
            "tick",
            "`tick` must be more than 0, at most 1s and at most the duration".into(),
        ));
    }
    if s.settle > s.duration {
        return Err(key(
            "settle",
            "`settle` is longer than the whole run".into(),
        ));
    }
    if s.clients.is_empty() {
        return Err(src.at(
            0,
            "no [[clients]] group: a scenario needs at least one client",
            None,
        ));
    }
    if let Some(why) = crate::world::World::of(s).refuses(s) {
        return Err(key("command", why));
    }
    server_command(&s.server).map_err(|(k, msg)| key(k, msg))?;
    if let Some(g) = s
        .clients
        .iter()
        .find(|g| g.command.as_deref().is_some_and(|c| c.trim().is_empty()))
    {
        return Err(key(
            "command",
            format!("group {:?}: `command` is empty", g.name),
        ));
    }
    Ok(())
}

/// The `[server]` keys of a server command: (key, what is wrong).
fn server_command(server: &crate::server::ServerConfig) -> Result<(), (&'static str, String)> {
    const MOST: Duration = Duration::from_secs(600);
    match server.command.as_deref() {
        Some(c) if c.trim().is_empty() => {
            return Err(("command", "the server's `command` is empty".into()));
        }
        Some(_) => {}
        None => {
            let stray = [
                ("cwd", server.cwd.is_some()),
                ("env", !server.env.is_empty()),
                ("ready_line", server.ready_line.is_some()),
            ];
            if let Some((k, _)) = stray.into_iter().find(|(_, set)| *set) {
                return Err((
                    k,
                    format!("`{k}` in [server] is for a server `command`, and there is none"),
                ));
            }
        }
    }
    if server.ready_line.as_deref().is_some_and(str::is_empty) {
        return Err((
            "ready_line",
            "`ready_line` is empty: every line would match".into(),
        ));
    }
    for (k, d) in [
        ("ready_within", server.ready_within),
        ("stop_grace", server.stop_grace),
    ] {
        if d.is_zero() || d > MOST {
            return Err((k, format!("`{k}` must be more than 0 and at most 10m")));
        }
    }
    Ok(())
}

fn group(
    g: &Group,
    s: &Scenario,
    src: &Source<'_>,
    seen: &mut BTreeSet<String>,
) -> Result<(), ScenarioError> {
    let here = |needle: &str, msg: String, help: Option<String>| src.near(0, needle, msg, help);
    let quoted = format!("\"{}\"", g.name);
    if !is_name(&g.name) {
        return Err(here(
            &quoted,
            format!("group name {quoted} must be letters, digits, `_` or `-`"),
            None,
        ));
    }
    if !seen.insert(g.name.clone()) {
        return Err(here(
            &quoted,
            format!("two groups are named {quoted}"),
            None,
        ));
    }
    if g.count == 0 {
        return Err(here(&quoted, format!("group {quoted} has count = 0"), None));
    }
    if !is_name(&g.host) || g.host == "server" {
        let msg = format!(
            "host name \"{}\" must be letters, digits, `_` or `-`, and not `server`",
            g.host
        );
        return Err(here(&format!("\"{}\"", g.host), msg, None));
    }
    if let Some(p) = g
        .protocol
        .filter(|p| *p != crate::protocol::Protocol::Wschaos)
    {
        return Err(here(
            &format!("\"{}\"", p.name()),
            format!(
                "group {quoted} speaks protocol \"{}\": a group may only speak \"wschaos\" besides the server's protocol (the built-in server answers each protocol in its own frames)",
                p.name()
            ),
            Some("leave `protocol` out for clients of the server's protocol".into()),
        ));
    }
    // A raw group's workload sends frames (`NAME#N`), with no topic.
    if g.mode == Mode::Pubsub && g.publish.as_ref().is_some_and(|w| w.topic.is_empty()) {
        let msg = format!("group {quoted}: `publish` needs a `topic`");
        return Err(here(&quoted, msg, None));
    }
    let workload_topic = g
        .publish
        .as_ref()
        .map(|w| &w.topic)
        .filter(|t| !t.is_empty());
    for topic in g.topics.iter().chain(workload_topic) {
        if let Err(why) = validate_topic(topic) {
            return Err(here(
                &format!("\"{topic}\""),
                format!("topic {topic:?}: {why}"),
                None,
            ));
        }
        if g.mode == Mode::Raw {
            return Err(here(
                &quoted,
                format!("group {quoted} is raw: raw clients have no topics"),
                None,
            ));
        }
    }
    let p = &g.policy;
    if !(0.0..=1.0).contains(&p.jitter)
        || !p.multiplier.is_finite()
        || p.outbox_capacity == 0
        || p.subscriber_buffer == 0
    {
        let msg = format!(
            "group {quoted}: policy needs 0 <= jitter <= 1, a finite multiplier, capacities above 0"
        );
        return Err(here(&quoted, msg, None));
    }
    if let Some(w) = &g.publish {
        if w.every.is_zero() || w.start >= s.duration || w.stop.is_some_and(|stop| stop < w.start) {
            let msg =
                format!("group {quoted}: publish needs every > 0 and start <= stop < duration");
            return Err(here(&quoted, msg, None));
        }
    }
    Ok(())
}

fn timeline(s: &Scenario, src: &Source<'_>) -> Result<(), ScenarioError> {
    let mut steps: Vec<&Step> = s.timeline.iter().collect();
    steps.sort_by_key(|st| st.at);
    let mut server = ServerState::Up;
    let mut windows: Vec<(Duration, Duration, usize)> = Vec::new();
    for step in steps {
        let fail = |msg: String, help: Option<String>| src.at(step.span.start, msg, help);
        if let Some(trigger) = &step.on {
            if step.action.client().is_none() {
                return Err(fail(
                    format!(
                        "`on` fires client actions only, not `{}`",
                        step.action.verb()
                    ),
                    Some("faults happen at a time: use `at`".into()),
                ));
            }
            if trigger.nth == 0 {
                return Err(fail("`nth` counts from 1".into(), None));
            }
            continue;
        }
        if step.at > s.duration {
            return Err(fail(
                format!(
                    "`at = \"{}\"` is after the end of the run ({})",
                    show(step.at),
                    show(s.duration)
                ),
                None,
            ));
        }
        if let Some(window) = step.action.window() {
            let end = step.at + window;
            if end > s.duration {
                let msg = format!(
                    "this {} lasts until {}, after the end of the run ({})",
                    step.action.verb(),
                    show(end),
                    show(s.duration)
                );
                return Err(fail(msg, None));
            }
            if matches!(step.action, Action::Flap { .. } | Action::Reject { .. }) {
                if let Some((_, other_end, line)) =
                    windows.iter().find(|(b, e, _)| step.at < *e && *b < end)
                {
                    let msg = format!(
                        "this {} window overlaps another admission window (until {}, line {line})",
                        step.action.verb(),
                        show(*other_end)
                    );
                    return Err(fail(
                        msg,
                        Some(
                            "flap and reject windows cannot overlap: the server can only do one"
                                .into(),
                        ),
                    ));
                }
                windows.push((step.at, end, line_of(src, step)));
            }
        }
        server = server_move(server, step, src)?;
        action(&step.action, s, src, step)?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum ServerState {
    Up,
    Down,
    /// Restarting by itself until this time.
    Restarting(Duration),
}

fn server_move(
    state: ServerState,
    step: &Step,
    src: &Source<'_>,
) -> Result<ServerState, ScenarioError> {
    let state = match state {
        ServerState::Restarting(until) if step.at >= until => ServerState::Up,
        other => other,
    };
    let needs = |want_up: bool| -> Result<(), ScenarioError> {
        let up = state == ServerState::Up;
        if up == want_up {
            return Ok(());
        }
        let is = if up { "running" } else { "down" };
        Err(src.at(
            step.span.start,
            format!(
                "`{}` at {}: the server is {is} then",
                step.action.verb(),
                show(step.at)
            ),
            None,
        ))
    };
    Ok(match &step.action {
        Action::Restart { down } | Action::GracefulRestart { down, .. } => {
            needs(true)?;
            ServerState::Restarting(step.at + *down)
        }
        Action::Crash | Action::Die => {
            needs(true)?;
            ServerState::Down
        }
        Action::Start => {
            needs(false)?;
            ServerState::Up
        }
        _ => state,
    })
}

fn action(a: &Action, s: &Scenario, src: &Source<'_>, step: &Step) -> Result<(), ScenarioError> {
    let fail = |msg: String, help: Option<String>| src.at(step.span.start, msg, help);
    match a {
        Action::Partition { between, .. }
        | Action::Repair { between, .. }
        | Action::Hold { between, .. }
        | Action::Release { between }
        | Action::Latency { between, .. } => {
            let hosts: BTreeSet<&str> = s
                .clients
                .iter()
                .map(|g| g.host.as_str())
                .chain(["server"])
                .collect();
            for h in between {
                if !hosts.contains(h.as_str()) {
                    let known = hosts.iter().copied().collect::<Vec<_>>().join(", ");
                    let help =
                        suggest(h, hosts.iter().copied()).or(Some(format!("hosts are: {known}")));
                    return Err(fail(format!("no host named {h:?}"), help));
                }
            }
            if between[0] == between[1] {
                return Err(fail(
                    format!(
                        "`between` names {:?} twice; give two different hosts",
                        between[0]
                    ),
                    None,
                ));
            }
        }
        Action::Kick { code } => {
            if let Err((msg, help)) = close_code(*code) {
                return Err(fail(msg, Some(help)));
            }
        }
        Action::Reject { status, .. } => {
            if let Err((msg, help)) = http_error(*status) {
                return Err(fail(msg, Some(help)));
            }
        }
        _ => {}
    }
    if let Some(client) = a.client() {
        let group = resolve(client, &s.clients).ok_or_else(|| {
            let names = s.clients.iter().map(|g| g.name.as_str());
            fail(
                format!("no client or group named {client:?}"),
                suggest(client, names),
            )
        })?;
        if let Action::Subscribe { topic, .. }
        | Action::Unsubscribe { topic, .. }
        | Action::Publish { topic, .. } = a
        {
            if group.mode == Mode::Raw {
                return Err(fail(
                    format!("{client:?} is a raw client: it has no topics"),
                    None,
                ));
            }
            validate_topic(topic).map_err(|why| fail(format!("topic {topic:?}: {why}"), None))?;
        }
    }
    Ok(())
}

fn expect(s: &Scenario, src: &Source<'_>) -> Result<(), ScenarioError> {
    let groups: Vec<&str> = s.clients.iter().map(|g| g.name.as_str()).collect();
    let in_expect = src.text.find("[expect").unwrap_or(0);
    let fail = |needle: &str, msg: String, help| src.near(in_expect, needle, msg, help);
    let e = &s.expect;
    for group in e.final_status.keys().chain(e.sequence.keys()) {
        if !groups.contains(&group.as_str()) {
            return Err(fail(
                group,
                format!("expect names no group {group:?}"),
                suggest(group, groups.iter().copied()),
            ));
        }
    }
    for name in e.final_status.values().chain(e.sequence.values().flatten()) {
        if !STATUS_NAMES.contains(&name.as_str()) {
            let help = suggest(name, STATUS_NAMES)
                .or(Some(format!("statuses are: {}", STATUS_NAMES.join(", "))));
            return Err(fail(
                &format!("\"{name}\""),
                format!("{name:?} is not a status"),
                help,
            ));
        }
    }
    for name in &e.skip {
        if !crate::check::NAMES.contains(&name.as_str()) {
            let help = suggest(name, crate::check::NAMES.iter().copied()).or(Some(format!(
                "invariants are: {}",
                crate::check::NAMES.join(", ")
            )));
            return Err(fail(
                &format!("\"{name}\""),
                format!("no invariant named {name:?}"),
                help,
            ));
        }
    }
    if let Some(name) = e
        .failing
        .as_deref()
        .filter(|n| !crate::check::NAMES.contains(n))
    {
        let help = suggest(name, crate::check::NAMES.iter().copied());
        return Err(fail(
            &format!("\"{name}\""),
            format!("`failing` names no invariant {name:?}"),
            help,
        ));
    }
    if let Some(sw) = &s.swarm {
        swarm(sw, s, src)?;
    }
    if e.herd_share.is_some_and(|x| !(x > 0.0 && x <= 1.0)) {
        return Err(fail(
            "herd_share",
            "`herd_share` must be in (0, 1]".into(),
            None,
        ));
    }
    Ok(())
}

fn swarm(sw: &super::Swarm, s: &Scenario, src: &Source<'_>) -> Result<(), ScenarioError> {
    let at = src.text.find("[swarm]").unwrap_or(0);
    let fail = |needle: &str, msg: String, help| src.near(at, needle, msg, help);
    for (list, allowed) in [
        (&sw.faults, &SWARM_FAULTS[..]),
        (&sw.actions, &SWARM_ACTIONS[..]),
    ] {
        if let Some(verb) = list.iter().find(|v| !allowed.contains(&v.as_str())) {
            let help = suggest(verb, allowed.iter().copied())
                .or(Some(format!("allowed: {}", allowed.join(", "))));
            return Err(fail(
                &format!("\"{verb}\""),
                format!("{verb:?} cannot be drawn in swarm mode"),
                help,
            ));
        }
    }
    if sw.faults_count[0] > sw.faults_count[1]
        || sw.actions_count[0] > sw.actions_count[1]
        || sw.faults_count[1] > 64
        || sw.actions_count[1] > 64
    {
        return Err(fail(
            "count",
            "swarm counts are [fewest, most], at most 64".into(),
            None,
        ));
    }
    if sw.from >= s.duration.saturating_sub(s.settle) {
        return Err(fail(
            "from",
            "swarm `from` leaves no room before the last `settle` of the run".into(),
            None,
        ));
    }
    if sw.kick_codes.is_empty() || sw.reject_statuses.is_empty() {
        return Err(fail(
            if sw.kick_codes.is_empty() {
                "kick_codes"
            } else {
                "reject_statuses"
            },
            "`kick_codes` and `reject_statuses` need at least one entry each".into(),
            None,
        ));
    }
    for (key, &n) in sw
        .kick_codes
        .iter()
        .map(|c| ("kick_codes", c))
        .chain(sw.reject_statuses.iter().map(|c| ("reject_statuses", c)))
    {
        let bad = if key == "kick_codes" {
            close_code(n)
        } else {
            http_error(n)
        };
        if let Err((msg, help)) = bad {
            return Err(fail(&n.to_string(), format!("`{key}`: {msg}"), Some(help)));
        }
    }
    for topic in &sw.topics {
        validate_topic(topic).map_err(|why| {
            fail(
                &format!("\"{topic}\""),
                format!("topic {topic:?}: {why}"),
                None,
            )
        })?;
    }
    Ok(())
}

/// A close code a server can send: 1000-1003, 1007-1014 or 3000-4999.
fn close_code(code: u16) -> Result<(), (String, String)> {
    if !(1000..=4999).contains(&code)
        || [1004, 1005, 1006, 1015].contains(&code)
        || (1016..3000).contains(&code)
    {
        return Err((
            format!("close code {code} cannot be sent"),
            "use 1000-1003, 1007-1014 or 3000-4999".into(),
        ));
    }
    Ok(())
}

/// An HTTP error status: 400-599.
fn http_error(status: u16) -> Result<(), (String, String)> {
    if !(400..=599).contains(&status) {
        return Err((
            format!("HTTP status {status} is not an error"),
            "use 400-599, e.g. 503".into(),
        ));
    }
    Ok(())
}

/// The group a client reference names: a group name, or `GROUP-INDEX` within its count.
fn resolve<'a>(client: &str, groups: &'a [Group]) -> Option<&'a Group> {
    if let Some(g) = groups.iter().find(|g| g.name == client) {
        return Some(g);
    }
    let (name, index) = client.rsplit_once('-')?;
    let index: usize = index.parse().ok()?;
    groups.iter().find(|g| g.name == name && index < g.count)
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn line_of(src: &Source<'_>, step: &Step) -> usize {
    src.text[..step.span.start.min(src.text.len())]
        .matches('\n')
        .count()
        + 1
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
