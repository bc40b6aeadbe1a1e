//! Exploring: swarm schedules are reproducible and valid, regression files load back, and
//! swarm exploration from a clean scenario finds each deliberate defect, shrunk small.

use wschaos::client::Defect;
use wschaos::explore::{self, Failure};
use wschaos::scenario::{self, Scenario};
use wschaos::sim::{ClientUnderTest, ReferenceClient};

fn calm() -> Scenario {
    scenario::load("scenarios/swarm/calm.toml".as_ref()).unwrap()
}

pub fn swarm_schedules_are_reproducible_and_valid() {
    let base = calm();
    let mut empty = 0;
    for seed in 1..40 {
        let drawn = explore::swarm(&base, seed);
        assert_eq!(drawn, explore::swarm(&base, seed), "seed {seed}");
        empty += usize::from(drawn.timeline.is_empty());
        let text = toml::to_string(&drawn).unwrap();
        let back = scenario::parse(&text, "drawn.toml")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(back.timeline.len(), drawn.timeline.len());
    }
    assert!(empty <= 4, "{empty} of 39 seeds drew nothing");
    assert_ne!(
        explore::swarm(&base, 1).timeline,
        explore::swarm(&base, 2).timeline
    );
}

pub fn a_regression_file_loads_back_as_a_known_failure() {
    let drawn = explore::swarm(&calm(), 3);
    // Shrunk for a client of one's own: the replay line runs that client's suite, with
    // the features it was built with, not the reference client.
    let suite = wschaos::testing::Suite::<ReferenceClient>::new().cargo_args("--features bug");
    let replay = suite.replay_command("tests/scenarios/x.toml".as_ref(), 3);
    assert!(
        replay.starts_with("WSCHAOS_SEED=3 cargo test")
            && replay.contains(" --features bug -- --exact 'tests/scenarios/x.toml::seed_3'"),
        "{replay}"
    );
    let text = explore::render(
        &drawn,
        ("delivery", &["expect_final"]),
        3,
        "scenarios/swarm/calm.toml (swarm)",
        ("abc1234", "2026-11-26"),
        &replay,
    );
    assert!(text.starts_with("# Regression found by `wschaos explore` on 2026-11-26."));
    assert!(text.contains(&format!("# replay:    {replay}\n")), "{text}");
    let back = scenario::parse(&text, "x.toml").unwrap();
    assert_eq!(back.expect.failing.as_deref(), Some("delivery"));
    // What else the case breaks is skipped, and said, so the file tests one bug.
    assert_eq!(back.expect.skip, ["expect_final"]);
    assert!(text.contains("# also broken: expect_final"), "{text}");
    assert_eq!(back.seeds, [3]);
    assert_eq!(back.timeline, drawn.timeline);
    assert_eq!(
        explore::file_name("calm", "delivery", 3),
        "calm-delivery-3.toml"
    );
}

pub fn steps_fired_by_status_changes_are_drawn_and_written_back_as_written() {
    let drawn: usize = (1..=20)
        .map(|seed| {
            explore::swarm(&calm(), seed)
                .timeline
                .iter()
                .filter(|st| st.on.is_some())
                .count()
        })
        .sum();
    assert!(drawn >= 10, "{drawn} triggered steps in 20 seeds");
    let file = scenario::load("scenarios/basics/actions-on-transitions.toml".as_ref()).unwrap();
    let text = explore::render(
        &file,
        ("delivery", &[]),
        1,
        "x",
        ("abc1234", "2026-11-28"),
        &explore::cli_replay("x.toml", 1),
    );
    assert!(
        text.contains("# replay:    cargo run --release -- replay x.toml --seed 1\n"),
        "{text}"
    );
    assert!(text.contains("on = \"connecting\"\nnth = 2\n"), "{text}");
    let back = scenario::parse(&text, "x.toml").unwrap();
    assert_eq!(back.timeline, file.timeline);
}

/// Seeds tried before giving up on finding a defect.
const SEED_BUDGET: u64 = 40;
/// Simulations allowed for shrinking one failure.
const SHRINK_BUDGET: usize = 150;

/// Explores `file` in swarm mode with `C` until a seed fails; shrinks it.
fn hunt_in<C: ClientUnderTest>(file: &str) -> Option<(u64, Failure, explore::Shrunk)> {
    let base = scenario::load(file.as_ref()).unwrap();
    let file = std::path::PathBuf::from(file);
    for seed in 1..=SEED_BUDGET {
        if let Some(failure) = explore::try_seed::<C>(&base, &file, seed, true).unwrap() {
            let shrunk = explore::shrink::<C>(&failure, SHRINK_BUDGET);
            return Some((seed, failure, shrunk));
        }
    }
    None
}

