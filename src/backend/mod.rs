//! Where tokens come from. One trait: stream one sampled completion (text chunks, then a
//! finish with reason, usage and optional log-probabilities); cancel by dropping the stream.

pub mod batches;
pub mod finetune;
pub mod http;
#[cfg(feature = "local")]
pub mod local;
pub mod openai;
pub mod scripted;

use futures::stream::BoxStream;
use thiserror::Error;

use crate::core::render::{Mode, Prompt};
use crate::core::template::{Effort, Thinking};
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
    /// Reasoning models: think or not (`Auto` sends nothing).
    pub thinking: Thinking,
    pub reasoning_effort: Option<Effort>,
}

pub use crate::core::record::{BackendInfo, Usage};

pub use crate::core::results::PromptTokens;

/// How a completion ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// "stop", "length", or whatever the server said.
    pub reason: String,
    pub usage: Usage,
    /// Of the completion tokens, those spent thinking, when the server says (else 0).
    pub reasoning_tokens: u32,
    pub logprob: Option<LogProb>,
    /// DeepConf's bottom-10% group confidence of the completion (`core::confidence`), where
    /// the top candidates' log-probabilities are known.
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    /// A reasoning model's thinking, sent apart from the answer text (`reasoning`,
    /// `reasoning_content`). Inline `<think>` tags arrive as `Text` and are told apart by
    /// the engine.
    Thinking(String),
    Done(Finish),
}

pub type SampleStream = BoxStream<'static, Result<StreamEvent, BackendError>>;

/// Each continuation's total log-probability after a prompt (`Backend::score`).
pub type ScoreFuture = futures::future::BoxFuture<'static, Result<Scores, BackendError>>;

/// What `Backend::score` gives: each continuation's total log-probability after the prompt,
/// and the prompt tokens scoring them sent (0: not counted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub logprobs: Vec<f64>,
    pub prompt_tokens: u32,
}

