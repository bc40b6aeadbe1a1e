//! Regression files: a shrunk failure as an ordinary scenario file, marked as a known
//! failure, with a header saying where it came from and how to replay it.

use crate::scenario::Scenario;

/// The text of a regression file for `scenario` failing `invariant` with `seed`.
///
/// `origin` names the file and mode it was found from; `commit` and `date` go in the header;
/// `replay` is the command that runs the file again *for the client that failed it*: the
/// reference client's `cargo run --release -- replay PATH --seed N` ([`cli_replay`]), or
/// your suite's `cargo test` line ([`crate::testing::Suite::replay_command`]).
pub fn render(
    scenario: &Scenario,
    (invariant, also): (&str, &[&str]),
    seed: u64,
    origin: &str,
    (commit, date): (&str, &str),
    replay: &str,
) -> String {
    let mut s = scenario.clone();
    s.seeds = vec![seed];
    s.swarm = None;
    s.expect.failing = Some(invariant.to_string());
    for other in also {
        if !s.expect.skip.iter().any(|k| k == other) {
            s.expect.skip.push(other.to_string());
        }
    }
    let also_line = if also.is_empty() {
        String::new()
    } else {
        format!(
            "# also broken: {} (skipped here, so that this file tests one bug)\n",
            also.join(", ")
        )
    };
    s.description = format!(
        "Shrunk from {origin}, seed {seed}: breaks {invariant}. {}",
        scenario.description
    )
    .trim_end()
    .to_string();
    let body =
        toml::to_string(&s).unwrap_or_else(|e| format!("# could not write the scenario: {e}\n"));
    format!(
        "# Regression found by `wschaos explore` on {date}.\n\
         # invariant: {invariant}\n{also_line}\
         # original:  {origin}, seed {seed}\n\
         # commit:    {commit}\n\
         # replay:    {replay}\n\
         # While the bug is open, `[expect] failing` keeps the test green; once the invariant\n\
         # holds again the test fails to say so: then delete the `failing` line.\n\n{body}"
    )
}

/// The command that replays a regression file at `path` with the reference client (the
/// one `wschaos explore` shrinks with).
pub fn cli_replay(path: &str, seed: u64) -> String {
    format!("cargo run --release -- replay {path} --seed {seed}")
}

/// A file name for a regression: `NAME-INVARIANT-SEED.toml`, safe on every file system.
pub fn file_name(scenario: &str, invariant: &str, seed: u64) -> String {
    let clean: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}-{invariant}-{seed}.toml")
}
