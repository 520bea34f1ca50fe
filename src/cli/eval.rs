//! `promptlab eval`: a template (and a grid of variants) over a labelled dataset.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::config::Config;
use super::run::apply_overrides;
use super::{BackendKind, EvalArgs, backend};
use crate::backend::Backend;
use crate::core::variants::parse_vary;
use crate::engine::cache::Cache;
use crate::engine::eval::{EvalOptions, FIGURES, VariantResult, variants};
use crate::engine::jobs::{self, EvalJob, JobEvent, Report};
use crate::store::atomic::write_atomic;

/// What the progress display knows: items per variant, variant names, the current bar.
#[derive(Default)]
struct Bars {
    items: u64,
    names: Vec<String>,
    current: Option<(usize, ProgressBar)>,
}

impl Bars {
    fn show(&mut self, e: JobEvent) {
        match e {
            JobEvent::EvalStarted {
                items, variants, ..
            } => {
                self.items = items as u64;
                self.names = variants;
            }
            JobEvent::ItemDone {
                variant,
                done,
                correct,
            } => {
                let bar = match self.current.take() {
                    Some((v, b)) if v == variant => b,
                    _ => self.bar(variant),
                };
                bar.set_position(done as u64);
                bar.set_message(format!(
                    "accuracy {:.1}%",
                    100.0 * correct as f64 / done.max(1) as f64
                ));
                self.current = Some((variant, bar));
            }
            JobEvent::VariantDone(_) => {
                if let Some((_, b)) = self.current.take() {
                    b.finish_and_clear();
                }
            }
            JobEvent::EvalFinished {
                lowered: Some((limit, of)),
            } => eprintln!(
                "promptlab: the server seemed overloaded (streams cut, 429/503 or timeouts); concurrency was lowered to {limit} (of {of})"
            ),
            _ => {}
        }
    }

    /// A bar for a variant on stderr when it is a terminal.
    fn bar(&self, variant: usize) -> ProgressBar {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(self.items)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {wide_bar} {pos}/{len} items · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(self.names.get(variant).cloned().unwrap_or_default());
        bar
    }
}

/// Shows an evaluation's events on stderr: a progress bar per variant, and a note when the
/// server was found overloaded.
fn progress() -> Report {
    let bars = Mutex::new(Bars::default());
    Arc::new(move |e| bars.lock().unwrap_or_else(|e| e.into_inner()).show(e))
}

