//! Duplicate detection for publishes: per client session, the highest message id seen.
//!
//! Clients number their publishes with strictly increasing ids and resend unacknowledged
//! ones after a reconnect, in order, so one high-water mark per session is enough. The
//! number of sessions remembered is bounded; the least recently used is forgotten first.

use std::collections::BTreeMap;

pub(crate) struct Dedup {
    capacity: usize,
    /// `ServerDefects::dedup_last`: remember the last id, not the highest.
    last_only: bool,
    clock: u64,
    /// session key -> (highest id, last use)
    seen: BTreeMap<String, (u64, u64)>,
    /// last use -> session key, oldest first
    by_use: BTreeMap<u64, String>,
}

impl Dedup {
    pub(crate) fn new(capacity: usize) -> Self {
        Dedup {
            capacity: capacity.max(1),
            last_only: false,
            clock: 0,
            seen: BTreeMap::new(),
            by_use: BTreeMap::new(),
        }
    }

    /// The defective variant ([`Dedup::last_only`]).
    #[cfg(feature = "defects")]
    pub(crate) fn remembering_last(mut self, yes: bool) -> Self {
        self.last_only = yes;
        self
    }

    /// True the first time `id` (or any higher id) is seen from `key`; false for a repeat.
    pub(crate) fn first_time(&mut self, key: &str, id: u64) -> bool {
        self.clock += 1;
        let (high, used) = self.seen.get(key).copied().unwrap_or((0, 0));
        self.by_use.remove(&used);
        let (fresh, mark) = if self.last_only {
            (id != high, id)
        } else {
            (id > high, high.max(id))
        };
        self.seen.insert(key.to_string(), (mark, self.clock));
        self.by_use.insert(self.clock, key.to_string());
        while self.seen.len() > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.seen.remove(&oldest);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_older_ids_are_duplicates() {
        let mut d = Dedup::new(10);
        assert!(d.first_time("a", 1));
        assert!(d.first_time("a", 2));
        assert!(!d.first_time("a", 2));
        assert!(!d.first_time("a", 1));
        assert!(d.first_time("b", 1), "sessions are independent");
    }

    #[test]
    fn least_recently_used_session_is_forgotten_at_capacity() {
        let mut d = Dedup::new(2);
        d.first_time("a", 5);
        d.first_time("b", 5);
        d.first_time("a", 6);
        d.first_time("c", 5);
        assert!(
            !d.first_time("a", 6),
            "a was used recently and is remembered"
        );
        assert!(d.first_time("b", 5), "b was the oldest and was forgotten");
    }
}
