//! Each classic reconnect bug, built into the reference client on purpose, is caught by a
//! scenario of the library, with the right invariant named. A defect that its scenario
//! does not catch fails here (and so does a scenario that stops catching it).

use wschaos::check;
use wschaos::client::Defect;
use wschaos::sim::{self, ClientUnderTest, ReferenceClient};

#[path = "shared/defective.rs"]
mod defective;

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

macro_rules! caught {
    ($test:ident, $defect:expr, $scenario:literal, $invariant:literal) => {
        #[test]
        fn $test() {
            defective!(Client, $defect);
            assert_caught::<Client>($scenario, $invariant);
        }
    };
}

caught!(
    forgets_resubscribe,
    Defect::ForgetsResubscribe,
    "restarts/short-restart.toml",
    "topics_restored"
);
caught!(
    resubscribes_twice,
    Defect::ResubscribesTwice,
    "restarts/short-restart.toml",
    "topics_restored"
);
caught!(
    revives_unsubscribed,
    Defect::RevivesUnsubscribed,
    "basics/unsubscribe-while-offline.toml",
    "topics_restored"
);
caught!(
    resets_backoff_on_open,
    Defect::ResetsBackoffOnOpen,
    "flaps/flap-escalates.toml",
    "backoff_escalates"
);
caught!(
    no_jitter,
    Defect::NoJitter,
    "herd/herd-after-restart.toml",
    "herd_spread"
);
caught!(
    ignores_max_attempts,
    Defect::IgnoresMaxAttempts,
    "restarts/crash-until-give-up.toml",
    "attempt_budget"
);
caught!(
    reconnects_after_close,
    Defect::ReconnectsAfterClose,
    "basics/close-during-backoff.toml",
    "silence_after_close"
);
caught!(
    connected_before_handshake,
    Defect::ConnectedBeforeHandshake,
    "flaps/handshake-rejected.toml",
    "status_moves"
);
caught!(
    drops_outbox,
    Defect::DropsOutbox,
    "basics/publish-while-offline.toml",
    "outbox"
);
caught!(
    sends_outbox_twice,
    Defect::SendsOutboxTwice,
    "basics/publish-while-offline.toml",
    "outbox"
);
caught!(
    no_heartbeat,
    Defect::NoHeartbeat,
    "partitions/silent-server-death.toml",
    "heartbeat_detection"
);
caught!(
    two_sockets,
    Defect::TwoSockets,
    "restarts/short-restart.toml",
    "single_connection"
);
caught!(
    resends_acknowledged,
    Defect::ResendsAcknowledged,
    "restarts/graceful-restart.toml",
    "delivery"
);

caught!(
    never_resumes,
    Defect::NeverResumes,
    "restarts/short-restart.toml",
    "delivery"
);

caught!(
    fixed_delay,
    Defect::FixedDelay,
    "flaps/flap-escalates.toml",
    "backoff_escalates"
);

caught!(
    misnumbers_retries,
    Defect::MisnumbersRetries,
    "restarts/crash-until-give-up.toml",
    "status_moves"
);

caught!(
    retries_terminal,
    Defect::RetriesTerminal,
    "basics/close-codes.toml",
    "close_codes"
);

caught!(
    publishes_before_resubscribe,
    Defect::PublishesBeforeResubscribe,
    "basics/subscribe-and-publish-offline.toml",
    "restore_order"
);

caught!(
    unsubscribe_never_sent,
    Defect::UnsubscribeNeverSent,
    "basics/unsubscribe-while-connected.toml",
    "topics_restored"
);

caught!(
    dial_outlives_close,
    Defect::DialOutlivesClose,
    "basics/close-during-held-dial.toml",
    "silence_after_close"
);

caught!(
    heartbeat_leaks,
    Defect::HeartbeatLeaks,
    "partitions/heartbeat-after-reconnect.toml",
    "heartbeat_detection"
);

caught!(
    redials_at_once_on_1012,
    Defect::RedialsAtOnceOn1012,
    "restarts/service-restart-kicks.toml",
    "backoff_escalates"
);

caught!(
    stale_frames,
    Defect::StaleFrames,
    "restarts/short-restart.toml",
    "stale_frames"
);

#[test]
fn the_table_covers_every_defect() {
    // Keep in step with the `caught!` lines above and the README's table.
    assert_eq!(Defect::ALL.len(), 23);
}