pub async fn eval(args: EvalArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let (mut base, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut base, &args.prompt);
    base.validate()
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let dataset = jobs::load(args.dataset.clone(), args.strict, args.limit).await?;
    for p in &dataset.problems {
        eprintln!("skipped {p}");
    }
    let vary = parse_vary(&args.vary)?;
    let resolved = backend::resolve(&args.backend, &config)?;
    let embedder = backend::embedder(&resolved, &base.answer)?;

    // One backend per (model, lora) pair varied ("" is the default of each).
    let values = |key: &str| {
        vary.iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| vec![String::new()], |(_, v)| v.clone())
    };
    let mut backends: BTreeMap<(String, String), Arc<dyn Backend>> = BTreeMap::new();
    for m in values("model") {
        for l in values("lora") {
            let mut r = backend::Resolved {
                kind: resolved.kind,
                args: resolved.args.clone(),
            };
            if !m.is_empty() {
                match r.kind {
                    BackendKind::Local => r.args.model_path = Some(m.clone().into()),
                    _ => r.args.model = Some(m.clone()),
                }
            }
            if !l.is_empty() {
                if r.kind != BackendKind::Local {
                    return Err("--vary lora needs the local backend (a server names its adapters as models)".into());
                }
                r.args.lora = (l != "none").then(|| l.clone().into());
            }
            backends.insert((m.clone(), l), backend::build(&r).await?);
        }
    }
    let variants = variants(&base, &vary, |model, lora| {
        backends
            .get(&(model.to_string(), lora.to_string()))
            .cloned()
    })?;

    let cache = if args.no_cache {
        None
    } else {
        let c = Cache::open_default()?;
        if let Some(w) = c.warning() {
            eprintln!("{w}");
        }
        Some(c)
    };
    if let Some(out) = &args.batch_out {
        let (text, lines, cached) =
            crate::engine::batch::requests(&variants, &dataset.items, cache.as_deref())?;
        crate::store::atomic::write_atomic(out, text.as_bytes())
            .map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!(
            "wrote {lines} batch requests to {} ({cached} samples were cached already); no request was sent",
            out.display()
        );
        eprintln!(
            "run them through OpenAI's Batch API or vLLM's batch runner, then the same command with --batch-in RESULTS.jsonl instead of --batch-out"
        );
        return Ok(true);
    }
    // A batch output, from a file or from the server's Batches API, goes into the cache.
    let batch_output = match (&args.batch_in, args.batch) {
        (Some(input), _) => Some((
            crate::store::read_text(input).map_err(|e| format!("{}: {e}", input.display()))?,
            input.display().to_string(),
        )),
        (None, true) => {
            let (text, lines, cached) =
                crate::engine::batch::requests(&variants, &dataset.items, cache.as_deref())?;
            if lines == 0 {
                eprintln!("all {cached} samples are cached: no batch to send");
                None
            } else {
                Some((
                    super::batch::round_trip(&resolved, &text).await?,
                    "the batch".into(),
                ))
            }
        }
        (None, false) => None,
    };
    if let Some((text, source)) = &batch_output {
        let c = cache.as_deref().ok_or("batches need the sample cache")?;
        let got = crate::engine::batch::absorb(text, &variants, &dataset.items, c)?;
        for p in &got.problems {
            eprintln!("{source}: {p}");
        }
        eprintln!(
            "read {} samples from {source} into the sample cache ({} lines not used); scoring from the cache alone",
            got.stored,
            got.problems.len()
        );
    }
    let cancel =
        super::cancel_on_ctrl_c("stopping: what is sampled is cached, so the same command resumes");
    let concurrency = config.concurrency(args.prompt.concurrency);
    let job = EvalJob {
        dataset,
        variants,
        opts: EvalOptions {
            greedy: args.greedy,
            what_if: args.simulate_early_stop.map(|r| (r, args.orders)),
            embedder,
            cache_only: args.batch_in.is_some() || args.batch,
            ..EvalOptions::new(concurrency, cache, cancel.clone())
        },
    };
    let results = job.run(&progress()).await;
    let (dataset, variants) = (&job.dataset, &job.variants);

    let (mut sent, mut http_retries) = (0, 0);
    for b in backends.values() {
        if let Some((s, r)) = b.request_stats() {
            sent += s;
            http_retries += r;
        }
    }
    let sum = |f: fn(&VariantResult) -> usize| results.iter().map(f).sum::<usize>();
    // Counted per model call (a zero-shot CoT path makes two, a least-to-most chain several);
    // cached paths make none.
    let requests = (sent > 0).then(|| {
        json!({
            "http_sent": sent,
            "calls_succeeded": sum(|r| r.samples.calls_succeeded),
            "calls_failed": sum(|r| r.samples.calls_failed),
            "calls_cancelled": sum(|r| r.samples.calls_cancelled),
            "http_retries": http_retries,
            "resamples": sum(|r| r.samples.resamples),
            "calls_shared": sum(|r| r.samples.calls_shared),
            "identity": "http_sent = calls_succeeded + calls_failed + calls_cancelled + http_retries + resamples - calls_shared",
        })
    });
    let provenance = provenance(&results);
    let partial = results.iter().any(|r| r.cancelled) || results.len() < variants.len();
    let report = json!({
        "partial": partial,
        "provenance": provenance,
        "dataset": dataset.name,
        "items": dataset.items.len(),
        "skipped_lines": dataset.problems,
        "variants": results,
        "requests": requests,
    });
    if let Some(dir) = &args.out {
        export(dir, &dataset.name, &results, &provenance, partial)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        eprintln!(
            "wrote {}/items.jsonl, variants.csv, report.md, accuracy.svg",
            dir.display()
        );
    }
    if args.json {
        println!("{report}");
    } else {
        print!("{}", table(&dataset.name, dataset.items.len(), &results));
    }
    if results.iter().all(|r| r.samples.succeeded == 0) {
        let first = results.iter().flat_map(|r| &r.per_item).find_map(|i| {
            i.error
                .clone()
                .or_else(|| i.all_paths().find_map(|p| p.error.clone()))
        });
        return Err(match first {
            Some(e) => format!("no sample succeeded; the first error: {e}"),
            None => "no sample succeeded".into(),
        });
    }
    Ok(true)
}

/// What produced an evaluation: the promptlab, every backend that sampled, and how many
/// paths were sampled now or read from the cache.
pub fn provenance(results: &[VariantResult]) -> Value {
    let mut backends: Vec<&crate::backend::BackendInfo> = Vec::new();
    for r in results {
        if !backends.contains(&&r.backend) {
            backends.push(&r.backend);
        }
    }
    let fresh: usize = results.iter().map(|r| r.samples.fresh).sum();
    let cached: usize = results.iter().map(|r| r.samples.cached).sum();
    json!({
        "promptlab": crate::core::record::version(),
        "backends": backends,
        "samples": {"fresh": fresh, "cached": cached},
    })
}

