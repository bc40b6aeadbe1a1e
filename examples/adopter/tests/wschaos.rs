//! The chat client under every simulated scenario bundled with wschaos, and under this
//! crate's own (`scenarios/`): one named test per file and seed.
//!
//! `cargo test --test wschaos -- --list` lists them; a failure prints the timeline around
//! the violation and the command that replays it exactly.

use futures::StreamExt;
use wschaos::scenario::Mode;
use wschaos::sim::{ClientEnv, ClientUnderTest, Probe, ReferenceClient};
use wschaos::testing::Suite;

use chat::Chat;

fn main() {
    Suite::<UnderTest>::new()
        .library()
        .files("scenarios")
        // Replay lines rebuild the client that failed: with its deliberate bug when it
        // was built with it.
        .cargo_args(if cfg!(feature = "bug") {
            "--features bug"
        } else {
            ""
        })
        .run()
}

/// The chat client as wschaos drives it. The library's raw groups (plain WebSocket
/// clients, no pub/sub) are not what a chat session is: wschaos's reference client plays
/// those, so each file still runs whole.
enum UnderTest {
    Chat { chat: Chat, probe: Probe },
    Raw(ReferenceClient),
}

impl ClientUnderTest for UnderTest {
    fn start(env: ClientEnv) -> Self {
        if env.mode == Mode::Raw {
            return UnderTest::Raw(ReferenceClient::start(env));
        }
        let rng = env.rng();
        let (chat, task) = Chat::new(&env.url, &env.name, env.policy.clone(), env.connector, rng)
            .expect("the harness's URL is valid");
        let probe = env.probe.clone();
        let mut changes = chat.client().status_changes();
        let p = probe.clone();
        tokio::task::spawn_local(async move {
            while let Some(status) = changes.next().await {
                p.status(&status);
            }
        });
        let p = probe.clone();
        tokio::task::spawn_local(chat.client().server_events().for_each(move |e| {
            if let Ok(e) = e {
                p.server_event(&e);
            }
            async {}
        }));
        tokio::task::spawn_local(task);
        let me = UnderTest::Chat { chat, probe };
        for room in &env.topics {
            me.subscribe(room);
        }
        me
    }

    fn subscribe(&self, topic: &str) {
        let UnderTest::Chat { chat, probe } = self else {
            return;
        };
        if let Ok(Some(mut room)) = chat.join(topic) {
            let probe = probe.clone();
            tokio::task::spawn_local(async move {
                while let Some(event) = room.next().await {
                    probe.topic_event(&event);
                }
            });
        }
    }

    fn unsubscribe(&self, topic: &str) {
        match self {
            UnderTest::Chat { chat, .. } => chat.leave(topic),
            UnderTest::Raw(raw) => raw.unsubscribe(topic),
        }
    }

    fn publish(&self, topic: &str, data: String) -> Result<u64, String> {
        match self {
            UnderTest::Chat { chat, .. } => chat.say(topic, data).map_err(|e| e.to_string()),
            UnderTest::Raw(raw) => raw.publish(topic, data),
        }
    }

    fn close(&self) {
        match self {
            UnderTest::Chat { chat, .. } => chat.quit(),
            UnderTest::Raw(raw) => raw.close(),
        }
    }

    fn reconnect(&self) {
        match self {
            UnderTest::Chat { chat, .. } => chat.retry(),
            UnderTest::Raw(raw) => raw.reconnect(),
        }
    }
}
