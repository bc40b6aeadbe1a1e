//! The scenario's own expectations: final status per group, exact status sequences.

use super::view::{between_processes, clients, closed_at, conns, ms, statuses};
use super::{Checker, Context, Findings, Violation};
use crate::client::Status;
use crate::evidence::Evidence;
use crate::evidence::window::show;
use crate::history::{Event, Fault, FaultWindow, History};

pub(super) const FINAL: Checker = Checker {
    name: "expect_final",
    severity: super::Severity::Connection,
    promise: "each group ends in the status the scenario expects",
    applies: super::every,
    needs: &[Evidence::Statuses],
    check: |cx, h| finals(cx, h).into(),
};

pub(super) const SEQUENCE: Checker = Checker {
    name: "expect_sequence",
    severity: super::Severity::Connection,
    promise: "each client goes through exactly the status sequence the scenario expects",
    applies: super::every,
    needs: &[Evidence::Statuses],
    check: |cx, h| sequences(cx, h).into(),
};

pub(super) const RECONNECT: Checker = Checker {
    name: "expect_reconnect",
    severity: super::Severity::Connection,
    promise: "after each fault heals, every client still trying is connected again within expect.reconnect_within",
    applies: super::every,
    needs: &[Evidence::Connections],
    check: reconnects,
};

fn reconnects(s: &Context, h: &History) -> Findings {
    let mut out = Findings::default();
    let Some(within) = s.reconnect_within.map(ms) else {
        return out;
    };
    let server_conns = conns(h);
    let windows = h.fault_windows();
    for (k, r) in h.records.iter().enumerate() {
        // What starts the clock, as the messages name it: a heal, or a kick (which heals
        // at once).
        let what = match &r.event {
            Event::Heal { .. } => "the heal",
            Event::Fault { fault } if matches!(&**fault, Fault::Kick { .. }) => "the kick",
            _ => continue,
        };
        for (client, g) in clients(s) {
            // A heal while another outage still holds this client off (a reject window
            // ending while the server is still down) heals nothing for it: the last heal
            // of the outage starts the clock.
            if still_out(&windows, &g.host, r.t) {
                continue;
            }
            let deadline = r.t + within;
            // Nor does one that another fault interrupts before its deadline (a reject
            // window opening a second after a kick, a second kick): the client owes one
            // reconnect per outage, from the clock its last fault starts.
            if interrupted(&windows, &g.host, r.t, deadline) {
                continue;
            }
            if closed_at(h, &client).is_some_and(|t| t <= deadline)
                || between_processes(h, &client, deadline)
            {
                continue;
            }
            let seen = statuses(h, &client);
            // A client waiting out a retry delay at the deadline, announced and within its
            // policy's `max_delay` (`backoff_bounds` judges the delay itself), is owed
            // `within` from when it was due to dial again, not from the heal: after a long
            // outage a correct client's backoff may still be running when the server returns.
            let deadline = match seen.iter().take_while(|(_, t, _)| *t <= deadline).last() {
                Some((_, t, Status::Disconnected { retry_in, .. })) => {
                    deadline.max(t + ms(*retry_in).min(ms(g.policy.max_delay)) + within)
                }
                _ => deadline,
            };
            let judged_by = deadline.min(s.end);
            let msg = if !s.provided.has(&client, Evidence::Statuses) {
                // A client that reports no status (a process without probe lines) is
                // judged by the server's record: a connection of it opened after the heal,
                // or one open throughout, by the deadline.
                let back = server_conns.iter().any(|c| {
                    c.client == client
                        && ((c.open_t >= r.t && c.open_t <= judged_by) || c.open_at(judged_by))
                });
                (!back).then(|| format!(
                    "no connection of it at the server {}ms after {what} at {}ms; expected one within {within}ms",
                    judged_by - r.t,
                    r.t
                ))
            } else {
                let at_deadline = seen
                    .iter()
                    .take_while(|(_, t, _)| *t <= judged_by)
                    .last()
                    .map(|(_, _, st)| *st);
                let back = seen
                    .iter()
                    .any(|(_, t, st)| *t >= r.t && *t <= judged_by && **st == Status::Connected);
                let connected_throughout = at_deadline == Some(&Status::Connected);
                let gave_up = matches!(at_deadline, Some(Status::Failed { .. } | Status::Closed));
                (!back && !connected_throughout && !gave_up).then(|| {
                    let name = at_deadline.map_or("nothing", Status::name);
                    format!(
                        "{name} {}ms after {what} at {}ms; expected connected within {within}ms (of {what}, or of the end of a retry delay its policy allows)",
                        judged_by - r.t,
                        r.t
                    )
                })
            };
            match msg {
                None => {}
                // Not back yet, but the run ended before its deadline: said, not guessed.
                Some(_) if deadline > s.end => {
                    let why = format!(
                        "the run ends {} after {what} at {}, before the {} `reconnect_within` allows",
                        show(s.end - r.t),
                        show(r.t),
                        show(deadline - r.t)
                    );
                    out.not_judged(RECONNECT.name, &client, Some(r.t), why);
                }
                Some(msg) => out.push(Violation::new(
                    RECONNECT.name,
                    Some(&client),
                    deadline,
                    msg,
                    vec![k],
                )),
            }
        }
    }
    out
}

