//! Evaluation and prompt-search jobs, as `promptlab eval` / `optimize` and the lab's
//! evaluation and search views run them: one dataset loader, one scoring set-up with its
//! defaults, and one event enum the faces only show.

use std::path::PathBuf;
use std::sync::Arc;

use super::eval::{EvalOptions, VariantResult, eval_variant};
use super::optimize::{PROPOSAL_TOKENS, RaceStep, Search, SearchResult, split};
use crate::backend::Backend;
use crate::core::ape::{ApeConfig, RACE_LEVEL, SearchOptions, default_batch};
use crate::core::evaluation::VariantStats;
use crate::core::template::Template;
use crate::store::dataset::{Dataset, load_dataset, locate};

use super::eval::Variant;

/// What an evaluation or a search reports, in order.
#[derive(Debug, Clone)]
pub enum JobEvent {
    /// An evaluation begins: its dataset, items, variant names and the dataset lines skipped.
    EvalStarted {
        dataset: String,
        items: usize,
        variants: Vec<String>,
        skipped: Vec<String>,
    },
    /// Variant `variant` has `done` items scored, `correct` of them by majority.
    ItemDone {
        variant: usize,
        done: usize,
        correct: usize,
    },
    VariantDone(Box<VariantResult>),
    /// The statistics of the variants scored so far (intervals, each against the baseline,
    /// Holm across them), after each variant: later variants change earlier adjustments.
    Statistics(Vec<VariantStats>),
    /// Every variant is scored, or the job was cancelled. `lowered`: the concurrency a server
    /// that seemed overloaded was brought down to, of the one asked for.
    EvalFinished {
        lowered: Option<(usize, usize)>,
    },
    SearchStarted(Box<SearchPlan>),
    Round {
        round: usize,
        proposals: usize,
    },
    ProposalFailed(String),
    /// A step of the race is over.
    Raced(Box<RaceStep>),
    SearchFinished(Box<SearchResult>),
}

/// Where a job reports (a progress bar, stderr, the lab's message queue).
pub type Report = Arc<dyn Fn(JobEvent) + Send + Sync>;

/// Reads a dataset off the async threads: a path, or a name under the data directory or the
/// shipped assets; the first `limit` items when given.
pub async fn load(path: PathBuf, strict: bool, limit: Option<usize>) -> Result<Dataset, String> {
    let mut data = tokio::task::spawn_blocking(move || load_dataset(&locate(&path), strict))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if let Some(k) = limit {
        data.items.truncate(k);
    }
    Ok(data)
}

/// Variants of one dataset, scored one after the other with the same options.
pub struct EvalJob {
    pub dataset: Dataset,
    pub variants: Vec<Variant>,
    pub opts: EvalOptions,
    /// The variant the others are compared with (`core::evaluation::baseline_index`).
    pub baseline: usize,
}

impl EvalJob {
    /// Scores every variant (until cancelled), reporting as it goes.
    pub async fn run(&self, on: &Report) -> Vec<VariantResult> {
        on(JobEvent::EvalStarted {
            dataset: self.dataset.name.clone(),
            items: self.dataset.items.len(),
            variants: self.variants.iter().map(|v| v.name.clone()).collect(),
            skipped: self.dataset.problems.clone(),
        });
        let mut results = Vec::new();
        for (i, v) in self.variants.iter().enumerate() {
            let report = on.clone();
            let on_item = Arc::new(move |done, correct| {
                report(JobEvent::ItemDone {
                    variant: i,
                    done,
                    correct,
                })
            });
            let r = eval_variant(v, &self.dataset.items, &self.opts, on_item).await;
            on(JobEvent::VariantDone(Box::new(r.clone())));
            results.push(r);
            // The baseline keeps its place among the variants scored so far.
            let baseline = self.baseline.min(results.len());
            super::grid::fill(&mut results, baseline);
            on(JobEvent::Statistics(
                results.iter().map(|r| r.stats.clone()).collect(),
            ));
            if self.opts.cancel.is_cancelled() {
                break;
            }
        }
        let limiter = &self.opts.permits;
        on(JobEvent::EvalFinished {
            lowered: limiter
                .was_lowered()
                .then(|| (limiter.limit(), limiter.max())),
        });
        results
    }
}

/// What a search will do, shown before it starts.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    pub dataset: String,
    pub candidates: usize,
    pub rounds: usize,
    pub keep: usize,
    pub dev: usize,
    pub held: usize,
    /// Samples per item when scoring.
    pub samples: usize,
    /// Dev items per race step.
    pub batch: usize,
    /// Model calls of the search, and of the held-out check after it.
    pub planned_calls: usize,
    pub held_calls: usize,
    /// Generated tokens at most.
    pub max_tokens: usize,
    /// Prompt tokens of every call, estimated from the rendered prompts of the dev and
    /// held-out items at [`super::plan::CHARS_PER_TOKEN`].
    pub prompt_tokens: u64,
    /// Expected seconds from this backend's last measured speed (`None`: unknown).
    pub seconds: Option<f64>,
    /// The smallest difference the dev race (against every candidate at once) and the
    /// held-out check (one paired test) can detect at 80% power.
    pub detectable_dev: Option<f64>,
    pub detectable_held: Option<f64>,
    pub budget: Option<usize>,
}

/// A search for a better instruction than `base`'s on `dataset`: candidates scored by `votes`
/// samples at `temperature` (one greedy sample unless given), dev and held-out items drawn
/// with the template's seed.
pub fn search(
    backend: Arc<dyn Backend>,
    base: &Template,
    dataset: Dataset,
    o: &SearchOptions,
    votes: Option<u32>,
    temperature: Option<f32>,
    opts: EvalOptions,
) -> Result<Search, String> {
    let mut base = base.clone();
    base.sampling.n = votes.unwrap_or(1);
    base.sampling.temperature = temperature.unwrap_or(0.0);
    base.validate().map_err(|e| format!("{}: {e}", base.name))?;
    let (dev, held) = split(dataset.items, o.dev, o.held, base.sampling.seed)?;
    Ok(Search {
        backend,
        cfg: ApeConfig {
            candidates: o.candidates.max(1),
            rounds: o.rounds.max(1),
            keep: o.keep.max(1),
            demos: 5,
            seed: base.sampling.seed,
            batch: o.batch.unwrap_or_else(|| default_batch(dev.len())),
            level: RACE_LEVEL,
        },
        budget: o.budget,
        opts,
        base,
        dataset: dataset.name,
        dev,
        held,
        speed: None,
    })
}

impl Search {
    pub fn plan(&self) -> SearchPlan {
        let samples = self.base.sampling.n as usize;
        let planned_calls = self.planned_calls();
        let held_calls = 2 * self.held.len() * samples;
        let calls = self.budget.unwrap_or(usize::MAX);
        SearchPlan {
            dataset: self.dataset.clone(),
            candidates: self.cfg.candidates,
            rounds: self.cfg.rounds,
            keep: self.cfg.keep,
            dev: self.dev.len(),
            held: self.held.len(),
            samples,
            batch: self.cfg.batch,
            planned_calls,
            held_calls,
            max_tokens: planned_calls * self.base.sampling.max_tokens.max(PROPOSAL_TOKENS) as usize,
            prompt_tokens: super::plan::search_prompt_tokens(self, planned_calls + held_calls),
            seconds: self
                .speed
                .map(|s| s * (calls.min(planned_calls) + held_calls) as f64),
            detectable_dev: super::plan::detectable(self.dev.len(), self.cfg.candidates),
            detectable_held: super::plan::detectable(self.held.len(), 1),
            budget: self.budget,
        }
    }
}
