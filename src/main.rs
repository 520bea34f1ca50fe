use std::process::ExitCode;

use clap::Parser;
use promptlab::cli::Cli;

fn main() -> ExitCode {
    for var in ["OPENAI_API_KEY", "HF_TOKEN"] {
        if let Ok(v) = std::env::var(var) {
            promptlab::backend::keep_secret(&v);
        }
    }
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
            promptlab::cli::out::note(&format!("promptlab: {e}"));
        }
        return ExitCode::from(promptlab::cli::exit_code());
    }
    match outcome {
        // The reader of stdout went away (`| head`): quiet, as a tool SIGPIPE ended.
        Ok(_) if promptlab::cli::out::closed() => ExitCode::from(141),
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    promptlab::cli::out::note(&format!("promptlab: {message}"));
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
        .with_writer(Redacting(writer))
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}

/// The log's writer: every line passes `redact_secrets` before it reaches the file, whoever
/// logged it (async-openai's own warnings quote server error bodies, which may echo the key).
struct Redacting<W>(W);

impl<'a, W: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Redacting<W>
{
    type Writer = RedactingWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

struct RedactingWriter<W>(W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    /// One formatted event arrives in one call: it is redacted whole and written whole.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(promptlab::backend::redact_secrets(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
