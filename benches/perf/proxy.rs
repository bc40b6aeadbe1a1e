//! Real network, loopback: what the real-network runs' proxy costs a client. The same load
//! as the delivery figure (100 subscribers), straight to the server and through a proxy, in
//! one run; and the median round trip of a publish to one's own subscription, both ways.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wschaos::real::{Ledger, Names, Proxy};
use wschaos::sim::Recorder;

use crate::delivery::{MESSAGES, connect, free_port, load, ours};
use crate::table::Table;

const PINGS: usize = 2_000;

/// The median round trip of a publish to the client's own subscription, in microseconds:
/// the path every message takes (up to the server, sequenced, down to a subscriber).
async fn round_trip(port: u16) -> Result<f64, String> {
    let mut ws = connect(port, "pinger").await?;
    ws.send(Message::text(r#"{"type":"subscribe","topic":"rtt"}"#))
        .await
        .map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(PINGS);
    for id in 1..=PINGS {
        let frame = format!(r#"{{"type":"publish","topic":"rtt","id":{id},"data":"x"}}"#);
        let start = Instant::now();
        ws.send(Message::text(frame))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"message\"") => break,
                Some(Ok(_)) => {}
                other => return Err(format!("no delivery of publish {id}: {other:?}")),
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// How a measurement reaches the server.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// Straight to it.
    Direct,
    /// Through a proxy that relays bytes (the built-in server keeps its own record).
    Proxied,
    /// Through a proxy that also reads every frame and keeps the server's record (a
    /// `[server] command`).
    Reading,
}

/// (deliveries per second, median ping round trip in µs) over `path` to `port`.
async fn both(port: u16, path: Path) -> Result<(f64, f64), String> {
    let proxy = if path == Path::Direct {
        None
    } else {
        let upstream = ([127, 0, 0, 1], port).into();
        let ledger = (path == Path::Reading).then(Ledger::default);
        Some(
            Proxy::start_with(
                "bench",
                upstream,
                Recorder::real(),
                Names::default(),
                ledger,
                // As real runs do: every frame decoded.
                Some(wschaos::protocol::Protocol::Wschaos.into()),
            )
            .await
            .map_err(|e| e.to_string())?,
        )
    };
    let at = proxy.as_ref().map_or(port, |p| p.addr().port());
    let limit = Duration::from_secs(90);
    let rate = tokio::time::timeout(limit, load(at, MESSAGES))
        .await
        .map_err(|_| format!("the load did not finish ({path:?})"))??;
    let rtt = tokio::time::timeout(limit, round_trip(at))
        .await
        .map_err(|_| format!("the round trips did not finish ({path:?})"))??;
    Ok((rate, rtt))
}

/// One server process per measurement: the load's publisher reuses its ids, which a server
/// that saw them already drops as duplicates.
fn on_fresh_server(path: Path) -> Result<(f64, f64), String> {
    let port = free_port();
    let _server = ours(port)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(both(port, path))
}

pub fn measure(table: &mut Table) {
    let direct = on_fresh_server(Path::Direct);
    for (path, figure) in [
        (Path::Proxied, "real network: through the real-run proxy"),
        (
            Path::Reading,
            "real network: through the proxy reading every frame (a [server] command)",
        ),
    ] {
        let result = direct
            .clone()
            .and_then(|direct| on_fresh_server(path).map(|proxied| (direct, proxied)));
        add(table, figure, result);
    }
}

/// (deliveries per second, median round trip in µs) of one path.
type Figures = (f64, f64);

fn add(table: &mut Table, figure: &str, result: Result<(Figures, Figures), String>) {
    match result {
        Ok(((rate, rtt), (prate, prtt))) => {
            let share = prate / rate;
            table.add(
                &format!("{figure}, messages/s to 100 subscribers"),
                "≥ 0.5x direct",
                format!("{prate:.0}/s ({share:.2}x the direct {rate:.0}/s)"),
                Some(share >= 0.5),
            );
            // A round trip crosses the proxy twice: half the added time is per frame.
            let added = (prtt - rtt) / 2.0;
            table.add(
                &format!("{figure}, median time added per frame (publish round trip / 2)"),
                "< 200 µs",
                format!("{added:.0} µs (round trip {prtt:.0} µs vs direct {rtt:.0} µs)"),
                Some(added < 200.0),
            );
        }
        Err(e) => table.add(figure, "–", format!("not measured: {e}"), None),
    }
}
