//! Instruction counts under valgrind's callgrind: unlike wall time on a shared VM (1.5x
//! apart between runs), a count repeats to within a fraction of a percent, so a 5%
//! regression shows. Each figure is one fresh process under
//! `valgrind --tool=callgrind`, minus an empty process's count. Skipped, and said so,
//! where valgrind is missing.

use std::hint::black_box;
use std::process::Command;

use wschaos::explore;
use wschaos::sim::{self, ReferenceClient};

use crate::sim::{file, workload};
use crate::table::Table;

/// Seeds of W10 in the sweep batch (simulated and checked, as `explore` does).
const BATCH: u64 = 20;

/// What each child runs: a workload once, or the sweep batch.
pub fn print_run(what: &str) {
    match what {
        "none" => {}
        "sweep" => {
            let s = workload("w10");
            let path = file("w10");
            for seed in 1..=BATCH {
                let found = explore::try_seed::<ReferenceClient>(&s, &path, seed, false);
                assert!(matches!(found, Ok(None)), "W10 seed {seed} passes");
            }
        }
        name => {
            black_box(sim::run(&workload(name), 1).expect("the workload runs"));
        }
    }
}

/// Instructions a fresh process running `what` executes, from callgrind's summary line.
fn count(what: &str) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["--count-of", what])
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            last.join(" / ")
        ));
    }
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| "no `Collected` line from callgrind".into())
}

pub fn measure(table: &mut Table) {
    let base = match count("none") {
        Ok(n) => n,
        Err(e) => {
            table.add(
                "instruction counts (callgrind)",
                "reported",
                format!("not measured: {e}"),
                None,
            );
            return;
        }
    };
    for (what, figure) in [
        ("w10", "W10: instructions, one run".to_string()),
        ("w100", "W100: instructions, one run".to_string()),
        (
            "sweep",
            format!("sweep batch: instructions for {BATCH} W10 seeds, simulated and checked"),
        ),
    ] {
        let measured = match count(what) {
            Ok(n) => format!(
                "{:.1} M (an empty process's {:.1} M subtracted)",
                n.saturating_sub(base) as f64 / 1e6,
                base as f64 / 1e6
            ),
            Err(e) => format!("not measured: {e}"),
        };
        table.add(&figure, "reported", measured, None);
    }
}
