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
    failure_report(case, outcome, replay, false)
}

/// The failure report, finding first: how many violations of each invariant, most severe
/// first (loss and duplicates before subscriptions, connections, then timing; among equals
/// the most widespread), and for
/// whom; then the first violation of each invariant with the timeline around it; then,
/// when `all`, every other one (otherwise how many are left, and how to see them).
pub fn failure_report(case: &Case, outcome: &Outcome, replay: &str, all: bool) -> String {
    let mut out = String::new();
    let violations = &outcome.verdict.violations;
    let n = violations.len();
    let _ = writeln!(
        out,
        "{} (seed {}): {}",
        case.file.display(),
        case.seed,
        count(n, "violation")
    );
    let groups = by_invariant(violations);
    let width = groups.iter().map(|(i, _)| i.len()).max().unwrap_or(0);
    for (invariant, list) in &groups {
        let _ = writeln!(
            out,
            "  {invariant:<width$}  {:>4}  {}",
            list.len(),
            per_client(list)
        );
    }
    for (_, list) in &groups {
        let shown = if all { list.len() } else { 1 };
        for v in list.iter().take(shown) {
            let _ = writeln!(out, "\n{}", headline(v));
            for line in around(outcome, v) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    let left = if all { 0 } else { n - groups.len() };
    if left > 0 {
        let _ = writeln!(
            out,
            "\n... and {} of the same invariants (`--all` shows every one; `--report DIR` writes them all)",
            count(left, "more violation")
        );
    }
    let _ = write!(out, "\nreplay: {replay}");
    out
}

/// Violations grouped by invariant: most severe first, then the most widespread, then the
/// earliest; each group in order of time.
fn by_invariant(violations: &[Violation]) -> Vec<(&'static str, Vec<&Violation>)> {
    let mut groups: Vec<(&'static str, Vec<&Violation>)> = Vec::new();
    for v in violations {
        match groups.iter_mut().find(|(i, _)| *i == v.invariant) {
            Some((_, list)) => list.push(v),
            None => groups.push((v.invariant, vec![v])),
        }
    }
    for (_, list) in &mut groups {
        list.sort_by_key(|v| v.t);
    }
    groups.sort_by_key(|(i, list)| {
        let widespread = std::cmp::Reverse(list.len());
        (crate::check::severity(i), widespread, list[0].t)
    });
    groups
}

/// `subs-0: 10, subs-1: 9` (clients by count, most first; the run's own findings as
/// `run`), at most five named.
fn per_client(list: &[&Violation]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in list {
        let who = v.client.as_deref().unwrap_or("run");
        match counts.iter_mut().find(|(c, _)| *c == who) {
            Some((_, n)) => *n += 1,
            None => counts.push((who, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = (counts.iter().take(5))
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    if counts.len() > 5 {
        parts.push(format!("{} more clients", counts.len() - 5));
    }
    parts.join(", ")
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
        Event::Wire {
            client,
            conn,
            dir,
            said,
        } => {
            let way = match dir {
                crate::evidence::wire::Direction::ToServer => "sent",
                crate::evidence::wire::Direction::ToClient => "got",
            };
            format!("{t} {client:<10} {way} on the wire of dial #{conn}: {said}")
        }
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

#[cfg(test)]
mod tests {
    use crate::cases::{Case, Outcome};
    use crate::check::{Verdict, Violation};

    fn outcome(violations: Vec<Violation>) -> (Case, Outcome) {
        let scenario = crate::scenario::parse(
            "name = \"s\"\nduration = \"30s\"\n[[clients]]\nname = \"c\"\ncount = 3\n",
            "s.toml",
        )
        .unwrap();
        let case = Case {
            file: "s.toml".into(),
            scenario,
            seed: 4,
        };
        let outcome = Outcome {
            history: crate::history::History::new("s", 4, Vec::new()),
            verdict: Verdict {
                checked: Vec::new(),
                violations,
                not_judged: Vec::new(),
                warnings: Vec::new(),
            },
            logs: Default::default(),
            server_log: None,
        };
        (case, outcome)
    }

    fn v(invariant: &'static str, client: &str, t: u64) -> Violation {
        Violation::new(
            invariant,
            Some(client),
            t,
            format!("{invariant} at {t}"),
            Vec::new(),
        )
    }

    /// Timing found first in time, a loss later: the loss leads the counts and the examples;
    /// one example per invariant unless `all`, and the rest counted.
    #[test]
    fn the_report_leads_with_the_most_severe_finding_and_counts_the_rest() {
        let (case, o) = outcome(vec![
            v("redial_on_time", "c-0", 1000),
            v("redial_on_time", "c-1", 1100),
            v("delivery", "c-2", 5000),
            v("delivery", "c-2", 6000),
            v("delivery", "c-1", 7000),
            v("topics_restored", "c-0", 8000),
        ]);
        let text = super::failure_report(&case, &o, "REPLAY", false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "s.toml (seed 4): 6 violations");
        assert_eq!(lines[1], "  delivery            3  c-2: 2, c-1: 1");
        assert_eq!(lines[2], "  topics_restored     1  c-0: 1");
        assert_eq!(lines[3], "  redial_on_time      2  c-0: 1, c-1: 1");
        let heads: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with('['))
            .collect();
        assert_eq!(heads.len(), 3, "{text}");
        assert!(heads[0].starts_with("[delivery] c-2 at"), "{text}");
        assert!(heads[2].starts_with("[redial_on_time] c-0 at"), "{text}");
        assert!(
            text.contains("... and 3 more violations of the same invariants"),
            "{text}"
        );
        assert!(text.ends_with("replay: REPLAY"), "{text}");

        let all = super::failure_report(&case, &o, "REPLAY", true);
        assert_eq!(
            all.lines().filter(|l| l.starts_with('[')).count(),
            6,
            "{all}"
        );
        assert!(!all.contains("more violation"), "{all}");
    }
}
