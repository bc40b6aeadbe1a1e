//! How late this machine wakes timers during a real run. A probe sleeps a short period over
//! and over and keeps its worst oversleep: a busy machine (a build beside the tests, twenty
//! Node processes starting at once) wakes timers late, and every instant the run records
//! may be that late. Checkers that compare instants closer than the run's tolerance (the
//! herd's windows) judge with it, or say they cannot.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The probe's period: short enough to sample the run densely, long enough to cost nothing.
const PERIOD: Duration = Duration::from_millis(20);

/// Samples later than this are kept (a timer is always a little late).
const KEEP_US: u64 = 1_000;

/// Where Linux says how long tasks have waited for a CPU (pressure stall information).
const PRESSURE: &str = "/proc/pressure/cpu";

/// A running probe; [`LagProbe::stop`] ends it and hands over what it saw.
pub(crate) struct LagProbe {
    samples: Arc<Mutex<Vec<(u64, u64)>>>,
    stall: Arc<Mutex<Vec<(u64, u64)>>>,
    task: JoinHandle<()>,
}

/// µs some task has waited for a CPU since boot (`some ... total=N`), when the system
/// says.
fn stalled() -> Option<u64> {
    let text = std::fs::read_to_string(PRESSURE).ok()?;
    let some = text.lines().find(|l| l.starts_with("some "))?;
    some.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

impl LagProbe {
    /// Starts probing on the current runtime; sample times are ms since `start`.
    pub(crate) fn start(start: Instant) -> LagProbe {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stall = Arc::new(Mutex::new(Vec::new()));
        let (keep, keep_stall) = (samples.clone(), stall.clone());
        let task = tokio::spawn(async move {
            loop {
                let due = Instant::now() + PERIOD;
                tokio::time::sleep_until(due).await;
                let now = Instant::now();
                let since = |t: Instant| {
                    u64::try_from(t.saturating_duration_since(start).as_millis())
                        .unwrap_or(u64::MAX)
                };
                if let Some(total) = stalled() {
                    (keep_stall.lock().unwrap_or_else(PoisonError::into_inner))
                        .push((since(now), total));
                }
                let late = now.saturating_duration_since(due).as_micros();
                let late = u64::try_from(late).unwrap_or(u64::MAX);
                if late > KEEP_US {
                    let at = now.saturating_duration_since(start).as_millis();
                    let at = u64::try_from(at).unwrap_or(u64::MAX);
                    keep.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((at, late));
                }
            }
        });
        LagProbe {
            samples,
            stall,
            task,
        }
    }

    /// Stops the probe: the lag it measured, never below `floor`.
    pub(crate) fn stop(self, floor: Duration) -> crate::evidence::Lag {
        self.task.abort();
        let take = |v: &Mutex<Vec<(u64, u64)>>| {
            std::mem::take(&mut *v.lock().unwrap_or_else(PoisonError::into_inner))
        };
        crate::evidence::Lag::measured(floor, take(&self.samples)).with_stall(take(&self.stall))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime whose only thread is blocked for 300 ms wakes the probe at least that
    /// late, and the probe says so.
    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_is_measured() {
        let start = Instant::now();
        let probe = LagProbe::start(start);
        tokio::time::sleep(Duration::from_millis(30)).await;
        std::thread::sleep(Duration::from_millis(300));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let lag = probe.stop(Duration::from_millis(1));
        assert!(lag.worst(0, 1000) >= Duration::from_millis(250), "{lag:?}");
        assert_eq!(
            lag.worst(5000, 6000),
            Duration::from_millis(1),
            "nothing measured then"
        );
    }
}
