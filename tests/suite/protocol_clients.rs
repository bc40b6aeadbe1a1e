//! Clients of graphql-transport-ws and Phoenix Channels written by hand, the way a team
//! writes one around a socket: reconnect as the declared policy says, and subscribe again
//! on every new connection. In the simulation, against the built-in server speaking their
//! protocol, through a crash, a deploy-style restart and a kick: the sound one passes every
//! check, and one that forgets to resubscribe and one that resubscribes twice fail, with
//! the subscription named, judged from the frames they sent.

use std::cell::Cell;

use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wschaos::check::{self, Verdict};
use wschaos::client::{Reason, Status};
use wschaos::net::Connector;
use wschaos::protocol::Protocol;
use wschaos::sim::{ClientEnv, ClientUnderTest, PORT};

/// How a hand-written client restores its subscriptions on a new connection.
const SOUND: u8 = 0;
/// It subscribes on its first connection only.
const FORGETS: u8 = 1;
/// It subscribes twice on every new connection after the first.
const TWICE: u8 = 2;

/// graphql-transport-ws, as a client speaks it.
const GRAPHQL: u8 = 0;
/// Phoenix Channels v2, as a client speaks it.
const PHOENIX: u8 = 1;

enum Command {
    Subscribe(String),
    Publish(String, String, u64),
    Close,
}

/// A hand-written client of protocol `P` that restores its subscriptions as `B` says.
struct Hand<const P: u8, const B: u8> {
    commands: mpsc::UnboundedSender<Command>,
    next_id: Cell<u64>,
}

impl<const P: u8, const B: u8> ClientUnderTest for Hand<P, B> {
    fn start(env: ClientEnv) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::task::spawn_local(run::<P, B>(env, rx));
        Hand {
            commands,
            next_id: Cell::new(0),
        }
    }

    fn subscribe(&self, topic: &str) {
        let _ = self.commands.send(Command::Subscribe(topic.into()));
    }

    fn unsubscribe(&self, _: &str) {}

    fn publish(&self, topic: &str, data: String) -> Result<u64, String> {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        (self.commands.send(Command::Publish(topic.into(), data, id)))
            .map_err(|_| "closed".to_string())?;
        Ok(id)
    }

    fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    fn reconnect(&self) {}
}

/// The frames of protocol `P`: numbered refs and ids from one counter.
struct Frames<const P: u8> {
    next: u64,
}

impl<const P: u8> Frames<P> {
    fn next(&mut self) -> String {
        self.next += 1;
        self.next.to_string()
    }

    fn subscribe(&mut self, topic: &str) -> String {
        let n = self.next();
        match P {
            GRAPHQL => json!({"id": n, "type": "subscribe", "payload": {
                "query": "subscription ($topic: String!) { message(topic: $topic) { seq data } }",
                "variables": {"topic": topic}
            }}),
            _ => json!([n, n, topic, "phx_join", {}]),
        }
        .to_string()
    }

    fn publish(&mut self, topic: &str, data: &str, id: u64) -> String {
        let n = self.next();
        match P {
            GRAPHQL => json!({"id": n, "type": "subscribe", "payload": {
                "query": "mutation ($topic: String!, $data: String!) { publish(topic: $topic, data: $data) { seq } }",
                "variables": {"topic": topic, "data": data, "id": id}
            }}),
            // A push on a channel this client joined; its join_ref is not tracked here, as
            // the server does not check it.
            _ => json!([Value::Null, n, topic, "message", {"data": data}]),
        }
        .to_string()
    }
}

