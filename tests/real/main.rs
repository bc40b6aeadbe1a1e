//! Everything that runs in real time, one binary (`harness = false`): the real-network files
//! of the library (`scenarios/real/`), the client and the server on loopback (`network`,
//! `hostile`), real-network runs with processes (`real_runs`, `foreign_server`, `signals`),
//! the HTML timeline in a browser (`browser`) and a small soak.
//!
//! They mostly wait, so more of them run at once than the machine has cores, each taking a
//! share of it by weight (`library::Share`): a test's weight is the processes it starts, a
//! browser or a herd the most any run may take. Every run in real time measures how late the
//! machine woke its timers and judges with that margin, so a neighbour's load is not
//! blamed on the client. Cargo runs test binaries one after another, so no simulation
//! competes with them.
//!
//! A test is a plain `pub fn` (or `pub async fn`) in its module, listed in [`main`]: one not
//! listed is dead code, which the lints refuse.

use std::future::Future;

use library::{CAPACITY, Share};
use libtest_mimic::{Arguments, Trial};
use tokio::runtime::{Builder, Runtime};

#[path = "../shared/library.rs"]
mod library;

#[allow(dead_code)]
mod support;

mod browser;
mod foreign_server;
mod hostile;
mod network;
mod real_runs;
mod signals;
mod soak;

/// A test: its kind (`sync`, `tokio`, `paused`, `multi`), its weight, its path.
macro_rules! t {
    ($kind:ident, $weight:expr, $first:ident $(:: $rest:ident)*) => {
        $kind(
            concat!(stringify!($first) $(, "::", stringify!($rest))*),
            $weight,
            $first $(:: $rest)*,
        )
    };
}

