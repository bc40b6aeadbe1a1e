//! `Duration` as human-readable text ("500ms", "1m 30s") in configuration and scenario files.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration as text, e.g. `"1s 500ms"`, rounded down to whole milliseconds when
/// it is at least one millisecond long (a jittered delay reads `"225ms"`, not `"225ms 515us 470ns"`).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    let shown = if *d >= Duration::from_millis(1) {
        Duration::from_millis(d.as_millis() as u64)
    } else {
        *d
    };
    s.serialize_str(&humantime::format_duration(shown).to_string())
}

/// Reads a duration from text such as `"250ms"` or `"2m"`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// `Option<Duration>` as optional text.
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some` as text, `None` as nothing.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| super::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Parses a duration, with a message that says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!("bad duration {text:?}: {e} (write e.g. \"500ms\", \"2s\", \"1m 30s\")")
    })
}
