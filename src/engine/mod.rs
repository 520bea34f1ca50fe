//! Runs plans: turns a query, a template and sampling settings into N sampled reasoning paths,
//! with bounded concurrency, per-path seeds (`seed + i`), re-sampling of streams that broke
//! mid-way, cancellation, and a stream of events that the TUI and the CLI both consume.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backend::{
    Backend, BackendError, Finish, SampleRequest, SampleStream, StreamEvent, Usage,
};
use crate::core::extract::Extractor;
use crate::core::least_to_most::{LeastToMost, SubStep};
use crate::core::render::{Mode, Prompt, Rendered, answer_trigger, render};
use crate::core::strategy::{PathMachine, SampleSpec, Step};
use crate::core::template::{Sampling, Strategy, Template};
use crate::core::vote::{Ballot, LogProb, Tally};

pub mod cache;
pub mod eval;
pub mod optimize;

use cache::Cache;

/// Everything one run needs, fixed before it starts.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub query: String,
    pub strategy: Strategy,
    pub first: Rendered,
    pub answer_trigger: String,
    pub sampling: Sampling,
    pub extractor: Extractor,
    /// Paths sampled at once.
    pub concurrency: usize,
    /// Fresh samples after a stream broke mid-way (the HTTP layer retries the rest).
    pub max_resamples: u32,
    /// Finished paths are looked up here first and stored here after.
    pub cache: Option<Arc<Cache>>,
    /// The least-to-most machine every path starts from (that strategy only).
    least_to_most: Option<LeastToMost>,
}

impl RunPlan {
    pub fn new(template: &Template, query: &str, mode: Mode) -> Result<RunPlan, String> {
        template.validate()?;
        if query.trim().is_empty() {
            return Err("the query is empty: give one with --query or in the template".into());
        }
        let extractor = Extractor::new(&template.answer)?;
        Ok(RunPlan {
            query: query.trim().to_string(),
            strategy: template.strategy,
            first: render(template, query, mode),
            answer_trigger: answer_trigger(template.answer.kind, query),
            sampling: template.sampling.clone(),
            extractor,
            concurrency: 16,
            max_resamples: 2,
            cache: None,
            least_to_most: (template.strategy == Strategy::LeastToMost).then(|| {
                LeastToMost::new(template.clone(), query, mode, template.sampling.max_tokens)
            }),
        })
    }

    fn machine(&self) -> PathMachine {
        match &self.least_to_most {
            Some(m) => PathMachine::LeastToMost(Box::new(m.clone())),
            None => PathMachine::new(
                self.strategy,
                self.first.clone(),
                self.answer_trigger.clone(),
                self.sampling.max_tokens,
            ),
        }
    }

    fn request(&self, spec: SampleSpec, path: usize) -> SampleRequest {
        SampleRequest {
            prompt: spec.prompt,
            stop: spec.stop,
            max_tokens: spec.max_tokens,
            temperature: self.sampling.temperature,
            top_p: self.sampling.top_p,
            top_k: self.sampling.top_k,
            seed: self.sampling.seed.wrapping_add(path as u64),
        }
    }
}

/// One sampled reasoning path and its extracted answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathResult {
    pub index: usize,
    pub text: String,
    pub answer: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u64,
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprob: Option<LogProb>,
    /// Fresh samples taken after broken streams.
    #[serde(default)]
    pub resamples: u32,
    /// Least-to-most: the sub-questions with their answers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<SubStep>,
}