/// True when at `t` a fault still keeps a client on `host` from a server: the server
/// stopped, its handshakes refused or cut short, or its link cut or held.
fn still_out(windows: &[FaultWindow], host: &str, t: u64) -> bool {
    windows
        .iter()
        .any(|w| keeps_out(&w.fault, host) && w.from <= t && w.to.is_none_or(|to| to > t))
}

/// True when a fault that ends or keeps off a connection of a client on `host` (an outage,
/// or a kick) begins after `from` and by `to`.
fn interrupted(windows: &[FaultWindow], host: &str, from: u64, to: u64) -> bool {
    windows.iter().any(|w| {
        (keeps_out(&w.fault, host) || matches!(w.fault, Fault::Kick { .. }))
            && w.from > from
            && w.from <= to
    })
}

fn keeps_out(fault: &Fault, host: &str) -> bool {
    match fault {
        Fault::Crash | Fault::Shutdown { .. } | Fault::Die => true,
        Fault::Flap | Fault::Reject { .. } => true,
        Fault::Partition { link } | Fault::Hold { link } => link.joins_server_and(host),
        Fault::Latency { .. } | Fault::Kick { .. } => false,
    }
}

fn finals(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let Some(want) = s.expect.final_status.get(&g.name) else {
            continue;
        };
        let seen = statuses(h, &client);
        let got = seen.last().map_or("nothing", |(_, _, st)| st.name());
        if got != want {
            let (t, events) = seen.last().map_or((0, vec![]), |(i, t, _)| (*t, vec![*i]));
            out.push(Violation::new(
                FINAL.name,
                Some(&client),
                t,
                format!("ended {got}, expected {want}"),
                events,
            ));
        }
    }
    out
}