fn main() {
    let mut args = Arguments::from_args();
    // As many threads as shares: the gate, not the pool, decides what runs at once.
    args.test_threads = args.test_threads.or(Some(CAPACITY));
    let mut trials = library::trials(wschaos::world::World::RealNetwork, |_, _| Ok(()));
    trials.extend([
        t!(sync, 2, real_runs::a_client_that_comes_back_passes_and_one_that_gives_up_fails),
        t!(sync, 2, real_runs::a_cut_link_is_silence_and_the_heartbeat_notices),
        t!(sync, 2, real_runs::every_process_is_stopped_even_one_that_ignores_sigterm),
        t!(sync, 2, real_runs::a_missing_command_and_a_flood_are_named_not_hung),
        t!(sync, 2, real_runs::client_actions_reach_the_process_on_stdin),
        t!(sync, 2, real_runs::a_restarted_client_process_is_killed_started_again_and_judged_per_process),
        t!(sync, 2, real_runs::a_simulated_file_runs_on_the_real_network_with_its_built_in_clients),
        t!(sync, 2, real_runs::a_dial_abandoned_during_a_hold_never_reaches_the_server),
        t!(sync, 2, real_runs::steps_fired_on_a_status_change_reach_the_process),
        t!(sync, 2, foreign_server::a_server_command_is_restarted_drained_kicked_flapped_and_rejected),
        t!(sync, 2, foreign_server::a_server_command_that_never_gets_ready_is_a_clear_error_and_is_stopped),
        t!(sync, 2, foreign_server::a_server_command_that_exits_by_itself_fails_the_run),
        t!(sync, 2, foreign_server::a_server_command_that_does_not_come_back_after_a_restart_fails_the_run_and_keeps_it),
        t!(multi, 2, soak::every_message_is_delivered_once_or_announced_across_restarts),
        t!(sync, 1, signals::connect_ends_cleanly_on_ctrl_c_and_on_sigterm),
        t!(sync, 1, signals::serve_stops_gracefully_on_sigterm_and_ctrl_c_with_1012),
        t!(sync, 1, signals::serve_takes_fault_commands_on_stdin),
        t!(sync, 3, browser::the_timeline_shows_lanes_faults_and_violations_in_a_real_browser),
        t!(tokio, 1, network::access::a_token_is_required_when_configured),
        t!(tokio, 1, network::access::only_allowed_origins_may_connect_from_a_browser),
        t!(tokio, 1, network::budget::gives_up_after_max_attempts_then_reconnect_recovers),
        t!(paused, 1, network::close::close_during_backoff_stops_all_dialing),
        t!(paused, 1, network::close::dropping_every_handle_closes_the_client),
        t!(tokio, 1, network::controls::a_kick_closes_current_connections_once_and_later_ones_stay),
        t!(tokio, 1, network::controls::reject_and_flap_windows_are_reported_with_their_reasons),
        t!(tokio, 1, network::controls::dropping_the_knobs_kicks_nobody),
        t!(tokio, 1, network::half_open::heartbeat_detects_a_server_that_went_silent),
        t!(tokio, 1, network::raw::raw_stream_survives_a_plain_server_restart),
        t!(tokio, 1, network::restart::restart_keeps_streams_restores_topics_once_and_delivers_offline_publishes),
        t!(tokio, 1, network::restart::presence_reaches_every_client),
        t!(tokio, 1, network::restart::a_handed_over_socket_never_refuses_and_the_successor_serves_the_waiting_dial),
        t!(tokio, 1, network::tls::messages_flow_over_wss_and_survive_a_restart),
        t!(tokio, 1, network::tls::a_client_that_does_not_trust_the_certificate_refuses_it_clearly),
        t!(tokio, 1, network::tls::plain_ws_against_a_tls_server_is_refused_by_the_server),
        t!(tokio, 1, network::tls::a_wss_client_against_a_plain_server_fails_in_the_tls_handshake),
        t!(tokio, 1, hostile::malformed_json_and_unknown_operations_get_error_frames_and_the_connection_stays),
        t!(tokio, 1, hostile::bad_topics_and_subscription_floods_are_refused_per_request),
        t!(tokio, 1, hostile::an_oversized_message_closes_with_1009_and_binary_with_1003),
        t!(tokio, 1, hostile::fragment_floods_are_bounded_by_the_message_limit),
        t!(tokio, 1, hostile::a_client_that_never_reads_is_cut_off_and_nobody_waits_for_it),
        t!(tokio, 1, hostile::too_many_connections_are_refused_at_the_handshake_with_503),
        t!(tokio, 1, hostile::servers::a_server_that_never_completes_the_handshake_times_out_and_is_retried),
        t!(tokio, 1, hostile::servers::garbage_bytes_after_the_handshake_are_a_protocol_error),
        t!(tokio, 1, hostile::servers::frames_after_the_close_frame_do_not_confuse_the_client),
        t!(tokio, 1, hostile::servers::a_frame_bigger_than_the_limit_ends_the_connection_without_buffering_it),
        t!(tokio, 1, hostile::servers::the_policy_bounds_the_messages_a_client_accepts),
        t!(tokio, 1, hostile::servers::a_server_that_does_not_speak_the_protocol_is_reported_as_such),
        t!(tokio, 1, hostile::servers::a_server_that_never_welcomes_is_given_up_on_after_max_attempts),
    ]);
    // Heaviest first: a test that needs the whole machine waits for it to empty, which
    // among light tests still to start would only happen at the end, one after another.
    trials.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight));
    libtest_mimic::run(&args, trials.into_iter().map(|(_, t)| t).collect()).exit();
}

fn sync(name: &str, weight: usize, test: fn()) -> (usize, Trial) {
    let trial = Trial::test(name, move || {
        let _share = Share::take(weight);
        test();
        Ok(())
    });
    (weight, trial)
}

/// On a current-thread runtime, as `#[tokio::test]`.
fn tokio<F: Future<Output = ()> + 'static>(
    name: &str,
    weight: usize,
    test: fn() -> F,
) -> (usize, Trial) {
    on(name, weight, test, || {
        Builder::new_current_thread().enable_all().build()
    })
}

/// With tokio's clock paused, as `#[tokio::test(start_paused = true)]`.
fn paused<F: Future<Output = ()> + 'static>(
    name: &str,
    weight: usize,
    test: fn() -> F,
) -> (usize, Trial) {
    on(name, weight, test, || {
        (Builder::new_current_thread().enable_all())
            .start_paused(true)
            .build()
    })
}

/// On two worker threads.
fn multi<F: Future<Output = ()> + 'static>(
    name: &str,
    weight: usize,
    test: fn() -> F,
) -> (usize, Trial) {
    on(name, weight, test, || {
        Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    })
}

fn on<F: Future<Output = ()> + 'static>(
    name: &str,
    weight: usize,
    test: fn() -> F,
    runtime: fn() -> std::io::Result<Runtime>,
) -> (usize, Trial) {
    let trial = Trial::test(name, move || {
        let _share = Share::take(weight);
        let runtime = runtime().map_err(|e| format!("no tokio runtime: {e}"))?;
        runtime.block_on(test());
        Ok(())
    });
    (weight, trial)
}