impl PathResult {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    fn ballot(&self) -> Option<Ballot> {
        self.succeeded().then(|| Ballot {
            path: self.index,
            answer: self.answer.clone(),
            logprob: self.logprob,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub paths: Vec<PathResult>,
    pub tally: Tally,
    pub usage: Usage,
    pub elapsed_ms: u64,
    pub cancelled: bool,
}

impl RunResult {
    pub fn from_paths(mut paths: Vec<PathResult>, elapsed_ms: u64, cancelled: bool) -> RunResult {
        paths.sort_by_key(|p| p.index);
        let ballots: Vec<Ballot> = paths.iter().filter_map(PathResult::ballot).collect();
        let mut usage = Usage::default();
        for p in &paths {
            usage += Usage {
                prompt_tokens: p.prompt_tokens,
                completion_tokens: p.completion_tokens,
            };
        }
        RunResult {
            tally: Tally::from_ballots(&ballots),
            paths,
            usage,
            elapsed_ms,
            cancelled,
        }
    }

    pub fn succeeded(&self) -> usize {
        self.paths.iter().filter(|p| p.succeeded()).count()
    }
}

/// What a run reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    PathStarted {
        path: usize,
    },
    Chunk {
        path: usize,
        text: String,
    },
    /// The path's stream broke and it is sampled afresh: its text is back to `text`.
    PathRestarted {
        path: usize,
        text: String,
        reason: String,
    },
    PathDone(PathResult),
    RunDone(RunResult),
}

pub type Events = mpsc::UnboundedSender<EngineEvent>;

fn emit(events: &Option<Events>, e: EngineEvent) {
    if let Some(tx) = events {
        // A consumer that went away does not stop the run.
        let _ = tx.send(e);
    }
}

/// Samples the plan's N paths and votes. Cancelling the token stops every path promptly;
/// what arrived is kept (cancelled paths carry the error "cancelled").
pub async fn run(
    backend: Arc<dyn Backend>,
    plan: Arc<RunPlan>,
    events: Option<Events>,
    cancel: CancellationToken,
) -> RunResult {
    let permits = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    run_limited(backend, plan, events, cancel, permits).await
}

/// As `run`, with a concurrency limit shared by many runs (an evaluation's items).
pub async fn run_limited(
    backend: Arc<dyn Backend>,
    plan: Arc<RunPlan>,
    events: Option<Events>,
    cancel: CancellationToken,
    permits: Arc<Semaphore>,
) -> RunResult {
    let started = Instant::now();
    let n = plan.sampling.n as usize;
    let info = backend.info();
    let keys: Vec<Option<String>> = (0..n)
        .map(|i| plan.cache.as_ref().map(|_| cache::key(&info, &plan, i)))
        .collect();
    let mut paths = Vec::with_capacity(n);
    let mut missing = Vec::with_capacity(n);
    for (i, key) in keys.iter().enumerate() {
        match (&plan.cache, key) {
            (Some(c), Some(k)) => match c.get(k) {
                Some(mut hit) => {
                    // Cached texts are re-read with the current answer extraction.
                    hit.index = i;
                    hit.answer = plan.extractor.extract(&hit.text, &plan.query);
                    emit(&events, EngineEvent::PathStarted { path: i });
                    emit(
                        &events,
                        EngineEvent::Chunk {
                            path: i,
                            text: hit.text.clone(),
                        },
                    );
                    emit(&events, EngineEvent::PathDone(hit.clone()));
                    paths.push(hit);
                }
                None => missing.push(i),
            },
            _ => missing.push(i),
        }
    }
    // Backends that share one prompt's work across N samples get all first samples at once
    // (when nothing of the run is cached).
    let batched = match plan.machine().start() {
        Step::Sample(spec) if missing.len() == n => backend.stream_batch(plan.request(spec, 0), n),
        _ => None,
    };
    let mut first_streams: Vec<Option<SampleStream>> = match batched {
        Some(streams) if streams.len() == n => streams.into_iter().map(Some).collect(),
        _ => (0..n).map(|_| None).collect(),
    };
    let mut tasks = JoinSet::new();
    for (i, first) in first_streams.drain(..).enumerate() {
        if !missing.contains(&i) {
            continue;
        }
        let key = keys[i].clone();
        let (backend, plan, events, cancel, permits) = (
            backend.clone(),
            plan.clone(),
            events.clone(),
            cancel.clone(),
            permits.clone(),
        );
        tasks.spawn(async move {
            // Batched paths are already running; the others wait for a concurrency slot.
            let _permit = match first {
                Some(_) => None,
                None => tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return cancelled_path(i, String::new(), Usage::default(), 0),
                    p = permits.acquire_owned() => Some(p),
                },
            };
            let result = run_path(i, backend.as_ref(), &plan, first, &events, &cancel).await;
            if let (Some(c), Some(k), true) = (&plan.cache, &key, result.succeeded()) {
                c.put(k, &result);
            }
            emit(&events, EngineEvent::PathDone(result.clone()));
            result
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(p) => paths.push(p),
            Err(e) => tracing::error!("path task failed: {e}"),
        }
    }
    let result = RunResult::from_paths(
        paths,
        started.elapsed().as_millis() as u64,
        cancel.is_cancelled(),
    );
    emit(&events, EngineEvent::RunDone(result.clone()));
    result
}

fn cancelled_path(index: usize, text: String, usage: Usage, latency_ms: u64) -> PathResult {
    PathResult {
        index,
        text,
        answer: None,
        finish_reason: None,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        latency_ms,
        error: Some("cancelled".into()),
        logprob: None,
        resamples: 0,
        steps: Vec::new(),
    }
}

/// How one sample ended.
enum SampleEnd {
    Done(String, Finish),
    Failed(BackendError),
    Cancelled,
}

async fn run_path(
    i: usize,
    backend: &dyn Backend,
    plan: &RunPlan,
    mut opened: Option<SampleStream>,
    events: &Option<Events>,
    cancel: &CancellationToken,
) -> PathResult {
    let started = Instant::now();
    emit(events, EngineEvent::PathStarted { path: i });
    let mut machine = plan.machine();
    let mut step = machine.start();
    let mut shown = String::new();
    let mut usage = Usage::default();
    let mut logprob: Option<LogProb> = None;
    let mut resamples = 0;
    let mut finish_reason = None;
    let latency = |started: Instant| started.elapsed().as_millis() as u64;
    loop {
        let spec = match step {
            Step::Done {
                text,
                mut steps,
                answer_from,
            } => {
                let answer = plan
                    .extractor
                    .extract(text.get(answer_from..).unwrap_or(&text), &plan.query);
                for s in &mut steps {
                    s.answer = plan.extractor.extract(&s.text, &plan.query);
                }
                return PathResult {
                    index: i,
                    text,
                    answer,
                    steps,
                    finish_reason,
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    latency_ms: latency(started),
                    error: None,
                    logprob,
                    resamples,
                };
            }
            Step::Sample(spec) => spec,
        };
        if !spec.preface.is_empty() {
            shown.push_str(&spec.preface);
            emit(
                events,
                EngineEvent::Chunk {
                    path: i,
                    text: spec.preface.clone(),
                },
            );
        }
        let request = plan.request(spec, i);
        let before = shown.clone();
        let end = loop {
            let stream = opened
                .take()
                .unwrap_or_else(|| backend.stream(request.clone()));
            match sample(i, stream, events, cancel, &mut shown).await {
                SampleEnd::Failed(e) if e.is_transient() && resamples < plan.max_resamples => {
                    resamples += 1;
                    shown.clone_from(&before);
                    emit(
                        events,
                        EngineEvent::PathRestarted {
                            path: i,
                            text: before.clone(),
                            reason: e.to_string(),
                        },
                    );
                }
                other => break other,
            }
        };
        match end {
            SampleEnd::Done(text, finish) => {
                usage += finish.usage;
                if let Some(l) = finish.logprob {
                    let acc = logprob.get_or_insert(LogProb {
                        sum: 0.0,
                        tokens: 0,
                    });
                    acc.sum += l.sum;
                    acc.tokens += l.tokens;
                }
                finish_reason = Some(finish.reason);
                step = machine.on_completion(&text);
            }
            SampleEnd::Failed(e) => {
                let mut p = cancelled_path(i, shown, usage, latency(started));
                p.error = Some(e.to_string());
                p.resamples = resamples;
                return p;
            }
            SampleEnd::Cancelled => {
                let mut p = cancelled_path(i, shown, usage, latency(started));
                p.resamples = resamples;
                return p;
            }
        }
    }
}

async fn sample(
    i: usize,
    mut stream: SampleStream,
    events: &Option<Events>,
    cancel: &CancellationToken,
    shown: &mut String,
) -> SampleEnd {
    let mut text = String::new();
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return SampleEnd::Cancelled,
            next = stream.next() => next,
        };
        match next {
            Some(Ok(StreamEvent::Text(t))) => {
                text.push_str(&t);
                shown.push_str(&t);
                emit(events, EngineEvent::Chunk { path: i, text: t });
            }
            Some(Ok(StreamEvent::Done(f))) => return SampleEnd::Done(text, f),
            Some(Err(e)) => return SampleEnd::Failed(e),
            None => return SampleEnd::Failed(BackendError::StreamCut),
        }
    }
}