async fn run<const P: u8, const B: u8>(
    env: ClientEnv,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut rng = env.rng();
    let mut topics = env.topics.clone();
    let mut frames = Frames::<P> { next: 0 };
    let mut connections = 0u32;
    let mut failures = 0u32;
    let url = format!("{}?client={}", env.url, env.name);
    loop {
        env.probe.status(&Status::Connecting {
            attempt: failures + 1,
        });
        let reason = match env.connector.connect("server", PORT).await {
            Err(e) => Reason::Dial {
                error: e.to_string(),
            },
            Ok(stream) => {
                let mut request = url.as_str().into_client_request().expect("a valid URL");
                if P == GRAPHQL {
                    let offer = "graphql-transport-ws".parse().expect("a header value");
                    request
                        .headers_mut()
                        .insert("sec-websocket-protocol", offer);
                }
                match tokio_tungstenite::client_async(request, stream).await {
                    Err(e) => Reason::Handshake {
                        error: e.to_string(),
                    },
                    Ok((mut ws, _)) => {
                        // graphql-transport-ws: ready once the server acknowledges.
                        let ready = if P == GRAPHQL {
                            let init = json!({"type": "connection_init"}).to_string();
                            let _ = ws.send(Message::text(init)).await;
                            loop {
                                match ws.next().await {
                                    Some(Ok(Message::Text(t))) if t.contains("connection_ack") => {
                                        break true;
                                    }
                                    Some(Ok(_)) => {}
                                    _ => break false,
                                }
                            }
                        } else {
                            true
                        };
                        if !ready {
                            Reason::Eof
                        } else {
                            connections += 1;
                            failures = 0;
                            env.probe.status(&Status::Connected);
                            let times = match (B, connections) {
                                (_, 1) | (SOUND, _) => 1,
                                (FORGETS, _) => 0,
                                _ => 2,
                            };
                            for topic in &topics {
                                for _ in 0..times {
                                    let _ = ws.send(Message::text(frames.subscribe(topic))).await;
                                }
                            }
                            loop {
                                tokio::select! {
                                    biased;
                                    command = commands.recv() => match command {
                                        Some(Command::Subscribe(topic)) => {
                                            let _ = ws.send(Message::text(frames.subscribe(&topic))).await;
                                            topics.push(topic);
                                        }
                                        Some(Command::Publish(topic, data, id)) => {
                                            let _ = ws.send(Message::text(frames.publish(&topic, &data, id))).await;
                                        }
                                        Some(Command::Close) | None => {
                                            let _ = ws.close(None).await;
                                            env.probe.status(&Status::Closed);
                                            return;
                                        }
                                    },
                                    frame = ws.next() => match frame {
                                        Some(Ok(Message::Close(frame))) => {
                                            break match frame {
                                                Some(f) => Reason::ServerClosed {
                                                    code: f.code.into(),
                                                    reason: f.reason.to_string(),
                                                },
                                                None => Reason::Eof,
                                            };
                                        }
                                        Some(Ok(_)) => {}
                                        _ => break Reason::Eof,
                                    },
                                }
                            }
                        }
                    }
                }
            }
        };
        failures += 1;
        let retry_in = env.policy.delay(failures, rng.random::<f64>());
        env.probe.status(&Status::Disconnected {
            attempt: failures + 1,
            retry_in,
            reason,
        });
        tokio::time::sleep(retry_in).await;
    }
}

/// Two subscribers of two topics and a publisher, all speaking `protocol`, through a
/// crash, a deploy-style restart (1012) and a kick (1001).
fn scenario(protocol: Protocol) -> wschaos::scenario::Scenario {
    let text = format!(
        r#"
name = "hand-written-{name}"
duration = "30s"
settle = "8s"

[server]
protocol = "{name}"

[[clients]]
name = "subs"
count = 2
topics = ["news", "sport"]

[[clients]]
name = "pub"
publish = {{ topic = "news", every = "500ms" }}

[[timeline]]
at = "5s"
do = "restart"
down = "1s"

[[timeline]]
at = "12s"
do = "graceful_restart"
down = "1s"

[[timeline]]
at = "19s"
do = "kick"
code = 1001
"#,
        name = protocol.name()
    );
    wschaos::scenario::parse(&text, "hand-written.toml").expect("the scenario parses")
}

fn verdict<C: ClientUnderTest>(protocol: Protocol, seed: u64) -> Verdict {
    let s = scenario(protocol);
    let history = wschaos::sim::run_with::<C>(&s, seed).expect("it runs");
    check::check(&s, &history)
}

