//! The demonstrations analysis (issue 27): every example set of `core::demos` evaluated over
//! the same items with the evaluation's own machinery (`eval_variant`, the sample cache, the
//! same options and concurrency), reported as an evaluation's `JobEvent`s so both faces show
//! its progress, then analysed paired against the given set.
//!
//! The work is ordered so that identical prompts are met, not remade, and so that a backend
//! batching its work gets batches full: the given set first, then the others in order,
//! `SETS_AT_ONCE` sets in flight (a set's items share its instruction and examples, so a
//! backend that keeps an evaluated prefix reuses it item after item, and the embedded model
//! evaluates and decodes several sets' items in the same calls); a set whose examples are
//! exactly an earlier set's (random labels that drew the gold ones) takes that set's scores
//! without sampling.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::eval::{EvalOptions, Variant, VariantResult, eval_variant};
use super::report::{JobEvent, Report};
use crate::backend::Backend;
use crate::core::demos::{self, DemoError, DemoSet, Kind, Reading, Scored, Settings, mode_of};
use crate::core::render::Mode;
pub use crate::core::results::examples::{Analysed, PromptTokens, SetSummary};
use crate::core::template::Template;
use crate::store::dataset::Dataset;

/// Example sets evaluated at the same time: the next set's items are there while the last
/// ones of a set finish.
const SETS_AT_ONCE: usize = 3;

/// Why an analysis cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ExamplesError {
    #[error(transparent)]
    Sets(#[from] DemoError),
}

/// The faces carry it as text.
impl From<ExamplesError> for String {
    fn from(e: ExamplesError) -> String {
        e.to_string()
    }
}

/// One analysis of a template's examples on a dataset.
pub struct ExamplesJob {
    pub dataset: Dataset,
    pub template: Template,
    pub mode: Mode,
    pub backend: Arc<dyn Backend>,
    pub opts: EvalOptions,
    pub settings: Settings,
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

/// A set as the evaluation variant that runs it on `backend` in `mode`.
pub fn variant(set: &DemoSet, mode: Mode, backend: &Arc<dyn Backend>) -> Variant {
    Variant {
        name: set.name.clone(),
        settings: serde_json::to_value(&set.kind).unwrap_or_default(),
        template: set.template.clone(),
        mode,
        backend: backend.clone(),
    }
}

/// The analysis of `template` with `settings` on `backend` as the evaluation variants it
/// runs, in order (what its plan counts).
pub fn variants(
    template: &Template,
    settings: &Settings,
    mode: Mode,
    backend: &Arc<dyn Backend>,
) -> Result<Vec<Variant>, ExamplesError> {
    let sets = demos::sets(template, settings, backend.scores_options(mode))?;
    Ok(sets.iter().map(|s| variant(s, mode, backend)).collect())
}

impl ExamplesJob {
    /// Whether this backend scores options in the job's mode.
    fn scores(&self) -> bool {
        self.backend.scores_options(self.mode)
    }

    /// How the sets' answers are read: scored options or sampled, and why.
    pub fn reading(&self) -> Reading {
        demos::reading(&self.template, &self.settings, self.scores())
    }

    /// The example sets this job evaluates, in order.
    pub fn sets(&self) -> Result<Vec<DemoSet>, ExamplesError> {
        Ok(demos::sets(&self.template, &self.settings, self.scores())?)
    }

    /// Evaluates every set (until cancelled), reporting as an evaluation does, then analyses
    /// the scores; ends with `JobEvent::Analysed`.
    pub async fn run(&self, on: &Report) -> Result<Analysed, ExamplesError> {
        let started = Instant::now();
        let sets = self.sets()?;
        on(JobEvent::EvalStarted {
            dataset: self.dataset.name.clone(),
            items: self.dataset.items.len(),
            variants: sets.iter().map(|s| s.name.clone()).collect(),
            skipped: self.dataset.problems.clone(),
        });
        // The earlier set with exactly these examples, if any.
        let same: Vec<Option<usize>> = (0..sets.len())
            .map(|i| {
                sets[..i]
                    .iter()
                    .position(|s| s.template == sets[i].template)
            })
            .collect();
        // The sets to evaluate, `SETS_AT_ONCE` in flight, their results in order.
        let to_run: Vec<usize> = (0..sets.len()).filter(|&i| same[i].is_none()).collect();
        // A backend decoding in lockstep takes every set in flight in its batches: the limit
        // on samples at once holds for each set, not for all together.
        let mut opts = self.opts.clone();
        if self.backend.decodes_in_lockstep() {
            let max = self.opts.permits.max() * SETS_AT_ONCE;
            opts.permits = Arc::new(super::limit::Limiter::new(max));
        }
        let opts = &opts;
        let mut next = 0;
        let mut fresh = futures::stream::FuturesOrdered::new();
        while next < to_run.len().min(SETS_AT_ONCE) {
            fresh.push_back(self.evaluate(to_run[next], &sets[to_run[next]], on, opts));
            next += 1;
        }
        let mut results: Vec<VariantResult> = Vec::new();
        let mut summaries = Vec::new();
        let mut tokens = PromptTokens::default();
        for (i, set) in sets.iter().enumerate() {
            if self.opts.cancel.is_cancelled() {
                break;
            }
            let r = match same[i] {
                Some(k) => VariantResult {
                    name: set.name.clone(),
                    ..results[k].clone()
                },
                None => {
                    let Some(r) = fresh.next().await else { break };
                    if let Some(&k) = to_run.get(next) {
                        fresh.push_back(self.evaluate(k, &sets[k], on, opts));
                        next += 1;
                    }
                    r
                }
            };
            let (sent, all) = prompt_tokens(&r);
            if same[i].is_none() {
                tokens.sent += sent;
            }
            tokens.all_sets += all;
            summaries.push(SetSummary {
                name: set.name.clone(),
                kind: set.kind.clone(),
                mode: mode_of(set.template.calibrate).into(),
                accuracy: r.accuracy_majority,
                unparsed_rate: r.unparsed_rate,
                fresh: if same[i].is_some() {
                    0
                } else {
                    r.samples.fresh
                },
                cached: if same[i].is_some() {
                    0
                } else {
                    r.samples.cached
                },
                same_as: same[i].map(|k| sets[k].name.clone()),
            });
            on(JobEvent::VariantDone(Box::new(r.clone())));
            let cancelled = r.cancelled;
            results.push(r);
            if cancelled {
                break;
            }
        }
        drop(fresh);
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
        // The given set as it was read (scored options in the scored mode).
        let reading = self.reading();
        let mut t = self.template.clone();
        if reading.scored() {
            t.calibrate = crate::core::template::Calibrate::Scored;
        }
        let mut report = demos::analyse(&t, &scored, self.settings.seed, by_embeddings);
        report.reading = Some(reading);
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

    async fn evaluate(
        &self,
        index: usize,
        set: &DemoSet,
        on: &Report,
        opts: &EvalOptions,
    ) -> VariantResult {
        let variant = variant(set, self.mode, &self.backend);
        let report = on.clone();
        let on_item = Arc::new(move |done, correct| {
            report(JobEvent::ItemDone {
                variant: index,
                done,
                correct,
            })
        });
        eval_variant(&variant, &self.dataset.items, opts, on_item).await
    }
}
