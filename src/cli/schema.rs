//! `wschaos schema`: the scenario format as a JSON Schema, for editor completion.

use super::Exit;

/// Prints the schema.
pub fn run() -> Exit {
    say!("{}", wschaos::scenario::schema());
    Exit::Ok
}
