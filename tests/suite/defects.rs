//! Each classic reconnect bug, built into the reference client on purpose, is caught by a
//! scenario of the library, with the right invariant named. A defect that its scenario
//! does not catch fails here (and so does a scenario that stops catching it).

use wschaos::check;
use wschaos::client::Defect;
use wschaos::sim::{self, ClientUnderTest, ReferenceClient};

/// Runs `scenario` (under `scenarios/`) with client `C` on each of its seeds and returns
/// the invariants that fired, with one sample message each.
fn fired<C: ClientUnderTest>(scenario: &str) -> Vec<(&'static str, String)> {
    let s = wschaos::scenario::load(format!("scenarios/{scenario}").as_ref()).unwrap();
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for seed in &s.seeds {
        let history = sim::run_with::<C>(&s, *seed).unwrap();
        for v in check::check(&s, &history).violations {
            if !found.iter().any(|(name, _)| *name == v.invariant) {
                let who = v.client.clone().unwrap_or_default();
                found.push((v.invariant, format!("{who}: {}", v.message)));
            }
        }
    }
    found
}

fn assert_caught<C: ClientUnderTest>(scenario: &str, invariant: &str) {
    let clean = fired::<ReferenceClient>(scenario);
    assert!(
        clean.is_empty(),
        "the reference client itself fails {scenario}: {clean:#?}"
    );
    let fired = fired::<C>(scenario);
    assert!(
        fired.iter().any(|(name, _)| *name == invariant),
        "{scenario} did not catch it with {invariant}; it fired {fired:#?}"
    );
}

