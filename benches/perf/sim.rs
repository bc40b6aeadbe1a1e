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

pub fn file(name: &str) -> PathBuf {
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
            "w1000" => ("≥ 20x real time", Some(speed >= 20.0)),
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
        "≥ 3,000",
        format!("{per_minute:.0} ({SEEDS} seeds, {failed} failed)"),
        Some(per_minute >= 3000.0 && failed == 0),
    );
}

/// The scaling picture's workloads, with their client counts.
const SCALE: [(&str, u64); 4] = [
    ("w10", 10),
    ("w100", 100),
    ("w1000", 1_000),
    ("w10000", 10_000),
];

/// One workload run once in a fresh process: (wall time, peak RSS in KiB).
fn fresh_run(name: &str) -> Option<(Duration, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--fresh-run-of", name])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(micros)), Some(Ok(kib))) = (fields.next(), fields.next()) else {
        return None;
    };
    Some((Duration::from_micros(micros), kib))
}

/// The child side of [`fresh_run`]: run the workload once (none for `none`), then print
/// its wall time in µs and the process's peak RSS (`VmHWM`) in KiB.
pub fn print_fresh_run(name: &str) {
    let start = Instant::now();
    if name != "none" {
        black_box(sim::run(&workload(name), 1).expect("the workload runs"));
    }
    let micros = start.elapsed().as_micros();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{micros} {kib}");
}

/// Memory, and how wall time and memory grow with the number of clients: each workload
/// once in a fresh process (W10000 alone takes minutes). Writes `docs/scaling.svg`.
pub fn scale(table: &mut Table) {
    let Some((_, base)) = fresh_run("none") else {
        table.add(
            "memory and scaling",
            "reported",
            "not measured (needs /proc)".into(),
            None,
        );
        return;
    };
    let mut points = Vec::new();
    for (name, clients) in SCALE {
        match fresh_run(name) {
            Some((wall, kib)) => points.push((name, clients, wall, kib)),
            None => table.add(
                &format!("{} in a fresh process", name.to_uppercase()),
                "completes",
                "**did not complete**".into(),
                Some(false),
            ),
        }
    }
    let mib = |k: u64| k as f64 / 1024.0;
    for &(name, clients, wall, kib) in &points {
        let speed = ratio(Duration::from_secs(60), wall);
        let (target, met) = if clients == 10_000 {
            (
                "≥ 1x real time, ≤ 2 GiB",
                Some(speed >= 1.0 && kib <= 2 * 1024 * 1024),
            )
        } else {
            ("reported", None)
        };
        table.add(
            &format!("{}: one run in a fresh process", name.to_uppercase()),
            target,
            format!(
                "{:.2} s, {speed:.1}x real time, peak RSS {:.0} MiB",
                wall.as_secs_f64(),
                mib(kib)
            ),
            met,
        );
    }
    let rss = |n: &str| points.iter().find(|p| p.0 == n).map(|p| p.3);
    if let (Some(w100), Some(w1000)) = (rss("w100"), rss("w1000")) {
        let per_client = w1000.saturating_sub(w100) as f64 / 900.0;
        table.add(
            "memory per simulated client ((W1000 - W100) / 900)",
            "≤ 64 KiB",
            format!("{per_client:.0} KiB (empty process {:.0} MiB)", mib(base)),
            Some(per_client <= 64.0),
        );
    }
    // Wall time per client-second, W100 up: flat means linear cost.
    let per: Vec<(&str, f64)> = points
        .iter()
        .filter(|p| p.1 >= 100)
        .map(|p| (p.0, p.2.as_secs_f64() * 1e6 / (p.1 as f64 * 60.0)))
        .collect();
    if per.len() >= 2 {
        let (lo, hi) = per
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
        let listed: Vec<String> = per
            .iter()
            .map(|(n, us)| format!("{} {us:.1} µs", n.to_uppercase()))
            .collect();
        table.add(
            "wall time per client-second, W100 up (flat: linear cost)",
            "flat within 2x",
            format!("{:.1}x ({})", hi / lo, listed.join(", ")),
            Some(hi / lo <= 2.0),
        );
    }
    let svg = svg(&points);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scaling.svg");
    match std::fs::write(&path, svg) {
        Ok(()) => eprintln!("  wrote {}", path.display()),
        Err(e) => eprintln!("  could not write {}: {e}", path.display()),
    }
}

/// A log-log chart: wall time (s) and peak RSS (MiB) against clients.
fn svg(points: &[(&str, u64, Duration, u64)]) -> String {
    const W: f64 = 560.0;
    const H: f64 = 340.0;
    const L: f64 = 60.0;
    const R: f64 = 20.0;
    const T: f64 = 30.0;
    const B: f64 = 50.0;
    // x: 10 to 10^4 clients; y: 10^-3 to 10^5 (seconds and MiB share the decades).
    let (x0, x1, y0, y1) = (1.0, 4.0, -3.0, 5.0);
    let x = |clients: f64| L + (clients.log10() - x0) / (x1 - x0) * (W - L - R);
    let y = |v: f64| H - B - (v.max(1e-3).log10() - y0) / (y1 - y0) * (H - T - B);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{L}\" y=\"18\" font-size=\"13\">W10 to W10000, 60 s simulated each (log-log)</text>\n"
    );
    for d in 1..=4 {
        let c = 10f64.powi(d);
        let px = x(c);
        out += &format!(
            "<line x1=\"{px:.1}\" y1=\"{T}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            H - B,
            H - B + 15.0,
            c as u64
        );
    }
    for d in -3..=5 {
        let v = 10f64.powi(d);
        let py = y(v);
        let label = if d < 0 {
            format!("{v}")
        } else {
            format!("{}", v as u64)
        };
        out += &format!(
            "<line x1=\"{L}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\n",
            W - R,
            L - 5.0,
            py + 4.0
        );
    }
    out += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">clients</text>\n",
        (L + W - R) / 2.0,
        H - 12.0
    );
    let series = [
        (
            "wall seconds",
            "#1f5fbf",
            points
                .iter()
                .map(|p| (p.1, p.2.as_secs_f64()))
                .collect::<Vec<_>>(),
        ),
        (
            "peak RSS, MiB",
            "#d0021b",
            points.iter().map(|p| (p.1, p.3 as f64 / 1024.0)).collect(),
        ),
        ("60 s: real time", "#888", vec![(10, 60.0), (10_000, 60.0)]),
    ];
    for (k, (label, color, pts)) in series.iter().enumerate() {
        let path: Vec<String> = pts
            .iter()
            .map(|&(c, v)| format!("{:.1},{:.1}", x(c as f64), y(v)))
            .collect();
        let dash = if k == 2 {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        out += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>\n",
            path.join(" ")
        );
        if k < 2 {
            for &(c, v) in pts {
                out += &format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{c} clients: {v:.3}</title></circle>\n",
                    x(c as f64),
                    y(v)
                );
            }
        }
        out += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{label}</text>\n",
            L + 10.0,
            T + 14.0 + 14.0 * k as f64
        );
    }
    out + "</svg>\n"
}