/// The messages of `invariant`'s violations.
fn said(v: &Verdict, invariant: &str) -> Vec<String> {
    (v.violations.iter())
        .filter(|v| v.invariant == invariant)
        .map(|v| format!("{}: {}", v.client.as_deref().unwrap_or("-"), v.message))
        .collect()
}

fn sound_forgetful_and_doubled<const P: u8>(protocol: Protocol) {
    for seed in 1..=3 {
        let sound = verdict::<Hand<P, SOUND>>(protocol, seed);
        assert!(
            sound.passed(),
            "{} seed {seed}: the sound client fails: {:#?}",
            protocol.name(),
            sound.violations
        );
        assert!(
            !sound
                .not_judged
                .iter()
                .any(|n| n.invariant == "subscribed_on_wire"),
            "the wire judges it: {:?}",
            sound.not_judged
        );

        let forgets = verdict::<Hand<P, FORGETS>>(protocol, seed);
        let wire = said(&forgets, "subscribed_on_wire");
        for topic in ["news", "sport"] {
            assert!(
                wire.iter()
                    .any(|m| m.starts_with("subs-0: never asked for topic")
                        && m.contains(&format!("{topic:?}"))),
                "{} seed {seed}: forgetting {topic} is not named: {wire:#?}",
                protocol.name()
            );
        }

        let twice = verdict::<Hand<P, TWICE>>(protocol, seed);
        let wire = said(&twice, "subscribed_on_wire");
        assert!(
            wire.iter()
                .any(|m| m.starts_with("subs-1: asked for topic \"sport\" twice")),
            "{} seed {seed}: the second subscribe is not named: {wire:#?}",
            protocol.name()
        );
        assert!(
            said(&twice, "subscribed_on_wire").len() >= 4,
            "both topics, both subscribers: {wire:#?}"
        );
    }
}

pub fn graphql_clients_that_forget_or_double_their_subscriptions_are_named() {
    sound_forgetful_and_doubled::<GRAPHQL>(Protocol::GraphqlTransportWs);
}

pub fn phoenix_clients_that_forget_or_double_their_joins_are_named() {
    sound_forgetful_and_doubled::<PHOENIX>(Protocol::Phoenix);
}

/// The reference client speaks wschaos's protocol: a simulated run of it against a server
/// of another protocol is refused with a reason, not run to a verdict that means nothing.
pub fn the_reference_client_refuses_a_server_of_another_protocol() {
    let e = wschaos::sim::run(&scenario(Protocol::Phoenix), 1).unwrap_err();
    assert!(
        e.message.contains("speaks phoenix") && e.message.contains("run_with"),
        "{e}"
    );
}

/// wschaos's own frames, declared in a `[protocol]` table as a team would declare a
/// protocol wschaos does not know: the wire is read by the table, and a client that forgets
/// to resubscribe is named from it, as with the built-in decoder.
const DECLARED: &str = r#"
[protocol]
name = "wschaos, declared"
kind = "type"
topic = "topic"
seq = "seq"
ready = ["welcome"]
subscribe = ["subscribe"]
subscribed = ["subscribed"]
unsubscribe = ["unsubscribe"]
delivered = ["message"]
publish = ["publish"]
"#;

pub fn a_declared_protocol_names_a_forgotten_subscription_from_the_wire() {
    let text = format!(
        "name = \"declared\"\nduration = \"20s\"\n[[clients]]\nname = \"subs\"\ntopics = [\"news\"]\n[[timeline]]\nat = \"5s\"\ndo = \"restart\"\ndown = \"1s\"\n{DECLARED}"
    );
    let s = wschaos::scenario::parse(&text, "declared.toml").expect("it parses");
    let sound = check::check(&s, &wschaos::sim::run(&s, 1).expect("it runs"));
    assert!(sound.passed(), "{:#?}", sound.violations);
    assert!(sound.checked.contains(&"subscribed_on_wire"));
    defective!(Forgets, wschaos::client::Defect::ForgetsResubscribe);
    let history = wschaos::sim::run_with::<Forgets>(&s, 1).expect("it runs");
    let forgets = check::check(&s, &history);
    let wire = said(&forgets, "subscribed_on_wire");
    assert!(
        wire.iter()
            .any(|m| m.starts_with("subs-0: never asked for topic \"news\"")),
        "{wire:#?}"
    );
    // The wire records say what the table read, not what wschaos's decoder would have.
    assert!(history.records.iter().any(|r| matches!(
        &r.event,
        wschaos::history::Event::Wire { said, .. }
            if matches!(**said, wschaos::evidence::wire::WireEvent::Subscribe { .. })
    )));
}

