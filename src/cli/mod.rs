//! Subcommands, one file each, and what they share: exit codes, logging, JSON lines.

/// `println!` that ends the program quietly when stdout is gone (`wschaos run | head`),
/// instead of panicking on the broken pipe.
macro_rules! say {
    () => { $crate::cli::output::say(format_args!("\n"), false) };
    ($($arg:tt)*) => { $crate::cli::output::say(format_args!($($arg)*), true) };
}

/// `print!`, likewise.
macro_rules! say_raw {
    ($($arg:tt)*) => { $crate::cli::output::say(format_args!($($arg)*), false) };
}

mod connect;
mod demo;
mod explore;
mod merge;
mod output;
mod replay;
mod run;
mod schema;
mod serve;

use clap::{Parser, Subcommand};

/// wschaos: find reconnect bugs in WebSocket clients before their users do.
#[derive(Debug, Parser)]
#[command(name = "wschaos", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenario files in the deterministic simulation and check every invariant.
    /// Exit 0 when all pass, 1 on a violation, 2 on a bad scenario file.
    Run(run::Args),
    /// Sweep seeds (and, with --swarm, random fault schedules) in parallel; shrink each
    /// failure to a small scenario under scenarios/regressions/. Exit 1 when something failed.
    Explore(explore::Args),
    /// Join the `--json` outputs of the shards of one `run --shard` or `explore --shard`
    /// sweep into one verdict; refuse a missing or doubled shard. Exit 1 when a case
    /// failed, 2 when the shards do not make one whole sweep.
    Merge(merge::Args),
    /// Re-run one scenario and seed and print the whole story: status lanes, faults,
    /// messages, violations. Identical output on every run.
    Replay(replay::Args),
    /// Print the scenario file format as a JSON Schema (for editor completion).
    Schema,
    /// Run the broadcast server until Ctrl-C or SIGTERM, then close every connection with
    /// 1012 (service restart). Fault commands on stdin, one per line: kick CODE, reject
    /// STATUS, flap, admit, stop.
    Serve(serve::Args),
    /// Connect a reconnecting client and print every status change, message, gap and
    /// presence event as one JSON object per line.
    Connect(connect::Args),
    /// Start a server and two clients on loopback, restart the server twice, and print
    /// how the clients recover (JSON lines). Ends by itself.
    Demo(demo::Args),
}

/// Exit codes: 0 success, 1 the run found trouble, 2 bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything went as expected.
    Ok,
    /// The command ran and something failed (a client gave up, a demo did not recover).
    Trouble,
    /// The input was unusable (bad URL, bad flag value, address in use).
    BadInput,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(match exit {
            Exit::Ok => 0,
            Exit::Trouble => 1,
            Exit::BadInput => 2,
        })
    }
}

/// Runs a subcommand.
pub async fn dispatch(command: Command) -> Exit {
    match command {
        Command::Run(args) => run::run(args).await,
        Command::Explore(args) => explore::run(args).await,
        Command::Merge(args) => merge::run(args),
        Command::Replay(args) => replay::run(args).await,
        Command::Schema => schema::run(),
        Command::Serve(args) => serve::run(args).await,
        Command::Connect(args) => connect::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    }
}

/// Logs to stderr; `RUST_LOG` wins over `-v`/`-q`.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_timer(SimOrWallTime)
        .init();
}

/// Log timestamps: simulated time inside a simulation (`sim 12.340s`), the wall clock
/// otherwise. A simulated run's log lines then line up with its history.
struct SimOrWallTime;

impl tracing_subscriber::fmt::time::FormatTime for SimOrWallTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        match turmoil::sim_elapsed() {
            Some(t) => write!(w, "sim {:>4}.{:03}s", t.as_secs(), t.subsec_millis()),
            None => write!(
                w,
                "{}",
                humantime::format_rfc3339_millis(std::time::SystemTime::now())
            ),
        }
    }
}

/// Resolves at the first Ctrl-C (SIGINT) or SIGTERM: what `timeout`, systemd, `docker stop`
/// and a test harness send. A signal that cannot be watched is logged, never a panic, and
/// the other still works.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => Some(s),
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM");
                None
            }
        };
        tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => {}
            Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => None } } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reports a bad input on stderr and returns the matching exit code.
pub fn bad_input(what: impl std::fmt::Display) -> Exit {
    eprintln!("wschaos: {what}");
    Exit::BadInput
}
