//! Scenario parsing and validation under fuzzing: arbitrary text and mutations of every
//! valid scenario file never panic, and every error stays located (`file:line:column`).
//!
//! The short run here tries a few thousand inputs. The long run is a documented command:
//! `PROPTEST_CASES=1000000 cargo test --release --test fuzz_scenarios`.

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

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text)?;
    }

    #[test]
    fn toml_shaped_noise_never_panics(text in "(\\[\\[?[a-z]{1,8}\\]\\]?\n|[a-z_]{1,10} = (\"[a-z0-9 ]{0,8}\"|[0-9]{1,4}|\\[\\]|true)\n){0,12}") {
        check(&text)?;
    }

    #[test]
    fn mutated_scenarios_never_panic(text in mutated()) {
        check(&text)?;
    }
}
