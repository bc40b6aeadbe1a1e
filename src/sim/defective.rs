//! The reference client with one deliberate defect, for wschaos's own tests (the
//! `defects` feature; a normal build has none of this).
//!
//! Each defect is injected at the outermost place that can produce it, so that the
//! reference client itself holds as few of them as possible ([`injection`] says where,
//! one `match` arm per defect):
//! - a **policy** other than the one the scenario declares and the checkers judge by (no
//!   jitter, no attempt budget, no connect timeout, no terminal codes, ...): the client is
//!   correct, it was only told the wrong thing;
//! - a **connector** that dials a second socket, or reports `Connected` the moment TCP
//!   connects;
//! - a **report** that numbers retries wrongly;
//! - a **dial after `close()`**, made by the wrapper;
//! - **inside** the client, for the bugs that live in its own state (resubscription, the
//!   outbox, resume, the backoff counters, the heartbeat): a branch that only a build
//!   with the `defects` feature compiles ([`crate::client::ClientBuilder`]'s `defect`).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_tungstenite::WebSocketStream;

use super::{ClientEnv, ClientUnderTest, Probe, ReferenceClient, SimConnector};
use crate::client::{Defect, Policy, Status, Tap, Tapped, Target};
use crate::net::Connector;

/// Where a defect is injected.
enum Injection {
    /// The client runs with this change to the declared policy.
    Policy(fn(&mut Policy)),
    /// Every dial that connects is followed, once, by a second socket kept open.
    SecondSocket,
    /// `Connected` is reported as soon as TCP connects, before the WebSocket handshake.
    ConnectedOnDial,
    /// Every `Disconnected` is reported with the failed dial's attempt number.
    Misnumbered,
    /// One more dial once the client is closed.
    DialAfterClose,
    /// A branch inside the reference client.
    Inside,
}

/// Where `defect` is injected. A `match`: a new defect does not compile without its place.
fn injection(defect: Defect) -> Injection {
    use Injection::*;
    match defect {
        Defect::ResetsBackoffOnOpen => Policy(|p| p.stable_after = Duration::ZERO),
        Defect::NoJitter => Policy(|p| p.jitter = 0.0),
        Defect::IgnoresMaxAttempts => Policy(|p| p.max_attempts = None),
        Defect::NoHeartbeat => Policy(|p| p.ping_interval = FOREVER),
        Defect::FixedDelay => Policy(|p| {
            // The declared second bound, every time: no growth, no jitter.
            (p.initial_delay, p.multiplier, p.jitter) = (p.delay_bound(2), 1.0, 0.0);
        }),
        Defect::RetriesTerminal => Policy(|p| {
            p.terminal_close_codes.clear();
            p.terminal_http_statuses.clear();
        }),
        Defect::NoConnectTimeout => Policy(|p| p.connect_timeout = FOREVER),
        Defect::TwoSockets => SecondSocket,
        Defect::ConnectedBeforeHandshake => ConnectedOnDial,
        Defect::MisnumbersRetries => Misnumbered,
        Defect::ReconnectsAfterClose => DialAfterClose,
        Defect::ForgetsResubscribe
        | Defect::ResubscribesTwice
        | Defect::RevivesUnsubscribed
        | Defect::DropsOutbox
        | Defect::SendsOutboxTwice
        | Defect::ResendsAcknowledged
        | Defect::NeverResumes
        | Defect::PublishesBeforeResubscribe
        | Defect::UnsubscribeNeverSent
        | Defect::StaleFrames
        | Defect::ReplaysLastFrame
        | Defect::StaysDownAfterCleanClose
        | Defect::ClosesWithoutFrame
        | Defect::ReusesSession
        | Defect::NeverResetsBackoff
        | Defect::RedialsAtOnceOn1012
        | Defect::StaleDeadline
        | Defect::HeartbeatLeaks
        | Defect::DialOutlivesClose
        | Defect::DropsSubscribeBeforeWelcome
        | Defect::OwnSendsAreLife
        | Defect::RequeuesAndKeepsInFlight
        | Defect::KeepsBackoffAfterFailed => Inside,
    }
}

/// The harness's URL, parsed.
fn target(url: &str) -> Target {
    Target::parse(url).expect("the harness's URL is valid")
}

/// Longer than any simulation: a timer that never fires.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// True when `defect` is a branch inside the reference client (the rest are injected
/// from outside it).
pub fn is_inside(defect: Defect) -> bool {
    matches!(injection(defect), Injection::Inside)
}

/// The reference client with one deliberate defect, as a client under test.
pub struct DefectiveClient {
    client: ReferenceClient,
    /// What `close()` does after closing the client (`Defect::ReconnectsAfterClose`).
    after_close: Option<Box<dyn Fn()>>,
}

