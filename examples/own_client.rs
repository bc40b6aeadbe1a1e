//! Your own client under the wschaos harness.
//!
//! Run: `cargo run --example own_client [SCENARIO]` (default: a server restart).
//!
//! `Naive` is the kind of reconnecting client many apps hand-roll: it reconnects after a
//! fixed second, resubscribes, and that's it. Implementing [`ClientUnderTest`] for it takes
//! the ~100 lines below; the harness then runs it through any scenario and the checkers say
//! what it gets wrong (here: messages published during the restart are lost without a
//! gap notice, because it never resumes).
//!
//! To stay deterministic a client must, inside the simulation: dial only with
//! `env.connector`, take time only from tokio, draw randomness only from `env.seed`, spawn
//! only with `tokio::task::spawn_local`, use `biased;` in every `select!`, and iterate no
//! `HashMap` where the order shows.

use std::cell::RefCell;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wschaos::client::{Delivery, Reason, Status};
use wschaos::net::Connector;
use wschaos::protocol::{ClientFrame, ServerFrame};
use wschaos::sim::{ClientEnv, ClientUnderTest};

/// What the harness asks of the client, passed to its task.
enum Command {
    Subscribe(String),
    Publish(String, String, u64),
    Close,
}

/// A hand-rolled client: fixed delay, resubscribes, no resume, no outbox, no heartbeat.
struct Naive {
    commands: mpsc::UnboundedSender<Command>,
    next_id: RefCell<u64>,
}

impl ClientUnderTest for Naive {
    fn start(env: ClientEnv) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::task::spawn_local(run(env, rx));
        Naive {
            commands,
            next_id: RefCell::new(0),
        }
    }

    fn subscribe(&self, topic: &str) {
        let _ = self.commands.send(Command::Subscribe(topic.into()));
    }

    fn unsubscribe(&self, _topic: &str) {}

    fn publish(&self, topic: &str, data: String) -> Result<u64, String> {
        let id = {
            let mut next = self.next_id.borrow_mut();
            *next += 1;
            *next
        };
        self.commands
            .send(Command::Publish(topic.into(), data, id))
            .map_err(|_| "closed".to_string())?;
        Ok(id)
    }

    fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    fn reconnect(&self) {}
}

async fn run(env: ClientEnv, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut topics = env.topics.clone();
    let url = format!("{}?client={}", env.url, env.name);
    let mut attempt = 1;
    loop {
        env.probe.status(&Status::Connecting { attempt });
        let reason = match env.connector.connect("server", wschaos::sim::PORT).await {
            Err(e) => Reason::Dial {
                error: e.to_string(),
            },
            Ok(stream) => match tokio_tungstenite::client_async(url.as_str(), stream).await {
                Err(e) => Reason::Handshake {
                    error: e.to_string(),
                },
                Ok((mut ws, _)) => {
                    env.probe.status(&Status::Connected);
                    attempt = 1;
                    for topic in &topics {
                        let frame = ClientFrame::Subscribe {
                            topic: topic.clone(),
                            resume: None,
                        };
                        let _ = ws.send(Message::text(frame.to_json())).await;
                    }
                    let mut epoch = 0;
                    loop {
                        tokio::select! {
                            biased;
                            command = commands.recv() => match command {
                                Some(Command::Subscribe(topic)) => {
                                    topics.push(topic.clone());
                                    let _ = ws.send(Message::text(ClientFrame::Subscribe { topic, resume: None }.to_json())).await;
                                }
                                Some(Command::Publish(topic, data, id)) => {
                                    let _ = ws.send(Message::text(ClientFrame::Publish { topic, id, data }.to_json())).await;
                                }
                                Some(Command::Close) | None => {
                                    env.probe.status(&Status::Closed);
                                    return;
                                }
                            },
                            frame = ws.next() => match frame {
                                Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                                    Ok(ServerFrame::Welcome { epoch: e, .. }) => epoch = e,
                                    Ok(ServerFrame::Message { topic, seq, from, id, data }) => {
                                        env.probe.delivered(&Delivery { topic, epoch, seq, from, id, data, conn: 0 });
                                    }
                                    _ => {}
                                },
                                Some(Ok(_)) => {}
                                _ => break Reason::Eof,
                            },
                        }
                    }
                }
            },
        };
        let retry_in = Duration::from_secs(1);
        attempt += 1;
        env.probe.status(&Status::Disconnected {
            attempt,
            retry_in,
            reason,
        });
        tokio::time::sleep(retry_in).await;
    }
}

