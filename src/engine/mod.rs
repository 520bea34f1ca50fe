//! Runs plans: turns a query, a template and sampling settings into N sampled reasoning paths,
//! with bounded concurrency, per-path seeds (`seed + i`), re-sampling of streams that broke
//! mid-way, cancellation, and a stream of events that the TUI and the CLI both consume.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backend::{
    Backend, BackendError, BackendInfo, Embedder, SampleRequest, SampleStream, StreamEvent,
};
use crate::core::early_stop::{EarlyStop, stop_point};
use crate::core::extract::{AnswerKind, Extractor};
use crate::core::free::{self, ClusterRule};
use crate::core::least_to_most::LeastToMost;
pub use crate::core::record::{PathRecord, RunResult};
use crate::core::record::{STOPPED, Selection, Voting, settle};
use crate::core::render::{Mode, Prompt, Rendered, answer_trigger, render};
use crate::core::strategy::{PathMachine, SampleSpec, Step};
use crate::core::template::{Sampling, Strategy, Template};

mod accepted;
pub mod backends;
pub mod batch;
pub mod batches;
pub mod cache;
pub mod cost;
pub mod curve;
pub mod error;
pub mod eval;
pub mod examples;
pub mod grid;
pub mod jobs;
pub mod limit;
pub mod optimize;
mod path;
pub mod plan;
pub mod report;
pub mod scored;
pub mod select;
pub mod tuner;

use cache::Cache;
pub use error::PlanError;
use limit::Limiter;
use path::{Opened, run_path};

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
    /// Read paths from the cache only: one that is not there fails without a request.
    pub cache_only: bool,
    /// Sample every path anew, even one the cache holds; the new samples replace the cached
    /// ones (`run --fresh`, the lab's re-sample).
    pub fresh: bool,
    /// The least-to-most machine every path starts from (that strategy only).
    least_to_most: Option<LeastToMost>,
    /// What the prompts after the first are built from, beyond the first prompt and the
    /// samples (least-to-most's solving exemplars, decompositions and instruction).
    later_prompts: serde_json::Value,
    /// Embeds free-form answers for the `embed` cluster rule.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// `calibrate:` runs: the options scored by their log-probabilities instead of paths
    /// sampled (`core::calibrate`).
    pub scoring: Option<crate::core::calibrate::Setup>,
    /// Content-free scores shared by the runs of one evaluation.
    pub score_memo: Option<Arc<scored::ScoreMemo>>,
}

impl RunPlan {
    pub fn new(template: &Template, query: &str, mode: Mode) -> Result<RunPlan, PlanError> {
        template.validate()?;
        if query.trim().is_empty() {
            return Err(PlanError::EmptyQuery);
        }
        // A `knn` template's examples for this query, by content words unless the caller
        // already chose them by embeddings (`core::select`).
        let template = &crate::core::select::choose(template, query, None);
        let extractor = Extractor::new(&template.answer)?;
        if template.answer.kind == crate::core::extract::AnswerKind::Choice
            && template.answer.choices.is_empty()
            && crate::core::extract::parse_options(query).is_empty()
        {
            return Err(PlanError::NoOptions);
        }
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
            cache_only: false,
            fresh: false,
            least_to_most: (template.strategy == Strategy::LeastToMost).then(|| {
                LeastToMost::new(template.clone(), query, mode, template.sampling.max_tokens)
            }),
            later_prompts: match template.strategy {
                Strategy::LeastToMost => serde_json::json!({
                    "instruction": crate::core::render::instruction(template),
                    "examples": template.active_examples().collect::<Vec<_>>(),
                    "decomposition": template.decomposition,
                    "query": query.trim(),
                    "mode": mode,
                }),
                Strategy::Direct | Strategy::Cot | Strategy::ZeroShotCot => serde_json::Value::Null,
            },
            embedder: None,
            scoring: crate::core::calibrate::setup(template, query, mode)
                .map_err(PlanError::from)?,
            score_memo: None,
        })
    }

    /// How this plan's answers vote (free-form ones clustered, the question's words aside).
    pub fn voting(&self) -> Voting<'_> {
        Voting::of(self.extractor.spec()).answering(&self.query)
    }

    /// Whether answers are free-form (voted by clusters).
    pub fn free(&self) -> bool {
        self.extractor.kind() == AnswerKind::Free
    }

    /// What the prompts after the first depend on (part of the sample cache key).
    pub fn later_prompts(&self) -> &serde_json::Value {
        &self.later_prompts
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
            thinking: self.sampling.thinking,
            reasoning_effort: self.sampling.reasoning_effort,
        }
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
    /// A piece of a reasoning model's thinking (shown apart from the answer text).
    Thinking {
        path: usize,
        text: String,
    },
    /// The path's stream broke and it is sampled afresh: its text is back to `text`.
    PathRestarted {
        path: usize,
        text: String,
        reason: String,
    },
    PathDone(PathRecord),
    /// The early-stop rule found the vote settled after `after` of at most `of` paths.
    Settled {
        after: usize,
        of: usize,
    },
    RunDone(RunResult),
    /// The server seemed overloaded (`reason`): at most `limit` samples at once from now on.
    Throttled {
        limit: usize,
        reason: String,
    },
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
    let permits = Arc::new(Limiter::new(plan.concurrency));
    run_limited(backend, plan, events, cancel, permits).await
}

