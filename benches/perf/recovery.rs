//! Real network: 1,000 reference clients subscribed; the server restarts (a graceful stop,
//! then a new server on the same listening socket, handed over with
//! `server::run_handing_over`, so that dials wait instead of being refused); how long until
//! every client is Connected again with its topic restored at the new server. Restarted
//! `RESTARTS` times; the median and the worst count.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use wschaos::client::{ClientBuilder, Policy, Status};
use wschaos::server::{self, Event, ServerConfig};

use crate::table::Table;

const CLIENTS: usize = 1_000;
const RESTARTS: u64 = 8;

/// The default policy, but a connection counts as stable after 2 s instead of 10 s, so the
/// bench need not idle 10 s before the restart for the backoff to start from its first step.
fn policy() -> Policy {
    Policy {
        stable_after: Duration::from_secs(2),
        ..Policy::default()
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    /// Ends with the listening socket, handed over for the next server.
    task: JoinHandle<TcpListener>,
    events: mpsc::UnboundedReceiver<Event>,
}

/// A server on `listener`; a graceful stop hands the socket back (`run_handing_over`), so
/// the port never refuses between two servers.
fn start(listener: TcpListener, epoch: u64) -> Running {
    let (tx, events) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = ServerConfig {
        epoch,
        ..ServerConfig::default()
    };
    let task = tokio::spawn(server::run_handing_over(
        listener,
        config,
        async move {
            let _ = stopped.await;
        },
        move |e: &Event| {
            let _ = tx.send(e.clone());
        },
        server::Controls::default(),
    ));
    Running { stop, task, events }
}

/// Waits until `CLIENTS` distinct clients have subscribed at this server.
async fn all_subscribed(events: &mut mpsc::UnboundedReceiver<Event>) -> Result<(), String> {
    let mut subscribed = BTreeSet::new();
    while subscribed.len() < CLIENTS {
        match events.recv().await {
            Some(Event::Subscribed { client, .. }) => {
                subscribed.insert(client);
            }
            Some(_) => {}
            None => return Err("the server stopped".into()),
        }
    }
    Ok(())
}

/// Each restart's recovery time, measured from the moment the new server listens.
async fn run() -> Result<Vec<Duration>, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut server = start(listener, 1);
    let url = format!("ws://{addr}/");
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let client = ClientBuilder::new(&url)
            .map_err(|e| e.to_string())?
            .policy(policy())
            .client_id(format!("c-{i}"))
            .spawn();
        let subscription = client.subscribe("news").map_err(|e| e.to_string())?;
        clients.push((client, subscription));
    }
    all_subscribed(&mut server.events).await?;
    tokio::time::sleep(policy().stable_after + Duration::from_millis(500)).await;

    let mut times = Vec::new();
    for epoch in 2..2 + RESTARTS {
        let stopping = Instant::now();
        let _ = server.stop.send(());
        let listener = server.task.await.map_err(|e| e.to_string())?;
        let stopped = stopping.elapsed();
        server = start(listener, epoch);
        let up = Instant::now();
        all_subscribed(&mut server.events).await?;
        for (client, _) in &clients {
            let mut status = client.status();
            status
                .wait_for(|s| *s == Status::Connected)
                .await
                .map_err(|e| e.to_string())?;
        }
        times.push(up.elapsed());
        eprintln!(
            "    restart {}: shutdown {:.0} ms, recovered {:.0} ms after the new start",
            epoch - 1,
            stopped.as_secs_f64() * 1e3,
            up.elapsed().as_secs_f64() * 1e3
        );
        // Let the new connections become stable, so the next restart starts the backoff
        // from its first step again.
        tokio::time::sleep(policy().stable_after + Duration::from_millis(500)).await;
    }
    for (client, _) in &clients {
        client.close();
    }
    let _ = server.stop.send(());
    let _ = server.task.await;
    Ok(times)
}

pub fn measure(table: &mut Table) {
    let p = policy();
    let window = p.initial_delay.mul_f64(p.jitter.clamp(0.0, 1.0));
    let bound = window + Duration::from_secs(1);
    let figure = "real network: 1,000 clients back and resubscribed after a graceful restart that hands over its socket";
    let target = format!("≤ jitter window + 1 s = {:.1} s", bound.as_secs_f64());
    let measured = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(120), run())
                    .await
                    .map_err(|_| "not recovered within 120 s".to_string())?
            })
        });
    match measured {
        Ok(mut times) => {
            times.sort();
            let (median, worst) = (times[times.len() / 2], times[times.len() - 1]);
            table.add(
                figure,
                &target,
                format!(
                    "median {:.2} s, worst {:.2} s of {RESTARTS} restarts",
                    median.as_secs_f64(),
                    worst.as_secs_f64()
                ),
                Some(worst <= bound),
            );
        }
        Err(e) => table.add(figure, &target, format!("not measured: {e}"), Some(false)),
    }
}
