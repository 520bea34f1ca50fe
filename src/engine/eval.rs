//! Evaluation: one prompt set-up (a variant) over every item of a dataset, with the same
//! engine, cache and concurrency limit as single runs; accuracy of the first sample and of the
//! majority vote, and the maj@k curve from the same samples.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::cache::Cache;
use super::error::JobError;
use super::{RunPlan, run_limited};
use crate::backend::{Backend, Embedder, Usage};
use crate::core::early_stop::{Rule, Simulated, simulate};
use crate::core::evaluation::VariantStats;
use crate::core::extract::{AnswerKind, AnswerSpec};
use crate::core::free::ClusterRule;
use crate::core::metrics::{maj_at_k, majority_correct};
use crate::core::record::{PathRecord, RunResult, Voting};
use crate::core::render::Mode;
use crate::core::strictness::{self, StrictFlexible};
use crate::core::template::Template;
use crate::core::variants::{apply, grid};
use crate::store::dataset::Item;

// The results are core's plain data (`core::results`), named here as well for the faces.
pub use crate::core::results::{
    FIGURES, FreeVote, ItemResult, SampleCounts, VariantResult, chart_series, pct,
};

/// One set-up to evaluate.
pub struct Variant {
    pub name: String,
    /// What distinguishes it (the `--vary` values), for reports.
    pub settings: serde_json::Value,
    pub template: Template,
    pub mode: Mode,
    pub backend: Arc<dyn Backend>,
}

#[derive(Clone)]
pub struct EvalOptions {
    pub permits: Arc<crate::engine::limit::Limiter>,
    /// Score the first sample by a separate greedy (temperature 0) sample.
    pub greedy: bool,
    pub cache: Option<Arc<Cache>>,
    pub cancel: CancellationToken,
    /// Offline what-if: read every sample from the cache (never a request) and replay it
    /// under this early-stop rule in this many random orders.
    pub what_if: Option<(Rule, usize)>,
    /// Embeds free-form answers (and targets) for the `embed` cluster rule.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Read every sample from the cache, never sending a request (after `--batch-in`).
    pub cache_only: bool,
    /// Content-free scores of `calibrate: content-free` variants, shared by their items.
    pub score_memo: Arc<super::scored::ScoreMemo>,
}

impl EvalOptions {
    /// At most `concurrency` samples at once, no greedy sample, no what-if.
    pub fn new(concurrency: usize, cache: Option<Arc<Cache>>, cancel: CancellationToken) -> Self {
        EvalOptions {
            permits: Arc::new(crate::engine::limit::Limiter::new(concurrency)),
            greedy: false,
            cache,
            cancel,
            what_if: None,
            embedder: None,
            cache_only: false,
            score_memo: Arc::default(),
        }
    }
}

/// The variants of `base` for every combination of the `--vary` values;
/// `backend_for(model, lora)` gives a variant's backend (`""`: the default).
pub fn variants(
    base: &Template,
    vary: &[(String, Vec<String>)],
    backend_for: impl Fn(&str, &str) -> Option<Arc<dyn Backend>>,
) -> Result<Vec<Variant>, JobError> {
    grid(vary)
        .into_iter()
        .map(|combo| {
            let mut template = base.clone();
            let (mut model, mut lora) = ("", "");
            for (k, v) in &combo {
                apply(&mut template, k, v)?;
                match k.as_str() {
                    "model" => model = v,
                    "lora" => lora = v,
                    _ => {}
                }
            }
            let backend = backend_for(model, lora).ok_or_else(|| JobError::NoBackend {
                model: model.to_string(),
                lora: lora.to_string(),
            })?;
            let mode = template.mode.unwrap_or(backend.info().default_mode);
            let name = if combo.is_empty() {
                template.name.clone()
            } else {
                combo
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let settings = serde_json::json!(
                combo
                    .iter()
                    .cloned()
                    .collect::<std::collections::BTreeMap<String, String>>()
            );
            Ok(Variant {
                name,
                settings,
                template,
                mode,
                backend,
            })
        })
        .collect()
}

/// Progress after each item: items done, correct (majority) so far.
pub type OnItem = Arc<dyn Fn(usize, usize) + Send + Sync>;

pub async fn eval_variant(
    v: &Variant,
    items: &[Item],
    opts: &EvalOptions,
    on_item: OnItem,
) -> VariantResult {
    let started = Instant::now();
    let counted = v.backend.prompt_tokens();
    let mut tasks = JoinSet::new();
    for (pos, item) in items.iter().enumerate() {
        let (item, template, backend, opts) = (
            item.clone(),
            v.template.clone(),
            v.backend.clone(),
            opts.clone(),
        );
        let mode = v.mode;
        tasks.spawn(async move { (pos, eval_item(&item, template, mode, backend, opts).await) });
    }
    let mut per_item: Vec<Option<ItemResult>> = vec![None; items.len()];
    let (mut done, mut correct) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let Ok((pos, r)) = joined else { continue };
        done += 1;
        correct += usize::from(r.correct);
        on_item(done, correct);
        per_item[pos] = Some(r);
    }
    let per_item: Vec<ItemResult> = per_item.into_iter().flatten().collect();
    let mut r = summarize(
        v,
        per_item,
        started.elapsed().as_millis() as u64,
        opts.cancel.is_cancelled(),
    );
    r.prompt_tokens = v
        .backend
        .prompt_tokens()
        .zip(counted)
        .map(|(now, before)| now.since(before));
    if let Some((rule, orders)) = opts.what_if {
        r.what_if = Some(what_if(
            &r.per_item,
            &rule,
            orders,
            v.template.sampling.seed,
        ));
    }
    r
}