/// As `run`, with a concurrency limit shared by many runs (an evaluation's items).
///
/// Paths start in index order. The early-stop rule reads the answers of the finished prefix in
/// index order; once they settle the vote no more paths start. Over HTTP no more are
/// outstanding (started, not yet in the finished prefix) than the rule could still need
/// (`Rule::needed`), so the server gets waves and no path is running when the vote settles (a
/// path starts only when `needed` more answers could at best settle it, so the settling prefix
/// reaches past it). A backend that decodes in lockstep (the local one) gets every path at
/// once, one batch, since smaller batches save no time there; the paths still decoding when
/// the vote settles are stopped within a step, their text kept and marked `STOPPED`.
pub async fn run_limited(
    backend: Arc<dyn Backend>,
    plan: Arc<RunPlan>,
    events: Option<Events>,
    cancel: CancellationToken,
    permits: Arc<Limiter>,
) -> RunResult {
    if plan.scoring.is_some() {
        return scored::run(backend, plan, events, cancel, permits).await;
    }
    let started = Instant::now();
    let n = plan.sampling.n as usize;
    let rule = plan.sampling.early_stop;
    let info = backend.info();
    let lockstep = backend.decodes_in_lockstep();
    // Stops the paths a settled vote does not need (and everything when the user cancels).
    let stop = cancel.child_token();
    let ctx = PathContext {
        backend,
        plan: plan.clone(),
        events: events.clone(),
        cancel: cancel.clone(),
        stop: stop.clone(),
        permits,
    };
    let mut done: Vec<Option<PathRecord>> = vec![None; n];
    let mut tasks = JoinSet::new();
    let mut next = 0;
    let mut settled_after = None;
    loop {
        let prefix = done.iter().take_while(|d| d.is_some()).count();
        let labels = answers_in_order(&plan, done[..prefix].iter().flatten());
        let answers: Vec<Option<&str>> = labels.iter().map(Option::as_deref).collect();
        if rule.check(&answers).settled {
            // Where the rule first settles: paths after it that finished meanwhile still
            // vote, as complete samples, but the rule read only these.
            let after = stop_point(&rule, &answers).0;
            settled_after = Some(after);
            stop.cancel();
            emit(&events, EngineEvent::Settled { after, of: n });
            break;
        }
        let want = if lockstep {
            n
        } else {
            rule.needed(&answers, n)
        };
        let mut fresh = Vec::new();
        let mut hit = false;
        while next < n && next - prefix < want && !cancel.is_cancelled() {
            if let Some(mut p) = cached(&plan, &info, next, &events).or_else(|| {
                plan.cache_only.then(|| {
                    let mut p = PathRecord::new(next);
                    p.error = Some(NOT_CACHED.into());
                    p
                })
            }) {
                embed(&plan, &mut p).await;
                if p.cached {
                    emit(&events, EngineEvent::PathDone(p.clone()));
                }
                done[next] = Some(p);
                next += 1;
                hit = true;
                break;
            }
            fresh.push(next);
            next += 1;
        }
        ctx.spawn(&mut tasks, &fresh, &info);
        if hit {
            continue;
        }
        match tasks.join_next().await {
            Some(Ok(p)) => {
                let i = p.index;
                done[i] = Some(p);
            }
            Some(Err(e)) => tracing::error!("path task failed: {e}"),
            None => break,
        }
    }
    // Paths still running end within a step once stopped; what they streamed is kept.
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(p) => {
                let i = p.index;
                done[i] = Some(p);
            }
            Err(e) => tracing::error!("path task failed: {e}"),
        }
    }
    let paths: Vec<PathRecord> = done.into_iter().flatten().collect();
    let early_stop = early_stop_of(&plan, &paths, settled_after);
    let selection = match plan.extractor.spec().cluster() {
        ClusterRule::Usc if plan.free() && !plan.cache_only && !cancel.is_cancelled() => {
            select(ctx.backend.as_ref(), &plan, &paths).await
        }
        _ => None,
    };
    let mut result = RunResult::from_paths(
        paths,
        started.elapsed().as_millis() as u64,
        cancel.is_cancelled(),
        &plan.voting().with_selection(selection.as_ref()),
    );
    result.early_stop = early_stop;
    emit(&events, EngineEvent::RunDone(result.clone()));
    result
}

