//! Connection status: the states a UI can lock on, and the legal moves between them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the client's connection stands.
///
/// Legal moves (see [`Status::can_move_to`]):
/// `Connecting → Connected | Disconnected | Failed | Closed`,
/// `Connected → Disconnected | Failed (a terminal close code) | Closed`,
/// `Disconnected → Connecting | Closed`,
/// `Failed → Connecting (by reconnect()) | Closed`. `Closed` is terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Dialing and handshaking; `attempt` counts the attempts of this outage, from 1 (a
    /// connection lost before `stable_after` does not end the outage).
    Connecting {
        /// Dial number within the current outage.
        attempt: u32,
    },
    /// The handshake completed and the session was restored (topics resubscribed).
    Connected,
    /// Waiting `retry_in` before dial number `attempt`.
    Disconnected {
        /// The dial that follows the wait.
        attempt: u32,
        /// The backoff delay drawn for this wait.
        #[serde(with = "crate::duration_serde")]
        retry_in: Duration,
        /// Why the previous connection or dial ended.
        reason: Reason,
    },
    /// Gave up after `max_attempts` failed dials; `reconnect()` starts again.
    Failed {
        /// Why the last dial failed.
        reason: Reason,
    },
    /// Closed by `close()` (or by dropping every handle). Terminal.
    Closed,
}

/// Why a connection or a dial ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The TCP dial failed.
    Dial {
        /// The I/O error.
        error: String,
    },
    /// The TCP dial did not complete within `connect_timeout`.
    ConnectTimeout,
    /// The WebSocket handshake did not complete within `handshake_timeout`.
    HandshakeTimeout,
    /// The server answered the handshake with a non-101 HTTP status.
    Rejected {
        /// The HTTP status code.
        status: u16,
    },
    /// The handshake failed for another reason.
    Handshake {
        /// The error.
        error: String,
    },
    /// The server sent a close frame.
    ServerClosed {
        /// The close code (1005 when the frame had none).
        code: u16,
        /// The close reason text.
        reason: String,
    },
    /// The stream ended without a close frame.
    Eof,
    /// No frame arrived within `pong_timeout` of a ping.
    HeartbeatTimeout,
    /// A frame could not be written within `write_timeout`.
    WriteTimeout,
    /// The connection failed with an I/O or protocol error.
    Error {
        /// The error.
        error: String,
    },
}

impl Status {
    /// True when moving from `self` to `next` is a legal status change.
    ///
    /// ```
    /// use wschaos::client::Status;
    /// assert!(Status::Connected.can_move_to(&Status::Closed));
    /// assert!(!Status::Connected.can_move_to(&Status::Connecting { attempt: 1 }));
    /// assert!(!Status::Closed.can_move_to(&Status::Connecting { attempt: 1 }));
    /// ```
    pub fn can_move_to(&self, next: &Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (
                Connecting { .. },
                Connected | Disconnected { .. } | Failed { .. } | Closed
            ) | (Connected, Disconnected { .. } | Failed { .. } | Closed)
                | (Disconnected { .. }, Connecting { .. } | Closed)
                | (Failed { .. }, Connecting { .. } | Closed)
        )
    }

    /// A short name of the state: `connecting`, `connected`, `disconnected`, `failed`, `closed`.
    ///
    /// ```
    /// use wschaos::client::Status;
    /// assert_eq!(Status::Connecting { attempt: 2 }.name(), "connecting");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Status::Connecting { .. } => "connecting",
            Status::Connected => "connected",
            Status::Disconnected { .. } => "disconnected",
            Status::Failed { .. } => "failed",
            Status::Closed => "closed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Status> {
        vec![
            Status::Connecting { attempt: 1 },
            Status::Connected,
            Status::Disconnected {
                attempt: 1,
                retry_in: Duration::ZERO,
                reason: Reason::Eof,
            },
            Status::Failed {
                reason: Reason::Eof,
            },
            Status::Closed,
        ]
    }

    #[test]
    fn legal_moves_match_the_status_model() {
        let allowed: Vec<(&str, &str)> = all()
            .iter()
            .flat_map(|a| {
                all()
                    .into_iter()
                    .filter(|b| a.can_move_to(b))
                    .map(|b| (a.name(), b.name()))
            })
            .collect();
        assert_eq!(
            allowed,
            [
                ("connecting", "connected"),
                ("connecting", "disconnected"),
                ("connecting", "failed"),
                ("connecting", "closed"),
                ("connected", "disconnected"),
                ("connected", "failed"),
                ("connected", "closed"),
                ("disconnected", "connecting"),
                ("disconnected", "closed"),
                ("failed", "connecting"),
                ("failed", "closed"),
            ]
        );
    }

    #[test]
    fn status_serialises_with_a_state_tag() {
        let s = Status::Disconnected {
            attempt: 2,
            retry_in: Duration::from_millis(300),
            reason: Reason::ServerClosed {
                code: 1012,
                reason: "restart".into(),
            },
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"state":"disconnected","attempt":2,"retry_in":"300ms","reason":{"kind":"server_closed","code":1012,"reason":"restart"}}"#
        );
        assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), s);
    }
}
