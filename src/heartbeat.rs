//! Dead-connection detection, for client and server alike: a pure state machine over instants.
//!
//! After `interval` without any incoming frame a peer sends a ping; if nothing at all
//! arrives within `timeout` of that ping, the connection is dead. Any frame counts as a
//! sign of life, so a busy connection never pings.

use std::time::Duration;

use tokio::time::Instant;

/// What to do when the heartbeat deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Send a ping now.
    Ping,
    /// The last ping went unanswered: the connection is dead.
    Dead,
}

#[derive(Debug, Clone)]
pub(crate) struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    last_rx: Instant,
    ping_sent: Option<Instant>,
}

impl Heartbeat {
    pub(crate) fn new(now: Instant, interval: Duration, timeout: Duration) -> Self {
        Heartbeat {
            interval,
            timeout,
            last_rx: now,
            ping_sent: None,
        }
    }

    /// When the next ping is due, or when the outstanding one expires.
    pub(crate) fn deadline(&self) -> Instant {
        match self.ping_sent {
            Some(sent) => sent + self.timeout,
            None => self.last_rx + self.interval,
        }
    }

    /// A frame arrived.
    pub(crate) fn on_rx(&mut self, now: Instant) {
        self.last_rx = now;
        self.ping_sent = None;
    }

    /// The deadline passed.
    pub(crate) fn on_deadline(&mut self, now: Instant) -> Beat {
        if self.ping_sent.is_some() {
            return Beat::Dead;
        }
        self.ping_sent = Some(now);
        Beat::Ping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn silence_pings_then_declares_dead() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(t0, 10 * S, 5 * S);
        assert_eq!(hb.deadline(), t0 + 10 * S);
        assert_eq!(hb.on_deadline(t0 + 10 * S), Beat::Ping);
        assert_eq!(hb.deadline(), t0 + 15 * S);
        assert_eq!(hb.on_deadline(t0 + 15 * S), Beat::Dead);
    }

    #[test]
    fn any_frame_answers_the_ping_and_pushes_the_next_one() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(t0, 10 * S, 5 * S);
        hb.on_deadline(t0 + 10 * S);
        hb.on_rx(t0 + 12 * S);
        assert_eq!(hb.deadline(), t0 + 22 * S);
        assert_eq!(hb.on_deadline(t0 + 22 * S), Beat::Ping);
    }
}
