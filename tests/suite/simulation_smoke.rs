//! The transport seam inside turmoil: the same client and server code, on simulated TCP,
//! recover from a server restart, and the run is a pure function of its seed.
//! (The full harness with scenario files builds on this.)

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use futures::StreamExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wschaos::client::{ClientBuilder, Policy, Status, TopicEvent};
use wschaos::net::TurmoilNet;
use wschaos::server::{self, ServerConfig};

// Arc<Mutex> only because the server's observer must be Send; there are no threads here.
type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, what: String) {
    log.lock()
        .unwrap()
        .push(format!("{:>6}ms {what}", turmoil::elapsed().as_millis()));
}

fn policy() -> Policy {
    Policy {
        initial_delay: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        ..Policy::default()
    }
}

/// One run: a server restarted at 3 s (down 2 s), a subscriber and a publisher.
fn run(seed: u64) -> Vec<String> {
    let log: Log = Arc::default();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(20))
        .tick_duration(Duration::from_millis(10))
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(seed)
        .build();
    let starts = Rc::new(RefCell::new(0u64));
    let server_log = log.clone();
    sim.host("server", move || {
        *starts.borrow_mut() += 1;
        let epoch = *starts.borrow();
        let log = server_log.clone();
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:9000").await?;
            let config = ServerConfig {
                epoch,
                ..ServerConfig::default()
            };
            let observe = move |e: &server::Event| note(&log, format!("server {e:?}"));
            server::run_observed(listener, config, std::future::pending(), observe).await;
            Ok(())
        }
    });
    let sub_log = log.clone();
    sim.client("alice", async move {
        let builder = ClientBuilder::new("ws://server:9000/")?
            .client_id("alice")
            .policy(policy());
        let (alice, task) = builder.build(TurmoilNet, ChaCha8Rng::seed_from_u64(seed ^ 1));
        tokio::task::spawn_local(task);
        let mut changes = alice.status_changes();
        let mut news = alice.subscribe("news")?;
        let log = sub_log.clone();
        tokio::task::spawn_local(async move {
            while let Some(s) = changes.next().await {
                note(&log, format!("alice {s:?}"));
            }
        });
        let mut got = 0;
        while got < 8 {
            match news.next().await {
                Some(TopicEvent::Message(m)) => {
                    got += 1;
                    note(&sub_log, format!("alice got {}", m.data));
                }
                Some(gap) => note(&sub_log, format!("alice {gap:?}")),
                None => break,
            }
        }
        alice.close();
        Ok(())
    });
    let bob_log = log.clone();
    sim.client("bob", async move {
        let builder = ClientBuilder::new("ws://server:9000/")?
            .client_id("bob")
            .policy(policy());
        let (bob, task) = builder.build(TurmoilNet, ChaCha8Rng::seed_from_u64(seed ^ 2));
        tokio::task::spawn_local(task);
        let mut changes = bob.status_changes();
        let log = bob_log.clone();
        tokio::task::spawn_local(async move {
            while let Some(s) = changes.next().await {
                note(&log, format!("bob {s:?}"));
            }
        });
        bob.status().wait_for(|s| *s == Status::Connected).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for n in 1..=8 {
            bob.publish("news", format!("m{n}"))?;
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        bob.flushed().await;
        note(&bob_log, "bob flushed".into());
        Ok(())
    });
    let mut restarted = false;
    loop {
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => panic!("simulation: {e}\n{}", log.lock().unwrap().join("\n")),
        }
        let now = sim.elapsed();
        if now >= Duration::from_secs(3) && sim.is_host_running("server") && !restarted {
            sim.crash("server");
        }
        if now >= Duration::from_secs(5) && !sim.is_host_running("server") {
            sim.bounce("server");
            restarted = true;
        }
    }
    std::mem::take(&mut *log.lock().unwrap())
}

pub fn client_and_server_recover_from_a_restart_in_simulation() {
    let history = run(1);
    let text = history.join("\n");
    for n in 1..=8 {
        assert_eq!(
            text.matches(&format!("alice got m{n}\n")).count()
                + text.ends_with(&format!("alice got m{n}")) as usize,
            1,
            "m{n} exactly once:\n{text}"
        );
    }
    assert!(text.contains("alice Disconnected"), "{text}");
    assert!(
        text.contains("reason: Epoch"),
        "the restart is announced as a gap:\n{text}"
    );
    let connected = history
        .iter()
        .filter(|l| l.ends_with("alice Connected"))
        .count();
    assert_eq!(connected, 2, "{text}");
}

pub fn same_seed_same_history_byte_for_byte() {
    let (a, b) = (run(42), run(42));
    assert_eq!(a.join("\n"), b.join("\n"));
    assert_ne!(run(42), run(43), "the seed reaches the jitter");
}

pub fn print_history() {
    let seed = std::env::var("SEED").map_or(42, |s| s.parse().unwrap());
    println!("{}", run(seed).join("\n"));
}

/// A policy that redials every millisecond through a long cut would run its simulated host
/// out of ephemeral ports (turmoil keeps the port of every dial that did not connect, and
/// panics when none is left): the run ends with an error that names the host and the way
/// out, never a panic.
pub fn a_host_out_of_ports_is_an_error_that_says_so() {
    let s = wschaos::scenario::parse(
        r#"
name = "storm"
duration = "60s"
[[clients]]
name = "fast"
count = 4
policy = { initial_delay = "1ms", max_delay = "1ms", jitter = 0.0 }
[[timeline]]
at = "1s"
do = "partition"
between = ["server", "clients"]
for = "58s"
"#,
        "storm.toml",
    )
    .unwrap();
    let e = wschaos::sim::run(&s, 1).unwrap_err();
    assert!(
        e.message
            .contains("host \"clients\" ran out of ephemeral ports"),
        "{e}"
    );
    assert!(e.message.contains("give groups their own `host`"), "{e}");
}
