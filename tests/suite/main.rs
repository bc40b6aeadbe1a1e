//! Every test but the simulated scenario library (`tests/scenarios.rs`), one binary
//! (`harness = false`, one link of the crate): the simulated and command-line tests (one
//! module per former test file, so `cargo test --test suite defects::` runs what `--test
//! defects` ran), and everything that runs in real time: the real-network files of the
//! library (`scenarios/real/`), the client and the server on loopback (`network`,
//! `hostile`), real-network runs with processes (`real_runs`, `foreign_server`, `signals`),
//! the HTML timeline in a browser (`browser`) and a small soak.
//!
//! Real-time tests mostly wait and simulations only compute, so they run side by side, each
//! through its own gate: a real-time test takes a share of the machine by weight
//! (`library::Share`: a test's weight is the processes it starts, a browser or a herd the
//! most any run may take, and the heavy ones go first), a simulated one takes a core
//! (`library::Core`). Every trial has its thread; the gates, not a pool, decide what runs.
//! Every run in real time measures how late the machine woke its timers and judges with
//! that margin, so a neighbour's load is not blamed on the client.
//!
//! A test is a plain `pub fn` (or `pub async fn`) in its module, listed in [`main`] with its
//! kind (`sim`, `manual` for a survey run by `--ignored`, and in real time `sync`, `tokio`,
//! `paused`, `multi`): one not listed is dead code, which the lints refuse.

use std::future::Future;

use library::{Core, Share};
use libtest_mimic::{Arguments, Trial};
use tokio::runtime::{Builder, Runtime};

#[path = "../shared/library.rs"]
mod library;

#[macro_use]
mod defective;

#[allow(dead_code)]
mod support;

mod browser;
mod cli;
mod client_restart;
mod defects;
mod determinism;
mod explore;
mod foreign_server;
mod fuzz_scenarios;
mod handover;
mod hostile;
mod network;
mod properties;
mod protocol_clients;
mod real_runs;
mod renaming;
mod scenario_claims;
mod scenario_errors;
mod shards;
mod signals;
mod simulation_smoke;
mod soak;

/// A test: its kind; in real time its weight (its share, [`Share`]) and about how many
/// seconds it takes (which decides, with the weight, its turn among those waiting); its
/// path.
macro_rules! t {
    ($kind:ident, $weight:expr, $seconds:expr, $first:ident $(:: $rest:ident)*) => {
        $kind(
            concat!(stringify!($first) $(, "::", stringify!($rest))*),
            ($weight, $seconds),
            $first $(:: $rest)*,
        )
    };
}

