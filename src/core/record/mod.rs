//! The one record of a run. The engine produces these, the store saves them as they are, the
//! lab and the CLI only show them; cache hits, replay and re-votes read the same records.
//!
//! A path is the list of its model calls (stages), each with its own text, finish reason,
//! token counts and log-probabilities; the path's visible text, usage and steps are derived
//! from them. A path's answer comes from one pure function, [`settle`], of the record and the
//! answer spec: the final stage's text is read (zero-shot CoT's extraction stage, the last
//! sub-question of least-to-most), never an earlier one.

use serde::{Deserialize, Serialize};

use super::extract::{Extractor, Read};
use super::spec::answer::AnswerSpec;
use super::spec::prompt::{Mode, Prompt};
use super::spec::stage::Stage;
use super::spec::template::Template;
use super::vote::{LogProb, Tally};

mod assemble;
mod voting;
mod wire;

pub use assemble::Asked;
pub use voting::{Selection, Voting, settle, tally};

/// Finish reason of a stage cut at its token limit.
pub const LENGTH: &str = "length";

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

/// What produced a sample, for headers, logs, session files, exports and cache keys. Never
/// a secret: a server is named by its host, never by its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendInfo {
    /// "openai", "local" or "scripted".
    pub kind: String,
    pub model: String,
    /// The rendering mode used when neither template nor user chose one.
    pub default_mode: Mode,
    /// A server's base URL without credentials, query or fragment ("http://127.0.0.1:8080/v1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A content fingerprint of what answers: the GGUF file (with its LoRA adapter) of the
    /// embedded model, or a script's responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Whether token log-probabilities are asked for (they change what a sample carries).
    #[serde(default)]
    pub logprobs: bool,
}

impl BackendInfo {
    pub fn new(kind: &str, model: impl Into<String>, default_mode: Mode) -> Self {
        BackendInfo {
            kind: kind.into(),
            model: model.into(),
            default_mode,
            host: None,
            fingerprint: None,
            logprobs: false,
        }
    }

    /// "openai Qwen3-8B @ http://127.0.0.1:8000/v1", "local gemma-3-270m (a5fd3b62)".
    pub fn label(&self) -> String {
        let mut s = format!("{} {}", self.kind, self.model);
        if let Some(h) = &self.host {
            s.push_str(&format!(" @ {h}"));
        }
        if let Some(f) = &self.fingerprint {
            s.push_str(&format!(" ({})", &f[..f.len().min(8)]));
        }
        s
    }
}

