//! Plain text: one line per history record, and a failure report with the violation, a
//! short timeline around it and the command that replays it.

use std::fmt::Write;

use crate::cases::{Case, Outcome};
use crate::check::{NotJudged, Violation};
use crate::client::{Reason, ServerEvent, Status};
use crate::history::{Event, Record};
use crate::server;

/// Records shown before and after a violation's moment.
const CONTEXT_MS: u64 = 3000;
/// Most lines of timeline per violation.
const MAX_LINES: usize = 30;
/// Presence changes named in one line of the text report; the rest are counted.
const PRESENCE_SHOWN: usize = 3;

/// `n` things, in the singular for one: `count(1, "violation")` is `1 violation`.
///
/// ```
/// assert_eq!(wschaos::report::count(1, "bad file"), "1 bad file");
/// assert_eq!(wschaos::report::count(2, "violation"), "2 violations");
/// ```
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// What could not be judged, a line each: the invariants that share a reason and the same
/// clients go on one line, `status_moves, delivery for c-0, c-1: no status lines: ...`.
///
/// ```
/// use wschaos::check::NotJudged;
/// let nj = |invariant, client: &str| NotJudged {
///     invariant,
///     client: client.into(),
///     from: None,
///     reason: "no status lines".into(),
/// };
/// let lines = wschaos::report::not_judged(&[nj("a", "c-0"), nj("a", "c-1"), nj("b", "c-0"), nj("b", "c-1")]);
/// assert_eq!(lines, ["a, b for c-0, c-1: no status lines"]);
/// let many: Vec<NotJudged> = (0..20).map(|i| nj("a", &format!("rws-{i}"))).chain([nj("a", "pub")]).collect();
/// assert_eq!(wschaos::report::not_judged(&many), ["a for rws-0 to rws-19, pub: no status lines"]);
/// ```
pub fn not_judged(list: &[NotJudged]) -> Vec<String> {
    // (reason, invariant) -> clients, in order of first appearance.
    let mut by_check: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for n in list {
        match (by_check.iter_mut()).find(|(r, i, _)| *r == n.reason && *i == n.invariant) {
            Some((_, _, clients)) => clients.push(&n.client),
            None => by_check.push((&n.reason, n.invariant, vec![&n.client])),
        }
    }
    // (reason, clients) -> invariants
    let mut lines: Vec<(&str, Vec<&str>, Vec<&str>)> = Vec::new();
    for (reason, invariant, clients) in by_check {
        match (lines.iter_mut()).find(|(r, c, _)| *r == reason && *c == clients) {
            Some((_, _, checks)) => checks.push(invariant),
            None => lines.push((reason, clients, vec![invariant])),
        }
    }
    lines
        .into_iter()
        .map(|(reason, clients, checks)| {
            format!("{} for {}: {reason}", checks.join(", "), runs(&clients))
        })
        .collect()
}

/// Client names with runs of a group's numbered clients written as one:
/// `rws-0 to rws-19`.
fn runs(names: &[&str]) -> String {
    let numbered = |n: &str| {
        let (group, i) = n.rsplit_once('-')?;
        Some((group.to_string(), i.parse::<u64>().ok()?))
    };
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(String, u64, u64)> = None;
    let close = |run: &mut Option<(String, u64, u64)>, out: &mut Vec<String>| {
        if let Some((g, a, b)) = run.take() {
            out.push(match b - a {
                0 => format!("{g}-{a}"),
                1 => format!("{g}-{a}, {g}-{b}"),
                _ => format!("{g}-{a} to {g}-{b}"),
            });
        }
    };
    for name in names {
        match (numbered(name), run.as_mut()) {
            (Some((g, i)), Some((rg, _, b))) if *rg == g && i == *b + 1 => *b = i,
            (Some((g, i)), _) => {
                close(&mut run, &mut out);
                run = Some((g, i, i));
            }
            (None, _) => {
                close(&mut run, &mut out);
                out.push(name.to_string());
            }
        }
    }
    close(&mut run, &mut out);
    out.join(", ")
}