impl DefectiveClient {
    /// Starts the reference client with `defect`.
    pub fn start(mut env: ClientEnv, defect: Defect) -> Self {
        let probe = env.probe.clone();
        let connector = env.connector.clone();
        let recorded = move |event: Tapped<'_>| probe.tapped(event);
        let (client, after_close) = match injection(defect) {
            Injection::Policy(doctor) => {
                doctor(&mut env.policy);
                (
                    ReferenceClient::start_over(env, connector, Tap::new(recorded), |b| b),
                    None,
                )
            }
            Injection::SecondSocket => {
                // The same identity as the client's own connections, as a second socket
                // of the same app would have.
                let url = target(&env.url).with_query("client", &env.name).url;
                let lab = LabConnector::new(connector, Lab::SecondSocket(url));
                (
                    ReferenceClient::start_over(env, lab, Tap::new(recorded), |b| b),
                    None,
                )
            }
            Injection::ConnectedOnDial => {
                let announced = Arc::new(AtomicBool::new(false));
                let lab = LabConnector::new(
                    connector,
                    Lab::ConnectedOnDial(env.probe.clone(), announced.clone()),
                );
                // The client's own `Connected` after the handshake is no news: it was
                // reported at the dial, as a client that set it there would not repeat it.
                let tap = Tap::new(move |event| match event {
                    Tapped::Status(Status::Connected)
                        if announced.swap(false, Ordering::Relaxed) => {}
                    Tapped::Status(_) => {
                        announced.store(false, Ordering::Relaxed);
                        recorded(event)
                    }
                    _ => recorded(event),
                });
                (ReferenceClient::start_over(env, lab, tap, |b| b), None)
            }
            Injection::Misnumbered => {
                let tap = Tap::new(move |event| match event {
                    Tapped::Status(Status::Disconnected {
                        attempt,
                        retry_in,
                        reason,
                    }) => recorded(Tapped::Status(&Status::Disconnected {
                        attempt: attempt.saturating_sub(1),
                        retry_in: *retry_in,
                        reason: reason.clone(),
                    })),
                    _ => recorded(event),
                });
                (
                    ReferenceClient::start_over(env, connector, tap, |b| b),
                    None,
                )
            }
            Injection::DialAfterClose => {
                let Target { host, port, .. } = target(&env.url);
                let limit = env.policy.connect_timeout;
                let dialer = connector.clone();
                let again: Box<dyn Fn()> = Box::new(move || {
                    let (dialer, host) = (dialer.clone(), host.clone());
                    tokio::task::spawn_local(async move {
                        let _ = tokio::time::timeout(limit, dialer.connect(&host, port)).await;
                    });
                });
                let client = ReferenceClient::start_over(env, connector, Tap::new(recorded), |b| b);
                (client, Some(again))
            }
            Injection::Inside => (
                ReferenceClient::start_over(env, connector, Tap::new(recorded), |b| {
                    b.defect(defect)
                }),
                None,
            ),
        };
        DefectiveClient {
            client,
            after_close,
        }
    }
}

impl ClientUnderTest for DefectiveClient {
    fn start(env: ClientEnv) -> Self {
        DefectiveClient {
            client: ReferenceClient::start(env),
            after_close: None,
        }
    }

    fn subscribe(&self, topic: &str) {
        self.client.subscribe(topic)
    }

    fn unsubscribe(&self, topic: &str) {
        self.client.unsubscribe(topic)
    }

    fn publish(&self, topic: &str, data: String) -> Result<u64, String> {
        self.client.publish(topic, data)
    }

    fn close(&self) {
        self.client.close();
        if let Some(again) = &self.after_close {
            again();
        }
    }

    fn reconnect(&self) {
        self.client.reconnect()
    }
}

/// What a [`LabConnector`] does besides dialing.
#[derive(Clone)]
enum Lab {
    /// Opens a second WebSocket to this URL after the first dial that connects.
    SecondSocket(String),
    /// Reports `Connected` through the probe as soon as a dial connects, and says so.
    ConnectedOnDial(Probe, Arc<AtomicBool>),
}

type Socket = WebSocketStream<<SimConnector as Connector>::Stream>;

/// The harness's connector with a defect's extra behaviour.
#[derive(Clone)]
struct LabConnector {
    inner: SimConnector,
    lab: Lab,
    /// The second socket (`Lab::SecondSocket`), kept open and never read, for as long as
    /// the client's connection task holds this connector.
    extra: Arc<Mutex<Option<Socket>>>,
    opened: Arc<AtomicBool>,
}

impl LabConnector {
    fn new(inner: SimConnector, lab: Lab) -> Self {
        LabConnector {
            inner,
            lab,
            extra: Arc::default(),
            opened: Arc::default(),
        }
    }
}

impl Connector for LabConnector {
    type Stream = <SimConnector as Connector>::Stream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        let stream = self.inner.connect(host, port).await?;
        match &self.lab {
            Lab::SecondSocket(url) => {
                if !self.opened.swap(true, Ordering::Relaxed) {
                    let (dialer, extra) = (self.inner.clone(), Arc::downgrade(&self.extra));
                    let (host, url) = (host.to_string(), url.clone());
                    tokio::task::spawn_local(async move {
                        let Ok(stream) = dialer.connect(&host, port).await else {
                            return;
                        };
                        if let Ok((ws, _)) = tokio_tungstenite::client_async(url, stream).await {
                            if let Some(slot) = extra.upgrade() {
                                *slot
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ws);
                            }
                        }
                    });
                }
            }
            Lab::ConnectedOnDial(probe, announced) => {
                announced.store(true, Ordering::Relaxed);
                probe.status(&Status::Connected);
            }
        }
        Ok(stream)
    }
}