/// The two library scenarios that catch `defect`, each with the invariant that must fire:
/// every class of bug is caught by at least two files, so one file's shape is not all
/// that stands between the bug and a green run. A `match`, so a new defect does not
/// compile without its two scenarios.
fn caught_by(defect: Defect) -> [(&'static str, &'static str); 2] {
    match defect {
        Defect::ForgetsResubscribe => [
            ("restarts/short-restart.toml", "topics_restored"),
            ("restarts/graceful-restart.toml", "topics_restored"),
        ],
        Defect::ResubscribesTwice => [
            ("restarts/short-restart.toml", "topics_restored"),
            ("basics/close-codes.toml", "topics_restored"),
        ],
        Defect::RevivesUnsubscribed => [
            ("basics/unsubscribe-while-offline.toml", "topics_restored"),
            ("edges/hunt-ghost-in-the-backoff.toml", "topics_restored"),
        ],
        Defect::ResetsBackoffOnOpen => [
            ("flaps/flap-escalates.toml", "backoff_escalates"),
            ("edges/hunt-dial-at-the-end.toml", "backoff_escalates"),
        ],
        Defect::NoJitter => [
            ("herd/herd-after-restart.toml", "herd_spread"),
            ("herd/twenty-after-restart.toml", "herd_spread"),
        ],
        Defect::IgnoresMaxAttempts => [
            ("restarts/crash-until-give-up.toml", "attempt_budget"),
            (
                "restarts/manual-reconnect-after-failed.toml",
                "attempt_budget",
            ),
        ],
        Defect::ReconnectsAfterClose => [
            ("basics/close-during-backoff.toml", "silence_after_close"),
            ("basics/close-cleanly.toml", "silence_after_close"),
        ],
        Defect::ConnectedBeforeHandshake => [
            ("flaps/handshake-rejected.toml", "status_moves"),
            ("partitions/oneway-partition.toml", "status_moves"),
        ],
        Defect::DropsOutbox => [
            ("basics/publish-while-offline.toml", "outbox"),
            ("edges/publish-into-a-silent-cut.toml", "outbox"),
        ],
        Defect::SendsOutboxTwice => [
            ("basics/publish-while-offline.toml", "outbox"),
            ("edges/publish-into-a-silent-cut.toml", "outbox"),
        ],
        Defect::NoHeartbeat => [
            ("partitions/silent-server-death.toml", "heartbeat_detection"),
            ("partitions/black-hole.toml", "heartbeat_detection"),
        ],
        Defect::TwoSockets => [
            ("restarts/short-restart.toml", "single_connection"),
            ("basics/broadcast.toml", "single_connection"),
        ],
        Defect::ResendsAcknowledged => [
            ("restarts/graceful-restart.toml", "delivery"),
            ("restarts/graceful-handover.toml", "delivery"),
        ],
        Defect::NeverResumes => [
            ("restarts/short-restart.toml", "delivery"),
            ("basics/publish-while-offline.toml", "delivery"),
        ],
        Defect::FixedDelay => [
            ("flaps/flap-escalates.toml", "backoff_escalates"),
            ("restarts/long-restart.toml", "redial_on_time"),
        ],
        Defect::MisnumbersRetries => [
            ("restarts/crash-until-give-up.toml", "status_moves"),
            ("basics/broadcast.toml", "status_moves"),
        ],
        Defect::RetriesTerminal => [
            ("basics/close-codes.toml", "close_codes"),
            ("basics/terminal-codes-of-its-own.toml", "close_codes"),
        ],
        Defect::PublishesBeforeResubscribe => [
            ("basics/subscribe-and-publish-offline.toml", "restore_order"),
            ("basics/publish-while-offline.toml", "restore_order"),
        ],
        Defect::UnsubscribeNeverSent => [
            ("basics/unsubscribe-while-connected.toml", "topics_restored"),
            (
                "edges/hunt-unsubscribe-into-a-dead-stream.toml",
                "topics_restored",
            ),
        ],
        Defect::DialOutlivesClose => [
            ("basics/close-during-held-dial.toml", "silence_after_close"),
            (
                "basics/close-during-a-slow-handshake.toml",
                "silence_after_close",
            ),
        ],
        Defect::HeartbeatLeaks => [
            (
                "partitions/heartbeat-after-reconnect.toml",
                "heartbeat_detection",
            ),
            (
                "partitions/silent-cut-then-slow-welcome.toml",
                "heartbeat_detection",
            ),
        ],
        Defect::RedialsAtOnceOn1012 => [
            ("restarts/service-restart-kicks.toml", "backoff_escalates"),
            ("restarts/graceful-handover.toml", "herd_spread"),
        ],
        Defect::StaleFrames => [
            ("restarts/short-restart.toml", "stale_frames"),
            ("basics/presence.toml", "stale_frames"),
        ],
        Defect::NeverResetsBackoff => [
            ("restarts/repeated-restarts.toml", "redial_on_time"),
            ("basics/actions-on-transitions.toml", "redial_on_time"),
        ],
        Defect::ReusesSession => [
            ("basics/client-restart.toml", "outbox"),
            ("edges/hunt-reconnected-at-the-end.toml", "outbox"),
        ],
        Defect::NoConnectTimeout => [
            ("partitions/held-dials.toml", "dial_resolves"),
            ("edges/hunt-dial-caught-by-a-cut.toml", "dial_resolves"),
        ],
        Defect::StaleDeadline => [
            ("restarts/long-restart.toml", "dial_connects"),
            ("basics/close-codes.toml", "dial_connects"),
        ],
        Defect::ReplaysLastFrame => [
            ("basics/broadcast.toml", "relayed"),
            ("restarts/broadcast-chat-through-deploys.toml", "relayed"),
        ],
        Defect::StaysDownAfterCleanClose => [
            ("edges/late-kick.toml", "settles"),
            ("basics/kick-codes.toml", "expect_reconnect"),
        ],
        Defect::ClosesWithoutFrame => [
            ("basics/close-cleanly.toml", "clean_close"),
            ("basics/presence.toml", "clean_close"),
        ],
        Defect::DropsSubscribeBeforeWelcome => [
            (
                "edges/subscribe-while-awaiting-welcome.toml",
                "topics_restored",
            ),
            (
                "partitions/silent-cut-then-slow-welcome.toml",
                "topics_restored",
            ),
        ],
        Defect::OwnSendsAreLife => [
            (
                "edges/publish-into-a-silent-cut.toml",
                "heartbeat_detection",
            ),
            ("edges/acks-lost-one-way.toml", "heartbeat_detection"),
        ],
        Defect::RequeuesAndKeepsInFlight => [
            ("basics/publish-while-offline.toml", "outbox"),
            ("restarts/short-restart.toml", "outbox"),
        ],
        Defect::KeepsBackoffAfterFailed => [
            ("restarts/reconnect-while-still-down.toml", "redial_on_time"),
            ("basics/close-codes.toml", "redial_on_time"),
        ],
    }
}