/// The failure report of a case: each violation, the timeline around it, the replay command.
pub fn failure(case: &Case, outcome: &Outcome) -> String {
    failure_with_replay(case, outcome, &case.replay_command())
}

/// [`failure`] with another replay line: the command that reruns this case for the client
/// that failed it (a user's own client replays through its own test, not the CLI).
pub fn failure_with_replay(case: &Case, outcome: &Outcome, replay: &str) -> String {
    let mut out = String::new();
    let n = outcome.verdict.violations.len();
    let _ = writeln!(
        out,
        "{} (seed {}): {n} violation{}",
        case.file.display(),
        case.seed,
        if n == 1 { "" } else { "s" }
    );
    for v in outcome.verdict.violations.iter().take(5) {
        let _ = writeln!(out, "\n{}", headline(v));
        for line in around(outcome, v) {
            let _ = writeln!(out, "{line}");
        }
    }
    if n > 5 {
        let _ = writeln!(out, "\n... and {} more", n - 5);
    }
    let _ = write!(out, "\nreplay: {replay}");
    out
}

fn headline(v: &Violation) -> String {
    let who = v
        .client
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    format!("[{}]{who} at {}: {}", v.invariant, seconds(v.t), v.message)
}

/// Timeline lines near the violation: its own events (marked `>`), the client's records
/// and every fault.
fn around(outcome: &Outcome, v: &Violation) -> Vec<String> {
    let lo = v.t.saturating_sub(CONTEXT_MS);
    let hi = v.t + CONTEXT_MS;
    let lines: Vec<String> = outcome
        .history
        .records
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            v.events.contains(i) || (r.t >= lo && r.t <= hi && relevant(r, v.client.as_deref()))
        })
        .map(|(i, r)| {
            format!(
                "  {} {}",
                if v.events.contains(&i) { '>' } else { ' ' },
                describe(r)
            )
        })
        .collect();
    if lines.len() > MAX_LINES {
        let mut cut: Vec<String> = lines[..MAX_LINES].to_vec();
        cut.push(format!("    ... {} more lines", lines.len() - MAX_LINES));
        return cut;
    }
    lines
}

/// Faults, and the violating client's records except the chatty publishes.
fn relevant(r: &Record, client: Option<&str>) -> bool {
    match &r.event {
        Event::Fault { .. } | Event::Heal { .. } => true,
        Event::Publish { .. } => false,
        other => client.is_some() && other.client() == client,
    }
}

/// One record as a line: time, who, what.
pub fn describe(r: &Record) -> String {
    let t = seconds(r.t);
    match &r.event {
        Event::Status { client, status } => {
            format!("{t} {client:<10} status {}", status_text(status))
        }
        Event::Dial { client } => match r.dial {
            Some(n) => format!("{t} {client:<10} dial #{n}"),
            None => format!("{t} {client:<10} dial"),
        },
        Event::Delivered {
            client,
            topic,
            epoch,
            seq,
            from,
            id,
            ..
        } => format!("{t} {client:<10} got {topic} #{seq} (epoch {epoch}) from {from} id {id}"),
        Event::Gap {
            client,
            topic,
            reason,
            epoch,
            next_seq,
        } => {
            format!("{t} {client:<10} gap on {topic}: {reason:?}, next #{next_seq} (epoch {epoch})")
        }
        Event::Presence { client, event } => format!("{t} {client:<10} {}", presence_text(event)),
        Event::Frame {
            client,
            len,
            digest,
        } => format!("{t} {client:<10} frame of {len} bytes #{digest:016x}"),
        Event::Publish {
            client,
            topic,
            id: Some(id),
            ..
        } => format!("{t} {client:<10} publish {topic} id {id}"),
        Event::Publish {
            client,
            topic,
            refused,
            ..
        } => format!(
            "{t} {client:<10} publish {topic} refused: {}",
            refused.as_deref().unwrap_or("")
        ),
        Event::Action { client, action } => format!("{t} {client:<10} {action}"),
        Event::Server { epoch, event } => format!(
            "{t} {:<10} {}",
            format!("server#{epoch}"),
            server_text(event)
        ),
        Event::ServerUp { epoch } => format!("{t} {:<10} up", format!("server#{epoch}")),
        Event::Fault { fault } => format!("{t} FAULT      {}: {fault}", fault.verb()),
        Event::Heal { heal } => format!("{t} HEAL       {}: {heal}", heal.verb()),
    }
}

