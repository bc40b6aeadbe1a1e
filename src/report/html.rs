//! `timeline.html`: one self-contained file (no network fetch) with an SVG lane per client
//! coloured by status over simulated time, shaded fault bands, markers for dials, gaps and
//! violations (linked from the list below), details on hover, zoom (wheel) and pan (drag).
//! Groups of more than 20 clients show a summary lane; their members unfold on demand.

use std::fmt::Write;

use crate::check::Verdict;
use crate::client::Status;
use crate::history::{Event, History};
use crate::scenario::Scenario;

/// Width of the time axis in SVG units.
const W: f64 = 1000.0;
/// Height of one lane.
const LANE: u32 = 14;
/// Groups larger than this start folded.
const FOLD: usize = 20;

/// The whole page.
pub fn timeline(scenario: &Scenario, history: &History, verdict: &Verdict) -> String {
    let end = scenario.duration.as_millis().max(1) as u64;
    let x = |t: u64| t.min(end) as f64 * W / end as f64;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{} <small>seed {}</small></h1>",
        esc(&scenario.name),
        history.seed
    );
    let _ = write!(body, "<p>{}</p>", esc(&scenario.description));
    let _ = write!(
        body,
        "<p class=legend><b class=connected>connected</b> <b class=connecting>connecting</b> <b class=disconnected>waiting to retry</b> <b class=failed>failed</b> <b class=closed>closed</b> <b class=fault>fault</b> &#9650; gap &#9670; the scenario's client action &#9679; violation, ticks: messages (top) and presence events (bottom) | wheel: zoom, drag: pan, double-click: reset</p>"
    );
    body.push_str(&axis(end));
    let faults = fault_bands(history, &x);
    let markers = violation_markers(history, verdict, &x);
    for g in &scenario.clients {
        let names: Vec<String> = g.client_names().collect();
        let open = if names.len() > FOLD { "" } else { " open" };
        let _ = write!(
            body,
            "<details class=group data-group=\"{}\"{open}><summary>{} ({} clients)</summary>",
            esc(&g.name),
            esc(&g.name),
            names.len()
        );
        body.push_str(&summary_lane(history, &names, end, &faults));
        for name in &names {
            body.push_str(&client_lane(history, name, end, &faults, &markers));
        }
        body.push_str("</details>");
    }
    body.push_str(&violation_list(history, verdict));
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>wschaos: {} seed {}</title><style>{STYLE}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n",
        esc(&scenario.name),
        history.seed
    )
}

fn axis(end: u64) -> String {
    let step = nice_step(end);
    let mut svg = format!(
        "<svg class=\"lanes axis\" viewBox=\"0 0 {W} 16\" preserveAspectRatio=\"none\" data-end=\"{end}\">"
    );
    let mut t = 0;
    while t <= end {
        let px = t as f64 * W / end as f64;
        let _ = write!(
            svg,
            "<line x1=\"{px:.2}\" x2=\"{px:.2}\" y1=\"10\" y2=\"16\"/><text x=\"{px:.2}\" y=\"9\">{}s</text>",
            t / 1000
        );
        t += step;
    }
    svg.push_str("</svg>");
    format!("<div class=row><span class=name>time</span>{svg}</div>")
}

fn nice_step(end: u64) -> u64 {
    [
        1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 3_600_000,
    ]
    .into_iter()
    .find(|s| end / s <= 12)
    .unwrap_or(3_600_000)
}

fn fault_bands(h: &History, x: &impl Fn(u64) -> f64) -> String {
    let mut out = String::new();
    for w in h.fault_windows() {
        let to = w.to.unwrap_or(u64::MAX);
        let (x1, x2) = (x(w.from), x(to).max(x(w.from) + 1.0));
        let _ = write!(
            out,
            "<rect class=fault data-verb=\"{}\" data-from=\"{}\" data-to=\"{}\" x=\"{x1:.2}\" width=\"{:.2}\" y=\"0\" height=\"{LANE}\"><title>{}: {} ({} ms to {})</title></rect>",
            w.fault.verb(),
            w.from,
            w.to.map_or("end".into(), |t| t.to_string()),
            x2 - x1,
            w.fault.verb(),
            esc(&w.fault.to_string()),
            w.from,
            w.to.map_or("the end".into(), |t| format!("{t} ms"))
        );
    }
    out
}

