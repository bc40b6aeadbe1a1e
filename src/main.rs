//! The `wschaos` command line. Thin: parse, dispatch, exit with the code the command chose.

// Doc comments in `cli` are `--help` text for people, not rustdoc: no Markdown there.
#[allow(clippy::doc_markdown)]
mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose, args.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wschaos: cannot start the async runtime: {e}");
            return cli::Exit::Trouble.into();
        }
    };
    let exit = runtime.block_on(cli::dispatch(args.command));
    // A blocking read still waiting (stdin of `connect`, which reads action lines) must
    // not keep the process alive once the command is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    exit.into()
}
