//! Invariant 1: status moves only along legal edges, each change exactly once, starting
//! from `Connecting { attempt: 1 }`.

use super::view::{by_life, clients, exits, statuses};
use super::{Checker, Context, Violation};
use crate::client::{Reason, Status};
use crate::evidence::Evidence;
use crate::history::History;

pub(super) const CHECKER: Checker = Checker {
    name: "status_moves",
    severity: super::Severity::Connection,
    promise: "status moves only along legal edges, each change exactly once",
    applies: super::every,
    needs: &[Evidence::Statuses],
    check: |cx, h| check(cx, h).into(),
};

fn check(s: &Context, h: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    for (client, _) in clients(s) {
        let exits = exits(h, &client);
        // Each process starts its own status story.
        for seen in by_life(statuses(h, &client), &exits, |(i, _, _)| *i) {
            judge(&client, &seen, &mut out);
        }
    }
    out
}

fn judge(client: &str, seen: &[(usize, u64, &Status)], out: &mut Vec<Violation>) {
    {
        let v = |t, msg: String, events| Violation::new(CHECKER.name, Some(client), t, msg, events);
        match seen.first() {
            Some((i, t, first)) if **first != (Status::Connecting { attempt: 1 }) => {
                out.push(v(
                    *t,
                    format!(
                        "the first status is {}, not connecting (attempt 1)",
                        first.name()
                    ),
                    vec![*i],
                ));
            }
            _ => {}
        }
        for pair in seen.windows(2) {
            let ((i, _, a), (j, t, b)) = (pair[0], pair[1]);
            if a == b {
                out.push(v(
                    t,
                    format!("status {} emitted twice", b.name()),
                    vec![i, j],
                ));
            } else if *a == Status::Connected && handshake_failure(b) {
                let msg = format!(
                    "reported connected, then {}: the handshake had not completed",
                    b.name()
                );
                out.push(v(t, msg, vec![i, j]));
            } else if !a.can_move_to(b) {
                out.push(v(
                    t,
                    format!("illegal move {} -> {}", a.name(), b.name()),
                    vec![i, j],
                ));
            } else if let Some(msg) = misnumbered(a, b) {
                out.push(v(t, msg, vec![i, j]));
            }
        }
    }
}

/// Attempt numbers run on: a failed dial announces the next number, and the dial that
/// follows carries the number announced.
fn misnumbered(a: &Status, b: &Status) -> Option<String> {
    match (a, b) {
        (Status::Connecting { attempt: k }, Status::Disconnected { attempt: n, .. })
            if *n != k + 1 =>
        {
            Some(format!(
                "attempt {k} failed and the retry was announced as attempt {n}, not {}",
                k + 1
            ))
        }
        (Status::Disconnected { attempt: n, .. }, Status::Connecting { attempt: m }) if m != n => {
            Some(format!(
                "the retry was announced as attempt {n} and dialed as attempt {m}"
            ))
        }
        _ => None,
    }
}

/// A status whose reason is a failed handshake: only possible before `Connected`.
fn handshake_failure(s: &Status) -> bool {
    let reason = match s {
        Status::Disconnected { reason, .. } | Status::Failed { reason } => reason,
        _ => return false,
    };
    matches!(
        reason,
        Reason::Rejected { .. } | Reason::HandshakeTimeout | Reason::Handshake { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn check(s: &Scenario, h: &History) -> Vec<Violation> {
        violations(super::check(&Context::simulated(s), h))
    }
    use crate::check::testkit::*;

    #[test]
    fn legal_story_passes() {
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .status(9, "c-0", disconnected(1, 100))
            .status(109, "c-0", connecting(1))
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
    }

    #[test]
    fn attempt_numbers_must_run_on_from_a_failed_dial_to_the_next() {
        let story = |announced: u32, dialed: u32| {
            Builder::default()
                .status(0, "c-0", connecting(1))
                .status(5, "c-0", disconnected(announced, 100))
                .status(105, "c-0", connecting(dialed))
                .build()
        };
        assert!(check(&simple(1, ""), &story(2, 2)).is_empty());
        let stale = check(&simple(1, ""), &story(1, 1));
        assert!(stale[0].message.contains("not 2"), "{stale:?}");
        let jumped = check(&simple(1, ""), &story(2, 3));
        assert!(
            jumped[0]
                .message
                .contains("announced as attempt 2 and dialed as attempt 3"),
            "{jumped:?}"
        );
    }

    #[test]
    fn duplicate_and_skipped_states_are_caught() {
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .status(6, "c-0", Status::Connected)
            .status(9, "c-0", connecting(1))
            .build();
        let found = check(&simple(1, ""), &h);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].message.contains("twice"));
        assert!(found[1].message.contains("connected -> connecting"));
        assert_eq!(found[1].events, [2, 3]);
    }

    #[test]
    fn connected_before_the_handshake_is_caught() {
        let rejected = crate::client::Status::Disconnected {
            attempt: 2,
            retry_in: std::time::Duration::from_millis(100),
            reason: Reason::Rejected { status: 503 },
        };
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .status(6, "c-0", rejected)
            .build();
        let found = check(&simple(1, ""), &h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("handshake had not completed"));
    }

    #[test]
    fn each_process_starts_its_own_story() {
        use crate::history::ClientAction;
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .action(900, "c-0", ClientAction::Exit)
            .action(900, "c-0", ClientAction::Start)
            .status(900, "c-0", connecting(1))
            .status(905, "c-0", Status::Connected)
            .build();
        assert!(check(&simple(1, ""), &h).is_empty());
        // A new process that picks up where the old one was is caught.
        let h = Builder::default()
            .status(0, "c-0", connecting(1))
            .status(5, "c-0", Status::Connected)
            .action(900, "c-0", ClientAction::Exit)
            .action(900, "c-0", ClientAction::Start)
            .status(905, "c-0", Status::Connected)
            .build();
        let found = check(&simple(1, ""), &h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("first status"), "{found:?}");
    }
}