macro_rules! caught {
    ($test:ident, $defect:expr) => {
        pub fn $test() {
            defective!(Client, $defect);
            for (scenario, invariant) in caught_by($defect) {
                assert_caught::<Client>(scenario, invariant);
            }
        }
    };
}

caught!(forgets_resubscribe, Defect::ForgetsResubscribe);
caught!(resubscribes_twice, Defect::ResubscribesTwice);
caught!(revives_unsubscribed, Defect::RevivesUnsubscribed);
caught!(resets_backoff_on_open, Defect::ResetsBackoffOnOpen);
caught!(no_jitter, Defect::NoJitter);
caught!(ignores_max_attempts, Defect::IgnoresMaxAttempts);
caught!(reconnects_after_close, Defect::ReconnectsAfterClose);
caught!(connected_before_handshake, Defect::ConnectedBeforeHandshake);
caught!(drops_outbox, Defect::DropsOutbox);
caught!(sends_outbox_twice, Defect::SendsOutboxTwice);
caught!(no_heartbeat, Defect::NoHeartbeat);
caught!(two_sockets, Defect::TwoSockets);
caught!(resends_acknowledged, Defect::ResendsAcknowledged);
caught!(never_resumes, Defect::NeverResumes);
caught!(fixed_delay, Defect::FixedDelay);
caught!(misnumbers_retries, Defect::MisnumbersRetries);
caught!(retries_terminal, Defect::RetriesTerminal);
caught!(
    publishes_before_resubscribe,
    Defect::PublishesBeforeResubscribe
);
caught!(unsubscribe_never_sent, Defect::UnsubscribeNeverSent);
caught!(dial_outlives_close, Defect::DialOutlivesClose);
caught!(heartbeat_leaks, Defect::HeartbeatLeaks);
caught!(redials_at_once_on_1012, Defect::RedialsAtOnceOn1012);
caught!(stale_frames, Defect::StaleFrames);
caught!(never_resets_backoff, Defect::NeverResetsBackoff);
caught!(reuses_session, Defect::ReusesSession);
caught!(no_connect_timeout, Defect::NoConnectTimeout);
caught!(stale_deadline, Defect::StaleDeadline);
caught!(replays_last_frame, Defect::ReplaysLastFrame);
caught!(
    stays_down_after_clean_close,
    Defect::StaysDownAfterCleanClose
);
caught!(closes_without_frame, Defect::ClosesWithoutFrame);
caught!(
    drops_subscribe_before_welcome,
    Defect::DropsSubscribeBeforeWelcome
);
caught!(own_sends_are_life, Defect::OwnSendsAreLife);
caught!(
    requeues_and_keeps_in_flight,
    Defect::RequeuesAndKeepsInFlight
);
caught!(keeps_backoff_after_failed, Defect::KeepsBackoffAfterFailed);

/// Connected announced before the server took the connection, after a reconnect as at the
/// start: `connected_on_welcome` judges it against the server's record in any file.
pub fn connected_before_the_welcome_is_caught_against_the_servers_record() {
    defective!(Client, Defect::ConnectedBeforeHandshake);
    assert_caught::<Client>("restarts/short-restart.toml", "connected_on_welcome");
    assert_caught::<Client>("edges/late-kick.toml", "connected_on_welcome");
}