fn main() {
    let mut trials = library::trials(wschaos::world::World::RealNetwork, |_, _| Ok(()));
    trials.extend([
        t!(sync, 2, 7, real_runs::a_client_that_comes_back_passes_and_one_that_gives_up_fails),
        t!(sync, 2, 8, real_runs::a_cut_link_is_silence_and_the_heartbeat_notices),
        t!(sync, 2, 6, real_runs::every_process_is_stopped_even_one_that_ignores_sigterm),
        t!(sync, 2, 3, real_runs::a_missing_command_and_a_flood_are_named_not_hung),
        t!(sync, 2, 4, real_runs::client_actions_reach_the_process_on_stdin),
        t!(sync, 2, 8, real_runs::a_restarted_client_process_is_killed_started_again_and_judged_per_process),
        t!(sync, 2, 8, real_runs::a_simulated_file_runs_on_the_real_network_with_its_built_in_clients),
        t!(sync, 2, 21, real_runs::a_dial_abandoned_during_a_hold_never_reaches_the_server),
        t!(sync, 2, 6, real_runs::steps_fired_on_a_status_change_reach_the_process),
        t!(sync, 2, 16, foreign_server::a_server_command_is_restarted_drained_kicked_flapped_and_rejected),
        t!(sync, 2, 3, foreign_server::a_server_command_that_never_gets_ready_is_a_clear_error_and_is_stopped),
        t!(sync, 2, 5, foreign_server::a_server_command_that_exits_by_itself_fails_the_run),
        t!(sync, 2, 4, foreign_server::a_server_command_that_does_not_come_back_after_a_restart_fails_the_run_and_keeps_it),
        t!(multi, 2, 1, soak::every_message_is_delivered_once_or_announced_across_restarts),
        t!(sync, 1, 1, signals::connect_ends_cleanly_on_ctrl_c_and_on_sigterm),
        t!(sync, 1, 1, signals::serve_stops_gracefully_on_sigterm_and_ctrl_c_with_1012),
        t!(sync, 1, 1, signals::serve_takes_fault_commands_on_stdin),
        t!(sync, 3, 2, browser::the_timeline_shows_lanes_faults_and_violations_in_a_real_browser),
        t!(tokio, 1, 1, network::access::a_token_is_required_when_configured),
        t!(tokio, 1, 1, network::access::only_allowed_origins_may_connect_from_a_browser),
        t!(tokio, 1, 1, network::budget::gives_up_after_max_attempts_then_reconnect_recovers),
        t!(paused, 1, 1, network::close::close_during_backoff_stops_all_dialing),
        t!(paused, 1, 1, network::close::dropping_every_handle_closes_the_client),
        t!(tokio, 1, 1, network::controls::a_kick_closes_current_connections_once_and_later_ones_stay),
        t!(tokio, 1, 1, network::controls::reject_and_flap_windows_are_reported_with_their_reasons),
        t!(tokio, 1, 1, network::controls::dropping_the_knobs_kicks_nobody),
        t!(tokio, 1, 1, network::half_open::heartbeat_detects_a_server_that_went_silent),
        t!(tokio, 1, 1, network::raw::raw_stream_survives_a_plain_server_restart),
        t!(tokio, 1, 1, network::restart::restart_keeps_streams_restores_topics_once_and_delivers_offline_publishes),
        t!(tokio, 1, 1, network::restart::presence_reaches_every_client),
        t!(tokio, 1, 1, network::restart::a_handed_over_socket_never_refuses_and_the_successor_serves_the_waiting_dial),
        t!(tokio, 1, 1, network::tls::messages_flow_over_wss_and_survive_a_restart),
        t!(tokio, 1, 1, network::tls::a_client_that_does_not_trust_the_certificate_refuses_it_clearly),
        t!(tokio, 1, 1, network::tls::plain_ws_against_a_tls_server_is_refused_by_the_server),
        t!(tokio, 1, 1, network::tls::a_wss_client_against_a_plain_server_fails_in_the_tls_handshake),
        t!(tokio, 1, 1, hostile::malformed_json_and_unknown_operations_get_error_frames_and_the_connection_stays),
        t!(tokio, 1, 1, hostile::bad_topics_and_subscription_floods_are_refused_per_request),
        t!(tokio, 1, 1, hostile::an_oversized_message_closes_with_1009_and_binary_with_1003),
        t!(tokio, 1, 1, hostile::fragment_floods_are_bounded_by_the_message_limit),
        t!(tokio, 1, 1, hostile::a_client_that_never_reads_is_cut_off_and_nobody_waits_for_it),
        t!(tokio, 1, 1, hostile::too_many_connections_are_refused_at_the_handshake_with_503),
        t!(tokio, 1, 1, hostile::servers::a_server_that_never_completes_the_handshake_times_out_and_is_retried),
        t!(tokio, 1, 1, hostile::servers::garbage_bytes_after_the_handshake_are_a_protocol_error),
        t!(tokio, 1, 1, hostile::servers::frames_after_the_close_frame_do_not_confuse_the_client),
        t!(tokio, 1, 1, hostile::servers::a_frame_bigger_than_the_limit_ends_the_connection_without_buffering_it),
        t!(tokio, 1, 1, hostile::servers::the_policy_bounds_the_messages_a_client_accepts),
        t!(tokio, 1, 1, hostile::servers::a_server_that_does_not_speak_the_protocol_is_reported_as_such),
        t!(tokio, 1, 1, hostile::servers::a_server_that_never_welcomes_is_given_up_on_after_max_attempts),
    ]);
    trials.extend([
        t!(sim, 0, 0, cli::demo_recovers_from_two_restarts_and_says_so),
        t!(sim, 0, 0, cli::bad_input_exits_2_with_a_reason),
        t!(sync, 1, 1, cli::connect_gives_up_with_exit_1_after_max_attempts),
        t!(sim, 0, 0, cli::run_passes_fails_and_refuses_with_the_documented_exit_codes),
        t!(sim, 0, 0, cli::run_with_a_seed_replays_one_case),
        t!(sim, 0, 0, cli::schema_is_json_describing_the_format),
        t!(sim, 0, 0, cli::explore_finds_shrinks_and_writes_a_regression_that_replays),
        t!(sim, 0, 0, cli::histories_are_identical_across_processes_for_a_nontrivial_scenario),
        t!(sim, 0, 0, cli::check_determinism_runs_each_case_twice),
        t!(sim, 0, 0, cli::run_speaks_json_and_junit_for_ci),
        t!(sim, 0, 0, cli::log_lines_of_a_simulated_run_carry_simulated_time),
        t!(sim, 0, 0, cli::explore_names_every_failing_seed),
        t!(sim, 0, 0, cli::help_shows_the_counter_placeholder),
        t!(sim, 0, 0, cli::explore_writes_regressions_into_the_files_own_library_from_anywhere),
        t!(sim, 0, 0, cli::report_files_carry_their_format_versions),
        t!(sim, 0, 0, cli::a_fault_that_touched_nothing_is_a_warning_and_strict_makes_it_a_failure),
        t!(sim, 0, 0, cli::run_real_and_connect_refuse_what_they_cannot_do_with_a_reason),
        t!(sync, 2, 6, cli::runs_repeats_real_cases_and_reports_k_of_n),
        t!(sim, 0, 0, cli::what_a_run_cannot_judge_is_said_in_every_output_and_strict_fails_it),
        t!(sim, 0, 0, client_restart::the_old_process_is_gone_and_the_new_one_starts_afresh_after_its_downtime),
        t!(sim, 0, 0, client_restart::a_restarted_run_replays_byte_for_byte),
        t!(sim, 0, 0, defects::connected_before_the_welcome_is_caught_against_the_servers_record),
        t!(sim, 0, 0, defects::every_defect_has_its_scenario),
        t!(sim, 0, 0, defects::a_fixed_delay_herd_of_twenty_is_caught_nearly_always),
        t!(sim, 0, 0, defects::a_server_that_replays_late_behind_a_gap_notice_is_caught),
        t!(sim, 0, 0, defects::a_server_dedup_that_remembers_the_last_id_is_caught),
        t!(manual, 0, 0, defects::catch_matrix),
        t!(sim, 0, 0, defects::the_wire_shows_subscriptions_forgotten_asked_twice_or_dropped),
        t!(sim, 0, 0, defects::forgets_resubscribe),
        t!(sim, 0, 0, defects::resubscribes_twice),
        t!(sim, 0, 0, defects::revives_unsubscribed),
        t!(sim, 0, 0, defects::resets_backoff_on_open),
        t!(sim, 0, 0, defects::no_jitter),
        t!(sim, 0, 0, defects::ignores_max_attempts),
        t!(sim, 0, 0, defects::reconnects_after_close),
        t!(sim, 0, 0, defects::connected_before_handshake),
        t!(sim, 0, 0, defects::drops_outbox),
        t!(sim, 0, 0, defects::sends_outbox_twice),
        t!(sim, 0, 0, defects::no_heartbeat),
        t!(sim, 0, 0, defects::two_sockets),
        t!(sim, 0, 0, defects::resends_acknowledged),
        t!(sim, 0, 0, defects::never_resumes),
        t!(sim, 0, 0, defects::fixed_delay),
        t!(sim, 0, 0, defects::misnumbers_retries),
        t!(sim, 0, 0, defects::retries_terminal),
        t!(sim, 0, 0, defects::publishes_before_resubscribe),
        t!(sim, 0, 0, defects::unsubscribe_never_sent),
        t!(sim, 0, 0, defects::dial_outlives_close),
        t!(sim, 0, 0, defects::heartbeat_leaks),
        t!(sim, 0, 0, defects::redials_at_once_on_1012),
        t!(sim, 0, 0, defects::stale_frames),
        t!(sim, 0, 0, defects::never_resets_backoff),
        t!(sim, 0, 0, defects::reuses_session),
        t!(sim, 0, 0, defects::no_connect_timeout),
        t!(sim, 0, 0, defects::stale_deadline),
        t!(sim, 0, 0, defects::replays_last_frame),
        t!(sim, 0, 0, defects::stays_down_after_clean_close),
        t!(sim, 0, 0, defects::closes_without_frame),
        t!(sim, 0, 0, defects::drops_subscribe_before_welcome),
        t!(sim, 0, 0, defects::own_sends_are_life),
        t!(sim, 0, 0, defects::requeues_and_keeps_in_flight),
        t!(sim, 0, 0, defects::keeps_backoff_after_failed),
        t!(sim, 0, 0, determinism::same_seed_same_bytes_for_a_nontrivial_scenario),
        t!(sim, 0, 0, determinism::same_seed_same_bytes_with_partitions_and_a_herd),
        t!(sim, 0, 0, determinism::different_seeds_give_different_runs),
        t!(sim, 0, 0, determinism::every_scenario_file_parses),
        t!(sim, 0, 0, explore::swarm_schedules_are_reproducible_and_valid),
        t!(sim, 0, 0, explore::a_regression_file_loads_back_as_a_known_failure),
        t!(sim, 0, 0, explore::steps_fired_by_status_changes_are_drawn_and_written_back_as_written),
        t!(sim, 0, 0, explore::the_calm_scenario_is_clean_for_the_reference_client),
        t!(sim, 0, 0, explore::swarm_finds_forgets_resubscribe),
        t!(sim, 0, 0, explore::swarm_finds_resubscribes_twice),
        t!(sim, 0, 0, explore::swarm_finds_revives_unsubscribed),
        t!(sim, 0, 0, explore::swarm_finds_resets_backoff_on_open),
        t!(sim, 0, 0, explore::swarm_finds_no_jitter),
        t!(sim, 0, 0, explore::swarm_finds_ignores_max_attempts),
        t!(sim, 0, 0, explore::swarm_finds_reconnects_after_close),
        t!(sim, 0, 0, explore::swarm_finds_connected_before_handshake),
        t!(sim, 0, 0, explore::swarm_finds_drops_outbox),
        t!(sim, 0, 0, explore::swarm_finds_sends_outbox_twice),
        t!(sim, 0, 0, explore::swarm_finds_no_heartbeat),
        t!(sim, 0, 0, explore::swarm_finds_two_sockets),
        t!(sim, 0, 0, explore::swarm_finds_resends_acknowledged_on_deploy_day),
        t!(sim, 0, 0, explore::swarm_finds_retries_terminal_among_give_ups),
        t!(sim, 0, 0, explore::swarm_finds_never_resets_backoff_among_give_ups),
        t!(sim, 0, 0, explore::swarm_finds_reuses_session_among_reloads),
        t!(sim, 0, 0, explore::swarm_finds_stale_deadline),
        t!(sim, 0, 0, explore::swarm_finds_stays_down_after_clean_close),
        t!(sim, 0, 0, explore::swarm_finds_replays_last_frame_in_chatter),
        t!(sim, 0, 0, fuzz_scenarios::values_at_the_types_limits_never_panic),
        t!(sim, 0, 0, fuzz_scenarios::arbitrary_text_never_panics),
        t!(sim, 0, 0, fuzz_scenarios::toml_shaped_noise_never_panics),
        t!(sim, 0, 0, fuzz_scenarios::mutated_scenarios_never_panic),
        t!(sim, 0, 0, handover::a_handed_over_restart_refuses_no_dial_and_everyone_is_back_at_once),
        t!(sim, 0, 0, handover::the_fault_record_says_the_socket_was_kept),
        t!(sim, 0, 0, handover::a_server_command_cannot_be_handed_a_socket),
        t!(sim, 0, 0, properties::the_reference_client_keeps_every_invariant_under_random_schedules),
        t!(sim, 0, 0, protocol_clients::graphql_clients_that_forget_or_double_their_subscriptions_are_named),
        t!(sim, 0, 0, protocol_clients::phoenix_clients_that_forget_or_double_their_joins_are_named),
        t!(sim, 0, 0, protocol_clients::the_reference_client_refuses_a_server_of_another_protocol),
        t!(sim, 0, 0, protocol_clients::a_declared_protocol_names_a_forgotten_subscription_from_the_wire),
        t!(sim, 0, 0, protocol_clients::a_broken_protocol_table_is_a_located_error),
        t!(sim, 0, 0, protocol_clients::a_decoder_of_ones_own_reads_the_wire_and_names_a_forgotten_subscription),
        t!(sim, 0, 0, renaming::faults_between_oddly_named_hosts_do_not_cry_wolf),
        t!(sim, 0, 0, scenario_claims::outbox_overflow_refuses_explicitly),
        t!(sim, 0, 0, scenario_claims::resume_from_history_replays_without_a_gap),
        t!(sim, 0, 0, scenario_claims::resume_beyond_history_announces_a_gap),
        t!(sim, 0, 0, scenario_claims::silent_death_is_only_noticed_by_the_heartbeat),
        t!(sim, 0, 0, scenario_claims::flaps_escalate_the_backoff_to_its_cap),
        t!(sim, 0, 0, scenario_claims::raw_clients_keep_receiving_frames_across_reconnects),
        t!(sim, 0, 0, scenario_claims::the_readme_lists_every_checker_with_the_evidence_it_needs),
        t!(sim, 0, 0, scenario_errors::the_good_file_is_good),
        t!(sim, 0, 0, scenario_errors::unknown_keys_wrong_types_and_bad_durations_are_located),
        t!(sim, 0, 0, scenario_errors::meaning_errors_are_located_with_what_is_allowed),
        t!(sim, 0, 0, scenario_errors::garbage_never_panics),
        t!(sim, 0, 0, scenario_errors::a_missing_file_says_so),
        t!(sim, 0, 0, scenario_errors::steps_fired_by_a_status_change_are_checked),
        t!(sim, 0, 0, scenario_errors::a_server_command_and_its_keys_are_checked),
        t!(sim, 0, 0, scenario_errors::a_host_holds_a_bounded_number_of_clients),
        t!(sim, 0, 0, shards::run_shards_are_disjoint_cover_the_run_exactly_and_merge_into_its_verdict),
        t!(sim, 0, 0, shards::explore_shards_sweep_every_seed_once_and_merge),
        t!(sim, 0, 0, shards::run_swarm_draws_the_schedule_explore_swarm_draws_for_that_seed),
        t!(sim, 0, 0, simulation_smoke::client_and_server_recover_from_a_restart_in_simulation),
        t!(sim, 0, 0, simulation_smoke::same_seed_same_history_byte_for_byte),
        t!(manual, 0, 0, simulation_smoke::print_history),
        t!(sim, 0, 0, simulation_smoke::a_host_out_of_ports_is_an_error_that_says_so),
    ]);
    // Heaviest first: the heavy runs are the longest chain (see `Share`), and a test that
    // starts early takes its place in a gate's queue early.
    trials.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight));
    let mut args = Arguments::from_args();
    // A thread per trial: the gates, not the pool, decide what runs at once.
    args.test_threads = args.test_threads.or(Some(trials.len().max(1)));
    libtest_mimic::run(&args, trials.into_iter().map(|(_, t)| t).collect()).exit();
}