impl From<Vec<f64>> for Scores {
    fn from(logprobs: Vec<f64>) -> Scores {
        Scores {
            logprobs,
            prompt_tokens: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackendError {
    #[error("cannot connect to the server at {0}")]
    Connect(String),
    /// A timeout ran out (the message names which, and its flag).
    #[error("the server stopped answering: {0}")]
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
    /// A success that is not a stream of events (an HTML page, a whole JSON reply): asking
    /// again gets the same.
    #[error("the server answered {content_type}, not a stream of events: {excerpt}")]
    NotAStream {
        content_type: String,
        excerpt: String,
    },
    #[error("model error: {0}")]
    Model(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A path of an `n` request the server returned no choice for: the engine samples it
    /// alone (no failure, no resample counted).
    #[error("the server returned fewer choices than asked for")]
    NotInBatch,
}

impl BackendError {
    /// The same error with every occurrence of `secret` in its text replaced.
    pub fn redact(self, secret: &str) -> BackendError {
        let r = |m: String| m.replace(secret, "[redacted]");
        match self {
            BackendError::Connect(m) => BackendError::Connect(r(m)),
            BackendError::Timeout(m) => BackendError::Timeout(r(m)),
            BackendError::Auth { status, message } => BackendError::Auth {
                status,
                message: r(message),
            },
            BackendError::NotFound(m) => BackendError::NotFound(r(m)),
            BackendError::Http { status, message } => BackendError::Http {
                status,
                message: r(message),
            },
            BackendError::Transport(m) => BackendError::Transport(r(m)),
            BackendError::StreamCut => BackendError::StreamCut,
            BackendError::NotInBatch => BackendError::NotInBatch,
            BackendError::Malformed(m) => BackendError::Malformed(r(m)),
            BackendError::NotAStream {
                content_type,
                excerpt,
            } => BackendError::NotAStream {
                content_type,
                excerpt: r(excerpt),
            },
            BackendError::Model(m) => BackendError::Model(r(m)),
            BackendError::Invalid(m) => BackendError::Invalid(r(m)),
        }
    }

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

/// Keys and tokens this process was given (`--api-key`, `OPENAI_API_KEY`, the config file's
/// `api_key`, `HF_TOKEN`): `redact_secrets` replaces them wherever text leaves the process
/// (the terminal, the log, a saved file).
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers `secret` so that `redact_secrets` hides it (values shorter than 4 characters
/// are too common to hide).
pub fn keep_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 4 {
        return;
    }
    let mut all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so a key that holds another is hidden whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every kept secret, every bearer token and the credentials of every URL
/// (`http://user:KEY@host`) replaced by `[redacted]`.
pub fn redact_secrets(text: &str) -> String {
    use std::sync::LazyLock;
    static USERINFO: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@").expect("static regex")
    });
    static BEARER: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{4,}").expect("static regex")
    });
    let mut out = text.to_string();
    for s in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    let out = USERINFO.replace_all(&out, "${1}[redacted]@");
    BEARER.replace_all(&out, "${1}[redacted]").into_owned()
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

    /// Prompt tokens sent and evaluated so far, for backends that evaluate prompts themselves
    /// and can skip what they evaluated before (the local one).
    fn prompt_tokens(&self) -> Option<PromptTokens> {
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

    /// Whether samples decode together, one step for all of them: sampling fewer at once then
    /// saves tokens but no time (a CPU step costs about the same for 4 sequences as for 20),
    /// so an early-stop rule starts every path and stops the ones still running once the vote
    /// is settled, instead of sampling in waves.
    fn decodes_in_lockstep(&self) -> bool {
        false
    }

    /// The total log-probability of each of `continuations` written right after `prompt`
    /// (the answer options of a `choice` template: one forward pass, nothing sampled), for
    /// backends that give log-probabilities of given text. `None`: this backend cannot.
    fn score(&self, _prompt: &Prompt, _continuations: &[String]) -> Option<ScoreFuture> {
        None
    }

    /// Whether `score` works for prompts of `mode` (an analysis then scores its label sets).
    fn scores_options(&self, _mode: Mode) -> bool {
        false
    }

    /// One OpenAI batch request for `request` (endpoint URL and body, not streamed), for
    /// backends whose samples can run as a batch file. `None`: this backend cannot.
    fn batch_request(&self, _request: &SampleRequest) -> Option<(String, serde_json::Value)> {
        None
    }

    /// The LoRA adapter file applied to the model, if any (a specialist: its record in the
    /// store says what making it cost).
    fn adapter(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Sentence embeddings of free-form answers, for votes clustered by `embed`.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// What embeds (a model file), for messages and records.
    fn name(&self) -> String;

    /// The embedding of `text` (pooled over its tokens).
    fn embed(
        &self,
        text: &str,
    ) -> futures::future::BoxFuture<'static, Result<Vec<f32>, BackendError>>;
}

pub use crate::core::digest::digest;

/// A content fingerprint of a (model) file (`core::digest::fingerprint`).
pub fn fingerprint_file(path: &std::path::Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    crate::core::digest::fingerprint(f, len)
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
    fn fingerprints_follow_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.gguf"), dir.path().join("b.gguf"));
        let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&a, &big).unwrap();
        std::fs::write(&b, &big).unwrap();
        let fa = fingerprint_file(&a).unwrap();
        assert_eq!(
            fa,
            fingerprint_file(&b).unwrap(),
            "same content, same print"
        );
        let mut changed = big.clone();
        changed[4_999_999] ^= 1;
        std::fs::write(&b, &changed).unwrap();
        assert_ne!(fa, fingerprint_file(&b).unwrap(), "the last byte counts");
        std::fs::write(&b, b"GGUF small").unwrap();
        assert_ne!(fa, fingerprint_file(&b).unwrap());
    }

    #[test]
    fn kept_secrets_bearer_tokens_and_url_credentials_are_redacted() {
        keep_secret("sk-kept-3f9a1c");
        keep_secret("ab");
        let text = "token=sk-kept-3f9a1c at http://user:pw-2@host:8/v1 said Bearer abc.def-1 ab";
        assert_eq!(
            redact_secrets(text),
            "token=[redacted] at http://[redacted]@host:8/v1 said Bearer [redacted] ab"
        );
        assert_eq!(redact_secrets("http://host/v1 a@b"), "http://host/v1 a@b");
    }

    #[test]
    fn cut_at_earliest_stop() {
        let stops = vec!["\nQ:".to_string(), "\n\n".to_string()];
        assert_eq!(cut_at_stop("18.\n\nQ: next", &stops), ("18.", true));
        assert_eq!(cut_at_stop("no stop", &stops), ("no stop", false));
        assert_eq!(cut_at_stop("x", &[String::new()]), ("x", false));
    }
}