/// (client, svg markup) of each violation's marker, drawn on its client's lane.
fn violation_markers(
    h: &History,
    verdict: &Verdict,
    x: &impl Fn(u64) -> f64,
) -> Vec<(Option<String>, String)> {
    verdict
        .violations
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let event = v.events.first().copied();
            let t = event.map_or(v.t, |i| h.records[i].t);
            let what = event.map(|i| super::describe(&h.records[i])).unwrap_or_default();
            let svg = format!(
                "<a href=\"#violation-{k}\"><circle class=violation id=\"marker-{k}\" data-invariant=\"{}\" data-event=\"{}\" data-t=\"{t}\" cx=\"{:.2}\" cy=\"{}\" r=\"5\"><title>{}: {}\n{}</title></circle></a>",
                v.invariant,
                event.map_or(String::new(), |i| i.to_string()),
                x(t),
                LANE / 2,
                v.invariant,
                esc(&v.message),
                esc(&what)
            );
            (v.client.clone(), svg)
        })
        .collect()
}

fn client_lane(
    h: &History,
    client: &str,
    end: u64,
    faults: &str,
    markers: &[(Option<String>, String)],
) -> String {
    let x = |t: u64| t.min(end) as f64 * W / end as f64;
    let mut svg = format!(
        "<svg class=\"lanes lane\" data-client=\"{}\" viewBox=\"0 0 {W} {LANE}\" preserveAspectRatio=\"none\">{faults}",
        esc(client)
    );
    let changes: Vec<(u64, &Status)> = h.statuses(client).map(|(_, t, s)| (t, s)).collect();
    for (k, (t, status)) in changes.iter().enumerate() {
        let until = changes.get(k + 1).map_or(end, |(next, _)| *next);
        let _ = write!(
            svg,
            "<rect class=\"{}\" x=\"{:.2}\" width=\"{:.2}\" y=\"3\" height=\"{}\"><title>{client} {} from {} ms to {until} ms</title></rect>",
            status.name(),
            x(*t),
            (x(until) - x(*t)).max(0.3),
            LANE - 6,
            status.name(),
            t
        );
    }
    for (i, r) in h.of(client) {
        match &r.event {
            Event::Dial { .. } => {
                let _ = write!(
                    svg,
                    "<line class=dial data-event=\"{i}\" x1=\"{0:.2}\" x2=\"{0:.2}\" y1=\"0\" y2=\"3\"/>",
                    x(r.t)
                );
            }
            Event::Action { action, .. } => {
                let _ = write!(
                    svg,
                    "<text class=action data-event=\"{i}\" x=\"{:.2}\" y=\"11\">&#9670;<title>{} at {} ms (the scenario's step)</title></text>",
                    x(r.t),
                    esc(&action.to_string()),
                    r.t
                );
            }
            Event::Gap { topic, reason, .. } => {
                let _ = write!(
                    svg,
                    "<text class=gap data-event=\"{i}\" x=\"{:.2}\" y=\"{LANE}\">&#9650;<title>gap on {} ({reason:?}) at {} ms</title></text>",
                    x(r.t),
                    esc(topic),
                    r.t
                );
            }
            _ => {}
        }
    }
    svg.push_str(&buckets(h, client, end));
    for (_, marker) in markers.iter().filter(|(c, _)| c.as_deref() == Some(client)) {
        svg.push_str(marker);
    }
    svg.push_str("</svg>");
    format!(
        "<div class=row><span class=name>{}</span>{svg}</div>",
        esc(client)
    )
}

