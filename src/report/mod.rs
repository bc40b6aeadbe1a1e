//! Telling people what happened: text for terminals and test output.

mod text;

pub use text::{describe, failure};
