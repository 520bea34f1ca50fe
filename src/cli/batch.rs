//! `eval --batch` and `promptlab batch status|resume ID`: an evaluation's missing samples sent
//! through a Files and Batches API, followed with a progress bar, and scored when the output
//! is back. A submitted batch is remembered (its id, server and the eval command) in the data
//! folder, so closing promptlab loses nothing: `promptlab batch resume ID` picks it up.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Serialize};

use super::backend::Resolved;
use super::{BatchAction, BatchArgs, Cli, Command, EvalArgs};
use crate::backend::batches::{Batch, Batches};
use crate::core::record::host_of;

/// What is kept of a submitted batch.
#[derive(Debug, Serialize, Deserialize)]
struct Submitted {
    id: String,
    base_url: String,
    /// The `promptlab eval … --batch` command that submitted it.
    argv: Vec<String>,
    submitted: String,
}

fn dir() -> Result<PathBuf, String> {
    crate::store::data_dir()
        .map(|d| d.join("batches"))
        .ok_or_else(|| "cannot find a data folder for batches".into())
}

fn poll_every() -> Duration {
    std::env::var("PROMPTLAB_BATCH_POLL")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(30))
}

fn client(base_url: &str, api_key: Option<String>) -> Result<Batches, String> {
    Batches::new(base_url, api_key)
}

/// Sends `requests` (batch input lines) as a batch, follows it to its end and returns its
/// output (and error) lines.
pub async fn round_trip(resolved: &Resolved, requests: &str) -> Result<String, String> {
    let base_url = resolved
        .args
        .base_url
        .clone()
        .ok_or("--batch needs an OpenAI-compatible server (--base-url)")?;
    let mut endpoints: Vec<String> = requests
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["url"].as_str().map(str::to_string))
        .collect();
    endpoints.sort();
    endpoints.dedup();
    let [endpoint] = endpoints.as_slice() else {
        return Err(format!(
            "one batch goes to one endpoint, and these requests go to {}: run the variants apart",
            endpoints.join(" and ")
        ));
    };
    let api = client(&base_url, resolved.args.api_key.clone())?;
    let file = api.upload("promptlab-batch.jsonl", requests).await?;
    let batch = api.create(&file, endpoint).await?;
    let kept = Submitted {
        id: batch.id.clone(),
        base_url: host_of(&base_url),
        argv: without_secrets(std::env::args()),
        submitted: crate::store::session::now_rfc3339(),
    };
    let path = crate::store::name::file_in(&dir()?, "the batch id", &batch.id, ".json")
        .map_err(|e| format!("{e} (the server created it; promptlab keeps no record of it)"))?;
    std::fs::create_dir_all(dir()?).map_err(|e| e.to_string())?;
    crate::store::atomic::write_private(
        &path,
        serde_json::to_string_pretty(&kept)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    crate::tell!(
        "submitted batch {} ({} requests); closing promptlab loses nothing: `promptlab batch resume {}`",
        batch.id,
        requests.lines().count(),
        batch.id
    );
    let ended = follow(&api, &batch.id).await?;
    api.results(&ended).await
}

/// Polls the batch until it ends, with a progress bar; Ctrl-C stops following (the batch
/// goes on at the server).
async fn follow(api: &Batches, id: &str) -> Result<Batch, String> {
    let cancel = super::cancel_on_ctrl_c("stopping: the batch goes on at the server");
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("batch {msg} {bar:30} {pos}/{len} requests")
            .map_err(|e| e.to_string())?,
    );
    loop {
        let b = api.get(id).await?;
        if let Some(c) = b.request_counts {
            bar.set_length(c.total);
            bar.set_position(c.completed + c.failed);
        }
        bar.set_message(
            crate::core::display::visible(&format!("{} {}", b.id, b.status)).into_owned(),
        );
        if b.ended() {
            bar.finish_and_clear();
            return match b.status.as_str() {
                "completed" | "expired" => {
                    if b.status == "expired" {
                        crate::tell!(
                            "batch {id} expired: what it finished is scored, the rest is missing"
                        );
                    }
                    Ok(b)
                }
                _ => Err(format!(
                    "batch {id} {}{}",
                    b.status,
                    b.errors
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )),
            };
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                bar.abandon();
                return Err(format!("stopped following batch {id}; it goes on at the server: `promptlab batch resume {id}` scores it when it is done"));
            }
            _ = tokio::time::sleep(poll_every()) => {}
        }
    }
}

