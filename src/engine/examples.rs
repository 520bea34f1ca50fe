//! The demonstrations analysis (issue 27): every example set of `core::demos` evaluated over
//! the same items with the evaluation's own machinery (`eval_variant`, the sample cache, the
//! same options and concurrency), reported as an evaluation's `JobEvent`s so both faces show
//! its progress, then analysed paired against the given set.
//!
//! The work is ordered so that identical prompts are met, not remade: the given set first, then
//! each set over every item before the next (a set's items share its instruction and examples,
//! so a backend that keeps an evaluated prefix reuses it item after item), and a set whose
//! examples are exactly an earlier set's (random labels that drew the gold ones) takes that
//! set's scores without sampling.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::eval::{EvalOptions, Variant, VariantResult, eval_variant};
use super::report::{JobEvent, Report};
use crate::backend::Backend;
use crate::core::demos::{self, DemoSet, Kind, Scored, Settings};
use crate::core::render::Mode;
use crate::core::template::Template;
use crate::store::dataset::Dataset;

/// One analysis of a template's examples on a dataset.
pub struct ExamplesJob {
    pub dataset: Dataset,
    pub template: Template,
    pub mode: Mode,
    pub backend: Arc<dyn Backend>,
    pub opts: EvalOptions,
    pub settings: Settings,
}

/// What the analysis found and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Analysed {
    pub report: demos::Report,
    pub sets: Vec<SetSummary>,
    pub prompt_tokens: PromptTokens,
    pub elapsed_ms: u64,
    /// Stopped before every set was scored (the report covers those that were).
    pub cancelled: bool,
    /// Every set's evaluation, as `eval` reports it (for `--out`).
    #[serde(skip)]
    pub results: Vec<VariantResult>,
}

/// One set's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    pub name: String,
    #[serde(flatten)]
    pub kind: Kind,
    pub accuracy: f64,
    pub unparsed_rate: f64,
    /// Paths sampled now and paths read from the sample cache.
    pub fresh: usize,
    pub cached: usize,
    /// The earlier set with exactly these examples, whose scores it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// Prompt tokens of the samples sent to the backend now, of those every set's samples would
/// send with nothing cached or shared.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PromptTokens {
    pub sent: u64,
    pub all_sets: u64,
}

/// A set's prompt tokens: of the paths sampled now, and of all its paths.
fn prompt_tokens(r: &VariantResult) -> (u64, u64) {
    let (mut sent, mut all) = (0, 0);
    for p in r.per_item.iter().flat_map(|i| i.all_paths()) {
        let t = u64::from(p.usage().prompt_tokens);
        all += t;
        if !p.cached {
            sent += t;
        }
    }
    (sent, all)
}

/// A set's scores: right or not per item, and for the calibrated set the plain pick's too;
/// when no item could be scored, the first item's error.
fn scored(set: &DemoSet, r: &VariantResult) -> Scored {
    let correct = r.per_item.iter().map(|i| i.correct).collect();
    let mut s = Scored::new(&set.name, set.kind.clone(), correct, r.unparsed_rate);
    if set.kind == Kind::Calibrated {
        s.uncalibrated = Some(
            r.per_item
                .iter()
                .map(|i| i.uncalibrated_correct == Some(true))
                .collect(),
        );
    }
    let failed = |i: &super::eval::ItemResult| {
        i.error.clone().or_else(|| {
            i.paths
                .iter()
                .all(|p| !p.succeeded())
                .then(|| i.paths.iter().find_map(|p| p.error.clone()))
                .flatten()
        })
    };
    if !r.per_item.is_empty() && r.per_item.iter().all(|i| failed(i).is_some()) {
        s.error = r.per_item.first().and_then(failed);
    }
    s
}

impl ExamplesJob {
    /// The example sets this job evaluates, in order.
    pub fn sets(&self) -> Result<Vec<DemoSet>, String> {
        Ok(demos::sets(&self.template, &self.settings)?)
    }

    /// Evaluates every set (until cancelled), reporting as an evaluation does, then analyses
    /// the scores; ends with `JobEvent::Analysed`.
    pub async fn run(&self, on: &Report) -> Result<Analysed, String> {
        let started = Instant::now();
        let sets = self.sets()?;
        on(JobEvent::EvalStarted {
            dataset: self.dataset.name.clone(),
            items: self.dataset.items.len(),
            variants: sets.iter().map(|s| s.name.clone()).collect(),
            skipped: self.dataset.problems.clone(),
        });
        let mut results: Vec<VariantResult> = Vec::new();
        let mut summaries = Vec::new();
        let mut tokens = PromptTokens::default();
        for (i, set) in sets.iter().enumerate() {
            if self.opts.cancel.is_cancelled() {
                break;
            }
            let same = sets[..i]
                .iter()
                .position(|s| s.template == set.template)
                .filter(|&k| k < results.len());
            let r = match same {
                Some(k) => VariantResult {
                    name: set.name.clone(),
                    ..results[k].clone()
                },
                None => self.evaluate(i, set, on).await,
            };
            let (sent, all) = prompt_tokens(&r);
            if same.is_none() {
                tokens.sent += sent;
            }
            tokens.all_sets += all;
            summaries.push(SetSummary {
                name: set.name.clone(),
                kind: set.kind.clone(),
                accuracy: r.accuracy_majority,
                unparsed_rate: r.unparsed_rate,
                fresh: if same.is_some() { 0 } else { r.samples.fresh },
                cached: if same.is_some() { 0 } else { r.samples.cached },
                same_as: same.map(|k| sets[k].name.clone()),
            });
            on(JobEvent::VariantDone(Box::new(r.clone())));
            let cancelled = r.cancelled;
            results.push(r);
            if cancelled {
                break;
            }
        }
        super::grid::fill(&mut results, 0);
        on(JobEvent::Statistics(
            results.iter().map(|r| r.stats.clone()).collect(),
        ));
        let limiter = &self.opts.permits;
        on(JobEvent::EvalFinished {
            lowered: limiter
                .was_lowered()
                .then(|| (limiter.limit(), limiter.max())),
        });
        let scored: Vec<Scored> = sets
            .iter()
            .zip(&results)
            .filter(|(_, r)| !r.cancelled)
            .map(|(s, r)| scored(s, r))
            .collect();
        let by_embeddings = self.opts.embedder.is_some();
        let report = demos::analyse(&self.template, &scored, self.settings.seed, by_embeddings);
        on(JobEvent::Analysed(Box::new(report.clone())));
        Ok(Analysed {
            report,
            sets: summaries,
            prompt_tokens: tokens,
            elapsed_ms: started.elapsed().as_millis() as u64,
            cancelled: results.len() < sets.len() || results.iter().any(|r| r.cancelled),
            results,
        })
    }

    async fn evaluate(&self, index: usize, set: &DemoSet, on: &Report) -> VariantResult {
        let variant = Variant {
            name: set.name.clone(),
            settings: serde_json::to_value(&set.kind).unwrap_or_default(),
            template: set.template.clone(),
            mode: self.mode,
            backend: self.backend.clone(),
        };
        let report = on.clone();
        let on_item = Arc::new(move |done, correct| {
            report(JobEvent::ItemDone {
                variant: index,
                done,
                correct,
            })
        });
        eval_variant(&variant, &self.dataset.items, &self.opts, on_item).await
    }
}