/// Messages received (green ticks, top) and presence events seen (grey ticks, bottom),
/// counted per slice of time so that a busy run stays light; the count shows on hover.
fn buckets(h: &History, client: &str, end: u64) -> String {
    const SLICES: u64 = 200;
    let mut messages = [0u32; SLICES as usize];
    let mut presence = [0u32; SLICES as usize];
    for (_, r) in h.of(client) {
        let slot = (r.t.min(end - 1) * SLICES / end) as usize;
        match r.event {
            Event::Delivered { .. } | Event::Frame { .. } => messages[slot] += 1,
            Event::Presence { .. } => presence[slot] += 1,
            _ => {}
        }
    }
    let mut out = String::new();
    for (row, counts, class, what) in [
        (0, &messages, "msg", "messages received"),
        (LANE - 2, &presence, "presence", "presence events"),
    ] {
        for (k, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let (from, to) = (end * k as u64 / SLICES, end * (k as u64 + 1) / SLICES);
            let _ = write!(
                out,
                "<rect class={class} data-count=\"{n}\" x=\"{:.2}\" width=\"{:.2}\" y=\"{row}\" height=\"2\"><title>{n} {what} between {from} and {to} ms</title></rect>",
                k as f64 * W / SLICES as f64,
                W / SLICES as f64
            );
        }
    }
    out
}

/// The share of a group connected over time, as shades of one colour.
fn summary_lane(h: &History, names: &[String], end: u64, faults: &str) -> String {
    const COLUMNS: u64 = 200;
    let mut svg = format!(
        "<svg class=\"lanes summary\" viewBox=\"0 0 {W} {LANE}\" preserveAspectRatio=\"none\">{faults}"
    );
    let lanes: Vec<Vec<(u64, bool)>> = names
        .iter()
        .map(|n| {
            h.of(n)
                .filter_map(|(_, r)| match &r.event {
                    Event::Status { status, .. } => Some((r.t, *status == Status::Connected)),
                    _ => None,
                })
                .collect()
        })
        .collect();
    for c in 0..COLUMNS {
        let t = end * c / COLUMNS + end / COLUMNS / 2;
        let up = lanes
            .iter()
            .filter(|l| {
                l.iter()
                    .take_while(|(at, _)| *at <= t)
                    .last()
                    .is_some_and(|(_, c)| *c)
            })
            .count();
        let share = up as f64 / names.len().max(1) as f64;
        let _ = write!(
            svg,
            "<rect class=share x=\"{:.2}\" width=\"{:.2}\" y=\"3\" height=\"{}\" fill-opacity=\"{:.2}\"><title>{up} of {} connected at {t} ms</title></rect>",
            c as f64 * W / COLUMNS as f64,
            W / COLUMNS as f64,
            LANE - 6,
            0.15 + 0.85 * share,
            names.len()
        );
    }
    svg.push_str("</svg>");
    format!("<div class=row><span class=name>(connected)</span>{svg}</div>")
}

fn violation_list(h: &History, verdict: &Verdict) -> String {
    let mut out = format!(
        "<h2>{} checked, {}</h2><ol class=violations>",
        super::count(verdict.checked.len(), "invariant"),
        super::count(verdict.violations.len(), "violation")
    );
    for (k, v) in verdict.violations.iter().enumerate() {
        let events: Vec<String> = v
            .events
            .iter()
            .map(|i| {
                format!(
                    "<li><code>#{i}</code> {}</li>",
                    esc(&super::describe(&h.records[*i]))
                )
            })
            .collect();
        let _ = write!(
            out,
            "<li id=\"violation-{k}\" data-invariant=\"{}\"><a href=\"#marker-{k}\" onclick=\"flash({k})\"><b>[{}]</b></a> {} at {} ms: {}<ul>{}</ul></li>",
            v.invariant,
            v.invariant,
            esc(v.client.as_deref().unwrap_or("-")),
            v.t,
            esc(&v.message),
            events.join("")
        );
    }
    out.push_str("</ol>");
    out
}

