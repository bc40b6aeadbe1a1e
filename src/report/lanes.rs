//! The story of a run as text: one lane per client over simulated time, a fault lane, then
//! the events that matter. Same run, same text, on every machine.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::check::Verdict;
use crate::client::Status;
use crate::history::{Event, History};
use crate::scenario::Scenario;

/// Columns of a lane.
const WIDTH: usize = 72;
/// Lanes drawn before the rest are summarised.
const MAX_LANES: usize = 24;

/// The whole story: lanes, a legend, the notable events, the verdict.
pub fn story(scenario: &Scenario, history: &History, verdict: &Verdict) -> String {
    let mut out = String::new();
    let end = scenario.duration.as_millis() as u64;
    let _ = writeln!(
        out,
        "{} (seed {}): {} simulated, {} records",
        scenario.name,
        history.seed,
        humantime::format_duration(scenario.duration),
        history.records.len()
    );
    let _ = writeln!(out, "\n{:<12}|{}|", "", axis(end));
    let _ = writeln!(out, "{:<12}|{}|", "faults", fault_lane(history, end));
    let names: Vec<String> = scenario
        .clients
        .iter()
        .flat_map(crate::scenario::Group::client_names)
        .collect();
    for name in names.iter().take(MAX_LANES) {
        let _ = writeln!(out, "{:<12}|{}|", truncate(name), lane(history, name, end));
    }
    if names.len() > MAX_LANES {
        let _ = writeln!(
            out,
            "{:<12} ... and {} more clients",
            "",
            names.len() - MAX_LANES
        );
    }
    let _ = writeln!(
        out,
        "{:<12} = connected  ~ connecting  . waiting to retry  x failed  (blank) closed  # fault",
        ""
    );
    let _ = writeln!(
        out,
        "\nEvents (faults, status changes, gaps, server connections):"
    );
    for r in &history.records {
        if notable(&r.event) {
            let _ = writeln!(out, "  {}", super::describe(r));
        }
    }
    let _ = writeln!(out, "\nMessages:");
    for (client, (sent, got, gaps)) in message_counts(history) {
        let _ = writeln!(
            out,
            "  {client:<12} published {sent:>5}  received {got:>5}  gap notices {gaps}"
        );
    }
    let _ = writeln!(
        out,
        "\nVerdict: {} checked, {}",
        super::count(verdict.checked.len(), "invariant"),
        super::count(verdict.violations.len(), "violation")
    );
    for v in &verdict.violations {
        let who = v.client.as_deref().unwrap_or("-");
        let _ = writeln!(out, "  [{}] {who} at {}ms: {}", v.invariant, v.t, v.message);
    }
    out
}

fn axis(end: u64) -> String {
    let mut line = vec![b'-'; WIDTH];
    for (i, c) in line.iter_mut().enumerate() {
        if i % 12 == 0 {
            *c = b'+';
        }
    }
    let mut text = String::from_utf8(line).unwrap_or_default();
    text.push_str(&format!(" 0 .. {}s", end / 1000));
    text
}

fn column_time(col: usize, end: u64) -> u64 {
    end * col as u64 / WIDTH as u64
}

fn lane(h: &History, client: &str, end: u64) -> String {
    let changes: Vec<(u64, &Status)> = h.statuses(client).map(|(_, t, s)| (t, s)).collect();
    (0..WIDTH)
        .map(|col| {
            let t = column_time(col, end);
            match changes
                .iter()
                .take_while(|(at, _)| *at <= t)
                .last()
                .map(|(_, s)| *s)
            {
                Some(Status::Connected) => '=',
                Some(Status::Connecting { .. }) => '~',
                Some(Status::Disconnected { .. }) => '.',
                Some(Status::Failed { .. }) => 'x',
                Some(Status::Closed) => ' ',
                None => '?',
            }
        })
        .collect()
}

/// `#` where any fault is active (between a fault and its healing; a kick marks one column).
fn fault_lane(h: &History, end: u64) -> String {
    let windows: Vec<(u64, u64)> = h
        .fault_windows()
        .iter()
        .map(|w| (w.from, w.to.unwrap_or(end)))
        .collect();
    let step = end / WIDTH as u64;
    (0..WIDTH)
        .map(|col| {
            let (lo, hi) = (column_time(col, end), column_time(col, end) + step);
            if windows.iter().any(|(a, b)| *a < hi && *b >= lo) {
                '#'
            } else {
                ' '
            }
        })
        .collect()
}

fn notable(e: &Event) -> bool {
    match e {
        Event::Fault { .. }
        | Event::Heal { .. }
        | Event::Status { .. }
        | Event::Gap { .. }
        | Event::Action { .. }
        | Event::ServerUp { .. } => true,
        Event::Server { event, .. } => matches!(
            &**event,
            crate::server::Event::Connected { .. }
                | crate::server::Event::Disconnected { .. }
                | crate::server::Event::Rejected { .. }
        ),
        _ => false,
    }
}

/// Per client: publishes accepted, messages received, gap notices.
fn message_counts(h: &History) -> BTreeMap<&str, (usize, usize, usize)> {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for r in &h.records {
        match &r.event {
            Event::Publish {
                client,
                id: Some(_),
                ..
            } => counts.entry(client).or_default().0 += 1,
            Event::Delivered { client, .. } => counts.entry(client).or_default().1 += 1,
            Event::Gap { client, .. } => counts.entry(client).or_default().2 += 1,
            _ => {}
        }
    }
    counts
}

fn truncate(name: &str) -> String {
    name.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use crate::history::{ClientAction, Event, History, Record};

    #[test]
    fn the_story_shows_the_scenarios_own_client_actions() {
        let at = |t, action| Record {
            t,
            dial: None,
            event: Event::Action {
                client: "subs-0".into(),
                action,
            },
        };
        let h = History::new(
            "s",
            1,
            vec![
                at(
                    1_000,
                    ClientAction::Subscribe {
                        topic: "alerts".into(),
                    },
                ),
                at(2_000, ClientAction::Close),
            ],
        );
        let s = crate::scenario::parse(
            "name = \"s\"\nduration = \"30s\"\n[[clients]]\nname = \"subs\"\n",
            "s.toml",
        )
        .unwrap();
        let verdict = crate::check::check(&s, &h);
        let story = super::story(&s, &h, &verdict);
        assert!(story.contains("subs-0     subscribe(alerts)"), "{story}");
        assert!(story.contains("subs-0     close()"), "{story}");
    }
}
