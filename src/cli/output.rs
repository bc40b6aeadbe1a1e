//! One JSON object per line on stdout, each with a wall-clock timestamp first.
//!
//! The CLI talks to people and scripts on a real network, so it stamps lines with the
//! wall clock; nothing here runs inside a simulation.

use std::io::Write;
use std::time::SystemTime;

use serde::Serialize;

/// Prints `{"ts":..., "event":event, ...fields of body}`; `event` is omitted when the body
/// carries its own `event` tag.
pub fn line(event: Option<&str>, body: &impl Serialize) {
    tagged(event.map(|e| ("event", e)), body);
}

/// Prints `{"ts":..., key:value, ...fields of body}`.
pub fn tagged(tag: Option<(&str, &str)>, body: &impl Serialize) {
    let ts = humantime::format_rfc3339_millis(SystemTime::now());
    let body = serde_json::to_string(body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    let fields = body
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .unwrap_or("");
    let mut text = format!("{{\"ts\":\"{ts}\"");
    if let Some((key, value)) = tag {
        text.push_str(&format!(",\"{key}\":\"{value}\""));
    }
    if !fields.is_empty() {
        text.push(',');
        text.push_str(fields);
    }
    text.push('}');
    say(format_args!("{text}"), true);
}

/// Writes to stdout (and a newline when asked); when stdout is closed (the reader went
/// away), exits at once with 141, as a process killed by SIGPIPE would.
pub fn say(text: std::fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let written = if newline {
        writeln!(out, "{text}")
    } else {
        write!(out, "{text}")
    };
    if written.and_then(|()| out.flush()).is_err() {
        std::process::exit(141);
    }
}