/// Escapes text for HTML and XML.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font:13px system-ui,sans-serif;margin:16px;color:#222}h1 small{color:#777;font-weight:normal}
.row{display:flex;align-items:center;height:16px}.name{width:110px;flex:none;font:11px monospace;overflow:hidden;white-space:nowrap}
svg.lanes{flex:1;height:14px;cursor:grab;shape-rendering:crispEdges}svg.axis{height:16px}svg.axis text{font:8px sans-serif}svg.axis line{stroke:#999;stroke-width:.5}
.connected{fill:#2e9b4f;background:#2e9b4f}.connecting{fill:#e8b830;background:#e8b830}.disconnected{fill:#e07b39;background:#e07b39}
.failed{fill:#c0392b;background:#c0392b}.closed{fill:#bbb;background:#bbb}.fault{fill:#7b2cbf;fill-opacity:.18;background:#d9c4ef}
.share{fill:#2e9b4f}.msg{fill:#0b6e2e}.presence{fill:#888}.dial{stroke:#333;stroke-width:.6}.gap{font-size:8px;fill:#1f5fbf}.action{font-size:8px;fill:#7a3fb0}.violation{fill:#d0021b;stroke:#fff;stroke-width:1}
.violation.flash{fill:#000}.legend b{padding:0 6px;color:#fff;font-weight:normal}details{margin:4px 0}summary{cursor:pointer;font-weight:bold}";

const SCRIPT: &str = r#"
const lanes = () => Array.from(document.querySelectorAll('svg.lanes'));
let view = [0, 1000];
function apply() { lanes().forEach(s => { const h = s.viewBox.baseVal.height; s.setAttribute('viewBox', `${view[0]} 0 ${view[1] - view[0]} ${h}`); }); }
function at(svg, clientX) { const r = svg.getBoundingClientRect(); return view[0] + (clientX - r.left) / r.width * (view[1] - view[0]); }
lanes().forEach(svg => {
  svg.addEventListener('wheel', e => { e.preventDefault(); const c = at(svg, e.clientX); const f = e.deltaY < 0 ? 0.8 : 1.25;
    view = [Math.max(0, c - (c - view[0]) * f), Math.min(1000, c + (view[1] - c) * f)]; apply(); }, { passive: false });
  svg.addEventListener('mousedown', e => { const start = at(svg, e.clientX); const v0 = view.slice();
    const move = m => { const d = start - (v0[0] + (m.clientX - svg.getBoundingClientRect().left) / svg.getBoundingClientRect().width * (v0[1] - v0[0]));
      const w = v0[1] - v0[0]; const a = Math.min(Math.max(0, v0[0] + d), 1000 - w); view = [a, a + w]; apply(); };
    const up = () => { window.removeEventListener('mousemove', move); window.removeEventListener('mouseup', up); };
    window.addEventListener('mousemove', move); window.addEventListener('mouseup', up); });
  svg.addEventListener('dblclick', () => { view = [0, 1000]; apply(); });
});
function flash(k) { const m = document.getElementById('marker-' + k); if (!m) return; m.closest('details').open = true;
  m.classList.add('flash'); setTimeout(() => m.classList.remove('flash'), 1500); }
document.body.dataset.lanes = document.querySelectorAll('svg.lane').length;
document.body.dataset.ready = 'yes';
"#;

#[cfg(test)]
mod tests {
    use crate::history::{ClientAction, Event, History, Record};

    #[test]
    fn the_scenarios_client_actions_are_on_their_lanes() {
        let h = History::new(
            "s",
            1,
            vec![Record {
                t: 1_000,
                dial: None,
                event: Event::Action {
                    client: "subs-0".into(),
                    action: ClientAction::Unsubscribe {
                        topic: "news".into(),
                    },
                },
            }],
        );
        let s = crate::scenario::parse(
            "name = \"s\"\nduration = \"30s\"\n[[clients]]\nname = \"subs\"\n",
            "s.toml",
        )
        .unwrap();
        let page = super::timeline(&s, &h, &crate::check::check(&s, &h));
        assert!(
            page.contains("class=action data-event=\"0\"")
                && page.contains("unsubscribe(news) at 1000 ms"),
            "{page}"
        );
    }
}
