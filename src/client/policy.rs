//! The reconnect policy (plain data) and the backoff schedule (a pure function).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the client reconnects, detects dead connections and buffers offline sends.
///
/// Plain data with careful defaults; change what you need with struct update syntax:
///
/// ```
/// use std::time::Duration;
/// use wschaos::client::Policy;
/// let policy = Policy { max_attempts: Some(5), initial_delay: Duration::from_millis(100), ..Policy::default() };
/// assert_eq!(policy.multiplier, 2.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Upper bound of the first retry delay. Default 500 ms.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub initial_delay: Duration,
    /// The bound never grows past this. Default 30 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub max_delay: Duration,
    /// Growth of the bound per consecutive failure. Default 2.0; values below 1.0 act as 1.0.
    pub multiplier: f64,
    /// Fraction of the bound drawn at random: the delay is uniform in
    /// `[bound * (1 - jitter), bound]`. 1.0 is full jitter (the default), 0.0 none.
    pub jitter: f64,
    /// Consecutive failed attempts before giving up with `Failed`: a failed dial, or a
    /// connection lost before it stayed up for `stable_after`. `None` never gives up.
    /// Default `None`.
    pub max_attempts: Option<u32>,
    /// Time allowed for the TCP dial. Default 5 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub connect_timeout: Duration,
    /// Time allowed for the WebSocket handshake after the dial. Default 5 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub handshake_timeout: Duration,
    /// Time allowed for one frame to be written. Default 5 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub write_timeout: Duration,
    /// Quiet time after which the client sends a ping. Default 10 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub ping_interval: Duration,
    /// Time a ping may go unanswered (by any frame) before the connection is declared dead.
    /// Default 5 s. A dead connection is thus noticed within `ping_interval + pong_timeout`.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub pong_timeout: Duration,
    /// A connection must stay up this long before the backoff and the attempt count start
    /// from the beginning again, so a server that accepts and then drops at once sees
    /// escalating delays and, with `max_attempts`, a `Failed` in the end. Default 10 s.
    #[serde(with = "crate::duration_serde")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub stable_after: Duration,
    /// Sends held while offline (and unacknowledged publishes). A send past this is refused
    /// with an error, never dropped silently. Default 1024.
    pub outbox_capacity: usize,
    /// Events buffered per subscriber stream; a subscriber that falls further behind gets a
    /// `Lagged` gap notice. Default 1024. The buffer exists only while a stream is held: a
    /// topic or event stream nobody holds costs nothing.
    pub subscriber_buffer: usize,
    /// Largest message (and frame) accepted from the server, in bytes. A bigger one ends the
    /// connection with a protocol error (and a retry per this policy) before it is buffered.
    /// Default 16 MiB.
    pub max_message_size: usize,
    /// Close codes after which the client gives up (`Failed`, until `reconnect()`) instead
    /// of reconnecting, as inclusive `[first, last]` ranges. Default `[[3500, 3999],
    /// [4500, 4999]]`, the convention of centrifuge (3000–3499 and 4000–4499 reconnect).
    /// Every other code reconnects: 1000, 1001, 1006, 1011, 1012, 1013 ...
    pub terminal_close_codes: Vec<[u16; 2]>,
    /// HTTP statuses answered to the handshake after which the client gives up instead of
    /// retrying. Default `[401, 403]`: credentials that failed once fail again.
    pub terminal_http_statuses: Vec<u16>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 1.0,
            max_attempts: None,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(5),
            stable_after: Duration::from_secs(10),
            outbox_capacity: 1024,
            subscriber_buffer: 1024,
            max_message_size: 16 * 1024 * 1024,
            terminal_close_codes: vec![[3500, 3999], [4500, 4999]],
            terminal_http_statuses: vec![401, 403],
        }
    }
}

impl Policy {
    /// The largest delay before retry number `step` (1-based):
    /// `min(max_delay, initial_delay * multiplier^(step - 1))`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wschaos::client::Policy;
    /// let p = Policy::default();
    /// assert_eq!(p.delay_bound(1), Duration::from_millis(500));
    /// assert_eq!(p.delay_bound(3), Duration::from_secs(2));
    /// assert_eq!(p.delay_bound(100), Duration::from_secs(30));
    /// ```
    pub fn delay_bound(&self, step: u32) -> Duration {
        let growth = self
            .multiplier
            .max(1.0)
            .powi(step.saturating_sub(1).min(1024) as i32);
        let bound = self.initial_delay.as_secs_f64() * growth;
        Duration::from_secs_f64(bound.min(self.max_delay.as_secs_f64()).max(0.0))
    }