/// The base URL of a server with any user name, password, query and fragment removed.
pub fn host_of(base_url: &str) -> String {
    let (scheme, rest) = base_url.split_once("://").unwrap_or(("", base_url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.split_once('/') {
        Some((authority, path)) => format!(
            "{}/{}",
            authority.rsplit('@').next().unwrap_or_default(),
            path
        ),
        None => rest.rsplit('@').next().unwrap_or_default().to_string(),
    };
    let rest = rest.trim_end_matches('/');
    if scheme.is_empty() {
        rest.to_string()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// The promptlab version that produced a record or a report.
pub fn version() -> String {
    format!("promptlab {}", env!("CARGO_PKG_VERSION"))
}

/// One model call of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRecord {
    pub stage: Stage,
    /// Least-to-most: the sub-question this stage answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Text that joins the path's visible text before this stage's output (zero-shot CoT's
    /// extraction phrase, least-to-most's "Q: … A:").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preface: String,
    /// The model's output exactly as it arrived (a reasoning model's answer text: its
    /// thinking is kept apart, below).
    pub text: String,
    /// A reasoning model's thinking before that text (a `reasoning` field, or inline
    /// `<think>…</think>`); answers are never read from it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thinking: String,
    /// "stop", "length", …; `None` when the call did not finish (failed or cancelled).
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
    /// Of `completion_tokens`, those spent thinking (as the server reports them, else
    /// counted from the thinking's chunks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprob: Option<LogProb>,
    /// DeepConf's confidence of this call's completion (`core::confidence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Least-to-most: the answer read from this sub-question's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

impl StageRecord {
    pub fn new(stage: Stage, text: impl Into<String>) -> Self {
        StageRecord {
            stage,
            question: None,
            preface: String::new(),
            text: text.into(),
            thinking: String::new(),
            finish_reason: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            reasoning_tokens: 0,
            logprob: None,
            confidence: None,
            answer: None,
        }
    }

    pub fn truncated(&self) -> bool {
        self.finish_reason.as_deref() == Some(LENGTH)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One sampled reasoning path and its extracted answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "wire::PathWire")]
pub struct PathRecord {
    pub index: usize,
    pub stages: Vec<StageRecord>,
    pub answer: Option<String>,
    /// How `answer` was read (`core::extract::Read`); absent in records from before it was
    /// kept (`RunRecord::reread` reads them again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Read>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// Fresh samples taken after broken streams.
    #[serde(default)]
    pub resamples: u32,
    /// Read from the sample cache instead of sampled now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// Its first model call rode on another path's request (server-side `n`): one request
    /// served several paths, which is how requests reconcile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_request: bool,
    /// The sentence embedding of its answer, for free-form answers clustered by `embed`:
    /// computed when the path finishes, never saved (an embedding model reads it again).
    #[serde(skip)]
    pub embedding: Option<std::sync::Arc<[f32]>>,
}

/// An answered sub-question of a least-to-most path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView<'a> {
    pub question: &'a str,
    pub text: &'a str,
    pub answer: Option<&'a str>,
}

impl PathRecord {
    pub fn new(index: usize) -> Self {
        PathRecord {
            index,
            stages: Vec::new(),
            answer: None,
            read: None,
            latency_ms: 0,
            error: None,
            resamples: 0,
            cached: false,
            shared_request: false,
            embedding: None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    pub fn cancelled(&self) -> bool {
        self.error.as_deref() == Some(CANCELLED)
    }

    /// The answer it votes with: none unless it finished and one was read.
    pub fn voted_answer(&self) -> Option<&str> {
        self.answer.as_deref().filter(|_| self.succeeded())
    }

    /// Stopped by an early-stop rule mid-way: not a failure, a sample the vote did not need.
    pub fn stopped(&self) -> bool {
        self.error.as_deref() == Some(STOPPED)
    }

    /// Everything the path produced, prefaces included, as it streamed.
    pub fn text(&self) -> String {
        let mut t = String::new();
        for s in &self.stages {
            t.push_str(&s.preface);
            t.push_str(&s.text);
        }
        t
    }

    /// Everything the path thought, stage by stage (empty for a model that does not think).
    pub fn thinking(&self) -> String {
        self.stages.iter().map(|s| s.thinking.as_str()).collect()
    }

    /// Completion tokens spent thinking.
    pub fn reasoning_tokens(&self) -> u32 {
        self.stages.iter().map(|s| s.reasoning_tokens).sum()
    }

    /// Cut at the token limit while still thinking: no answer text came at all.
    pub fn truncated_in_thinking(&self) -> bool {
        self.stages
            .last()
            .is_some_and(|s| s.truncated() && !s.thinking.is_empty() && s.text.trim().is_empty())
    }

    /// The text the final answer is read from: the last stage, with its preface (zero-shot
    /// CoT's "Therefore, the answer (arabic numerals) is" belongs to the answer).
    pub fn answer_text(&self) -> String {
        self.stages
            .last()
            .map(|s| format!("{}{}", s.preface, s.text))
            .unwrap_or_default()
    }

    /// Where `answer_text` starts in `text`.
    pub fn answer_offset(&self) -> usize {
        let all: usize = self
            .stages
            .iter()
            .map(|s| s.preface.len() + s.text.len())
            .sum();
        all - self
            .stages
            .last()
            .map_or(0, |s| s.preface.len() + s.text.len())
    }

    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        for s in &self.stages {
            u += Usage {
                prompt_tokens: s.prompt_tokens,
                completion_tokens: s.completion_tokens,
            };
        }
        u
    }

    pub fn completion_tokens(&self) -> u32 {
        self.usage().completion_tokens
    }

    /// The path's log-probability over every stage, when every finished stage has one.
    /// The path's confidence: its least confident model call's (`None` unless every finished
    /// call has one).
    pub fn confidence(&self) -> Option<f64> {
        let mut lowest: Option<f64> = None;
        for s in self.stages.iter().filter(|s| s.finish_reason.is_some()) {
            let c = s.confidence?;
            lowest = Some(lowest.map_or(c, |l| l.min(c)));
        }
        lowest
    }

    pub fn logprob(&self) -> Option<LogProb> {
        let mut acc = LogProb {
            sum: 0.0,
            tokens: 0,
        };
        for s in self.stages.iter().filter(|s| s.finish_reason.is_some()) {
            let l = s.logprob?;
            acc.sum += l.sum;
            acc.tokens += l.tokens;
        }
        (acc.tokens > 0).then_some(acc)
    }

    /// The last stage's finish reason.
    pub fn finish_reason(&self) -> Option<&str> {
        self.stages.last().and_then(|s| s.finish_reason.as_deref())
    }

    /// Whether any stage was cut at its token limit (a reasoning stage cut short counts even
    /// when the extraction stage after it stopped normally).
    pub fn truncated(&self) -> bool {
        self.stages.iter().any(StageRecord::truncated)
    }

    /// Least-to-most's answered sub-questions, in order.
    pub fn steps(&self) -> Vec<StepView<'_>> {
        self.stages
            .iter()
            .filter(|s| matches!(s.stage, Stage::Solve(_)))
            .map(|s| StepView {
                question: s.question.as_deref().unwrap_or(""),
                text: &s.text,
                answer: s.answer.as_deref(),
            })
            .collect()
    }

    /// Its answer was read by a fallback (the last number of a reply that never states it).
    pub fn read_by_fallback(&self) -> bool {
        self.answer.is_some() && self.read.is_some_and(Read::is_fallback)
    }
}

/// The error of a path stopped by the user.
pub const CANCELLED: &str = "cancelled";
/// The error of a path stopped because the vote was settled without it (what it had
/// streamed is kept).
pub const STOPPED: &str = "stopped: the vote was settled";

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    pub paths: Vec<PathRecord>,
    pub tally: Tally,
    pub usage: Usage,
    pub elapsed_ms: u64,
    pub cancelled: bool,
    /// Where adaptive self-consistency stopped (runs with an early-stop rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<crate::core::early_stop::EarlyStop>,
    /// Universal self-consistency's pick (free-form answers clustered by `usc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Box<Selection>>,
    /// A `calibrate:` run's answer came from the options' log-probabilities (one forward
    /// pass), not from sampled paths: the scores, the content-free bias and the pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored: Option<Box<crate::core::calibrate::ScoredOptions>>,
}

/// Fresh and cached paths of a run or an evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SampleOrigin {
    pub fresh: usize,
    pub cached: usize,
}

impl RunResult {
    pub fn from_paths(
        mut paths: Vec<PathRecord>,
        elapsed_ms: u64,
        cancelled: bool,
        voting: &Voting,
    ) -> RunResult {
        paths.sort_by_key(|p| p.index);
        let mut usage = Usage::default();
        for p in &paths {
            usage += p.usage();
        }
        RunResult {
            tally: tally(&paths, voting),
            paths,
            usage,
            elapsed_ms,
            cancelled,
            early_stop: None,
            selection: voting.selection.cloned().map(Box::new),
            scored: None,
        }
    }

    pub fn succeeded(&self) -> usize {
        self.paths.iter().filter(|p| p.succeeded()).count()
    }

    pub fn truncated(&self) -> usize {
        self.paths.iter().filter(|p| p.truncated()).count()
    }

    pub fn origin(&self) -> SampleOrigin {
        origin(&self.paths)
    }

    /// How this run's answers to `question` vote under `spec` (with its selector's pick, if
    /// any).
    pub fn voting<'a>(&'a self, spec: &'a AnswerSpec, question: &'a str) -> Voting<'a> {
        Voting::of(spec)
            .with_selection(self.selection.as_deref())
            .answering(question)
    }

    /// The same run with every answer read again under `spec` (re-voting without a model).
    pub fn revote(&self, extractor: &Extractor, query: &str) -> RunResult {
        let mut r = self.clone();
        for p in &mut r.paths {
            settle(p, extractor, query);
        }
        r.tally = tally(&r.paths, &r.voting(extractor.spec(), query));
        r
    }
}