/// Where a run with an early-stop rule stopped (`settled_after`: the prefix the rule read when
/// it settled), or `None` without a rule.
fn early_stop_of(
    plan: &RunPlan,
    paths: &[PathRecord],
    settled_after: Option<usize>,
) -> Option<EarlyStop> {
    let rule = plan.sampling.early_stop;
    let n = plan.sampling.n as usize;
    (!rule.is_none()).then(|| {
        // Settled: the paths the rule read; else every path that ran to its end.
        let read: Vec<&PathRecord> = match settled_after {
            Some(k) => paths.iter().take(k).collect(),
            None => paths
                .iter()
                .filter(|p| !p.cancelled() && !p.stopped())
                .collect(),
        };
        let used = read.len();
        let labels = answers_in_order(plan, read);
        let answers: Vec<Option<&str>> = labels.iter().map(Option::as_deref).collect();
        EarlyStop {
            rule,
            threshold: rule.threshold(),
            samples_used: used,
            max: n,
            settled: settled_after.is_some(),
            probability: rule.check(&answers).probability,
        }
    })
}

/// The error of a path a cache-only run did not find in the cache.
pub use crate::core::results::NOT_CACHED;

/// The votes of finished paths, in index order (`None`: unparsed or failed): their answers,
/// or their clusters' labels for free-form answers.
fn answers_in_order<'a>(
    plan: &RunPlan,
    paths: impl IntoIterator<Item = &'a PathRecord>,
) -> Vec<Option<String>> {
    let paths: Vec<&PathRecord> = paths.into_iter().collect();
    plan.voting().labels(&paths)
}

/// Gives a finished path's free-form answer its embedding, when the plan clusters by `embed`.
/// A failure is logged and the vote falls back to overlap (the tally says so).
async fn embed(plan: &RunPlan, path: &mut PathRecord) {
    if let Some(embedder) = &plan.embedder {
        embed_path(embedder.as_ref(), path).await;
    }
}

async fn embed_path(embedder: &dyn Embedder, path: &mut PathRecord) {
    let Some(answer) = path.voted_answer() else {
        return;
    };
    match embedder.embed(answer).await {
        Ok(v) => path.embedding = Some(v.into()),
        Err(e) => tracing::warn!("embedding path {}'s answer: {e}", path.index),
    }
}

/// Gives every answered path its answer's embedding (re-voting recorded runs by `embed`).
pub async fn embed_answers(embedder: &dyn Embedder, paths: &mut [PathRecord]) {
    for p in paths {
        embed_path(embedder, p).await;
    }
}

/// Universal self-consistency's selector call: the model is shown every answered path and
/// asked which is the most consistent. `None` when the answers all fall in one cluster (there
/// is nothing to choose) or no path answered.
async fn select(backend: &dyn Backend, plan: &RunPlan, paths: &[PathRecord]) -> Option<Selection> {
    let voting = plan.voting();
    let answered: Vec<&PathRecord> = paths
        .iter()
        .filter(|p| voting.answer_of(p).is_some())
        .collect();
    let labels = voting.labels(&answered);
    let first = labels.first()?;
    if labels.iter().all(|l| l == first) {
        return None;
    }
    let texts: Vec<String> = answered.iter().map(|p| p.answer_text()).collect();
    let mode = match plan.first.prompt {
        Prompt::Chat(_) => Mode::Chat,
        Prompt::Completion(_) => Mode::Completion,
    };
    let usc = free::usc_prompt(&plan.query, &texts, mode);
    let reply = complete(
        backend,
        &usc.prompt,
        mode,
        CompleteRequest {
            stop: usc.stop,
            max_tokens: 48,
            temperature: 0.0,
            seed: plan.sampling.seed,
        },
    )
    .await;
    let responses = answered.iter().map(|p| p.index).collect();
    Some(match reply {
        Ok(reply) => Selection {
            chosen: free::parse_usc(&reply, usc.lead_in, answered.len()).map(|k| answered[k].index),
            responses,
            reply,
            error: None,
        },
        Err(e) => Selection {
            responses,
            reply: String::new(),
            chosen: None,
            error: Some(e.to_string()),
        },
    })
}

