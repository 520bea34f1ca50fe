//! The one record of a run. The engine produces these, the store saves them as they are, the
//! lab and the CLI only show them; cache hits, replay and re-votes read the same records.
//!
//! A path is the list of its model calls (stages), each with its own text, finish reason,
//! token counts and log-probabilities; the path's visible text, usage and steps are derived
//! from them. A path's answer comes from one pure function, [`settle`], of the record and the
//! answer spec: the final stage's text is read (zero-shot CoT's extraction stage, the last
//! sub-question of least-to-most), never an earlier one.

use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use super::extract::{AnswerKind, AnswerSpec, Extractor, Read};
use super::free::{self, ClusterRule};
use super::render::{Mode, Prompt};
use super::strategy::Stage;
use super::template::Template;
use super::vote::{Ballot, Clustering, LogProb, Tally};

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

/// Reads a path's answers from its record: the final answer from the last stage, each
/// least-to-most sub-answer from its own stage. The one place answers come from, for fresh
/// runs, cache hits, replay, re-votes, evaluations and the lab. A failed path has none.
pub fn settle(path: &mut PathRecord, extractor: &Extractor, query: &str) {
    for s in &mut path.stages {
        s.answer = match s.stage {
            Stage::Solve(_) => extractor.extract(&s.text, query),
            _ => None,
        };
    }
    let reading = if path.succeeded() {
        extractor.read(&path.answer_text(), query)
    } else {
        None
    };
    (path.answer, path.read) = match reading {
        Some(r) => (Some(r.answer), Some(r.read)),
        None => (None, None),
    };
}

/// How a run's answers become votes: each answer its own (numbers, choices, text, regex) or,
/// for free-form answers, the clusters of answers alike (`core::free`), named by their
/// representatives. Universal self-consistency's pick, when the run has one, names the
/// winning cluster.
#[derive(Debug, Clone, Copy)]
pub struct Voting<'a> {
    pub spec: &'a AnswerSpec,
    pub selection: Option<&'a Selection>,
    /// The question answered: its words do not make two free-form answers alike.
    pub question: &'a str,
}

/// The answer spec of exact votes, for callers that have none.
static EXACT: AnswerSpec = AnswerSpec {
    kind: AnswerKind::Number,
    pattern: None,
    choices: Vec::new(),
    similarity: None,
    cluster: None,
    strict: false,
};

/// Free-form answers grouped: each answer's cluster label (its representative), each
/// cluster's distinct answers, and why the grouping is not what the rule asked for.
struct Grouped {
    label: HashMap<String, String>,
    members: HashMap<String, Vec<String>>,
    note: Option<String>,
}

impl<'a> Voting<'a> {
    pub fn of(spec: &'a AnswerSpec) -> Self {
        Voting {
            spec,
            selection: None,
            question: "",
        }
    }

    pub fn answering(self, question: &'a str) -> Self {
        Voting { question, ..self }
    }

