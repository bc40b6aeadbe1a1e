//! Deliberate defects, to prove that the scenarios catch the classic reconnect bugs.
//!
//! They exist for wschaos's own test suite: only the `defects` feature (which the tests
//! turn on) lets a client be built with one ([`crate::sim::DefectiveClient`]). Most are
//! injected from outside the client (a policy other than the declared one, a connector,
//! a report, a dial after close). The ones that live in the client's own state
//! (resubscription, the outbox, resume, the backoff counters, the heartbeat) are branches
//! here on [`Defects::has`], which in any other build is a constant `false`: the compiler
//! removes the defective paths.
#![cfg_attr(not(feature = "defects"), allow(dead_code))]

/// Declares [`Defect`] and [`Defect::ALL`] from one list, so that `ALL` holds every
/// variant by construction.
macro_rules! defects {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A classic reconnect bug the reference client can be told to have.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Defect {
            $($(#[$doc])* $name,)*
        }

        impl Defect {
            /// Every defect, in declaration order (generated with the enum: none is missing).
            pub const ALL: &'static [Defect] = &[$(Defect::$name,)*];
        }
    };
}

defects! {
    /// Does not restore its topics after a reconnect.
    ForgetsResubscribe,
    /// Restores every topic twice after a reconnect.
    ResubscribesTwice,
    /// Restores topics that were unsubscribed while offline.
    RevivesUnsubscribed,
    /// Starts the backoff from the beginning at every successful handshake.
    ResetsBackoffOnOpen,
    /// Always waits the full backoff bound: every client retries at the same moment.
    NoJitter,
    /// Never gives up, whatever `max_attempts` says.
    IgnoresMaxAttempts,
    /// Dials once more after `close()`.
    ReconnectsAfterClose,
    /// Reports `Connected` as soon as TCP connects, before the WebSocket handshake.
    ConnectedBeforeHandshake,
    /// Forgets unsent and unacknowledged publishes when the connection drops.
    DropsOutbox,
    /// Sends every publish twice.
    SendsOutboxTwice,
    /// Sends no pings and never notices a silent connection.
    NoHeartbeat,
    /// Opens a second socket after each connect and keeps it.
    TwoSockets,
    /// Ignores acknowledgements: every publish is sent again after each reconnect.
    ResendsAcknowledged,
    /// Restores its topics without a resume position: what was published while it was
    /// away is lost, and nothing tells the subscriber.
    NeverResumes,
    /// Retries at a fixed interval (the policy's second bound, no jitter, no growth): above
    /// the first bound, so only a checker that judges every step sees it does not grow.
    FixedDelay,
    /// Announces a retry with the failed dial's attempt number instead of the next one.
    MisnumbersRetries,
    /// Reconnects after a close code or handshake status the policy calls terminal.
    RetriesTerminal,
    /// Flushes its queued publishes before restoring its subscriptions after a reconnect.
    PublishesBeforeResubscribe,
    /// Forgets to tell the server when it unsubscribes on a live connection.
    UnsubscribeNeverSent,
    /// `close()` does not cancel a dial or handshake in flight: the connection opens at the
    /// server after the client was closed.
    DialOutlivesClose,
    /// Carries its heartbeat state (a ping still outstanding) into the next connection.
    HeartbeatLeaks,
    /// Redials at once after a 1012 (service restart) close, with no backoff.
    RedialsAtOnceOn1012,
    /// Surfaces the last message of a lost connection after the next one is up.
    StaleFrames,
    /// Never starts the backoff over after a stable connection: the attempt count resets,
    /// the delay keeps the step it had reached, so a client that once rode out a long
    /// outage waits its longest delay after every later blip.
    NeverResetsBackoff,
    /// Keeps its session across process restarts (as if stored on disk) while its message
    /// ids start again at 1: the server takes the new process's first messages for
    /// repeats of the old one's and drops them.
    ReusesSession,
    /// Puts no time limit on the TCP dial: a dial into a black hole hangs for as long as
    /// the hole lasts (on a real network, for ever), and no retry is made meanwhile.
    NoConnectTimeout,
    /// Sets its connect deadline when it schedules a retry, not when it dials: after a
    /// backoff wait longer than `connect_timeout`, the dial times out the moment it starts,
    /// even on a healthy network, until a short enough wait is drawn.
    StaleDeadline,
    /// A raw client surfaces the last frame of a lost connection again once the next one
    /// is up, as a replay buffer that is never cleared would.
    ReplaysLastFrame,
    /// Takes a server's close frame (any code) as the end: it says it will retry, and never
    /// dials again, as `RxJS`'s `webSocket` under `retry()` does after a clean close.
    StaysDownAfterCleanClose,
    /// `close()` drops the socket without a close frame: the server sees a reset, not a
    /// goodbye.
    ClosesWithoutFrame,
    /// A `subscribe()` made after the upgrade and before the server's welcome is neither
    /// sent nor remembered: the topic is never subscribed on this connection or restored
    /// on the next.
    DropsSubscribeBeforeWelcome,
    /// Counts its own sends as signs of life: a busy publisher never pings, so a silently
    /// dead link goes unnoticed for as long as it keeps publishing.
    OwnSendsAreLife,
    /// After a reconnect, resends its unacknowledged publishes as still in flight and
    /// requeues them in the outbox as well: each is sent twice on the new connection.
    RequeuesAndKeepsInFlight,
    /// Keeps the backoff step it had reached when it gave up: after `Failed` and
    /// `reconnect()`, the first retry waits the longest delay instead of the first.
    KeepsBackoffAfterFailed,
}

// A set is one bit per defect.
const _: () = assert!(Defect::ALL.len() <= 64);

/// A set of defects: zero-sized, and always empty, in a build without the `defects`
/// feature, where every `has` is a constant `false` the compiler removes with its branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Defects(#[cfg(feature = "defects")] u64);

impl Defects {
    /// True when the client has `defect`; always false without the `defects` feature.
    #[inline]
    pub(crate) fn has(self, defect: Defect) -> bool {
        #[cfg(feature = "defects")]
        return self.0 & (1 << defect as u32) != 0;
        #[cfg(not(feature = "defects"))]
        {
            let _ = defect;
            false
        }
    }

    #[cfg(feature = "defects")]
    pub(crate) fn with(self, defect: Defect) -> Defects {
        Defects(self.0 | 1 << defect as u32)
    }
}