/// One line for people: "promptlab 0.1.0 · local gemma (a5fd3b62) · 40 fresh, 10 cached paths".
fn provenance_line(p: &Value, results: &[VariantResult]) -> String {
    let mut labels: Vec<String> = results.iter().map(|r| r.backend.label()).collect();
    labels.dedup();
    format!(
        "{} · {} · {} fresh, {} cached paths",
        p["promptlab"].as_str().unwrap_or_default(),
        labels.join(", "),
        p["samples"]["fresh"],
        p["samples"]["cached"]
    )
}

/// The side-by-side table for people, then each variant's maj@k curve.
pub fn table(dataset: &str, items: usize, results: &[VariantResult]) -> String {
    let w = results
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{dataset} · {items} items · {}\n\n{:<w$}",
        provenance_line(&provenance(results), results),
        "variant"
    );
    for c in FIGURES {
        let _ = write!(out, "  {c:>9}");
    }
    out.push('\n');
    for r in results {
        let _ = write!(out, "{:<w$}", r.name);
        for c in r.figures() {
            let _ = write!(out, "  {c:>9}");
        }
        if r.samples.failed > 0 {
            let _ = write!(out, "  ({} samples failed)", r.samples.failed);
        }
        out.push('\n');
    }
    out.push('\n');
    // DeepConf: where every path has a confidence, its two votes.
    for r in results {
        if let (Some(c), Some(f)) = (r.accuracy_confidence, r.accuracy_filtered) {
            let _ = writeln!(
                out,
                "confidence {:<w$}  confidence-weighted {} · the most confident half {} (majority {})",
                r.name,
                crate::engine::eval::pct(c),
                crate::engine::eval::pct(f),
                crate::engine::eval::pct(r.accuracy_majority)
            );
        }
    }
    // Free-form answers: what decided that two answers (and an answer and a target) agree.
    for r in results {
        if let Some(f) = r.free_vote {
            let _ = writeln!(
                out,
                "free-form {:<w$}  answers clustered and scored by {} ≥ {}{}",
                r.name,
                if f.rule == crate::core::free::ClusterRule::Embed {
                    "embed"
                } else {
                    "overlap"
                },
                f.similarity,
                if f.rule == crate::core::free::ClusterRule::Usc {
                    " (usc picks the winner)"
                } else {
                    ""
                }
            );
        }
    }
    // Reasoning models: how much of the completion went into thinking.
    for r in results.iter().filter(|r| r.reasoning_tokens > 0) {
        let _ = writeln!(
            out,
            "thinking {:<w$}  {} of {} completion tokens",
            r.name, r.reasoning_tokens, r.usage.completion_tokens
        );
    }
    for r in results.iter().filter(|r| r.maj_at_k.len() > 1) {
        let _ = writeln!(out, "maj@k {:<w$}  {}", r.name, curve(r, " "));
    }
    // What the fallback reading adds: strict and flexible answers on the same items.
    for r in results {
        if let Some(sf) = &r.strict_flexible {
            let _ = writeln!(out, "answers {:<w$}  {}", r.name, sf.describe());
        }
    }
    for r in results {
        if let Some(line) = what_if_line(r, items) {
            let _ = writeln!(out, "what-if {:<w$}  {line}", r.name);
        }
    }
    out
}

/// "beta:0.95 over 20 orders of 12 items: 71.2% at 6.3 samples/item (every sample: 72.0% at 20.0)".
fn what_if_line(r: &VariantResult, items: usize) -> Option<String> {
    let s = r.what_if.as_ref()?;
    let missing = match items.saturating_sub(s.items) {
        0 => String::new(),
        k => format!("; {k} item(s) without cached samples left out"),
    };
    Some(format!(
        "{} over {} orders of {} items: {:.1}% at {:.1} samples/item (every sample: {:.1}% at {:.1}){missing}",
        s.rule,
        s.orders,
        s.items,
        s.accuracy * 100.0,
        s.samples_per_item,
        s.full_accuracy * 100.0,
        s.full_samples_per_item
    ))
}

/// A CSV cell of a variant's strict-and-flexible comparison (empty for free-form answers).
fn strict_flexible(
    r: &VariantResult,
    figure: impl Fn(&crate::core::strictness::StrictFlexible) -> f64,
) -> String {
    r.strict_flexible
        .as_ref()
        .map(|sf| figure(sf).to_string())
        .unwrap_or_default()
}

