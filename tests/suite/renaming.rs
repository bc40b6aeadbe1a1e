//! A verdict never depends on names. Every library scenario runs again renamed in its own
//! test (`tests/shared/renaming.rs`, from `tests/scenarios.rs`); here, the two false
//! positives of name-parsing checkers, reproduced directly.

use wschaos::check;
use wschaos::sim;

/// The two false positives of name-parsing checkers, reproduced directly: a hold on a
/// client host with a hyphen in its name, and a partition between two client hosts, one
/// of them named with `server` in it.
pub fn faults_between_oddly_named_hosts_do_not_cry_wolf() {
    let s = wschaos::scenario::parse(
        r#"
name = "odd-names"
duration = "40s"
[[clients]]
name = "subs"
host = "edge-1"
topics = ["news"]
[[clients]]
name = "pub"
host = "my-server-2"
publish = { topic = "news", every = "500ms" }
[[timeline]]
at = "5s"
do = "hold"
between = ["server", "edge-1"]
for = "3s"
[[timeline]]
at = "15s"
do = "partition"
between = ["edge-1", "my-server-2"]
for = "10s"
"#,
        "odd-names.toml",
    )
    .unwrap();
    for seed in 1..=5 {
        let history = sim::run(&s, seed).unwrap();
        let verdict = check::check(&s, &history);
        assert!(verdict.passed(), "seed {seed}: {:#?}", verdict.violations);
    }
}
