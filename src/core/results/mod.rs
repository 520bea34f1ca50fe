//! An evaluation's results as plain data: what `engine::eval` fills in for each variant (its
//! items, paths, figures, costs and statistics) and what every face shows and `store::exports`
//! writes. Figures derived from them for people and files live in `table` (the columns, the
//! comparisons in words, the chart's series, the provenance) and costs in `cost`.

pub mod cost;
pub mod examples;
pub mod table;

use serde::Serialize;

use crate::core::early_stop::{EarlyStop, Rule, Simulated};
use crate::core::evaluation::{VariantStats, cell};
use crate::core::free::ClusterRule;
use crate::core::record::{BackendInfo, PathRecord, Usage};
use crate::core::stats::Estimate;
use crate::core::strictness::{Readings, StrictFlexible};
use crate::core::template::Calibrate;

pub use cost::{COSTS, Cost, Making};
pub use table::{
    Columns, chart_series, columns, comparison_heading, comparison_lines, provenance,
    provenance_line,
};

/// The error of a path a cache-only evaluation could not read from the cache (it sends no
/// request): neither a fresh nor a cached sample.
pub const NOT_CACHED: &str = "not in the sample cache, and a cache-only evaluation sends no request (the batch output has no line for it, or: run it once without --simulate-early-stop)";

/// Prompt tokens a backend was sent, and of those the ones it ran through the model: the rest
/// came from its cache of evaluated prompts (an identical prompt, a shared prefix). A prompt
/// sampled N times at once counts once. Counted since the backend started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PromptTokens {
    pub sent: u64,
    pub evaluated: u64,
}

