//! Telling people what happened: text for terminals and test output, the story of a run.

mod lanes;
mod text;

pub use lanes::story;
pub use text::{describe, failure};