/// The offline what-if of an early-stop rule over the items whose samples were all cached.
fn what_if(per_item: &[ItemResult], rule: &Rule, orders: usize, seed: u64) -> Simulated {
    let items: Vec<(Vec<Option<String>>, Vec<String>)> = per_item
        .iter()
        .filter(|i| i.error.is_none() && !i.paths.is_empty() && i.paths.iter().all(|p| p.cached))
        .map(|i| (i.answers.clone(), i.accepted.clone()))
        .collect();
    simulate(rule, &items, orders, seed)
}

/// An item that could not be scored.
fn failed_item(item: &Item, error: String) -> ItemResult {
    ItemResult {
        id: item.id.clone(),
        target: item.targets.clone(),
        answers: vec![],
        majority: None,
        correct: false,
        first_correct: false,
        maj_at_k: vec![],
        failed: 0,
        error: Some(error),
        paths: vec![],
        greedy: None,
        samples: 0,
        early_stop: None,
        readings: None,
        accepted: vec![],
        confidence_correct: None,
        filtered_correct: None,
        uncalibrated_correct: None,
    }
}

async fn eval_item(
    item: &Item,
    template: Template,
    mode: Mode,
    backend: Arc<dyn Backend>,
    opts: EvalOptions,
) -> ItemResult {
    let EvalOptions {
        permits,
        greedy,
        cache,
        cancel,
        what_if,
        embedder,
        cache_only,
        score_memo,
    } = opts;
    let template = super::select::by_embeddings(template, &item.input, embedder.as_deref()).await;
    let mut plan = match RunPlan::new(&template, &item.input, mode) {
        Ok(p) => p,
        Err(e) => return failed_item(item, e.to_string()),
    };
    plan.cache = cache;
    plan.embedder = answer_embedder(&embedder, &template.answer);
    plan.cache_only = cache_only;
    plan.score_memo = Some(score_memo);
    if what_if.is_some() {
        // A what-if replays what is cached, in full: never a request, never an early stop.
        plan.cache_only = true;
        plan.sampling.early_stop = Rule::None;
    }
    let accepted: Vec<String> = item
        .targets
        .iter()
        .filter_map(|t| plan.extractor.normalize_target(t, &plan.query))
        .collect();
    let extractor = plan.extractor.clone();
    let greedy_plan = greedy.then(|| {
        let mut g = plan.clone();
        g.sampling.n = 1;
        g.sampling.temperature = 0.0;
        Arc::new(g)
    });
    let result = run_limited(
        backend.clone(),
        Arc::new(plan),
        None,
        cancel.clone(),
        permits.clone(),
    )
    .await;
    // The samples the vote used: paths the early-stop rule stopped are not among them. Free-form
    // answers vote as their clusters' labels, and a label is right when it is alike a target.
    let used: Vec<&PathRecord> = result.paths.iter().filter(|p| !p.stopped()).collect();
    let spec = template.answer.clone();
    let question = item.input.trim();
    let answers: Vec<Option<String>> = result.voting(&spec, question).labels(&used);
    let accepted = if spec.kind == AnswerKind::Free {
        super::accepted::free_accepted(
            &spec,
            embedder.as_deref(),
            question,
            &used,
            &answers,
            &accepted,
        )
        .await
    } else {
        accepted
    };
    let refs: Vec<Option<&str>> = answers.iter().map(Option::as_deref).collect();
    let greedy = match greedy_plan {
        Some(g) => first_path(run_limited(backend, g, None, cancel, permits).await),
        None => None,
    };
    let first_answer = match &greedy {
        Some(g) => Voting::of(&spec).answer_of(g),
        None => answers.first().and_then(Option::as_deref),
    };
    let first_correct = first_answer.is_some_and(|a| accepted.iter().any(|t| t == a));
    let uncalibrated_correct =
        super::scored::uncalibrated_correct(&result, &extractor, question, &accepted);
    ItemResult {
        id: item.id.clone(),
        target: item.targets.clone(),
        majority: result.tally.winner.clone(),
        // Universal self-consistency's winner is the selector's pick, not the majority.
        correct: item_correct(&spec, &result, &refs, &accepted),
        first_correct,
        maj_at_k: maj_at_k(&refs, &accepted),
        failed: result
            .paths
            .iter()
            .filter(|p| !p.succeeded() && !p.stopped())
            .count(),
        error: None,
        answers,
        samples: result
            .paths
            .iter()
            .filter(|p| !p.cancelled() && !p.stopped())
            .count(),
        early_stop: result.early_stop,
        readings: strictness::item(&used, &spec, &accepted),
        confidence_correct: result
            .tally
            .confidence_winner
            .as_ref()
            .map(|w| accepted.contains(w)),
        filtered_correct: result
            .tally
            .filtered_winner
            .as_ref()
            .map(|w| accepted.contains(w)),
        uncalibrated_correct,
        accepted,
        paths: result.paths,
        greedy,
    }
}