pub fn every_defect_has_its_scenario() {
    // `Defect::ALL` is generated with the enum (every variant, by construction) and
    // `caught_by` is a `match` (a new defect does not compile without its scenario).
    for &d in Defect::ALL {
        let [(a, _), (b, _)] = caught_by(d);
        assert_ne!(a, b, "{d:?}: two different files");
        for (file, invariant) in caught_by(d) {
            assert!(
                std::path::Path::new("scenarios").join(file).exists(),
                "{d:?}: {file}"
            );
            assert!(
                wschaos::check::NAMES.contains(&invariant),
                "{d:?}: {invariant}"
            );
        }
    }
    assert_eq!(Defect::ALL.len(), 34, "and a `caught!` test above for each");
}

/// The herd statistic's power, stated: 20 clients with a fixed delay (no jitter) are
/// caught in (nearly) every run, whatever the seed. `HERD_POWER_RUNS` raises the count
/// (the closing note of issue 24 reports 1,000).
pub fn a_fixed_delay_herd_of_twenty_is_caught_nearly_always() {
    defective!(Client, Defect::NoJitter);
    let runs: u64 = std::env::var("HERD_POWER_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let s = wschaos::scenario::load("scenarios/herd/twenty-after-restart.toml".as_ref()).unwrap();
    let caught = (0..runs)
        .filter(|&seed| {
            let h = sim::run_with::<Client>(&s, 10_000 + seed).unwrap();
            check::check(&s, &h)
                .violations
                .iter()
                .any(|v| v.invariant == "herd_spread")
        })
        .count() as u64;
    eprintln!("herd power: caught in {caught} of {runs} runs");
    assert!(
        caught * 1000 >= runs * 999,
        "caught in {caught} of {runs} runs"
    );
}

/// A server defect, set on a file's server, is caught there: the file passes with the
/// correct server on every seed, and with the defect some seed fires `invariant` with a
/// message that contains `says`.
fn server_defect_caught(
    file: &str,
    set: fn(&mut wschaos::server::ServerDefects),
    invariant: &str,
    says: &str,
) {
    let mut s = wschaos::scenario::load(format!("scenarios/{file}").as_ref()).unwrap();
    for &seed in &s.seeds {
        let clean = check::check(&s, &sim::run(&s, seed).unwrap());
        assert!(clean.passed(), "{file}: {:#?}", clean.violations);
    }
    set(&mut s.server.defects);
    let caught = s.seeds.iter().any(|&seed| {
        let h = sim::run(&s, seed).unwrap();
        (check::check(&s, &h).violations.iter())
            .any(|v| v.invariant == invariant && v.message.contains(says))
    });
    assert!(caught, "{file} did not catch it with {invariant}");
}

/// The server's word is judged too: a server that answers a resume within its epoch with a
/// history gap while it still holds the first missed message (and starts one late) hides a
/// loss behind a notice. `delivery` checks each history gap against the server's own record
/// of what it sequenced and what its history keeps.
pub fn a_server_that_replays_late_behind_a_gap_notice_is_caught() {
    for file in [
        "basics/resume-from-history.toml",
        "partitions/one-client-partitioned.toml",
    ] {
        let late = |d: &mut wschaos::server::ServerDefects| d.replays_late = true;
        server_defect_caught(file, late, "delivery", "answered with a history gap");
    }
}

/// Server dedup that remembers each session's last id instead of its highest: a publisher
/// whose acknowledgements were lost resends, oldest first, what the server already has,
/// and the older ids get through again. Judged from the server's record of publishes.
pub fn a_server_dedup_that_remembers_the_last_id_is_caught() {
    for file in [
        "edges/acks-lost-one-way.toml",
        "edges/hunt-confirmation-into-a-cut.toml",
    ] {
        let last = |d: &mut wschaos::server::ServerDefects| d.dedup_last = true;
        server_defect_caught(file, last, "outbox", "");
    }
}

/// The reference client with the defect `MATRIX_DEFECT` selects (an index into
/// `Defect::ALL`), for the catch matrix below, which runs one defect at a time.
static MATRIX_DEFECT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

defective!(
    AnyDefect,
    Defect::ALL[MATRIX_DEFECT.load(std::sync::atomic::Ordering::Relaxed)]
);

/// Which library files catch which defect, with which invariants: every defect (or those
/// named in `DEFECTS`, comma-separated) against every simulated file and seed. A survey,
/// not a check (`cargo test --test suite -- --ignored catch_matrix --nocapture`).
pub fn catch_matrix() {
    let only = std::env::var("DEFECTS").unwrap_or_default();
    let server = std::env::var("SERVER_DEFECT").unwrap_or_default();
    let files = wschaos::cases::discover(&["scenarios".into()]).unwrap();
    let library: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with("scenarios/swarm") && !f.starts_with("scenarios/real"))
        .map(|f| (f, wschaos::scenario::load(f).unwrap()))
        .collect();
    if !server.is_empty() {
        let mut caught = Vec::new();
        for (f, s) in &library {
            let mut s = s.clone();
            match server.as_str() {
                "replays_late" => s.server.defects.replays_late = true,
                "dedup_last" => s.server.defects.dedup_last = true,
                other => panic!("no server defect {other:?}"),
            }
            let mut fired = std::collections::BTreeSet::new();
            for &seed in &s.seeds {
                let h = sim::run(&s, seed).unwrap();
                fired.extend(check::check(&s, &h).violations.iter().map(|v| v.invariant));
            }
            if !fired.is_empty() {
                caught.push(format!("{} {fired:?}", f.display()));
            }
        }
        println!(
            "server {server}: {} files\n  {}",
            caught.len(),
            caught.join("\n  ")
        );
        return;
    }
    for (i, d) in Defect::ALL.iter().enumerate() {
        if !only.is_empty() && !only.split(',').any(|n| n == format!("{d:?}")) {
            continue;
        }
        MATRIX_DEFECT.store(i, std::sync::atomic::Ordering::Relaxed);
        let mut caught = Vec::new();
        for (f, s) in &library {
            let mut fired = std::collections::BTreeSet::new();
            for &seed in &s.seeds {
                let Ok(h) = sim::run_with::<AnyDefect>(s, seed) else {
                    continue;
                };
                fired.extend(check::check(s, &h).violations.iter().map(|v| v.invariant));
            }
            if !fired.is_empty() {
                caught.push(format!("{} {fired:?}", f.display()));
            }
        }
        println!("{d:?}: {} files\n  {}", caught.len(), caught.join("\n  "));
    }
}

/// The wire catches the subscription bugs from the client's own frames, where the server's
/// record is not needed: a resubscribe forgotten, one sent twice, a subscribe dropped
/// while the welcome was on its way. (`subscribed_on_wire`; the catch survey finds it in
/// 62, 63 and 2 files of the library.)
pub fn the_wire_shows_subscriptions_forgotten_asked_twice_or_dropped() {
    defective!(Forgets, Defect::ForgetsResubscribe);
    defective!(Twice, Defect::ResubscribesTwice);
    defective!(Dropped, Defect::DropsSubscribeBeforeWelcome);
    let wire = "subscribed_on_wire";
    for file in ["restarts/short-restart.toml", "partitions/black-hole.toml"] {
        assert_caught::<Forgets>(file, wire);
    }
    for file in ["restarts/short-restart.toml", "basics/close-codes.toml"] {
        assert_caught::<Twice>(file, wire);
    }
    for file in [
        "edges/subscribe-while-awaiting-welcome.toml",
        caught_by(Defect::DropsSubscribeBeforeWelcome)[1].0,
    ] {
        assert_caught::<Dropped>(file, wire);
    }
}
