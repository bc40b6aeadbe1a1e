//! The shared, append-only record of a run.
//!
//! An `Arc<Mutex<..>>` only because the server's observer must be `Send`: a simulation has
//! no threads, so the order of records is the order in which things happened. A real-network
//! run ([`crate::real`]) records with the same type on a wall clock started with it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::history::{Event, Record};

/// Appends records; cheap to clone, every clone writes to the same history.
#[derive(Clone, Default)]
pub struct Recorder {
    records: Arc<Mutex<Vec<Record>>>,
    /// `None` in a simulation (simulated time); the start of a real run otherwise.
    origin: Option<std::time::Instant>,
}

impl Recorder {
    /// A recorder for a real-network run: times are milliseconds since now.
    pub fn real() -> Self {
        Recorder {
            records: Arc::default(),
            origin: Some(std::time::Instant::now()),
        }
    }

    /// Records `event` at the current host's simulated time (call inside a turmoil host),
    /// or, for a real run, at the time elapsed since it started.
    ///
    /// In a simulation, a record made outside it is dropped: that is the teardown after the
    /// run's last instant (dropping the simulation closes every client that is still open),
    /// which is not part of the run.
    pub fn record(&self, event: Event) {
        if self.origin.is_none() && !turmoil::in_simulation() {
            return;
        }
        self.record_at(self.now(), event);
    }

    /// The time `record` would stamp now.
    pub fn now(&self) -> Duration {
        match self.origin {
            Some(start) => start.elapsed(),
            None => turmoil::elapsed(),
        }
    }

    /// Records `event` at `t` (the step loop, outside any host, knows the time itself).
    pub fn record_at(&self, t: Duration, event: Event) {
        let t = t.as_millis() as u64;
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Record {
                t,
                dial: None,
                event,
            });
    }

    /// Everything recorded so far, in order, leaving the recorder empty.
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