    /// The delay before retry number `step`, given a uniform random `unit` in `[0, 1)`.
    /// Pure: the client draws `unit` from its seeded RNG.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wschaos::client::Policy;
    /// let p = Policy::default();
    /// assert_eq!(p.delay(2, 0.0), Duration::from_secs(1));
    /// assert_eq!(p.delay(2, 0.5), Duration::from_millis(500));
    /// ```
    pub fn delay(&self, step: u32, unit: f64) -> Duration {
        let bound = self.delay_bound(step);
        let jitter = self.jitter.clamp(0.0, 1.0);
        bound.mul_f64(1.0 - jitter * unit.clamp(0.0, 1.0))
    }

    /// True when `reason` (a close code or a handshake status from the server) tells the
    /// client to give up rather than reconnect.
    ///
    /// ```
    /// use wschaos::client::{Policy, Reason};
    /// let p = Policy::default();
    /// let closed = |code| Reason::ServerClosed { code, reason: String::new() };
    /// assert!(p.is_terminal(&closed(4500)) && p.is_terminal(&Reason::Rejected { status: 401 }));
    /// assert!(!p.is_terminal(&closed(4000)) && !p.is_terminal(&closed(1012)));
    /// ```
    pub fn is_terminal(&self, reason: &super::Reason) -> bool {
        match reason {
            super::Reason::ServerClosed { code, .. } => self
                .terminal_close_codes
                .iter()
                .any(|[first, last]| (*first..=*last).contains(code)),
            super::Reason::Rejected { status } => self.terminal_http_statuses.contains(status),
            _ => false,
        }
    }

    /// The longest a dead connection can go unnoticed: `ping_interval + pong_timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wschaos::client::Policy;
    /// assert_eq!(Policy::default().detection_bound(), Duration::from_secs(15));
    /// ```
    pub fn detection_bound(&self) -> Duration {
        self.ping_interval + self.pong_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bound_doubles_then_caps() {
        let p = Policy {
            initial_delay: ms(100),
            max_delay: ms(1000),
            ..Policy::default()
        };
        let bounds: Vec<_> = (1..=6).map(|s| p.delay_bound(s)).collect();
        assert_eq!(
            bounds,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
    }

    #[test]
    fn step_zero_and_huge_steps_stay_finite() {
        let p = Policy::default();
        assert_eq!(p.delay_bound(0), p.initial_delay);
        assert_eq!(p.delay_bound(u32::MAX), p.max_delay);
    }

    #[test]
    fn full_jitter_spans_zero_to_bound() {
        let p = Policy {
            initial_delay: ms(100),
            ..Policy::default()
        };
        assert_eq!(p.delay(1, 0.0), ms(100));
        assert_eq!(p.delay(1, 0.75), ms(25));
        assert!(p.delay(1, 0.999_999) < ms(1));
    }

    #[test]
    fn partial_and_no_jitter() {
        let half = Policy {
            initial_delay: ms(100),
            jitter: 0.5,
            ..Policy::default()
        };
        assert_eq!(half.delay(1, 1.0), ms(50));
        let none = Policy {
            initial_delay: ms(100),
            jitter: 0.0,
            ..Policy::default()
        };
        assert_eq!(none.delay(1, 0.9), ms(100));
    }

    #[test]
    fn shrinking_multiplier_is_treated_as_constant() {
        let p = Policy {
            initial_delay: ms(100),
            multiplier: 0.5,
            ..Policy::default()
        };
        assert_eq!(p.delay_bound(5), ms(100));
    }

    #[test]
    fn policy_reads_from_toml_like_json_with_humane_durations() {
        let p: Policy =
            serde_json::from_str(r#"{"initial_delay":"250ms","max_attempts":3}"#).unwrap();
        assert_eq!(p.initial_delay, ms(250));
        assert_eq!(p.max_attempts, Some(3));
        assert_eq!(p.max_delay, Policy::default().max_delay);
        assert!(serde_json::from_str::<Policy>(r#"{"initial_dealy":"1s"}"#).is_err());
    }
}