/// A simulated test: it takes a core.
fn sim(name: &str, _: (usize, u64), test: fn()) -> (usize, Trial) {
    let trial = Trial::test(name, move || {
        let _core = Core::take();
        test();
        Ok(())
    });
    (0, trial)
}

/// A survey, not a check: run with `--ignored`.
fn manual(name: &str, size: (usize, u64), test: fn()) -> (usize, Trial) {
    let (weight, trial) = sim(name, size, test);
    (weight, trial.with_ignored_flag(true))
}

fn sync(name: &str, (weight, seconds): (usize, u64), test: fn()) -> (usize, Trial) {
    let trial = Trial::test(name, move || {
        let _share = Share::take(weight, seconds);
        test();
        Ok(())
    });
    (weight, trial)
}

/// On a current-thread runtime, as `#[tokio::test]`.
fn tokio<F: Future<Output = ()> + 'static>(
    name: &str,
    size: (usize, u64),
    test: fn() -> F,
) -> (usize, Trial) {
    on(name, size, test, || {
        Builder::new_current_thread().enable_all().build()
    })
}

/// With tokio's clock paused, as `#[tokio::test(start_paused = true)]`.
fn paused<F: Future<Output = ()> + 'static>(
    name: &str,
    size: (usize, u64),
    test: fn() -> F,
) -> (usize, Trial) {
    on(name, size, test, || {
        (Builder::new_current_thread().enable_all())
            .start_paused(true)
            .build()
    })
}

/// On two worker threads.
fn multi<F: Future<Output = ()> + 'static>(
    name: &str,
    size: (usize, u64),
    test: fn() -> F,
) -> (usize, Trial) {
    on(name, size, test, || {
        Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    })
}

fn on<F: Future<Output = ()> + 'static>(
    name: &str,
    (weight, seconds): (usize, u64),
    test: fn() -> F,
    runtime: fn() -> std::io::Result<Runtime>,
) -> (usize, Trial) {
    let trial = Trial::test(name, move || {
        let _share = Share::take(weight, seconds);
        let runtime = runtime().map_err(|e| format!("no tokio runtime: {e}"))?;
        runtime.block_on(test());
        Ok(())
    });
    (weight, trial)
}