/// Path `i` from the sample cache, read with the current answer extraction like a fresh one
/// (`None` when the plan samples afresh).
fn cached(
    plan: &RunPlan,
    info: &BackendInfo,
    i: usize,
    events: &Option<Events>,
) -> Option<PathRecord> {
    let cache = plan.cache.as_ref().filter(|_| !plan.fresh)?;
    let mut hit = cache.get(&cache::key(info, plan, i))?;
    hit.index = i;
    hit.cached = true;
    settle(&mut hit, &plan.extractor, &plan.query);
    emit(events, EngineEvent::PathStarted { path: i });
    emit(
        events,
        EngineEvent::Chunk {
            path: i,
            text: hit.text(),
        },
    );
    Some(hit)
}

/// What every path task of a run shares.
struct PathContext {
    backend: Arc<dyn Backend>,
    plan: Arc<RunPlan>,
    events: Option<Events>,
    /// The user's cancel, and the run's stop (a child of it: a settled vote).
    cancel: CancellationToken,
    stop: CancellationToken,
    permits: Arc<Limiter>,
}

impl PathContext {
    /// Starts the paths `indices` (consecutive); backends that share one prompt's work get
    /// their first samples as one batch.
    fn spawn(&self, tasks: &mut JoinSet<PathRecord>, indices: &[usize], info: &BackendInfo) {
        let Some(&first) = indices.first() else {
            return;
        };
        let batched = match self.plan.machine().start() {
            Step::Sample(spec) if indices.len() > 1 => self
                .backend
                .stream_batch(self.plan.request(spec, first), indices.len()),
            _ => None,
        };
        let mut opened: Vec<Option<SampleStream>> = match batched {
            Some(streams) if streams.len() == indices.len() => {
                streams.into_iter().map(Some).collect()
            }
            _ => indices.iter().map(|_| None).collect(),
        };
        // Samples a server takes as one request (`n`) hold one concurrency slot: the first
        // path's, taken before its stream is read (which sends the request). A backend that
        // decodes in lockstep runs its batch outside the limit.
        let lockstep = self.backend.decodes_in_lockstep();
        for (&i, first) in indices.iter().zip(opened.drain(..)) {
            let first = first.map(|stream| Opened {
                stream,
                takes_slot: !lockstep && i == indices[0],
            });
            let key = self
                .plan
                .cache
                .as_ref()
                .map(|_| cache::key(info, &self.plan, i));
            let (backend, plan, events, cancel, stop, permits) = (
                self.backend.clone(),
                self.plan.clone(),
                self.events.clone(),
                self.cancel.clone(),
                self.stop.clone(),
                self.permits.clone(),
            );
            tasks.spawn(async move {
                let mut result =
                    run_path(i, backend.as_ref(), &plan, first, &events, &stop, &permits).await;
                if result.cancelled() && !cancel.is_cancelled() {
                    result.error = Some(STOPPED.into());
                }
                if let (Some(c), Some(k), true) = (&plan.cache, &key, result.succeeded()) {
                    c.put(k, &result);
                }
                embed(&plan, &mut result).await;
                emit(&events, EngineEvent::PathDone(result.clone()));
                result
            });
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
        thinking: crate::core::template::Thinking::Auto,
        reasoning_effort: None,
    });
    let mut text = String::new();
    while let Some(ev) = stream.next().await {
        match ev? {
            StreamEvent::Text(t) => text.push_str(&t),
            // A proposal is the answer, never the thinking that led to it.
            StreamEvent::Thinking(_) => {}
            StreamEvent::Done(_) => return Ok(crate::core::thinking::split(&text).1),
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