fn main() {
    let file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/restarts/short-restart.toml".into());
    // For a whole folder of files as named `cargo test` cases, see `wschaos::testing::Suite`.
    println!(
        "{}",
        wschaos::testing::check_file::<Naive>(&file, 1).report()
    );
}

#[cfg(test)]
mod tests {
    use wschaos::client::Policy;
    use wschaos::scenario::Mode;
    use wschaos::testing::{Declaration, Suite};

    /// What `Naive`'s authors believe it does, as a team would write it down: exponential
    /// backoff from one second, doubling up to thirty, no jitter, no heartbeat; a pub/sub
    /// client only. It does not back off at all (it retries every second), which the
    /// library catches under `backoff_escalates`, judged by these numbers.
    fn naive() -> Declaration {
        let second = std::time::Duration::from_secs(1);
        let never = std::time::Duration::from_secs(365 * 24 * 3600);
        Declaration {
            policy: Some(Policy {
                initial_delay: second,
                max_delay: 30 * second,
                multiplier: 2.0,
                jitter: 0.0,
                max_attempts: None,
                ping_interval: never,
                ..Policy::default()
            }),
            modes: vec![Mode::Pubsub],
            protocols: Vec::new(),
        }
    }

    /// Judged on its own terms, the naive client fails the whole bundled library only for
    /// its own faults: it loses messages across a reconnect (`delivery`, `outbox`) and does
    /// not back off as declared (`backoff_escalates`); never for missing someone else's
    /// retry schedule (`redial_on_time`) or for a raw client's files, which it is not.
    #[test]
    fn on_its_own_terms_the_naive_client_fails_only_for_its_own_faults() {
        let suite = Suite::<super::Naive>::new().library().declare(naive());
        let (cases, left_out) = suite.cases().expect("the bundled library loads");
        assert!(
            left_out
                .iter()
                .any(|(name, why)| name.contains("raw-clients") && why.contains("Raw")),
            "{left_out:?}"
        );
        let mut fired = std::collections::BTreeMap::<&str, usize>::new();
        for case in cases.iter().filter(|c| c.seed == c.scenario.seeds[0]) {
            let outcome = case.run_with::<super::Naive>().expect("it runs");
            for v in &outcome.verdict.violations {
                *fired.entry(v.invariant).or_default() += 1;
            }
        }
        for its_own in ["delivery", "outbox", "backoff_escalates"] {
            assert!(fired.contains_key(its_own), "{its_own}: {fired:?}");
        }
        assert!(!fired.contains_key("redial_on_time"), "{fired:?}");
        // The statuses a file expects follow from its own policy: with the declared one
        // they are not judged, and said so, rather than failed.
        for expected in ["expect_final", "expect_sequence"] {
            assert!(!fired.contains_key(expected), "{fired:?}");
        }
        assert!(
            left_out
                .iter()
                .any(|(name, why)| name.ends_with("(expected statuses)") && why.contains("assume")),
            "{left_out:?}"
        );
    }

    /// What the module comment promises: the loss during a restart is caught, by `delivery`.
    #[test]
    fn the_naive_client_loses_messages_across_a_restart_and_delivery_says_so() {
        for file in [
            "scenarios/restarts/short-restart.toml",
            "scenarios/restarts/repeated-restarts.toml",
            "scenarios/restarts/graceful-restart.toml",
        ] {
            let checked = wschaos::testing::check_file::<super::Naive>(file, 1);
            let outcome = checked.outcome().expect("the simulation runs");
            let delivery: Vec<_> = outcome
                .verdict
                .violations
                .iter()
                .filter(|v| v.invariant == "delivery")
                .collect();
            assert!(
                !delivery.is_empty(),
                "{file}: {:#?}",
                outcome.verdict.violations
            );
            // The report leads with it: the counts, then its first example.
            let report = checked.report();
            let mut lines = report.lines().skip(1);
            assert!(
                lines
                    .next()
                    .is_some_and(|l| l.trim_start().starts_with("delivery ")),
                "{report}"
            );
            assert!(
                report
                    .lines()
                    .find(|l| l.starts_with('['))
                    .is_some_and(|l| l.starts_with("[delivery]")),
                "{report}"
            );
        }
    }
}
