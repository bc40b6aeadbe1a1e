//! State shared between the client handles and the connection task.
//!
//! Handles change it synchronously (subscribe, publish, close) and wake the task; the task
//! owns the socket and is the only one that dials, reads and writes. One `Notify` carries
//! every wake-up, and the task re-reads the state after each, so no request is lost
//! between two waits (a `Notify` keeps one permit when nobody waits).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::Status;
use super::tap::{Tap, Tapped};

/// A protocol layer on top of the raw reconnecting socket.
///
/// The connection task calls it under the shared lock, so every method must be quick and
/// must not block.
pub(crate) trait Session: Send + 'static {
    /// A connection is up: push the frames that restore the session, sent before anything else.
    fn on_open(&mut self, restore: &mut Vec<Message>);
    /// A text or binary frame arrived. An error ends the connection with that reason.
    fn on_frame(&mut self, frame: Message) -> Result<(), String>;
    /// The next frame waiting to be sent, if any.
    fn next_outgoing(&mut self) -> Option<Message>;
    /// Whether the peer has accepted the session, so the client may report `Connected`
    /// (the pub/sub layer waits for the server's welcome; the raw socket is ready at once).
    fn ready(&self) -> bool {
        true
    }
    /// The connection was lost.
    fn on_lost(&mut self);
    /// The client was closed: end every stream, drop every pending send.
    fn on_close(&mut self);
}

pub(crate) struct Shared<S> {
    inner: Mutex<Inner<S>>,
    wake: Notify,
    status: watch::Sender<Status>,
    tap: Tap,
}

struct Inner<S> {
    session: S,
    closed: bool,
    reconnect: bool,
    listeners: Vec<mpsc::UnboundedSender<Status>>,
}

impl<S: Session> Shared<S> {
    pub(crate) fn new(session: S, tap: Tap) -> Arc<Self> {
        let first = Status::Connecting { attempt: 1 };
        tap.see(Tapped::Status(&first));
        let (status, _) = watch::channel(first);
        let inner = Inner {
            session,
            closed: false,
            reconnect: false,
            listeners: Vec::new(),
        };
        Arc::new(Shared {
            inner: Mutex::new(inner),
            wake: Notify::new(),
            status,
            tap,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the session under the lock.
    pub(crate) fn with_session<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.lock().session)
    }

    /// Runs `f` on the session and wakes the connection task.
    pub(crate) fn with_session_and_wake<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let out = self.with_session(f);
        self.wake.notify_one();
        out
    }

    /// Emits a status change. Returns false once the client is closed, so the task stops.
    /// A value equal to the current one is not emitted again.
    pub(crate) fn set_status(&self, next: Status) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        self.emit(&mut inner, next);
        true
    }

    fn emit(&self, inner: &mut Inner<S>, next: Status) {
        let current = self.status.borrow().clone();
        if current == next {
            return;
        }
        if !current.can_move_to(&next) {
            // Only a deliberately defective client gets here; the checkers report it.
            tracing::error!(
                from = current.name(),
                to = next.name(),
                "illegal status move"
            );
        }
        tracing::debug!(from = current.name(), to = next.name(), "status");
        self.tap.see(Tapped::Status(&next));
        inner.listeners.retain(|l| l.send(next.clone()).is_ok());
        self.status.send_replace(next);
    }

    /// Closes the client: status `Closed`, streams ended, the task told to stop.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        self.emit(&mut inner, Status::Closed);
        inner.closed = true;
        inner.session.on_close();
        inner.listeners.clear();
        drop(inner);
        self.wake.notify_one();
    }

    /// Asks the task to dial now; only has an effect while `Failed` or waiting in backoff.
    pub(crate) fn request_reconnect(&self) {
        let mut inner = self.lock();
        if matches!(
            *self.status.borrow(),
            Status::Failed { .. } | Status::Disconnected { .. }
        ) {
            inner.reconnect = true;
            drop(inner);
            self.wake.notify_one();
        }
    }

    pub(crate) fn take_reconnect(&self) -> bool {
        std::mem::take(&mut self.lock().reconnect)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Resolves at the next wake-up (a send, a close, a reconnect request).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    pub(crate) fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// A stream of every status change from now on, starting with the current status.
    pub(crate) fn status_changes(&self) -> mpsc::UnboundedReceiver<Status> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        let _ = tx.send(self.status.borrow().clone());
        if !inner.closed {
            inner.listeners.push(tx);
        }
        rx
    }
}