/// "1:12% 2:15% …" for a variant's maj@k curve.
fn curve(r: &VariantResult, sep: &str) -> String {
    r.maj_at_k
        .iter()
        .enumerate()
        .map(|(k, v)| format!("{}:{:.0}%", k + 1, v * 100.0))
        .collect::<Vec<_>>()
        .join(sep)
}

fn export(
    dir: &Path,
    dataset: &str,
    results: &[VariantResult],
    provenance: &Value,
    partial: bool,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut items = String::new();
    for r in results {
        for i in &r.per_item {
            let v: Value = json!({"variant": r.name, "backend": r.backend.label(), "fresh": i.all_paths().filter(|p| !p.cached).count(), "cached": i.all_paths().filter(|p| p.cached).count(), "id": i.id, "target": i.target, "answers": i.answers, "majority": i.majority, "correct": i.correct, "first_correct": i.first_correct, "maj_at_k": i.maj_at_k, "readings": i.readings});
            let _ = writeln!(items, "{v}");
        }
    }
    write_atomic(&dir.join("items.jsonl"), items.as_bytes())?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let _ = csv.write_record([
        "variant",
        "accuracy_first",
        "accuracy_majority",
        "accuracy_confidence",
        "accuracy_filtered",
        "accuracy_strict",
        "accuracy_flexible",
        "strict_flexible_p",
        "maj_at_n",
        "samples_per_item",
        "unparsed_rate",
        "truncated_rate",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "elapsed_ms",
        "fresh_paths",
        "cached_paths",
        "backend",
        "model",
        "host",
        "fingerprint",
        "promptlab",
        "partial",
    ]);
    for r in results {
        let _ = csv.write_record([
            r.name.clone(),
            r.accuracy_first.to_string(),
            r.accuracy_majority.to_string(),
            r.accuracy_confidence
                .map(|a| a.to_string())
                .unwrap_or_default(),
            r.accuracy_filtered
                .map(|a| a.to_string())
                .unwrap_or_default(),
            strict_flexible(r, |sf| sf.strict.value),
            strict_flexible(r, |sf| sf.flexible.value),
            strict_flexible(r, |sf| sf.paired.p),
            r.maj_at_k.last().copied().unwrap_or(0.0).to_string(),
            r.samples_per_item.to_string(),
            r.unparsed_rate.to_string(),
            r.truncated_rate.to_string(),
            r.usage.prompt_tokens.to_string(),
            r.usage.completion_tokens.to_string(),
            r.reasoning_tokens.to_string(),
            r.elapsed_ms.to_string(),
            r.samples.fresh.to_string(),
            r.samples.cached.to_string(),
            r.backend.kind.clone(),
            r.backend.model.clone(),
            r.backend.host.clone().unwrap_or_default(),
            r.backend.fingerprint.clone().unwrap_or_default(),
            crate::core::record::version(),
            partial.to_string(),
        ]);
    }
    write_atomic(
        &dir.join("variants.csv"),
        &csv.into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?,
    )?;
    let mut md = format!(
        "# Evaluation: {dataset}{}\n\nProduced by {}.\n\n| variant | {} |\n|---|{}\n",
        if partial {
            " (PARTIAL: stopped before every item was sampled)"
        } else {
            ""
        },
        provenance_line(provenance, results),
        FIGURES.join(" | "),
        "---|".repeat(FIGURES.len())
    );
    for r in results {
        let _ = writeln!(md, "| {} | {} |", r.name, r.figures().join(" | "));
    }
    md.push_str("\n## maj@k\n\n");
    for r in results {
        let _ = writeln!(md, "- **{}**: {}", r.name, curve(r, ", "));
    }
    if results.iter().any(|r| r.strict_flexible.is_some()) {
        md.push_str("\n## Strict and flexible answers\n\n");
        for r in results {
            if let Some(sf) = &r.strict_flexible {
                let _ = writeln!(md, "- **{}**: {}", r.name, sf.describe());
            }
        }
    }
    let items = results.first().map_or(0, |r| r.per_item.len());
    for r in results {
        if let Some(line) = what_if_line(r, items) {
            let _ = writeln!(md, "\n## What-if: {}\n\n{line}", r.name);
        }
    }
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    let chart = crate::core::chart::svg(
        &format!("{dataset}: accuracy against samples per item"),
        &crate::engine::eval::chart_series(results),
    );
    write_atomic(&dir.join("accuracy.svg"), chart.as_bytes())
}
