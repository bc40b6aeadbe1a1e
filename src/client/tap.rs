//! A synchronous view of everything the client emits, for the harness's history.
//!
//! The streams a user holds ([`super::Subscription`], [`super::StatusChanges`], ...) are
//! read by other tasks, later and in an order of the scheduler's choosing; a recorder
//! reading them would write a status after a frame that came after it. A [`Tap`] is called
//! by the connection task itself (or by the handle, for `close()`), at the moment the event
//! is emitted and under the client's lock, so the order it sees is the order of cause and
//! effect. It must be quick and must not call back into the client.

use std::fmt;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::Message;

use super::{ServerEvent, Status, TopicEvent};

/// One thing the client emitted.
pub(crate) enum Tapped<'a> {
    /// The status changed (the first status included).
    Status(&'a Status),
    /// A subscription's stream yielded a message or a gap notice.
    Topic(&'a TopicEvent),
    /// A server-wide event (welcome, joined, left, error).
    Server(&'a ServerEvent),
    /// A raw client received a frame.
    Frame(&'a Message),
}

type Sink = Arc<dyn Fn(Tapped<'_>) + Send + Sync>;

/// Where a client reports what it emits; by default nowhere.
#[derive(Clone, Default)]
pub(crate) struct Tap(Option<Sink>);

impl Tap {
    /// A tap that hands every event to `sink`.
    pub(crate) fn new(sink: impl Fn(Tapped<'_>) + Send + Sync + 'static) -> Tap {
        Tap(Some(Arc::new(sink)))
    }

    /// Reports `event`.
    pub(crate) fn see(&self, event: Tapped<'_>) {
        if let Some(sink) = &self.0 {
            sink(event);
        }
    }
}

impl fmt::Debug for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Tap(on)"
        } else {
            "Tap(off)"
        })
    }
}