/// A `[protocol]` table that cannot be read as a protocol is an error that says where.
pub fn a_broken_protocol_table_is_a_located_error() {
    let text = format!(
        "name = \"declared\"\nduration = \"20s\"\n[[clients]]\nname = \"subs\"\n{}",
        DECLARED.replace(
            "unsubscribe = [\"unsubscribe\"]",
            "unsubscribe = [\"subscribe\"]"
        )
    );
    let e = wschaos::scenario::parse(&text, "declared.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("declared.toml:")
            && e.contains("kind \"subscribe\" is in both `subscribe` and `unsubscribe`"),
        "{e}"
    );
    let unknown = DECLARED.replace("kind = \"type\"", "kind = \"type\"\nfield = \"x\"");
    let e = wschaos::scenario::parse(
        &format!("name = \"d\"\nduration = \"9s\"\n[[clients]]\nname = \"s\"\n{unknown}"),
        "d.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `field`"), "{e}");
}

/// A decoder of one's own, in Rust, for the frames of a client under test
/// ([`ClientUnderTest::wire`]): it reads only what it needs of wschaos's frames and marks
/// what it read, so the history shows whose reading it is.
struct Mine;

impl wschaos::evidence::wire::Decoder for Mine {
    fn text(
        &mut self,
        dir: wschaos::evidence::wire::Direction,
        text: &str,
        out: &mut Vec<wschaos::evidence::wire::WireEvent>,
    ) {
        use wschaos::evidence::wire::{Direction, WireEvent};
        let v: Value = serde_json::from_str(text).unwrap_or_default();
        out.push(match (dir, v["type"].as_str(), v["topic"].as_str()) {
            (Direction::ToClient, Some("welcome"), _) => WireEvent::Ready,
            (Direction::ToServer, Some("subscribe"), Some(topic)) => WireEvent::Subscribe {
                topic: topic.into(),
                id: Some("mine".into()),
            },
            _ => WireEvent::Other,
        });
    }
}

pub fn a_decoder_of_ones_own_reads_the_wire_and_names_a_forgotten_subscription() {
    let text = "name = \"mine\"\nduration = \"20s\"\n[[clients]]\nname = \"subs\"\ntopics = [\"news\"]\n[[timeline]]\nat = \"5s\"\ndo = \"restart\"\ndown = \"1s\"\n";
    let s = wschaos::scenario::parse(text, "mine.toml").expect("it parses");
    // The reference client that forgets to resubscribe, read by `Mine`.
    defective!(
        ReadByMine,
        wschaos::client::Defect::ForgetsResubscribe,
        wire = || Box::new(Mine)
    );
    let history = wschaos::sim::run_with::<ReadByMine>(&s, 1).expect("it runs");
    let verdict = check::check(&s, &history);
    let wire = said(&verdict, "subscribed_on_wire");
    assert!(
        wire.iter()
            .any(|m| m.starts_with("subs-0: never asked for topic \"news\"")),
        "{wire:#?}"
    );
    // What the history keeps of the wire is the custom decoder's reading.
    let ids: Vec<Option<String>> = (history.records.iter())
        .filter_map(|r| match &r.event {
            wschaos::history::Event::Wire { said, .. } => match &**said {
                wschaos::evidence::wire::WireEvent::Subscribe { id, .. } => Some(id.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [Some("mine".to_string())],
        "one subscribe, on the first connection"
    );
}
