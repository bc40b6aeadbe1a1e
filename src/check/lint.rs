//! What a run of a file will not be able to judge, known before it runs: a fault so late
//! that the run ends before a client's declared bounds let it show the fault's effect. The
//! checkers say *not judged* for it when the run ends; this says so before, with the
//! numbers and the fix.

use super::Context;
use crate::evidence::window::show;
use crate::history::{Event, History, Record};
use crate::sim::plan::{self, Effect};

/// One line per (fault, group) of the timeline's fixed steps whose window, by the group's
/// declared bounds in this world, the run does not cover.
pub fn unjudgeable(cx: &Context) -> Vec<String> {
    let records = plan::effects(cx.scenario)
        .into_iter()
        .filter_map(|(at, effect)| {
            let event = match effect {
                Effect::Fault(fault) => Event::Fault {
                    fault: Box::new(fault),
                },
                Effect::Heal(heal) => Event::Heal {
                    heal: Box::new(heal),
                },
                Effect::Client { .. } => return None,
            };
            let t = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
            Some(Record {
                t,
                dial: None,
                event,
            })
        })
        .collect();
    let planned = History::new(cx.name.clone(), 0, records);
    let mut out = Vec::new();
    for w in planned.fault_windows() {
        for g in &cx.clients {
            let Some(win) = cx.window(&w, g).filter(|win| !cx.covers(win)) else {
                continue;
            };
            let needs = win.due.unwrap_or(win.noticed_by).saturating_add(cx.slack);
            let long_enough = needs.div_ceil(1000);
            out.push(format!(
                "the {} at {} cannot be judged for group {:?}: the run ends {} after it, and by their declared bounds its clients may take up to {} to be back; lengthen `duration` to {long_enough}s",
                w.fault.verb(),
                show(w.from),
                g.name,
                show(cx.end.saturating_sub(w.from)),
                show(needs.saturating_sub(w.from)),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::scenario;

    #[test]
    fn a_late_fault_is_named_with_the_fix() {
        let s = scenario(
            "name = \"t\"\nduration = \"30s\"\nsettle = \"2s\"\n[[clients]]\nname = \"subs\"\n[[clients]]\nname = \"far\"\nhost = \"far\"\n[[timeline]]\nat = \"29700ms\"\ndo = \"kick\"\n[[timeline]]\nat = \"20s\"\ndo = \"partition\"\nbetween = [\"server\", \"far\"]\nfor = \"1s\"\n",
        );
        let lines = unjudgeable(&Context::simulated(&s));
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[0].starts_with("the partition at 20.0 s cannot be judged for group \"far\": the run ends 10.0 s after it"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with("lengthen `duration` to 41s"),
            "{}",
            lines[0]
        );
        assert!(lines[2].starts_with("the kick at 29.7 s cannot be judged for group \"far\""));
        // A kick 1 s before the end: the first retry (within 500 ms) fits.
        let mut fits = s.clone();
        fits.timeline.retain(|st| st.at.as_millis() == 29_700);
        fits.timeline[0].at = std::time::Duration::from_secs(29);
        assert!(unjudgeable(&Context::simulated(&fits)).is_empty());
    }
}
