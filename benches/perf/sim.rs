//! Simulation figures: speed against the bare turmoil floor, sweep throughput, memory.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wschaos::explore;
use wschaos::scenario::Scenario;
use wschaos::sim::{self, ReferenceClient};

use crate::table::Table;

/// The workloads, with how many times each is timed (the median counts).
const WORKLOADS: [(&str, usize); 3] = [("w10", 21), ("w100", 5), ("w1000", 3)];

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/workloads")
        .join(format!("{name}.toml"))
}

pub fn workload(name: &str) -> Scenario {
    let path = file(name);
    wschaos::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Median wall time of `f` over `repeats` calls (after a warm-up call, for short ones).
fn time(repeats: usize, mut f: impl FnMut(u64)) -> Duration {
    if repeats > 5 {
        f(0);
    }
    median(
        (1..=repeats as u64)
            .map(|i| {
                let start = Instant::now();
                f(i);
                start.elapsed()
            })
            .collect(),
    )
}

/// The same hosts, tick, latency and duration as `s`, and nothing running on them.
fn bare_turmoil(s: &Scenario, seed: u64) {
    let mut sim = sim::builder(s, seed).build();
    sim.host("server", || async {
        std::future::pending::<()>().await;
        Ok(())
    });
    for host in sim::client_hosts(s) {
        sim.client(host, async {
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    while sim.elapsed() < s.duration {
        sim.step().expect("a bare simulation cannot fail");
    }
}

fn ratio(simulated: Duration, wall: Duration) -> f64 {
    simulated.as_secs_f64() / wall.as_secs_f64()
}

pub fn speed(table: &mut Table) {
    for (name, repeats) in WORKLOADS {
        let s = workload(name);
        let wall = time(repeats, |seed| {
            black_box(sim::run(&s, seed).expect("the workload runs"));
        });
        let floor = time(repeats, |seed| bare_turmoil(&s, seed));
        let speed = ratio(s.duration, wall);
        let (target, met) = match name {
            "w10" => ("≥ 1,000x real time", Some(speed >= 1000.0)),
            "w1000" => ("≥ 10x real time", Some(speed >= 10.0)),
            _ => ("–", None),
        };
        let upper = name.to_uppercase();
        table.add(
            &format!("{upper}: simulated seconds per wall second"),
            target,
            format!("{speed:.0}x ({:.1} ms for 60 s)", wall.as_secs_f64() * 1e3),
            met,
        );
        let over = wall.as_secs_f64() / floor.as_secs_f64();
        let (target, met) = if name == "w10" {
            ("≤ 1.5x", Some(over <= 1.5))
        } else {
            ("–", None)
        };
        table.add(
            &format!("{upper} against the bare turmoil floor (same hosts, tick, duration)"),
            target,
            format!(
                "{over:.1}x (floor {:.1} ms, {:.0}x real time)",
                floor.as_secs_f64() * 1e3,
                ratio(s.duration, floor)
            ),
            met,
        );
        if name == "w10" {
            quiet_w10(table, &s, repeats, floor);
        }
    }
}

/// W10 without its broadcast (same clients, faults and heartbeats): what the traffic costs.
fn quiet_w10(table: &mut Table, s: &Scenario, repeats: usize, floor: Duration) {
    let mut quiet = s.clone();
    for g in &mut quiet.clients {
        g.publish = None;
    }
    let wall = time(repeats, |seed| {
        black_box(sim::run(&quiet, seed).expect("the workload runs"));
    });
    table.add(
        "W10 without its broadcast against the floor (what the traffic costs)",
        "–",
        format!(
            "{:.1}x ({:.1} ms)",
            wall.as_secs_f64() / floor.as_secs_f64(),
            wall.as_secs_f64() * 1e3
        ),
        None,
    );
}

/// Seeds of W10 per minute, simulated and checked, with 2 worker threads.
pub fn sweep(table: &mut Table) {
    const SEEDS: u64 = 600;
    const JOBS: usize = 2;
    let s = workload("w10");
    let path = file("w10");
    let next = AtomicU64::new(1);
    let failed = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..JOBS {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed > SEEDS {
                        break;
                    }
                    let found = explore::try_seed::<ReferenceClient>(&s, &path, seed, false);
                    if !matches!(found, Ok(None)) {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let per_minute = SEEDS as f64 / start.elapsed().as_secs_f64() * 60.0;
    let failed = failed.load(Ordering::Relaxed);
    table.add(
        "sweep: W10 seeds per minute, simulated and checked, 2 jobs",
        "≥ 600",
        format!("{per_minute:.0} ({SEEDS} seeds, {failed} failed)"),
        Some(per_minute >= 600.0 && failed == 0),
    );
}

/// Peak RSS of a fresh process running one workload once.
fn peak_rss_kib(name: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--peak-rss-of", name])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// The child side of [`peak_rss_kib`]: run, then print `VmHWM` in KiB.
pub fn print_peak_rss(name: &str) {
    if name != "none" {
        black_box(sim::run(&workload(name), 1).expect("the workload runs"));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{kib}");
}

pub fn memory(table: &mut Table) {
    let (Some(base), Some(w100), Some(w1000)) = (
        peak_rss_kib("none"),
        peak_rss_kib("w100"),
        peak_rss_kib("w1000"),
    ) else {
        table.add(
            "W1000 peak RSS",
            "reported",
            "not measured (needs /proc)".into(),
            None,
        );
        return;
    };
    let mib = |k: u64| k as f64 / 1024.0;
    table.add(
        "W1000 peak RSS (whole process, history included)",
        "reported",
        format!(
            "{:.0} MiB (W100 {:.0} MiB, empty process {:.0} MiB)",
            mib(w1000),
            mib(w100),
            mib(base)
        ),
        None,
    );
    let per_client = (w1000.saturating_sub(w100)) as f64 / 900.0;
    table.add(
        "memory per simulated client ((W1000 - W100) / 900)",
        "reported",
        format!("{per_client:.0} KiB"),
        None,
    );
}
