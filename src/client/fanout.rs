//! A broadcast channel that holds its buffer only while someone listens.
//!
//! A tokio broadcast channel allocates all of its slots up front (`subscriber_buffer`, 1024
//! by default) and keeps them for as long as its sender lives. A client has one channel for
//! server events and one per topic, whether or not anybody holds a stream of them: the
//! harness records through the tap and drops every stream, so 10,000 simulated clients held
//! 640 MB of empty slots. A [`Fanout`] opens its channel on the first `subscribe` and drops
//! it again on the first `send` that finds no receiver, which is what a tokio broadcast does
//! with such a value anyway: a receiver only ever sees what is sent after it subscribed.

use std::sync::Arc;

use tokio::sync::broadcast;

/// One sender, any number of receivers, and no buffer while there are none.
#[derive(Debug)]
pub(crate) struct Fanout<T> {
    tx: Option<broadcast::Sender<Arc<T>>>,
    capacity: usize,
    closed: bool,
}

impl<T> Fanout<T> {
    /// A fan-out whose channel, once open, buffers `capacity` items (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Fanout {
            tx: None,
            capacity: capacity.max(1),
            closed: false,
        }
    }

    /// A receiver of everything sent from now on; already ended once closed.
    pub(crate) fn subscribe(&mut self) -> broadcast::Receiver<Arc<T>> {
        match &self.tx {
            Some(tx) => tx.subscribe(),
            None if self.closed => broadcast::channel(1).1,
            None => {
                let (tx, rx) = broadcast::channel(self.capacity);
                self.tx = Some(tx);
                rx
            }
        }
    }

    /// Sends `item` to every receiver; with none, drops it and closes the channel.
    pub(crate) fn send(&mut self, item: T) {
        match &self.tx {
            Some(tx) if tx.receiver_count() > 0 => {
                let _ = tx.send(Arc::new(item));
            }
            Some(_) => self.tx = None,
            None => {}
        }
    }

    /// Ends every receiver's stream (they see `Closed` after what they have not read),
    /// and every later one's at once; nothing is sent any more.
    pub(crate) fn close(&mut self) {
        self.tx = None;
        self.closed = true;
    }

    /// Whether [`Fanout::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a channel is open (someone subscribed since the last send that found no
    /// receiver).
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        self.tx.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::TryRecvError;

    #[test]
    fn no_buffer_until_someone_listens_and_none_after_the_last_leaves() {
        let mut f = Fanout::new(4);
        f.send(1);
        assert!(!f.is_open(), "a send with nobody listening opens nothing");
        let mut rx = f.subscribe();
        assert!(f.is_open());
        f.send(2);
        assert_eq!(*rx.try_recv().unwrap(), 2);
        drop(rx);
        f.send(3);
        assert!(
            !f.is_open(),
            "the first send after the last receiver left closes it"
        );
        let mut late = f.subscribe();
        f.send(4);
        assert_eq!(
            *late.try_recv().unwrap(),
            4,
            "a late receiver sees what follows"
        );
        assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn every_receiver_sees_every_item_and_close_ends_them() {
        let mut f = Fanout::new(4);
        let (mut a, mut b) = (f.subscribe(), f.subscribe());
        f.send("x");
        f.close();
        for rx in [&mut a, &mut b] {
            assert_eq!(*rx.try_recv().unwrap(), "x");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        }
        assert!(f.is_closed());
        assert_eq!(f.subscribe().try_recv(), Err(TryRecvError::Closed));
        f.send("y");
        assert!(!f.is_open(), "nothing opens after the close");
    }

    #[test]
    fn a_lagging_receiver_is_told_how_much_it_missed() {
        let mut f = Fanout::new(2);
        let mut rx = f.subscribe();
        for i in 0..5 {
            f.send(i);
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(3)));
        assert_eq!(*rx.try_recv().unwrap(), 3);
    }
}
