//! Scenario parsing and validation under fuzzing: arbitrary text and mutations of every
//! valid scenario file never panic, and every error stays located (`file:line:column`).
//!
//! The short run here tries a few thousand inputs. The long run is a documented command:
//! `PROPTEST_CASES=1000000 cargo test --release --test suite fuzz_scenarios::`.

use proptest::prelude::*;
use wschaos::scenario::{self, ScenarioError};

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

/// Every scenario file of the library, as text.
fn library() -> Vec<String> {
    wschaos::cases::discover(&["scenarios".into()])
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// Parses, and checks that an error is located inside the text.
fn check(text: &str) -> Result<(), TestCaseError> {
    match scenario::parse(text, "fuzz.toml") {
        Ok(_) => Ok(()),
        Err(ScenarioError::Invalid(e)) => {
            let lines = text.lines().count().max(1);
            prop_assert!(
                e.line >= 1 && e.line <= lines + 1,
                "line {} of {lines}: {e}",
                e.line
            );
            let prefix = format!("fuzz.toml:{}:{}: ", e.line, e.column);
            prop_assert!(e.to_string().starts_with(&prefix), "{e}");
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("not a located error: {other}"))),
    }
}

/// A mutation of a valid file: cut, duplicate, replace or insert a slice of it.
fn mutated() -> impl Strategy<Value = String> {
    let files = library();
    (
        0..files.len(),
        any::<u8>(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        "[ -~\n]{0,12}",
    )
        .prop_map(move |(file, how, a, b, noise)| {
            let text = &files[file];
            let (mut x, mut y) = (a.index(text.len() + 1), b.index(text.len() + 1));
            if x > y {
                std::mem::swap(&mut x, &mut y);
            }
            while !text.is_char_boundary(x) {
                x -= 1;
            }
            while !text.is_char_boundary(y) {
                y -= 1;
            }
            match how % 4 {
                0 => format!("{}{}", &text[..x], &text[y..]),
                1 => format!("{}{}{}", &text[..y], &text[x..y], &text[y..]),
                2 => format!("{}{noise}{}", &text[..x], &text[y..]),
                _ => format!("{}{noise}{}", &text[..x], &text[x..]),
            }
        })
}

/// Values at the edges of what the types hold, where sums and conversions overflow.
const EXTREMES: &[&str] = &[
    "\"18446744073709551615s\"",
    "\"18446744073709551615ms\"",
    "\"9223372036854775807s\"",
    "\"584942417355years\"",
    "\"365days\"",
    "\"364days 23h 59m 59s\"",
    "\"0s\"",
    "\"1ns\"",
    "\"-1s\"",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967295",
    "1e308",
    "nan",
    "inf",
    "-0.0",
];

/// A valid file with one value (a quoted duration or a number) replaced by an extreme.
fn extreme() -> impl Strategy<Value = String> {
    let files = library();
    (
        0..files.len(),
        any::<prop::sample::Index>(),
        0..EXTREMES.len(),
    )
        .prop_map(move |(file, at, value)| {
            let text = &files[file];
            // Every value after `= ` on a line, as a byte range.
            let values: Vec<(usize, usize)> = (text.match_indices("= "))
                .map(|(i, _)| i + 2)
                .map(|from| {
                    let rest = &text[from..];
                    let len = rest.find(['\n', ',', ' ', '}', ']']).unwrap_or(rest.len());
                    let len = match rest.strip_prefix('"') {
                        Some(quoted) => quoted.find('"').map_or(len, |q| q + 2),
                        None => len,
                    };
                    (from, from + len)
                })
                .collect();
            if values.is_empty() {
                return text.clone();
            }
            let (x, y) = values[at.index(values.len())];
            format!("{}{}{}", &text[..x], EXTREMES[value], &text[y..])
        })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(2000),
        ..ProptestConfig::default()
    }
}

pub fn values_at_the_types_limits_never_panic() {
    proptest!(config(), |(text in extreme())| {
        check(&text)?;
        // What parses also plans: a run's schedule is built without overflow.
        if let Ok(s) = scenario::parse(&text, "fuzz.toml") {
            let _ = wschaos::check::check(&s, &wschaos::history::History::new("fuzz", 1, Vec::new()));
        }
    });
}

pub fn arbitrary_text_never_panics() {
    proptest!(config(), |(text in "\\PC{0,400}")| {
        check(&text)?;
    });
}

pub fn toml_shaped_noise_never_panics() {
    proptest!(config(), |(text in "(\\[\\[?[a-z]{1,8}\\]\\]?\n|[a-z_]{1,10} = (\"[a-z0-9 ]{0,8}\"|[0-9]{1,4}|\\[\\]|true)\n){0,12}")| {
        check(&text)?;
    });
}

pub fn mutated_scenarios_never_panic() {
    proptest!(config(), |(text in mutated())| {
        check(&text)?;
    });
}
