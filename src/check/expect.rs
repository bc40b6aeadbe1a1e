//! The scenario's own expectations: final status per group, exact status sequences.

use super::view::{clients, statuses};
use super::{Checker, Violation};
use crate::history::History;
use crate::scenario::Scenario;

pub(super) const FINAL: Checker = Checker {
    name: "expect_final",
    promise: "each group ends in the status the scenario expects",
    check: finals,
};

pub(super) const SEQUENCE: Checker = Checker {
    name: "expect_sequence",
    promise: "each client goes through exactly the status sequence the scenario expects",
    check: sequences,
};

fn finals(s: &Scenario, h: &History) -> Vec<Violation> {
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

fn sequences(s: &Scenario, h: &History) -> Vec<Violation> {
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
    use crate::check::testkit::*;
    use crate::client::Status;

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
}
