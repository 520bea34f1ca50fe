//! Evaluation and prompt-search jobs, as `promptlab eval` / `optimize` and the lab's
//! evaluation and search views run them: one dataset loader, evaluations of variants, and
//! (from `optimize` and `report`) the search set-up and the one event enum the faces show.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::JobError;
use super::eval::{EvalOptions, VariantResult, eval_variant};
pub use super::optimize::search;
pub use super::report::{JobEvent, Report, SearchPlan};
use crate::store::dataset::{Dataset, load_dataset, locate};

use super::eval::Variant;

/// Reads a dataset off the async threads: a path, or a name under the data directory or the
/// shipped assets; the first `limit` items when given.
pub async fn load(path: PathBuf, strict: bool, limit: Option<usize>) -> Result<Dataset, JobError> {
    let mut data =
        tokio::task::spawn_blocking(move || load_dataset(&locate(&path), strict)).await??;
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
