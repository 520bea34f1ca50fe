//! A batch's life through a Files and Batches API (`backend::batches`): submitted (and
//! remembered by `store::batches`, so closing promptlab loses nothing), followed to its end,
//! its output fetched; and a remembered one resumed by its id. The faces only show its
//! `BatchEvent`s.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::backends::Server;
use super::error::JobError;
use crate::backend::batches::{Batch, Batches};
use crate::core::record::host_of;
use crate::store::batches::{Submitted, keep_output, remember, server_of, submitted};

/// What a batch did, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchEvent {
    /// Sent and remembered.
    Submitted { id: String, requests: usize },
    /// Its status at the server, and (done, total) of its requests when it says.
    Polled {
        id: String,
        status: String,
        counts: Option<(u64, u64)>,
    },
    /// It ended: completed, failed, cancelled, or expired with what it finished.
    Ended { id: String, expired: bool },
}

/// Where a batch's events go.
pub type BatchReport<'a> = dyn Fn(BatchEvent) + Send + Sync + 'a;

/// How often a batch is asked about (`PROMPTLAB_BATCH_POLL` seconds, else 30).
fn poll_every() -> Duration {
    std::env::var("PROMPTLAB_BATCH_POLL")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(30))
}

/// Sends `requests` (batch input lines) to `server` as a batch, remembers it with the command
/// line `argv` (kept without secrets), follows it to its end and returns its output (and
/// error) lines. `following` gives the token that stops following (the batch goes on).
pub async fn round_trip(
    server: &Server,
    requests: &str,
    argv: Vec<String>,
    following: impl FnOnce() -> CancellationToken,
    report: &BatchReport<'_>,
) -> Result<String, JobError> {
    let base_url = server.base_url.clone().ok_or(JobError::NoServer)?;
    let mut endpoints: Vec<String> = requests
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["url"].as_str().map(str::to_string))
        .collect();
    endpoints.sort();
    endpoints.dedup();
    let [endpoint] = endpoints.as_slice() else {
        return Err(JobError::Endpoints(endpoints.join(" and ")));
    };
    let api = Batches::new(&base_url, server.api_key.clone())?;
    let file = api.upload("promptlab-batch.jsonl", requests).await?;
    let batch = api.create(&file, endpoint).await?;
    remember(&Submitted {
        id: batch.id.clone(),
        base_url: host_of(&base_url),
        argv: crate::store::batches::without_secrets(argv),
        submitted: crate::store::session::now_rfc3339(),
    })?;
    report(BatchEvent::Submitted {
        id: batch.id.clone(),
        requests: requests.lines().count(),
    });
    let ended = follow(&api, &batch.id, &following(), report).await?;
    Ok(api.results(&ended).await?)
}

/// Polls batch `id` until it ends; `cancel` stops following (the batch goes on at the
/// server).
async fn follow(
    api: &Batches,
    id: &str,
    cancel: &CancellationToken,
    report: &BatchReport<'_>,
) -> Result<Batch, JobError> {
    loop {
        let b = api.get(id).await?;
        report(BatchEvent::Polled {
            id: b.id.clone(),
            status: b.status.clone(),
            counts: b.request_counts.map(|c| (c.completed + c.failed, c.total)),
        });
        if b.ended() {
            report(BatchEvent::Ended {
                id: id.to_string(),
                expired: b.status == "expired",
            });
            return match b.status.as_str() {
                "completed" | "expired" => Ok(b),
                _ => Err(JobError::BatchFailed {
                    id: id.to_string(),
                    errors: b
                        .errors
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default(),
                    status: b.status,
                }),
            };
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                return Err(JobError::StoppedFollowing(id.to_string()));
            }
            _ = tokio::time::sleep(poll_every()) => {}
        }
    }
}

/// A remembered batch as its server sees it now, with its record and the server asked (the
/// `given` one when it names the same server: it may carry credentials the record does not).
pub async fn status(given: &Server, id: &str) -> Result<(Batch, Submitted, String), JobError> {
    let kept = submitted(id)?;
    let server = server_of(&kept.base_url, given.base_url.as_deref());
    let b = Batches::new(&server, given.api_key.clone())?
        .get(id)
        .await?;
    Ok((b, kept, server))
}

/// A batch resumed: its record, the server and where its output was written.
#[derive(Debug)]
pub struct Resumed {
    pub kept: Submitted,
    pub server: String,
    pub output: PathBuf,
}

/// Follows remembered batch `id` to its end and keeps its output beside its record.
pub async fn resume(
    given: &Server,
    id: &str,
    following: impl FnOnce() -> CancellationToken,
    report: &BatchReport<'_>,
) -> Result<Resumed, JobError> {
    let kept = submitted(id)?;
    let server = server_of(&kept.base_url, given.base_url.as_deref());
    let api = Batches::new(&server, given.api_key.clone())?;
    let ended = follow(&api, id, &following(), report).await?;
    let output = keep_output(id, &api.results(&ended).await?)?;
    Ok(Resumed {
        kept,
        server,
        output,
    })
}
