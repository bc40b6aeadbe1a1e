//! How late a world's clock may have read events, and when: the simulation reads every
//! instant on its tick; a real run reads them as late as the machine wakes its timers,
//! which a busy machine delays, and not evenly over the run (twenty processes starting
//! at once, a build beside the tests). Measured by the real world ([`crate::real`]) and
//! used by checkers that compare instants closer than the run's general tolerance.

use std::time::Duration;

/// A world's lag over a run: a floor, the worst lag measured near each instant, and how
/// short of CPU the machine was (where the system says: Linux's pressure stall
/// information).
#[derive(Debug, Clone, Default)]
pub struct Lag {
    floor: Duration,
    /// (ms since the start, how late a timer woke then, in µs), in order of time.
    samples: Vec<(u64, u64)>,
    /// (ms since the start, µs some task has waited for a CPU since boot), in order.
    stall: Vec<(u64, u64)>,
}

impl Lag {
    /// A world that reads every instant within `floor` (the simulation's tick).
    pub fn fixed(floor: Duration) -> Lag {
        Lag {
            floor,
            samples: Vec::new(),
            stall: Vec::new(),
        }
    }

    /// A measured world: `samples` of (ms since the start, µs late), in any order, above
    /// `floor`.
    pub fn measured(floor: Duration, mut samples: Vec<(u64, u64)>) -> Lag {
        samples.sort_unstable();
        Lag {
            floor,
            samples,
            stall: Vec::new(),
        }
    }

    /// With readings of the machine's CPU stall counter: (ms since the start, µs some
    /// task has waited for a CPU, a counter that only grows).
    pub fn with_stall(mut self, mut stall: Vec<(u64, u64)>) -> Lag {
        stall.sort_unstable();
        self.stall = stall;
        self
    }

    /// The share of the time from `from` to `to` (ms) during which some task waited for a
    /// CPU, from the readings nearest inside that span; 0 when unknown (the simulation, or
    /// a system that does not say).
    ///
    /// ```
    /// use std::time::Duration;
    /// use wschaos::evidence::Lag;
    /// let lag = Lag::fixed(Duration::from_millis(1))
    ///     .with_stall(vec![(0, 0), (1000, 100_000), (2000, 900_000), (3000, 900_000)]);
    /// assert_eq!(lag.starved(1000, 2000), 0.8);
    /// assert_eq!(lag.starved(2000, 3000), 0.0);
    /// assert_eq!(lag.starved(0, 2000), 0.45);
    /// assert_eq!(Lag::fixed(Duration::ZERO).starved(0, 1000), 0.0);
    /// ```
    pub fn starved(&self, from: u64, to: u64) -> f64 {
        let a = self.stall.partition_point(|(t, _)| *t < from);
        let b = self.stall.partition_point(|(t, _)| *t <= to);
        let inside = &self.stall[a..b.max(a)];
        match (inside.first(), inside.last()) {
            (Some(&(t0, s0)), Some(&(t1, s1))) if t1 > t0 => {
                let waited = s1.saturating_sub(s0) as f64 / 1000.0;
                (waited / (t1 - t0) as f64).clamp(0.0, 1.0)
            }
            _ => 0.0,
        }
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
