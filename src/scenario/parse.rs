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
/// assert!(err.to_string().starts_with("tiny.toml:10:1: unknown field `dwon`"), "{err}");
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
    let offset = in_entry(source.text, offset, &message).unwrap_or(offset);
    source.at(offset, message, help)
}

/// toml reports an error inside an array of tables (`[[timeline]]`, `[[clients]]`) at the
/// array's first header. This finds the entry that fails (each read again on its own) and,
/// inside it, the key or value the message names, so the error points at the right line.
/// `None` when the error is not in such an array.
fn in_entry(text: &str, offset: usize, message: &str) -> Option<usize> {
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let header = text[offset..line_end].trim();
    let name = header.strip_prefix("[[")?.strip_suffix("]]")?.trim();
    let entries = entries(text, header, name);
    let (start, body) = entries.iter().find(|(_, body)| match name {
        "timeline" => toml::from_str::<super::Step>(body).is_err(),
        "clients" => toml::from_str::<super::Group>(body).is_err(),
        _ => false,
    })?;
    let named = message.split('`').skip(1).step_by(2);
    for token in named {
        if let Some(at) = key_line(body, token).or_else(|| body.find(token)) {
            return Some(start + at);
        }
    }
    // A bad value the message quotes (`bad duration "fast"`): where it is written.
    let quoted = message.split('"').skip(1).step_by(2);
    for value in quoted.filter(|v| !v.is_empty()) {
        if let Some(at) = body.find(&format!("\"{value}\"")) {
            return Some(start + at);
        }
    }
    // The entry itself: its header line, just before the body.
    Some(
        text[..*start]
            .trim_end_matches('\n')
            .rfind('\n')
            .map_or(0, |i| i + 1),
    )
}

/// Each entry of the array `header` names: (offset of its body, its body), with the headers
/// of its sub-tables (`[clients.policy]`) made its own (`[policy]`, padded so that every
/// offset stays put).
fn entries(text: &str, header: &str, name: &str) -> Vec<(usize, String)> {
    let sub = format!("[{name}.");
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut offset = 0;
    let mut current: Option<(usize, String)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == header {
            out.extend(current.take());
            current = Some((offset + line.len(), String::new()));
        } else if trimmed.starts_with('[') && !trimmed.starts_with(&sub) {
            out.extend(current.take());
        } else if let Some((_, body)) = current.as_mut() {
            match line.find(&sub) {
                Some(i) if trimmed.starts_with(&sub) => {
                    let own = format!("{}[{}", &line[..i], &line[i + sub.len()..]);
                    let pad = line.len() - own.len();
                    let (content, newline) = own.split_at(own.trim_end_matches('\n').len());
                    body.push_str(content);
                    body.push_str(&" ".repeat(pad));
                    body.push_str(newline);
                }
                _ => body.push_str(line),
            }
        }
        offset += line.len();
    }
    out.extend(current);
    out
}

/// Where the line setting `key` (`key = ...`) starts in `body`.
fn key_line(body: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + (line.len() - trimmed.len()));
            }
        }
        offset += line.len();
    }
    None
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
    fn an_error_in_a_later_entry_points_at_its_own_line() {
        let text = "name = \"t\"\nduration = \"30s\"\n\n[[clients]]\nname = \"a\"\n\n[[clients]]\nname = \"b\"\n[clients.policy]\nmax_dealy = \"1s\"\n\n[[timeline]]\nat = \"2s\"\ndo = \"restart\"\ndown = \"1s\"\n\n[[timeline]]\nat = \"10s\"\ndo = \"partition\"\nbetween = [\"server\", \"clients\"]\nfro = \"2s\"\n";
        let at = |text: &str| parse(text, "t.toml").unwrap_err().to_string();
        // The typo in the second group's policy sub-table, on line 10.
        assert!(
            at(text).starts_with("t.toml:10:1: unknown field `max_dealy`"),
            "{}",
            at(text)
        );
        let fixed = text.replace("max_dealy", "max_delay");
        // The typo in the second step, on line 21.
        assert!(
            at(&fixed).starts_with("t.toml:21:1: unknown field `fro`"),
            "{}",
            at(&fixed)
        );
        // A bad value in a later step: at the value.
        let value = fixed.replace("fro = \"2s\"", "for = \"2s\"").replace(
            "do = \"restart\"\ndown = \"1s\"",
            "do = \"kick\"\ncode = 99999",
        );
        assert!(
            at(&value).starts_with("t.toml:15:8: invalid value"),
            "{}",
            at(&value)
        );
    }

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
