//! Scenario files: the format, parsing with located errors, validation.
//!
//! A scenario states a server, groups of clients, a timeline of faults and client actions at
//! simulated times, and what must hold. `scenarios/README.md` documents every field;
//! [`schema`] gives the JSON Schema for editor completion.

mod error;
mod model;
mod parse;
mod validate;

pub use error::{Located, ScenarioError};
pub use model::{
    Action, Expect, Group, Mode, Network, Scenario, StatusName, Step, Swarm, Trigger, Workload,
};
pub use parse::{load, parse};
pub use validate::{MAX_CLIENTS, MAX_DURATION, MAX_SEEDS};

/// The JSON Schema of a scenario file, pretty-printed.
///
/// ```
/// let schema = wschaos::scenario::schema();
/// assert!(schema.contains("\"timeline\""));
/// ```
#[cfg(feature = "schema")]
pub fn schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("a schema always serialises")
}