impl PromptTokens {
    /// What was counted between `before` and `self`.
    pub fn since(self, before: PromptTokens) -> PromptTokens {
        PromptTokens {
            sent: self.sent.saturating_sub(before.sent),
            evaluated: self.evaluated.saturating_sub(before.evaluated),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    pub id: String,
    pub target: Vec<String>,
    /// Extracted answers in sample order; `null` when unparsed or failed.
    pub answers: Vec<Option<String>>,
    pub majority: Option<String>,
    pub correct: bool,
    pub first_correct: bool,
    pub maj_at_k: Vec<f64>,
    pub failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The sampled paths, for drill-down and exports.
    pub paths: Vec<PathRecord>,
    /// `--greedy`: the separate temperature-0 path the first-sample accuracy is read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greedy: Option<PathRecord>,
    /// DeepConf's votes (where every path has a confidence): the confidence-weighted winner
    /// and the most confident half's, right or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_correct: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered_correct: Option<bool>,
    /// Paths sampled to their end (not stopped, not cancelled); fewer than N when the vote
    /// settled early.
    pub samples: usize,
    /// Where the early-stop rule stopped (variants with one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    /// The majority right or not under strict and under flexible answers (exact answer kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings: Option<Readings>,
    /// The targets as the answer extraction reads them.
    #[serde(skip)]
    pub accepted: Vec<String>,
    /// `calibrate: content-free`: whether the options' plain argmax (before calibration) was
    /// right, from the same scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncalibrated_correct: Option<bool>,
}

impl ItemResult {
    /// Every path of the item, the greedy one included.
    pub fn all_paths(&self) -> impl Iterator<Item = &PathRecord> {
        self.paths.iter().chain(&self.greedy)
    }

    /// maj@k at index `k` (k + 1 votes): an item whose vote settled early keeps its answer at
    /// every larger k; an item without samples scores 0.
    pub fn maj_at(&self, k: usize) -> f64 {
        match self.maj_at_k.get(k) {
            Some(v) => *v,
            None if self.early_stop.as_ref().is_some_and(|e| e.settled) => {
                self.maj_at_k.last().copied().unwrap_or(0.0)
            }
            None => 0.0,
        }
    }
}

/// What a variant's samples cost, counted per path and per model call (stage), so that
/// requests reconcile for every strategy: over HTTP,
/// `http_sent = calls_succeeded + calls_failed + calls_cancelled + http_retries + resamples
/// - calls_shared` (cached paths send nothing; calls that rode on another path's request with
/// server-side `n` sent none of their own).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SampleCounts {
    /// Paths that finished (fresh or cached) and paths that failed.
    pub succeeded: usize,
    pub failed: usize,
    /// Paths the early-stop rule stopped mid-way (neither: samples the vote did not need).
    pub stopped: usize,
    /// Paths sampled now, and paths read from the sample cache.
    pub fresh: usize,
    pub cached: usize,
    /// Paths with a stage cut at its token limit.
    pub truncated: usize,
    /// Model calls of fresh paths: finished, failed for good, stopped by a cancel.
    pub calls_succeeded: usize,
    pub calls_failed: usize,
    pub calls_cancelled: usize,
    /// Fresh samples after broken streams (each one more request).
    pub resamples: usize,
    /// Calls answered by another path's request (server-side `n`).
    pub calls_shared: usize,
}

impl SampleCounts {
    pub fn add(&mut self, p: &PathRecord) {
        if p.succeeded() {
            self.succeeded += 1;
        } else if p.stopped() {
            self.stopped += 1;
        } else {
            self.failed += 1;
        }
        self.truncated += usize::from(p.truncated());
        // A cache-only evaluation's missing sample was never sent: neither fresh nor cached.
        if p.error.as_deref() == Some(NOT_CACHED) {
            return;
        }
        if p.cached {
            self.cached += 1;
            return;
        }
        self.fresh += 1;
        self.resamples += p.resamples as usize;
        self.calls_shared += usize::from(p.shared_request);
        for s in &p.stages {
            match (&s.finish_reason, p.cancelled() || p.stopped()) {
                (Some(_), _) => self.calls_succeeded += 1,
                (None, true) => self.calls_cancelled += 1,
                (None, false) => self.calls_failed += 1,
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantResult {
    pub name: String,
    pub settings: serde_json::Value,
    /// What produced its samples.
    pub backend: BackendInfo,
    pub accuracy_first: f64,
    pub accuracy_majority: f64,
    /// DeepConf (when every item's paths have confidences): accuracy of the
    /// confidence-weighted vote and of the most confident half's vote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_confidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_filtered: Option<f64>,
    /// maj@k for k = 1..N (index k-1), averaged over items.
    pub maj_at_k: Vec<f64>,
    /// Share of successful samples whose answer could not be parsed.
    pub unparsed_rate: f64,
    /// Share of successful samples with a stage cut at its token limit.
    pub truncated_rate: f64,
    pub usage: Usage,
    /// Prompt tokens the backend was sent and evaluated while this variant ran, where it
    /// counts them (the local backend: the rest came from its kept prompts and prefixes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<PromptTokens>,
    /// Of the completion tokens, those spent thinking (reasoning models).
    pub reasoning_tokens: u64,
    pub elapsed_ms: u64,
    /// Paths sampled to their end per item, on average (fewer than N with an early-stop rule).
    pub samples_per_item: f64,
    pub samples: SampleCounts,
    pub cancelled: bool,
    /// The early-stop rule its runs used (none: full self-consistency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<Rule>,
    /// `--simulate-early-stop`: the rule replayed offline on the cached samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<Simulated>,
    /// Free-form answers: how they were judged alike, for the votes and for scoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_vote: Option<FreeVote>,
    /// What produced the answers when they were not sampled: the options scored by their
    /// log-probabilities (`scored`), calibrated or not (`content-free`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers_from: Option<Calibrate>,
    /// `content-free`: the accuracy of the same scores before calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_uncalibrated: Option<f64>,
    /// Accuracy under strict and under flexible answers, paired on the items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_flexible: Option<StrictFlexible>,
    pub per_item: Vec<ItemResult>,
    /// What its answers cost: prompt tokens per query, time per item, a specialist's making.
    pub cost: Cost,
    /// Intervals and comparisons (`engine::grid::fill`, once the grid's variants are scored).
    #[serde(flatten)]
    pub stats: VariantStats,
}

/// The rule and similarity a free-form evaluation clustered and scored by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FreeVote {
    pub rule: ClusterRule,
    pub similarity: f64,
}

/// Column names of `VariantResult::figures`.
pub const FIGURES: [&str; 9] = [
    "first",
    "majority",
    "maj@N",
    "samples",
    "unparsed",
    "truncated",
    "tokens",
    "cached",
    "time",
];

/// A share as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

impl VariantResult {
    /// The figures shown for a variant everywhere (tables, reports, the lab), as `FIGURES`.
    pub fn figures(&self) -> [String; 9] {
        let paths = (self.samples.fresh + self.samples.cached).max(1);
        // Accuracies with their intervals once the grid's statistics are in.
        let acc = |e: Option<Estimate>, v: f64| e.map_or_else(|| pct(v), |e| cell(&e));
        let iv = &self.stats.intervals;
        [
            acc(iv.first, self.accuracy_first),
            acc(iv.majority, self.accuracy_majority),
            self.maj_at_k
                .last()
                .map_or("-".into(), |v| acc(iv.maj_at_n, *v)),
            format!("{:.1}", self.samples_per_item),
            pct(self.unparsed_rate),
            pct(self.truncated_rate),
            (self.usage.prompt_tokens + self.usage.completion_tokens).to_string(),
            pct(self.samples.cached as f64 / paths as f64),
            format!("{:.1}s", self.elapsed_ms as f64 / 1000.0),
        ]
    }
}
