//! One connection's bytes, both ways, read as evidence: the WebSocket frames found in them
//! ([`crate::real::wire::Stream`]) and what the protocol's [`Decoder`] says of each whole
//! text message. Shared by the simulation's tap (at the connection a client dialed) and the
//! real network's proxy (between a client process and the server).

use super::{Decoder, Direction, WireEvent};
use crate::real::wire::{Seen, Stream};

/// The longest text message decoded; a longer one is said to be [`WireEvent::Unknown`].
pub const MAX_TEXT: usize = 1 << 20;

/// Reads one connection.
pub(crate) struct Reader {
    up: Stream,
    down: Stream,
    decoder: Box<dyn Decoder>,
    said: Vec<WireEvent>,
    /// Its end was said (a close frame, or the end of the stream): once is enough.
    ended: bool,
}

impl Reader {
    /// A connection at its start (an HTTP head each way, then frames), read by `decoder`.
    pub(crate) fn new(decoder: Box<dyn Decoder>) -> Reader {
        Reader {
            up: Stream::keeping_texts(MAX_TEXT),
            down: Stream::keeping_texts(MAX_TEXT),
            decoder,
            said: Vec::new(),
            ended: false,
        }
    }

    /// Reads `bytes` going `dir`; hands `keep` what the history records of them
    /// ([`WireEvent::recorded`]), in order. Routine frames ([`Decoder::routine`]) are
    /// skipped undecoded.
    pub(crate) fn read(&mut self, dir: Direction, bytes: &[u8], mut keep: impl FnMut(WireEvent)) {
        let stream = match dir {
            Direction::ToServer => &mut self.up,
            Direction::ToClient => &mut self.down,
        };
        for seen in stream.feed(bytes) {
            match seen {
                Seen::Text(Some(text)) if !self.decoder.routine(dir, &text) => {
                    self.decoder.text(dir, &text, &mut self.said);
                }
                Seen::Text(None) => self.said.push(WireEvent::Unknown),
                Seen::Head {
                    status: Some(101), ..
                } if dir == Direction::ToClient => self.decoder.upgraded(&mut self.said),
                Seen::Close { code, .. } if !self.ended => {
                    self.ended = true;
                    self.said.push(WireEvent::Closed { code });
                }
                _ => {}
            }
        }
        for said in self.said.drain(..).filter(WireEvent::recorded) {
            keep(said);
        }
    }

    /// The stream ended: said once, unless a close frame already said it.
    pub(crate) fn end(&mut self, keep: impl FnOnce(WireEvent)) {
        if !std::mem::replace(&mut self.ended, true) {
            keep(WireEvent::Closed { code: None });
        }
    }
}
