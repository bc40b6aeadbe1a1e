//! The shared, append-only record of a run.
//!
//! An `Arc<Mutex<..>>` only because the server's observer must be `Send`: a simulation has
//! no threads, so the order of records is the order in which things happened.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::history::{Event, Record};

/// Appends records; cheap to clone, every clone writes to the same history.
#[derive(Clone, Default)]
pub struct Recorder {
    records: Arc<Mutex<Vec<Record>>>,
}

impl Recorder {
    /// Records `event` at the current host's simulated time (call inside a turmoil host).
    pub fn record(&self, event: Event) {
        self.record_at(turmoil::elapsed(), event);
    }

    /// Records `event` at `t` (the step loop, outside any host, knows the time itself).
    pub fn record_at(&self, t: Duration, event: Event) {
        let t = t.as_millis() as u64;
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Record { t, event });
    }

    pub(crate) fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