fn sequences(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, g) in clients(s) {
        let Some(want) = s.expect.sequence.get(&g.name) else {
            continue;
        };
        let seen = statuses(h, &client);
        let got: Vec<&str> = seen.iter().map(|(_, _, st)| st.name()).collect();
        if got != *want {
            let at = got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            let (t, events) = seen
                .get(at)
                .or(seen.last())
                .map_or((0, vec![]), |(i, t, _)| (*t, vec![*i]));
            let msg = format!(
                "status sequence differs at step {}: got [{}], expected [{}]",
                at + 1,
                got.join(", "),
                want.join(", ")
            );
            out.push(Violation::new(SEQUENCE.name, Some(&client), t, msg, events));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn finals(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::finals(&Context::simulated(s), h))
    }

    fn sequences(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::sequences(&Context::simulated(s), h))
    }

    fn reconnects(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::reconnects(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    fn story() -> History {
        Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .build()
    }

    #[test]
    fn matching_expectations_pass_and_others_fail() {
        let ok = simple(
            1,
            "[expect]\nfinal = { c = \"connected\" }\nsequence = { c = [\"connecting\", \"connected\"] }\n",
        );
        assert!(finals(&ok, &story()).is_empty() && sequences(&ok, &story()).is_empty());
        let bad = simple(
            1,
            "[expect]\nfinal = { c = \"failed\" }\nsequence = { c = [\"connecting\", \"failed\"] }\n",
        );
        assert_eq!(
            finals(&bad, &story())[0].message,
            "ended connected, expected failed"
        );
        assert!(
            sequences(&bad, &story())[0]
                .message
                .starts_with("status sequence differs at step 2")
        );
    }

    #[test]
    fn a_heal_while_another_outage_holds_starts_no_clock() {
        // A reject window ends at 23.88 s while the server, crashed at 20 s, is back only
        // at 24.78 s: the client owes its reconnect from there.
        let s = simple(1, "[expect]\nreconnect_within = \"1s\"\n");
        let story = |back: u64| {
            Builder::default()
                .status(0, "c-0", connecting(1))
                .status(5, "c-0", Status::Connected)
                .fault(18_000, Fault::Reject { status: 503 })
                .fault(20_000, Fault::Crash)
                .status(20_000, "c-0", disconnected(1, 200))
                .status(20_200, "c-0", connecting(1))
                .heal(23_880, Heal::Admit)
                .heal(24_780, Heal::Start)
                .status(back, "c-0", Status::Connected)
                .build()
        };
        assert!(reconnects(&s, &story(25_500)).is_empty());
        let late = reconnects(&s, &story(26_500));
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(
            late[0].message.contains("after the heal at 24780ms"),
            "{}",
            late[0].message
        );
    }

    #[test]
    fn a_fault_interrupting_a_clock_leaves_one_reconnect_owed_per_outage() {
        // A kick at 10 s, then handshakes refused from 10.5 s to 20 s: one clock, from
        // the end of the refusals, and one violation when the client is late for it.
        let s = simple(1, "[expect]\nreconnect_within = \"2s\"\n");
        let story = |back: u64| {
            Builder::default()
                .status(0, "c-0", connecting(1))
                .status(5, "c-0", Status::Connected)
                .fault(10_000, Fault::Kick { code: 1012 })
                .status(10_000, "c-0", disconnected(1, 200))
                .status(10_200, "c-0", connecting(1))
                .fault(10_500, Fault::Reject { status: 503 })
                .heal(20_000, Heal::Admit)
                .status(back, "c-0", Status::Connected)
                .build()
        };
        assert!(reconnects(&s, &story(21_000)).is_empty());
        let late = reconnects(&s, &story(23_000));
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(
            late[0].message.contains("after the heal at 20000ms"),
            "{}",
            late[0].message
        );
        // A kick the client is not back from by its deadline, with no fault after it, is
        // still its own violation.
        let alone = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .fault(10_000, Fault::Kick { code: 1012 })
            .status(10_000, "c-0", disconnected(1, 200))
            .status(10_200, "c-0", connecting(1))
            .status(30_000, "c-0", Status::Connected)
            .build();
        assert_eq!(reconnects(&s, &alone).len(), 1);
    }

    #[test]
    fn a_deadline_past_the_end_is_not_judged_unless_the_client_is_back() {
        let s = simple(1, "[expect]\nreconnect_within = \"2s\"\n");
        let story = |back: bool| {
            let b = Builder::default()
                .status(0, "c-0", connecting(1))
                .status(5, "c-0", Status::Connected)
                .fault(59_000, Fault::Kick { code: 1012 })
                .status(59_000, "c-0", disconnected(1, 200));
            if back {
                b.status(59_300, "c-0", Status::Connected)
            } else {
                b
            }
            .build()
        };
        let back = super::reconnects(&Context::simulated(&s), &story(true));
        assert_eq!(back, Findings::default());
        let not_yet = super::reconnects(&Context::simulated(&s), &story(false));
        assert!(not_yet.violations.is_empty());
        assert_eq!(not_yet.not_judged.len(), 1, "{not_yet:?}");
        assert!(
            not_yet.not_judged[0]
                .reason
                .starts_with("the run ends 1.0 s after the kick at 59.0 s"),
            "a kick is named as such, not as a heal: {}",
            not_yet.not_judged[0].reason
        );
    }

    #[test]
    fn reconnecting_in_time_passes_and_late_is_caught() {
        let s = simple(1, "[expect]\nreconnect_within = \"2s\"\n");
        let heal = Event::Heal {
            heal: Box::new(Heal::Start),
        };
        let quick = Builder::default()
            .status(0, "c-0", connecting(1))
            .at(1000, heal.clone())
            .status(1500, "c-0", Status::Connected)
            .build();
        assert!(reconnects(&s, &quick).is_empty());
        let slow = Builder::default()
            .status(0, "c-0", connecting(1))
            .at(1000, heal)
            .status(3500, "c-0", Status::Connected)
            .build();
        let found = reconnects(&s, &slow);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .starts_with("connecting 2000ms after the heal"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_client_waiting_out_a_retry_its_policy_allows_is_owed_the_wait() {
        // Heal at 10 s, 2 s expected; the client lost its dial at 9 s and announced 8 s
        // (within the default max_delay of 30 s): due to dial at 17 s, so back by 19 s.
        let s = simple(1, "[expect]\nreconnect_within = \"2s\"\n");
        let waiting = |back: u64| {
            Builder::default()
                .status(9_000, "c-0", disconnected(3, 8_000))
                .at(
                    10_000,
                    Event::Heal {
                        heal: Box::new(Heal::Start),
                    },
                )
                .status(17_000, "c-0", connecting(3))
                .status(back, "c-0", Status::Connected)
                .build()
        };
        assert!(reconnects(&s, &waiting(17_100)).is_empty());
        let found = reconnects(&s, &waiting(19_500));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .starts_with("connecting 9000ms after the heal"),
            "{}",
            found[0].message
        );
    }
}
