//! Telling people what happened: text for terminals and test output, the story of a run,
//! and report files (`history.jsonl`, `verdict.json`, a self-contained `timeline.html`).

mod files;
mod html;
mod lanes;
mod text;

pub use files::{RESULT_VERSION, VERDICT_VERSION, verdict_json, write, write_run};
pub use html::{esc as escape_markup, timeline};
pub use lanes::story;
pub use text::{count, describe, failure, failure_report, failure_with_replay, not_judged};