/// The prompt a plan sends first (what `--show-prompt` prints).
pub fn first_prompt(plan: &RunPlan) -> &Prompt {
    &plan.first.prompt
}

#[cfg(test)]
mod tests;

/// One plain completion of `prompt` (a user message in chat mode), collected whole: for
/// the model calls of prompt search, which are not reasoning paths.
pub async fn complete(
    backend: &dyn Backend,
    prompt: &str,
    mode: Mode,
    request: CompleteRequest,
) -> Result<String, BackendError> {
    let prompt = match mode {
        Mode::Completion => Prompt::Completion(prompt.to_string()),
        Mode::Chat => Prompt::Chat(vec![crate::core::render::Message::new(
            crate::core::render::Role::User,
            prompt,
        )]),
    };
    let mut stream = backend.stream(SampleRequest {
        prompt,
        stop: request.stop,
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        top_p: 0.95,
        top_k: 40,
        seed: request.seed,
    });
    let mut text = String::new();
    while let Some(ev) = stream.next().await {
        match ev? {
            StreamEvent::Text(t) => text.push_str(&t),
            StreamEvent::Done(_) => return Ok(text),
        }
    }
    Err(BackendError::StreamCut)
}

/// Sampling of one `complete` call.
#[derive(Debug, Clone)]
pub struct CompleteRequest {
    pub stop: Vec<String>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub seed: u64,
}
