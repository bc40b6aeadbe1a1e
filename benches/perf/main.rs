//! The performance suite: `cargo bench` (release build). Measures, side by side in one run,
//! simulation speed (W10, W100, W1000 against the bare turmoil floor), sweep throughput,
//! memory, the real server's delivery rate against an aiohttp server, what the real-run
//! proxy costs (rate and added latency, against direct), and how fast 1,000
//! real clients recover from a server restart. Prints a results table with each target.
//!
//! `cargo bench -- sim` runs only the figures whose key contains `sim` (keys: `sim`,
//! `floor`, `sweep`, `scale` (or `memory`: W10 to W10000 once each in a fresh process,
//! wall time, peak RSS, `docs/scaling.svg`), `counts` (instructions under callgrind),
//! `delivery`, `proxy`, `recovery`).

mod counts;
mod delivery;
mod proxy;
mod recovery;
mod sim;
mod table;

use table::Table;

/// One section of the suite: adds its figures to the table.
type Measure = fn(&mut Table);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--fresh-run-of") {
        sim::print_fresh_run(args.get(at + 1).map_or("w10", String::as_str));
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--count-of") {
        counts::print_run(args.get(at + 1).map_or("w10", String::as_str));
        return;
    }
    let only: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let wanted = |key: &str| only.is_empty() || only.iter().any(|o| key.contains(o));
    let mut table = Table::default();
    // The real-network figures first and the scaling runs last: W10000's 15 GiB leaves the
    // kernel reclaiming memory for a while, which showed as a 31% spread in the delivery
    // runs that followed it (8% when run alone).
    let sections: [(&str, Measure); 7] = [
        ("delivery", delivery::compare),
        ("proxy", proxy::measure),
        ("recovery", recovery::measure),
        ("sim", sim::speed),
        ("sweep", sim::sweep),
        ("counts", counts::measure),
        ("scale", sim::scale),
    ];
    for (key, measure) in sections {
        if wanted(key) || (key == "sim" && wanted("floor")) || (key == "scale" && wanted("memory"))
        {
            table.section(key);
            measure(&mut table);
        }
    }
    table.print();
}
