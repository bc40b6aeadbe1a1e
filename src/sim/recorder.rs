//! The shared, append-only record of a run.
//!
//! An `Arc<Mutex<..>>` only because the server's observer must be `Send`: a simulation has
//! no threads, so the order of records is the order in which things happened. A real-network
//! run ([`crate::real`]) records with the same type on a wall clock started with it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::client::{ChangePool, ServerEvent};
use crate::history::{Event, NamePool, Record};

/// Appends records; cheap to clone, every clone writes to the same history.
#[derive(Clone, Default)]
pub struct Recorder {
    records: Arc<Mutex<Log>>,
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

    /// Records the event `make` builds from the run's shared names, like
    /// [`Recorder::record`].
    pub fn record_with(&self, make: impl FnOnce(&mut NamePool) -> Event) {
        if self.origin.is_none() && !turmoil::in_simulation() {
            return;
        }
        let t = self.now();
        let mut log = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let event = make(&mut log.names);
        log.push(t, event);
    }

    /// Records `event` at `t` (the step loop, outside any host, knows the time itself).
    ///
    /// Its names ([`crate::history::Name`]) give their fresh copies up for the run's shared
    /// ones, so every name in the history is kept once.
    pub fn record_at(&self, t: Duration, mut event: Event) {
        let mut log = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        for name in event.names_mut() {
            *name = log.names.name(name);
        }
        log.push(t, event);
    }

    /// Everything recorded so far, in order, leaving the recorder empty.
    pub fn take(&self) -> Vec<Record> {
        let mut log = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *log).records
    }
}

/// What a recorder holds.
#[derive(Default)]
struct Log {
    records: Vec<Record>,
    /// The presence changes recorded so far, to share.
    pool: ChangePool,
    /// The names recorded so far, to share.
    names: NamePool,
}

impl Log {
    fn push(&mut self, t: Duration, mut event: Event) {
        let t = t.as_millis() as u64;
        let log = self;
        // Presence grows with the square of the clients: the changes many clients heard
        // alike are kept once (the content is unchanged, only shared).
        if let Event::Presence {
            event: ServerEvent::Presence { changes, .. },
            ..
        } = &mut event
        {
            *changes = std::mem::take(changes).share(&mut log.pool);
        }
        log.records.push(Record {
            t,
            dial: None,
            event,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_in_the_history_is_kept_once() {
        // A real run's recorder: it records outside a simulation.
        let recorder = Recorder::real();
        let dial = |client: &str| Event::Dial {
            client: client.into(),
        };
        recorder.record_at(Duration::from_millis(1), dial("subs-0"));
        recorder.record_at(Duration::from_millis(2), dial("subs-0"));
        recorder.record_with(|names| Event::Dial {
            client: names.name("subs-0"),
        });
        let records = recorder.take();
        let names: Vec<&str> = records.iter().filter_map(|r| r.event.client()).collect();
        assert_eq!(names, ["subs-0"; 3]);
        assert!(
            names.windows(2).all(|w| std::ptr::eq(w[0], w[1])),
            "one allocation"
        );
    }
}
