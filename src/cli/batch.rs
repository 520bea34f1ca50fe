//! `eval --batch` and `promptlab batch status|resume ID`: an evaluation's missing samples sent
//! through a Files and Batches API (`engine::batches`: submitted, remembered, followed,
//! resumed), shown here with a progress bar, and scored when the output is back.

use std::sync::Mutex;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use super::{BatchAction, BatchArgs, Cli, Command, EvalArgs};
use crate::core::record::host_of;
use crate::engine::backends::{Backends, Server};
use crate::engine::batches::{self, BatchEvent};

/// Shows a batch's events: a line when it is submitted, a progress bar while it runs.
struct Shown(Mutex<Option<ProgressBar>>);

impl Shown {
    fn new() -> Shown {
        Shown(Mutex::new(None))
    }

    fn show(&self, e: BatchEvent) {
        let mut bar = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match e {
            BatchEvent::Submitted { id, requests } => crate::tell!(
                "submitted batch {id} ({requests} requests); closing promptlab loses nothing: `promptlab batch resume {id}`"
            ),
            BatchEvent::Polled { id, status, counts } => {
                let b = bar.get_or_insert_with(|| {
                    ProgressBar::new(0).with_style(
                        ProgressStyle::with_template("batch {msg} {bar:30} {pos}/{len} requests")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    )
                });
                if let Some((done, total)) = counts {
                    b.set_length(total);
                    b.set_position(done);
                }
                b.set_message(
                    crate::core::display::visible(&format!("{id} {status}")).into_owned(),
                );
            }
            BatchEvent::Ended { id, expired } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                if expired {
                    crate::tell!(
                        "batch {id} expired: what it finished is scored, the rest is missing"
                    );
                }
            }
        }
    }

    /// The bar left as it is when following stopped or failed.
    fn stopped(&self) {
        if let Some(b) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.abandon();
        }
    }
}

/// Ctrl-C stops following a batch (it goes on at the server).
fn following() -> tokio_util::sync::CancellationToken {
    super::cancel_on_ctrl_c("stopping: the batch goes on at the server")
}

/// Sends `requests` (batch input lines) as a batch, follows it to its end and returns its
/// output (and error) lines.
pub async fn round_trip(server: &Server, requests: &str) -> Result<String, String> {
    let shown = Shown::new();
    let argv = std::env::args().collect();
    let r = batches::round_trip(server, requests, argv, following, &|e| shown.show(e)).await;
    if r.is_err() {
        shown.stopped();
    }
    Ok(r?)
}

/// What `batch` leaves for the caller to run.
#[derive(Debug)]
pub enum Next {
    /// Nothing: the command's outcome.
    Done(bool),
    /// The eval that submitted a resumed batch, now reading its output instead of sending.
    Eval(Box<EvalArgs>),
}

/// `promptlab batch status ID` and `promptlab batch resume ID` (whose eval the caller runs:
/// `app`, so that `batch` and `eval` never import each other).
pub async fn batch(args: BatchArgs, backends: &dyn Backends) -> Result<Next, String> {
    let given = backends.server()?;
    match args.action {
        BatchAction::Status { id } => {
            let (b, kept, server) = batches::status(&given, &id).await?;
            let counts = b.request_counts.unwrap_or_default();
            crate::say!(
                "batch {} at {}: {} · {} of {} requests done, {} failed · submitted {}",
                b.id,
                host_of(&server),
                b.status,
                counts.completed,
                counts.total,
                counts.failed,
                kept.submitted
            )?;
            Ok(Next::Done(true))
        }
        BatchAction::Resume { id } => {
            let shown = Shown::new();
            let resumed = batches::resume(&given, &id, following, &|e| shown.show(e)).await;
            let resumed = resumed.inspect_err(|_| shown.stopped())?;
            // The eval that submitted it, now reading the output instead of sending.
            let cli = Cli::try_parse_from(&resumed.kept.argv)
                .map_err(|e| format!("the batch's eval command no longer parses: {e}"))?;
            let Some(Command::Eval(mut eval)) = cli.command else {
                return Err(format!("batch {id} was not submitted by `promptlab eval`"));
            };
            eval.batch = false;
            eval.batch_in = Some(resumed.output);
            // What the record leaves out: this command's key and the server's full URL.
            eval.backend.api_key = given.api_key.or(eval.backend.api_key);
            eval.backend.base_url = Some(resumed.server);
            Ok(Next::Eval(Box::new(eval)))
        }
    }
}
