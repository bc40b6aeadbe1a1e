//! How late a world's clock may have read events, and when: the simulation reads every
//! instant on its tick; a real run reads them as late as the machine wakes its timers,
//! which a busy machine delays, and not evenly over the run (twenty processes starting
//! at once, a build beside the tests). Measured by the real world ([`crate::real`]) and
//! used by checkers that compare instants closer than the run's general tolerance.

use std::time::Duration;

/// A world's lag over a run: a floor, and the worst lag measured near each instant.
#[derive(Debug, Clone, Default)]
pub struct Lag {
    floor: Duration,
    /// (ms since the start, how late a timer woke then, in µs), in order of time.
    samples: Vec<(u64, u64)>,
}

impl Lag {
    /// A world that reads every instant within `floor` (the simulation's tick).
    pub fn fixed(floor: Duration) -> Lag {
        Lag {
            floor,
            samples: Vec::new(),
        }
    }

    /// A measured world: `samples` of (ms since the start, µs late), in any order, above
    /// `floor`.
    pub fn measured(floor: Duration, mut samples: Vec<(u64, u64)>) -> Lag {
        samples.sort_unstable();
        Lag { floor, samples }
    }

    /// The worst lag seen from `from` to `to` (ms), and never less than the floor.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wschaos::evidence::Lag;
    /// let lag = Lag::measured(Duration::from_millis(1), vec![(100, 250_000), (5000, 3_000)]);
    /// assert_eq!(lag.worst(4000, 6000), Duration::from_millis(3));
    /// assert_eq!(lag.worst(0, 6000), Duration::from_millis(250));
    /// assert_eq!(lag.worst(7000, 9000), Duration::from_millis(1));
    /// ```
    pub fn worst(&self, from: u64, to: u64) -> Duration {
        let a = self.samples.partition_point(|(t, _)| *t < from);
        let b = self.samples.partition_point(|(t, _)| *t <= to);
        let late = self.samples[a..b.max(a)].iter().map(|(_, us)| *us).max();
        Duration::from_micros(late.unwrap_or(0)).max(self.floor)
    }
}