    /// Votes on answers exactly as written (the answer spec unknown or not free-form).
    pub fn exact() -> Voting<'static> {
        Voting::of(&EXACT)
    }

    pub fn with_selection(self, selection: Option<&'a Selection>) -> Self {
        Voting { selection, ..self }
    }

    fn free(&self) -> bool {
        self.spec.kind == AnswerKind::Free
    }

    /// The answer `path` votes with: none unless it finished and an answer was read, and
    /// with strict answers none when only a fallback read it.
    pub fn answer_of<'p>(&self, path: &'p PathRecord) -> Option<&'p str> {
        path.voted_answer()
            .filter(|_| !(self.spec.strict && path.read_by_fallback()))
    }

    /// `path`'s vote, if it finished: its answer under this voting, and whether a fallback
    /// read it (counted where it lands, the no-answer bucket under strict answers).
    pub fn ballot(&self, path: &PathRecord) -> Option<Ballot> {
        path.succeeded().then(|| Ballot {
            path: path.index,
            answer: self.answer_of(path).map(str::to_string),
            logprob: path.logprob(),
            confidence: path.confidence(),
            fallback: path.read_by_fallback(),
        })
    }

    /// Each path's vote in order (`None`: no answer, or the path did not finish): its answer,
    /// or its cluster's label for free-form answers. What early-stop rules and maj@k read.
    pub fn labels(&self, paths: &[&PathRecord]) -> Vec<Option<String>> {
        let grouped = self.free().then(|| self.group(paths));
        paths
            .iter()
            .map(|p| {
                let a = self.answer_of(p)?;
                Some(match &grouped {
                    Some(g) => g.label.get(a).cloned().unwrap_or_else(|| a.to_string()),
                    None => a.to_string(),
                })
            })
            .collect()
    }

    fn group(&self, paths: &[&PathRecord]) -> Grouped {
        // Distinct answers in order of first path, with their votes and an embedding.
        let mut distinct: Vec<(&str, f64, Option<&[f32]>)> = Vec::new();
        let mut sorted: Vec<&&PathRecord> = paths.iter().collect();
        sorted.sort_by_key(|p| p.index);
        for p in sorted {
            let Some(a) = self.answer_of(p) else { continue };
            match distinct.iter_mut().find(|(x, _, _)| *x == a) {
                Some(d) => {
                    d.1 += 1.0;
                    d.2 = d.2.or(p.embedding.as_deref());
                }
                None => distinct.push((a, 1.0, p.embedding.as_deref())),
            }
        }
        let weights: Vec<f64> = distinct.iter().map(|d| d.1).collect();
        let threshold = self.spec.similarity();
        let embedded = distinct.iter().all(|d| d.2.is_some());
        let question = free::Words::of(self.question);
        let words: Vec<free::Words> = distinct
            .iter()
            .map(|d| free::Words::of(d.0).answering(&question))
            .collect();
        let (groups, note) = if self.spec.cluster() == ClusterRule::Embed && embedded {
            let sim = |i: usize, j: usize| {
                if free::numbers_differ(&words[i], &words[j]) {
                    return 0.0;
                }
                free::cosine(distinct[i].2.unwrap_or(&[]), distinct[j].2.unwrap_or(&[]))
            };
            (free::cluster(&weights, &sim, threshold), None)
        } else {
            let sim = |i: usize, j: usize| free::overlap(&words[i], &words[j]);
            let note = (self.spec.cluster() == ClusterRule::Embed).then(|| {
                "embed: answers without embeddings (no --embed-model); clustered by overlap".into()
            });
            (free::cluster(&weights, &sim, threshold), note)
        };
        let mut label = HashMap::new();
        let mut members = HashMap::new();
        for g in groups {
            let rep = distinct[g.representative].0.to_string();
            for &m in &g.members {
                label.insert(distinct[m].0.to_string(), rep.clone());
            }
            members.insert(
                rep,
                g.members
                    .iter()
                    .map(|&m| distinct[m].0.to_string())
                    .collect(),
            );
        }
        Grouped {
            label,
            members,
            note,
        }
    }
}

/// Universal self-consistency (Chen et al. 2023): the model's pick of the most consistent of a
/// run's responses, as it replied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// The paths shown to the selector, in order: "Response 1" is the first.
    pub responses: Vec<usize>,
    /// The selector's reply, exactly as the model wrote it.
    #[serde(default)]
    pub reply: String,
    /// The path its reply named, when it named one of the responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
    /// Why there is no reply (the call failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The tally of finished paths under `voting`: the one tally builder.