/// The command line as it may be kept: no `--api-key` (its value neither), and a base URL
/// without credentials (`batch resume` takes both from its own flags or the environment).
fn without_secrets(argv: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    let mut url = false;
    for a in argv {
        if std::mem::take(&mut skip) {
            continue;
        }
        if std::mem::take(&mut url) {
            out.push(host_of(&a));
            continue;
        }
        match a.split_once('=') {
            Some(("--api-key", _)) => {}
            Some(("--base-url", v)) => out.push(format!("--base-url={}", host_of(v))),
            _ if a == "--api-key" => skip = true,
            _ => {
                url = a == "--base-url";
                out.push(a);
            }
        }
    }
    out
}

/// The server of a kept batch or job (`kept`: its base URL without credentials): the base
/// URL this command was given (it may carry credentials the record does not) when it names
/// the same server, else the record's.
pub(super) fn server_of(kept: &str, given: Option<&str>) -> String {
    match given {
        Some(g) if host_of(g) == kept => g.to_string(),
        _ => kept.to_string(),
    }
}

fn submitted(id: &str) -> Result<Submitted, String> {
    let path = crate::store::name::file_in(&dir()?, "the batch id", id, ".json")?;
    let text = std::fs::read_to_string(&path).map_err(|_| {
        format!(
            "no batch {id} was submitted from this machine ({} is missing)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
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
pub async fn batch(args: BatchArgs) -> Result<Next, String> {
    let config = super::config::Config::load()?;
    let resolved = super::backend::resolve(&args.backend, &config)?;
    let key = resolved.args.api_key.clone();
    match args.action {
        BatchAction::Status { id } => {
            let kept = submitted(&id)?;
            let server = server_of(&kept.base_url, resolved.args.base_url.as_deref());
            let b = client(&server, key)?.get(&id).await?;
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
            let kept = submitted(&id)?;
            let server = server_of(&kept.base_url, resolved.args.base_url.as_deref());
            let api = client(&server, key.clone())?;
            let ended = follow(&api, &id).await?;
            let output = api.results(&ended).await?;
            let path = crate::store::name::file_in(&dir()?, "the batch id", &id, "-output.jsonl")?;
            crate::store::atomic::write_atomic(&path, output.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            // The eval that submitted it, now reading the output instead of sending.
            let cli = Cli::try_parse_from(&kept.argv)
                .map_err(|e| format!("the batch's eval command no longer parses: {e}"))?;
            let Some(Command::Eval(mut eval)) = cli.command else {
                return Err(format!("batch {id} was not submitted by `promptlab eval`"));
            };
            eval.batch = false;
            eval.batch_in = Some(path);
            // What the record leaves out: this command's key and the server's full URL.
            eval.backend.api_key = key.or(eval.backend.api_key);
            eval.backend.base_url = Some(server);
            Ok(Next::Eval(Box::new(eval)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_command_line_holds_no_key_and_no_credentials() {
        let argv = [
            "promptlab",
            "eval",
            "--api-key",
            "sk-1",
            "--api-key=sk-2",
            "--base-url",
            "http://u:sk-3@h:1/v1",
            "--base-url=http://u:sk-4@h/v1",
            "--batch",
        ]
        .map(String::from);
        assert_eq!(
            without_secrets(argv),
            [
                "promptlab",
                "eval",
                "--base-url",
                "http://h:1/v1",
                "--base-url=http://h/v1",
                "--batch"
            ]
        );
    }
}