fn status_text(s: &Status) -> String {
    match s {
        Status::Connecting { attempt } => format!("connecting (attempt {attempt})"),
        Status::Disconnected {
            attempt,
            retry_in,
            reason,
        } => {
            format!(
                "disconnected ({}; attempt {attempt} in {}ms)",
                reason_text(reason),
                retry_in.as_millis()
            )
        }
        Status::Failed { reason } => format!("failed ({})", reason_text(reason)),
        other => other.name().to_string(),
    }
}

fn reason_text(r: &Reason) -> String {
    match r {
        Reason::ServerClosed { code, reason } => format!("server closed {code} {reason}"),
        Reason::Rejected { status } => format!("rejected with HTTP {status}"),
        Reason::Dial { error } | Reason::Handshake { error } | Reason::Error { error } => {
            error.clone()
        }
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v["kind"].as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

fn presence_text(e: &ServerEvent) -> String {
    match e {
        ServerEvent::Welcome { epoch, online, .. } => {
            format!("welcome (epoch {epoch}, {online} online)")
        }
        ServerEvent::Presence { changes, online } => {
            let shown: Vec<String> = changes
                .iter()
                .take(PRESENCE_SHOWN)
                .map(|c| {
                    let verb = if c.joined() { "join" } else { "leave" };
                    format!("{} {verb}", c.client())
                })
                .collect();
            let more = match changes.len().saturating_sub(PRESENCE_SHOWN) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!("saw {}{more} ({online} online)", shown.join(", "))
        }
        ServerEvent::Error { message, .. } => format!("server error: {message}"),
        ServerEvent::Unintelligible { error } => format!("unintelligible frame: {error}"),
    }
}

fn server_text(e: &server::Event) -> String {
    match e {
        server::Event::Connected {
            conn,
            client,
            online,
        } => format!("conn {conn} {client} connected ({online} online)"),
        server::Event::Refused { reason } => format!("refused: {reason}"),
        server::Event::Relayed {
            conn,
            client,
            len,
            digest,
            to,
        } => format!("conn {conn} {client} relayed {len} bytes #{digest:016x} to {to}"),
        server::Event::Disconnected {
            conn,
            client,
            reason,
            ..
        } => format!("conn {conn} {client} gone: {reason}"),
        server::Event::Subscribed {
            conn,
            client,
            topic,
            resume,
            gap,
        } => {
            let resume = resume
                .map(|p| format!(" resume {}#{}", p.epoch, p.seq))
                .unwrap_or_default();
            let gap = gap.map(|g| format!(" gap {g:?}")).unwrap_or_default();
            format!("conn {conn} {client} subscribed {topic}{resume}{gap}")
        }
        server::Event::Unsubscribed {
            conn,
            client,
            topic,
        } => format!("conn {conn} {client} unsubscribed {topic}"),
        server::Event::Published {
            client,
            topic,
            id,
            seq: Some(seq),
            ..
        } => format!("{client} published {topic} #{seq} (id {id})"),
        server::Event::Published {
            client, topic, id, ..
        } => format!("{client} resent {topic} id {id} (duplicate dropped)"),
        server::Event::Rejected {
            conn,
            client,
            reason,
        } => format!("conn {conn} {client} rejected: {reason}"),
        server::Event::ClientClosed {
            conn,
            client,
            code: Some(code),
        } => format!("conn {conn} {client} closed it cleanly ({code})"),
        server::Event::ClientClosed { conn, client, .. } => {
            format!("conn {conn} {client} closed it cleanly")
        }
    }
}

fn seconds(ms: u64) -> String {
    format!("{:>4}.{:03}s", ms / 1000, ms % 1000)
}
