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

/// The longest duration any setting takes: a year. Far beyond any run or policy that
/// means something, and far enough below `u64` milliseconds that sums of a few never
/// overflow.
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a duration, with a message that says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let shown = "write e.g. \"500ms\", \"2s\", \"1m 30s\"";
    if text.trim_start().starts_with('-') {
        return Err(format!(
            "bad duration {text:?}: a duration cannot be negative ({shown})"
        ));
    }
    let d = humantime::parse_duration(text).map_err(|e| {
        use humantime::DurationError as E;
        let why = match e {
            E::NumberExpected(at) | E::InvalidCharacter(at) => match text.get(at..) {
                Some(rest) if !rest.is_empty() => {
                    format!("a number and a unit are expected where it says {rest:?}")
                }
                _ => "a number and a unit are expected".to_string(),
            },
            E::UnknownUnit { unit, value, .. } => {
                format!("unknown unit {unit:?} after {value} (units: ms, s, m, h, days)")
            }
            E::NumberOverflow => "too long: at most 365 days".to_string(),
            E::Empty => "empty".to_string(),
        };
        format!("bad duration {text:?}: {why} ({shown})")
    })?;
    if d > MAX {
        return Err(format!("duration {text:?} is too long: at most 365 days"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_range_checked_with_a_reason() {
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("365days"), Ok(MAX));
        for (text, says) in [
            ("18446744073709551615s", "too long"),
            ("366days", "too long"),
            ("-1s", "cannot be negative"),
            ("1ms 18446744073709551615s", "too long"),
            ("2s 18446744073709551615s", "bad duration"),
            (
                "fast",
                "a number and a unit are expected where it says \"fast\"",
            ),
            ("2 s x", "where it says \"x\""),
            ("3 parsecs", "unknown unit \"parsecs\" after 3"),
            ("", "empty"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
