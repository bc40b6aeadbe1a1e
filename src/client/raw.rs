//! The raw layer: a reconnecting WebSocket for any server. Frames in and out, nothing else.
//!
//! Delivery is at most once: a frame handed to the socket when the connection drops is
//! gone, and frames sent while offline wait in the bounded outbox.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::fanout::Fanout;
use tokio_tungstenite::tungstenite::Message;

#[cfg(feature = "defects")]
use super::defects::Defect;
use super::defects::Defects;
use super::shared::Session;
use super::tap::{Tap, Tapped};
use super::{ClientError, Policy};

pub(crate) struct RawSession {
    outbox: VecDeque<Message>,
    capacity: usize,
    incoming: Fanout<Message>,
    /// Sees every frame as it arrives.
    tap: Tap,
    #[cfg_attr(not(feature = "defects"), allow(dead_code))]
    defects: Defects,
    /// The last frame received, for a client with `Defect::ReplaysLastFrame` (the
    /// `defects` feature only).
    #[cfg(feature = "defects")]
    last: Option<Message>,
}

impl RawSession {
    pub(crate) fn new(policy: &Policy, tap: Tap, defects: Defects) -> Self {
        RawSession {
            outbox: VecDeque::new(),
            capacity: policy.outbox_capacity,
            incoming: Fanout::new(policy.subscriber_buffer),
            tap,
            defects,
            #[cfg(feature = "defects")]
            last: None,
        }
    }

    pub(crate) fn send(&mut self, frame: Message) -> Result<(), ClientError> {
        if self.incoming.is_closed() {
            return Err(ClientError::Closed);
        }
        if self.outbox.len() >= self.capacity {
            return Err(ClientError::OutboxFull {
                capacity: self.capacity,
            });
        }
        self.outbox.push_back(frame);
        Ok(())
    }

    /// A receiver of every incoming frame; already closed when the client is.
    pub(crate) fn incoming(&mut self) -> broadcast::Receiver<Arc<Message>> {
        self.incoming.subscribe()
    }
}

impl Session for RawSession {
    fn on_open(&mut self, _restore: &mut Vec<Message>) {
        // The defect: what the last connection delivered is surfaced again on the new one.
        #[cfg(feature = "defects")]
        if self.defects.has(Defect::ReplaysLastFrame) {
            if let Some(frame) = self.last.clone().filter(|_| !self.incoming.is_closed()) {
                self.tap.see(Tapped::Frame(&frame));
                self.incoming.send(frame);
            }
        }
    }

    fn on_frame(&mut self, frame: Message) -> Result<(), String> {
        #[cfg(feature = "defects")]
        if self.defects.has(Defect::ReplaysLastFrame) {
            self.last = Some(frame.clone());
        }
        if !self.incoming.is_closed() {
            self.tap.see(Tapped::Frame(&frame));
            self.incoming.send(frame);
        }
        Ok(())
    }

    fn next_outgoing(&mut self) -> Option<Message> {
        self.outbox.pop_front()
    }

    fn on_lost(&mut self) {}

    fn on_close(&mut self) {
        self.outbox.clear();
        self.incoming.close();
    }
}