pub fn the_calm_scenario_is_clean_for_the_reference_client() {
    let base = calm();
    for seed in 1..=10 {
        let found =
            explore::try_seed::<ReferenceClient>(&base, "calm".as_ref(), seed, true).unwrap();
        assert!(
            found.is_none(),
            "seed {seed}: {:?}",
            found.map(|f| f.violation)
        );
    }
}

macro_rules! found_by_swarm {
    ($test:ident, $defect:expr) => {
        found_by_swarm!($test, $defect, "scenarios/swarm/calm.toml");
    };
    ($test:ident, $defect:expr, $file:literal) => {
        pub fn $test() {
            defective!(Client, $defect);
            let (seed, failure, shrunk) = hunt_in::<Client>($file)
                .unwrap_or_else(|| panic!("{:?} not found in {SEED_BUDGET} seeds", $defect));
            let before = failure.case.scenario.timeline.len();
            let after = shrunk.scenario.timeline.len();
            let clients = |s: &Scenario| s.clients.iter().map(|g| g.count).sum::<usize>();
            println!(
                "| {:?} | {seed} | `{}` | {before} -> {after} | {} -> {} | {} |",
                $defect,
                shrunk.invariant,
                clients(&failure.case.scenario),
                clients(&shrunk.scenario),
                shrunk.runs
            );
            assert!(after <= before);
            assert!(
                explore::still_fails::<Client>(&shrunk.scenario, seed, shrunk.invariant),
                "the shrunk case replays"
            );
        }
    };
}

found_by_swarm!(swarm_finds_forgets_resubscribe, Defect::ForgetsResubscribe);
found_by_swarm!(swarm_finds_resubscribes_twice, Defect::ResubscribesTwice);
found_by_swarm!(
    swarm_finds_revives_unsubscribed,
    Defect::RevivesUnsubscribed
);
found_by_swarm!(
    swarm_finds_resets_backoff_on_open,
    Defect::ResetsBackoffOnOpen
);
found_by_swarm!(swarm_finds_no_jitter, Defect::NoJitter);
found_by_swarm!(swarm_finds_ignores_max_attempts, Defect::IgnoresMaxAttempts);
found_by_swarm!(
    swarm_finds_reconnects_after_close,
    Defect::ReconnectsAfterClose
);
found_by_swarm!(
    swarm_finds_connected_before_handshake,
    Defect::ConnectedBeforeHandshake
);
found_by_swarm!(swarm_finds_drops_outbox, Defect::DropsOutbox);
found_by_swarm!(swarm_finds_sends_outbox_twice, Defect::SendsOutboxTwice);
found_by_swarm!(swarm_finds_no_heartbeat, Defect::NoHeartbeat);
found_by_swarm!(swarm_finds_two_sockets, Defect::TwoSockets);

// A client that resends what the server acknowledged is invisible after crashes (a resend
// is then legitimate) and found once deploy-style restarts are among the drawn faults.
found_by_swarm!(
    swarm_finds_resends_acknowledged_on_deploy_day,
    Defect::ResendsAcknowledged,
    "scenarios/swarm/deploys.toml"
);

// A client that retries a close code or a handshake status its policy calls terminal is
// found once such codes are among the drawn kicks and rejections.
found_by_swarm!(
    swarm_finds_retries_terminal_among_give_ups,
    Defect::RetriesTerminal,
    "scenarios/swarm/give-ups.toml"
);
found_by_swarm!(
    swarm_finds_never_resets_backoff_among_give_ups,
    Defect::NeverResetsBackoff,
    "scenarios/swarm/give-ups.toml"
);

// A client that keeps its session across a process restart is found once client processes
// are restarted among the drawn actions.
found_by_swarm!(
    swarm_finds_reuses_session_among_reloads,
    Defect::ReusesSession,
    "scenarios/swarm/reloads.toml"
);

// A client that sets its connect deadline before its backoff wait fails dials on a healthy
// network once its waits grow past connect_timeout: the long outages of give-ups show it.
found_by_swarm!(
    swarm_finds_stale_deadline,
    Defect::StaleDeadline,
    "scenarios/swarm/give-ups.toml"
);

// A raw client that replays the last frame of a lost connection is found by `relayed` in
// the article's broadcast protocol.
// A client that takes a server's close frame as the end is found by the drawn kicks and
// graceful restarts of deploy day.
found_by_swarm!(
    swarm_finds_stays_down_after_clean_close,
    Defect::StaysDownAfterCleanClose,
    "scenarios/swarm/deploys.toml"
);

found_by_swarm!(
    swarm_finds_replays_last_frame_in_chatter,
    Defect::ReplaysLastFrame,
    "scenarios/swarm/chatter.toml"
);