pub fn origin<'a>(paths: impl IntoIterator<Item = &'a PathRecord>) -> SampleOrigin {
    let mut o = SampleOrigin::default();
    for p in paths {
        if p.cached {
            o.cached += 1;
        } else {
            o.fresh += 1;
        }
    }
    o
}

/// One run exactly as it happened: what was asked, of whom, and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub timestamp: String,
    /// The promptlab that made the run (absent in files from before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promptlab: Option<String>,
    /// The edits at the time of the run.
    pub template: Template,
    pub query: String,
    pub mode: Mode,
    /// The first-stage prompt exactly as sent, with its stop sequences.
    pub prompt: Prompt,
    #[serde(default)]
    pub stop: Vec<String>,
    pub backend: BackendInfo,
    pub result: RunResult,
}

impl RunRecord {
    /// The record re-voted under another answer spec, which it then carries.
    pub fn revote(&self, spec: &AnswerSpec) -> Result<RunRecord, crate::core::spec::SpecError> {
        let extractor = Extractor::new(spec)?;
        let mut r = self.clone();
        r.template.answer = spec.clone();
        r.result = self.result.revote(&extractor, &self.query);
        Ok(r)
    }

    /// Whether `other` records the same run, perhaps re-voted since: same time, question,
    /// prompt, backend, duration and path texts (a re-vote changes only answers and tally).
    pub fn same_run(&self, other: &RunRecord) -> bool {
        self.timestamp == other.timestamp
            && self.query == other.query
            && self.prompt == other.prompt
            && self.backend.label() == other.backend.label()
            && self.result.elapsed_ms == other.result.elapsed_ms
            && self.result.paths.len() == other.result.paths.len()
            && self
                .result
                .paths
                .iter()
                .zip(&other.result.paths)
                .all(|(a, b)| a.text() == b.text())
    }
}

#[cfg(test)]
mod tests;
