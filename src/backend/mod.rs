//! Where tokens come from. One trait: stream one sampled completion (text chunks, then a
//! finish with reason, usage and optional log-probabilities); cancel by dropping the stream.

pub mod http;
#[cfg(feature = "local")]
pub mod local;
pub mod openai;
pub mod scripted;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::render::{Mode, Prompt};
use crate::core::vote::LogProb;

/// One sampled completion to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRequest {
    pub prompt: Prompt,
    pub stop: Vec<String>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: u32,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
    }
}

/// How a completion ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// "stop", "length", or whatever the server said.
    pub reason: String,
    pub usage: Usage,
    pub logprob: Option<LogProb>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    Done(Finish),
}

pub type SampleStream = BoxStream<'static, Result<StreamEvent, BackendError>>;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackendError {
    #[error("cannot connect to the server at {0}")]
    Connect(String),
    #[error("the server stopped answering ({0})")]
    Timeout(String),
    #[error("authentication failed (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    #[error("not found (HTTP 404): {0}")]
    NotFound(String),
    #[error("HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("connection failed: {0}")]
    Transport(String),
    #[error("the stream ended before the completion finished")]
    StreamCut,
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("model error: {0}")]
    Model(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl BackendError {
    /// Failures after a response had started, which the HTTP layer cannot retry but a fresh
    /// sample can.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BackendError::StreamCut
                | BackendError::Malformed(_)
                | BackendError::Timeout(_)
                | BackendError::Transport(_)
        )
    }
}

/// What a backend is, for headers, logs and session files (never secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// "openai", "local" or "scripted".
    pub kind: String,
    pub model: String,
    /// The rendering mode used when neither template nor user chose one.
    pub default_mode: Mode,
}

/// Whether a backend can sample yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Getting ready (loading a model); requests wait.
    Preparing(String),
    Failed(String),
}

pub trait Backend: Send + Sync {
    fn info(&self) -> BackendInfo;

    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }

    /// HTTP requests sent and retried so far, for backends that make them.
    fn request_stats(&self) -> Option<(u64, u64)> {
        None
    }

    /// Streams one sampled completion. Dropping the stream cancels it.
    fn stream(&self, request: SampleRequest) -> SampleStream;

    /// N samples of one prompt at once, stream `i` sampled with seed `request.seed + i`, for
    /// backends that share the prompt's work between them (the local one shares its KV cache).
    /// `None`: the engine makes N `stream` calls instead.
    fn stream_batch(&self, _request: SampleRequest, _n: usize) -> Option<Vec<SampleStream>> {
        None
    }
}

/// Cuts a completion at the first stop string, as servers do. Returns the kept text and
/// whether a stop was found. Used by backends that match stops on text themselves.
pub fn cut_at_stop<'a>(text: &'a str, stops: &[String]) -> (&'a str, bool) {
    match stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
    {
        Some(i) => (&text[..i], true),
        None => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_at_earliest_stop() {
        let stops = vec!["\nQ:".to_string(), "\n\n".to_string()];
        assert_eq!(cut_at_stop("18.\n\nQ: next", &stops), ("18.", true));
        assert_eq!(cut_at_stop("no stop", &stops), ("no stop", false));
        assert_eq!(cut_at_stop("x", &[String::new()]), ("x", false));
    }
}
