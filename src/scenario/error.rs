//! A bad scenario file, located: `file:line:column`, the offending text, what is allowed.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Why a scenario file cannot be used. Never a panic: every problem is one of these.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {error}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        error: String,
    },
    /// The file is not a valid scenario.
    #[error("{0}")]
    Invalid(Located),
}

/// A problem at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The line of the file where it is.
    pub snippet: String,
    /// What would fix it, when known (a close match, the allowed values).
    pub help: Option<String>,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Located {
            file,
            line,
            column,
            message,
            snippet,
            help,
        } = self;
        writeln!(f, "{}:{line}:{column}: {message}", file.display())?;
        write!(f, "{line:>5} | {snippet}")?;
        if let Some(help) = help {
            write!(f, "\n      = help: {help}")?;
        }
        Ok(())
    }
}

/// Builds located errors for one file's text.
pub(crate) struct Source<'a> {
    pub(crate) file: PathBuf,
    pub(crate) text: &'a str,
}

impl Source<'_> {
    /// An error at byte `offset`.
    pub(crate) fn at(
        &self,
        offset: usize,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ScenarioError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let snippet = self.text[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        ScenarioError::Invalid(Located {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
            snippet,
            help,
        })
    }

    /// An error at the first occurrence of `needle` at or after byte `from` (the start of
    /// the file when it does not occur).
    pub(crate) fn near(
        &self,
        from: usize,
        needle: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ScenarioError {
        let from = from.min(self.text.len());
        let offset = self.text[from..].find(needle).map_or(from, |i| from + i);
        self.at(offset, message, help)
    }
}

/// The candidate closest to `wrong` by edit distance, if it is close enough to be a typo.
pub(crate) fn suggest<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(wrong, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_matches() {
        assert_eq!(
            suggest("durration", ["duration", "settle"]),
            Some("did you mean `duration`?".into())
        );
        assert_eq!(suggest("xyz", ["duration", "settle"]), None);
    }

    #[test]
    fn locates_line_and_column() {
        let src = Source {
            file: "s.toml".into(),
            text: "a = 1\nbb = 2\n",
        };
        let ScenarioError::Invalid(e) = src.near(0, "2", "bad", None) else {
            panic!()
        };
        assert_eq!((e.line, e.column, e.snippet.as_str()), (2, 6, "bb = 2"));
        assert_eq!(e.to_string(), "s.toml:2:6: bad\n    2 | bb = 2");
    }
}
