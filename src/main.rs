use std::process::ExitCode;

use clap::Parser;
use promptlab::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let outcome = runtime.block_on(promptlab::app::run(cli));
    // Blocking work (the model thread) must not hold the process open.
    runtime.shutdown_background();
    if promptlab::cli::interrupted() {
        if let Err(e) = &outcome {
            eprintln!("promptlab: {e}");
        }
        return ExitCode::from(130);
    }
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("promptlab: {message}");
    ExitCode::FAILURE
}

/// Logs go to a file (`~/.cache/promptlab/promptlab.log`) so they never garble the terminal;
/// `PROMPTLAB_LOG` sets the filter (default `warn`).
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = promptlab::store::cache_dir()?;
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "promptlab.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROMPTLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
