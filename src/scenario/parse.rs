//! Reading a scenario file: TOML syntax and types first (serde), then meaning (validate).

use std::path::{Path, PathBuf};

use super::error::{ScenarioError, Source, suggest};
use super::{Scenario, validate};

/// Reads and validates a scenario file.
///
/// ```
/// let err = wschaos::scenario::load("no/such/file.toml".as_ref()).unwrap_err();
/// assert!(err.to_string().contains("cannot read"));
/// ```
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
        file: path.to_path_buf(),
        error: e.to_string(),
    })?;
    parse(&text, path)
}

/// Parses and validates scenario text; `file` names it in errors.
///
/// ```
/// let text = r#"
/// name = "tiny"
/// duration = "10s"
/// [[clients]]
/// name = "subs"
/// topics = ["news"]
/// [[timeline]]
/// at = "2s"
/// do = "restart"
/// down = "1s"
/// "#;
/// let scenario = wschaos::scenario::parse(text, "tiny.toml").unwrap();
/// assert_eq!(scenario.timeline.len(), 1);
///
/// let err = wschaos::scenario::parse(&text.replace("down", "dwon"), "tiny.toml").unwrap_err();
/// assert!(err.to_string().starts_with("tiny.toml:7:1: unknown field `dwon`"), "{err}");
/// ```
pub fn parse(text: &str, file: impl Into<PathBuf>) -> Result<Scenario, ScenarioError> {
    let source = Source {
        file: file.into(),
        text,
    };
    let scenario: Scenario = toml::from_str(text).map_err(|e| from_toml(&source, &e))?;
    validate::validate(&scenario, &source)?;
    Ok(scenario)
}

fn from_toml(source: &Source<'_>, e: &toml::de::Error) -> ScenarioError {
    let offset = e.span().map_or(0, |s| s.start);
    let message = e.message().trim().to_string();
    let help = typo_help(&message);
    source.at(offset, message, help)
}

/// For "unknown field `x`, expected one of `a`, `b`" (and variants), the closest match.
fn typo_help(message: &str) -> Option<String> {
    let (head, expected) = message.split_once("expected")?;
    let wrong = head.split('`').nth(1)?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    suggest(wrong, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        let help = typo_help("unknown field `durration`, expected one of `name`, `duration`");
        assert_eq!(help.as_deref(), Some("did you mean `duration`?"));
        assert_eq!(
            typo_help("invalid type: integer `1`, expected a string"),
            None
        );
    }
}