/// The embedder a plan embeds its answers with: only where they vote by `embed` (a kNN
/// embedder may have chosen the examples, for answers of any kind).
fn answer_embedder(
    embedder: &Option<Arc<dyn Embedder>>,
    spec: &AnswerSpec,
) -> Option<Arc<dyn Embedder>> {
    let votes_by_embed = spec.kind == AnswerKind::Free && spec.cluster() == ClusterRule::Embed;
    embedder.clone().filter(|_| votes_by_embed)
}

/// The first path of a run (the greedy sample of an item).
fn first_path(result: RunResult) -> Option<PathRecord> {
    result.paths.into_iter().next()
}

/// Whether an item is right: its majority, or universal self-consistency's pick (the
/// selector's, not the majority).
fn item_correct(
    spec: &AnswerSpec,
    result: &RunResult,
    refs: &[Option<&str>],
    accepted: &[String],
) -> bool {
    if spec.cluster() == ClusterRule::Usc && spec.kind == AnswerKind::Free {
        result
            .tally
            .winner
            .as_ref()
            .is_some_and(|w| accepted.contains(w))
    } else {
        majority_correct(refs, accepted)
    }
}

/// The share of items where `right` says yes (`None` unless it says for every item).
fn share_of(per_item: &[ItemResult], right: impl Fn(&ItemResult) -> Option<bool>) -> Option<f64> {
    let all: Option<Vec<bool>> = per_item.iter().map(right).collect();
    all.filter(|a| !a.is_empty())
        .map(|a| a.iter().filter(|r| **r).count() as f64 / a.len() as f64)
}

fn summarize(
    v: &Variant,
    per_item: Vec<ItemResult>,
    elapsed_ms: u64,
    cancelled: bool,
) -> VariantResult {
    let n_items = per_item.len().max(1) as f64;
    let n = per_item.iter().map(|i| i.maj_at_k.len()).max().unwrap_or(0);
    let maj_at_k: Vec<f64> = (0..n)
        .map(|k| per_item.iter().map(|i| i.maj_at(k)).sum::<f64>() / n_items)
        .collect();
    let mut usage = Usage::default();
    let mut reasoning_tokens = 0u64;
    let mut samples = SampleCounts::default();
    let (mut unparsed, mut truncated) = (0usize, 0usize);
    for p in per_item.iter().flat_map(|i| i.all_paths()) {
        usage += p.usage();
        reasoning_tokens += u64::from(p.reasoning_tokens());
        samples.add(p);
    }
    for p in per_item.iter().flat_map(|i| &i.paths) {
        if p.succeeded() {
            unparsed += usize::from(p.answer.is_none());
            truncated += usize::from(p.truncated());
        }
    }
    let ok = per_item
        .iter()
        .flat_map(|i| &i.paths)
        .filter(|p| p.succeeded())
        .count();
    let rate = |x: usize| if ok == 0 { 0.0 } else { x as f64 / ok as f64 };
    VariantResult {
        name: v.name.clone(),
        settings: v.settings.clone(),
        backend: v.backend.info(),
        accuracy_first: per_item.iter().filter(|i| i.first_correct).count() as f64 / n_items,
        accuracy_majority: per_item.iter().filter(|i| i.correct).count() as f64 / n_items,
        accuracy_confidence: share_of(&per_item, |i| i.confidence_correct),
        accuracy_filtered: share_of(&per_item, |i| i.filtered_correct),
        maj_at_k,
        unparsed_rate: rate(unparsed),
        truncated_rate: rate(truncated),
        usage,
        prompt_tokens: None,
        reasoning_tokens,
        elapsed_ms,
        samples_per_item: per_item.iter().map(|i| i.samples).sum::<usize>() as f64 / n_items,
        samples,
        cancelled,
        early_stop: Some(v.template.sampling.early_stop).filter(|r| !r.is_none()),
        what_if: None,
        free_vote: (v.template.answer.kind == AnswerKind::Free).then(|| FreeVote {
            rule: v.template.answer.cluster(),
            similarity: v.template.answer.similarity(),
        }),
        // An item that could not be sampled is wrong both ways.
        strict_flexible: (v.template.answer.kind != AnswerKind::Free)
            .then(|| StrictFlexible::of(per_item.iter().map(|i| i.readings.unwrap_or_default())))
            .flatten(),
        cost: super::cost::Cost::of(
            per_item.iter().map(|i| i.all_paths()),
            elapsed_ms,
            super::cost::making(&*v.backend),
        ),
        answers_from: Some(v.template.calibrate).filter(|c| !c.is_none()),
        accuracy_uncalibrated: share_of(&per_item, |i| i.uncalibrated_correct),
        per_item,
        stats: VariantStats::default(),
    }
}