pub fn tally<'a>(paths: impl IntoIterator<Item = &'a PathRecord>, voting: &Voting) -> Tally {
    let paths: Vec<&PathRecord> = paths.into_iter().collect();
    let mut ballots: Vec<Ballot> = paths.iter().filter_map(|p| voting.ballot(p)).collect();
    if !voting.free() {
        return Tally::from_ballots(&ballots);
    }
    let grouped = voting.group(&paths);
    for b in &mut ballots {
        if let Some(a) = b.answer.as_mut()
            && let Some(l) = grouped.label.get(a.as_str())
        {
            *a = l.clone();
        }
    }
    let mut t = Tally::from_ballots(&ballots);
    for e in &mut t.entries {
        if let Some(m) = e.answer.as_ref().and_then(|a| grouped.members.get(a)) {
            e.members = m.clone();
        }
    }
    let mut note = grouped.note;
    if voting.spec.cluster() == ClusterRule::Usc {
        let chosen = voting.selection.and_then(|s| s.chosen);
        let pick = chosen.and_then(|c| t.entries.iter().position(|e| e.paths.contains(&c)));
        match pick.filter(|&i| t.entries[i].answer.is_some()) {
            Some(i) => {
                let e = t.entries.remove(i);
                t.agreement = f64::from(e.votes) / f64::from(t.voted.max(1));
                t.winner = e.answer.clone();
                t.entries.insert(0, e);
            }
            None if t.entries.iter().filter(|e| e.answer.is_some()).count() > 1 => {
                note = Some(match voting.selection {
                    None => "usc: no selector reply recorded (it needs the model); voted by overlap".into(),
                    Some(s) if s.error.is_some() => "usc: the selector call failed; voted by overlap".into(),
                    Some(_) => "usc: the selector's reply named no response with an answer; voted by overlap".into(),
                });
            }
            None => {}
        }
    }
    let sizes = t
        .entries
        .iter()
        .filter(|e| e.answer.is_some())
        .map(|e| e.votes);
    t.clustering = Some(Box::new(Clustering {
        rule: voting.spec.cluster(),
        similarity: voting.spec.similarity(),
        dispersion: free::dispersion(sizes),
        note,
    }));
    t
}

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
    pub fn revote(&self, spec: &AnswerSpec) -> Result<RunRecord, String> {
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

/// Reading older files: session format 1 kept a path's whole text, its last finish reason,
/// its token counts and least-to-most steps on the path itself.
mod wire {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PathWire {
        index: usize,
        #[serde(default)]
        stages: Option<Vec<StageRecord>>,
        #[serde(default)]
        answer: Option<String>,
        #[serde(default)]
        read: Option<Read>,
        #[serde(default)]
        latency_ms: u64,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        resamples: u32,
        #[serde(default)]
        cached: bool,
        #[serde(default)]
        shared_request: bool,
        // Format 1.
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        finish_reason: Option<String>,
        #[serde(default)]
        prompt_tokens: u32,
        #[serde(default)]
        completion_tokens: u32,
        #[serde(default)]
        logprob: Option<LogProb>,
        #[serde(default)]
        steps: Vec<StepV1>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StepV1 {
        question: String,
        text: String,
        #[serde(default)]
        answer: Option<String>,
    }

    impl From<PathWire> for PathRecord {
        fn from(w: PathWire) -> PathRecord {
            let stages = match w.stages {
                Some(s) => s,
                None => v1_stages(
                    w.text.unwrap_or_default(),
                    w.steps,
                    StageRecord {
                        finish_reason: w.finish_reason,
                        prompt_tokens: w.prompt_tokens,
                        completion_tokens: w.completion_tokens,
                        logprob: w.logprob,
                        ..StageRecord::new(Stage::Answer, "")
                    },
                ),
            };
            PathRecord {
                index: w.index,
                stages,
                answer: w.answer,
                read: w.read,
                latency_ms: w.latency_ms,
                error: w.error,
                resamples: w.resamples,
                cached: w.cached,
                shared_request: w.shared_request,
                embedding: None,
            }
        }
    }

    /// A format-1 path as stages: one stage holding the whole text and the path's figures,
    /// or for a least-to-most chain its decomposition and one stage per recorded step.
    fn v1_stages(text: String, steps: Vec<StepV1>, last: StageRecord) -> Vec<StageRecord> {
        let first_ask = steps
            .first()
            .and_then(|s| text.find(&format!("\n\nQ: {}\nA:", s.question)));
        let Some(split) = first_ask else {
            return vec![StageRecord { text, ..last }];
        };
        let mut stages = vec![StageRecord::new(Stage::Decompose, &text[..split])];
        let k = steps.len();
        for (i, s) in steps.into_iter().enumerate() {
            let base = if i + 1 == k {
                last.clone()
            } else {
                StageRecord::new(Stage::Answer, "")
            };
            stages.push(StageRecord {
                stage: Stage::Solve(i),
                preface: format!("\n\nQ: {}\nA:", s.question),
                question: Some(s.question),
                text: s.text,
                answer: s.answer,
                ..base
            });
        }
        stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::extract::AnswerKind;

    fn stage(stage: Stage, preface: &str, text: &str, finish: &str) -> StageRecord {
        StageRecord {
            preface: preface.into(),
            finish_reason: Some(finish.into()),
            completion_tokens: 5,
            ..StageRecord::new(stage, text)
        }
    }

    fn number() -> Extractor {
        Extractor::new(&AnswerSpec::of(AnswerKind::Number)).unwrap()
    }

    #[test]
    fn zero_shot_cot_reads_the_extraction_stage_not_the_reasoning() {
        let mut p = PathRecord::new(0);
        p.stages = vec![
            stage(
                Stage::Reason,
                "",
                " The answer is 12? No: 3 + 4 = 7, times 2 is 14.",
                LENGTH,
            ),
            stage(
                Stage::Extract,
                "\nTherefore, the answer (arabic numerals) is",
                " 14.",
                "stop",
            ),
        ];
        settle(&mut p, &number(), "");
        assert_eq!(p.answer.as_deref(), Some("14"));
        assert!(p.truncated(), "the reasoning stage was cut");
        assert_eq!(p.finish_reason(), Some("stop"));
        assert!(p.text().ends_with("is 14."));
        assert_eq!(p.usage().completion_tokens, 10);
    }

    #[test]
    fn least_to_most_reads_the_last_sub_answer_and_each_step() {
        let mut p = PathRecord::new(0);
        let mut s0 = stage(
            Stage::Solve(0),
            "\n\nQ: a?\nA:",
            " The answer is 9.",
            "stop",
        );
        s0.question = Some("a?".into());
        let mut s1 = stage(Stage::Solve(1), "\n\nQ: b?\nA:", " 9 * 2 = 18.", "stop");
        s1.question = Some("b?".into());
        p.stages = vec![stage(Stage::Decompose, "", "1. a?", "stop"), s0, s1];
        settle(&mut p, &number(), "");
        assert_eq!(p.answer.as_deref(), Some("18"));
        let steps = p.steps();
        assert_eq!(steps.len(), 2);
        assert_eq!((steps[0].question, steps[0].answer), ("a?", Some("9")));
    }

    fn free_paths(texts: &[&str], spec: &AnswerSpec) -> Vec<PathRecord> {
        let e = Extractor::new(spec).unwrap();
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut p = PathRecord::new(i);
                p.stages = vec![stage(Stage::Answer, "", t, "stop")];
                settle(&mut p, &e, "");
                p
            })
            .collect()
    }

    #[test]
    fn free_answers_vote_as_clusters_named_by_their_representative() {
        let spec = AnswerSpec::of(AnswerKind::Free);
        let paths = free_paths(
            &[
                "It was signed at Westphalia in 1648.",
                "The answer is 1715.",
                "The treaty was signed in 1648 at Westphalia.",
                "   ",
                "Westphalia, 1648",
                "Utrecht, 1715",
            ],
            &spec,
        );
        assert_eq!(paths[3].answer, None, "an empty reply is no answer");
        let t = tally(&paths, &Voting::of(&spec));
        assert_eq!(
            t.winner.as_deref(),
            Some("it was signed at westphalia in 1648")
        );
        assert_eq!(t.entries[0].paths, vec![0, 2, 4]);
        assert_eq!(t.entries[0].members.len(), 3);
        assert_eq!(t.entries[1].paths, vec![1, 5], "1715 never joins 1648");
        assert_eq!(t.entries.last().unwrap().answer, None);
        let c = t.clustering.as_ref().unwrap();
        assert_eq!(
            (c.rule, c.similarity, c.note.as_deref()),
            (ClusterRule::Overlap, 0.7, None)
        );
        assert!((c.dispersion - free::dispersion([3, 2])).abs() < 1e-12);
        // Early-stop rules and maj@k read the same labels.
        let refs: Vec<&PathRecord> = paths.iter().collect();
        let labels = Voting::of(&spec).labels(&refs);
        assert_eq!(labels[2], labels[0]);
        assert_eq!(labels[3], None);
        // A stricter threshold splits the paraphrases; exact kinds never cluster.
        let strict = AnswerSpec {
            similarity: Some(1.0),
            ..spec.clone()
        };
        assert!(tally(&paths, &Voting::of(&strict)).entries.len() >= 3);
        assert_eq!(tally(&paths, &Voting::exact()).clustering, None);
    }

    #[test]
    fn usc_picks_the_selected_paths_cluster_and_falls_back_to_overlap_with_a_note() {
        let spec = AnswerSpec {
            cluster: Some(ClusterRule::Usc),
            ..AnswerSpec::of(AnswerKind::Free)
        };
        let paths = free_paths(&["Paris", "Lyon", "Paris, France", "Lyon, France"], &spec);
        let picked = Selection {
            responses: vec![0, 1, 2, 3],
            reply: "The most consistent response is Response 2".into(),
            chosen: Some(1),
            error: None,
        };
        let t = tally(&paths, &Voting::of(&spec).with_selection(Some(&picked)));
        assert_eq!(t.winner.as_deref(), Some("lyon"));
        assert_eq!(
            t.entries[0].answer.as_deref(),
            Some("lyon"),
            "the winner comes first"
        );
        assert_eq!(t.agreement, 0.5);
        assert_eq!(t.clustering.unwrap().note, None);
        let vague = Selection {
            chosen: None,
            reply: "I cannot say".into(),
            ..picked.clone()
        };
        let t = tally(&paths, &Voting::of(&spec).with_selection(Some(&vague)));
        assert_eq!(t.winner.as_deref(), Some("paris"), "overlap's winner");
        assert!(
            t.clustering
                .unwrap()
                .note
                .unwrap()
                .contains("named no response")
        );
        let t = tally(&paths, &Voting::of(&spec));
        assert!(
            t.clustering
                .unwrap()
                .note
                .unwrap()
                .contains("needs the model")
        );
    }

    #[test]
    fn embed_clusters_by_cosine_keeps_numbers_exact_and_says_when_it_had_no_embeddings() {
        let spec = AnswerSpec {
            cluster: Some(ClusterRule::Embed),
            ..AnswerSpec::of(AnswerKind::Free)
        };
        let mut paths = free_paths(
            &["the big apple", "new york city", "in 1648", "in 1748"],
            &spec,
        );
        let t = tally(&paths, &Voting::of(&spec));
        assert_eq!(t.entries.len(), 4, "by overlap nothing is alike");
        assert!(
            t.clustering
                .unwrap()
                .note
                .unwrap()
                .contains("no --embed-model")
        );
        for (p, v) in paths
            .iter_mut()
            .zip([[1.0, 0.1], [0.9, 0.2], [0.0, 1.0], [0.0, 1.0]])
        {
            p.embedding = Some(v.to_vec().into());
        }
        let t = tally(&paths, &Voting::of(&spec));
        assert_eq!(t.entries[0].paths, vec![0, 1], "alike by meaning");
        assert_eq!(
            t.entries.len(),
            3,
            "1648 and 1748 stay apart though their vectors agree"
        );
        assert_eq!(t.clustering.unwrap().note, None);
    }

    #[test]
    fn failed_paths_have_no_answer_and_no_vote() {
        let mut p = PathRecord::new(3);
        p.stages = vec![StageRecord::new(Stage::Answer, "The answer is 4")];
        p.error = Some("HTTP 500: boom".into());
        settle(&mut p, &number(), "");
        assert_eq!(p.answer, None);
        assert_eq!(Voting::exact().ballot(&p), None);
    }

    #[test]
    fn format_1_paths_load_as_one_stage() {
        let json = r#"{"index":0,"text":"x. The answer is 18.","answer":"18","finish_reason":"length","prompt_tokens":9,"completion_tokens":7,"latency_ms":5,"error":null,"logprob":{"sum":-1.0,"tokens":7}}"#;
        let p: PathRecord = serde_json::from_str(json).unwrap();
        assert_eq!(p.stages.len(), 1);
        assert_eq!(p.text(), "x. The answer is 18.");
        assert!(p.truncated());
        assert_eq!(p.usage().prompt_tokens, 9);
        assert_eq!(p.logprob().unwrap().tokens, 7);
        let back: PathRecord = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn format_1_chains_keep_their_steps() {
        let json = r#"{"index":0,"text":"Sub-questions:\n1. a?\n\nQ: a?\nA: 9.\n\nQ: b?\nA: 18.","answer":"18","finish_reason":"stop","prompt_tokens":9,"completion_tokens":7,"latency_ms":5,"error":null,"steps":[{"question":"a?","text":"9.","answer":"9"},{"question":"b?","text":"18.","answer":"18"}]}"#;
        let p: PathRecord = serde_json::from_str(json).unwrap();
        assert_eq!(p.stages.len(), 3);
        assert_eq!(p.steps()[1].question, "b?");
        assert_eq!(p.stages[2].finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn hosts_never_carry_credentials() {
        assert_eq!(
            host_of("https://user:sk-secret@api.example.com/v1/?key=sk-2#x"),
            "https://api.example.com/v1"
        );
        assert_eq!(
            host_of("http://127.0.0.1:8080/v1/"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(host_of("http://h:1"), "http://h:1");
    }
}
