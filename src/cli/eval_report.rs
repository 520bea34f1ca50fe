//! How an evaluation is shown: the table for people (each accuracy with its interval, each
//! variant against the baseline), and the files of `eval --out` (items.jsonl, variants.csv,
//! report.md, accuracy.svg). Every figure is one the engine and `core::evaluation` computed.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::core::stats::{Test, Verdict};
use crate::engine::eval::VariantResult;
use crate::engine::grid::{columns, comparison_heading, comparison_lines};
use crate::store::atomic::write_all_atomic;

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
    let columns = columns(results);
    let mut out = format!(
        "{dataset} · {items} items · {}\n\n{:<w$}",
        provenance_line(&provenance(results), results),
        "variant"
    );
    for (c, cw) in columns.head.iter().zip(&columns.widths) {
        let _ = write!(out, "  {c:>cw$}");
    }
    out.push('\n');
    for (r, row) in results.iter().zip(&columns.rows) {
        let _ = write!(out, "{:<w$}", r.name);
        for (c, cw) in row.iter().zip(&columns.widths) {
            let _ = write!(out, "  {c:>cw$}");
        }
        if r.samples.failed > 0 {
            let _ = write!(out, "  ({} samples failed)", r.samples.failed);
        }
        out.push('\n');
    }
    out.push('\n');
    // Accuracies carry their 95% intervals; each variant against the baseline, in words.
    if let Some(heading) = comparison_heading(results) {
        let _ = writeln!(out, "Compared {heading}:");
        for (name, line) in comparison_lines(results) {
            let _ = writeln!(out, "  {name:<w$}  {line}");
        }
        out.push('\n');
    }
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
    // The embedded model: prompt tokens evaluated, the rest reused from kept prompts.
    for r in results {
        if let Some(p) = r.prompt_tokens.filter(|p| p.sent > 0) {
            let _ = writeln!(
                out,
                "prompt tokens {:<w$}  {} evaluated of {} sent ({:.0}% reused)",
                r.name,
                p.evaluated,
                p.sent,
                100.0 * (p.sent - p.evaluated.min(p.sent)) as f64 / p.sent as f64
            );
        }
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
    for r in results {
        if let Some(line) = scored_line(r) {
            let _ = writeln!(out, "mode {:<w$}  {line}", r.name);
        }
    }
    out
}

/// Which mode produced a variant's figures when its answers were not sampled: "options scored
/// by log-probability, content-free calibration (before calibration: 50.0%)".
fn scored_line(r: &VariantResult) -> Option<String> {
    let how = r.answers_from?;
    let before = r
        .accuracy_uncalibrated
        .map(|a| format!(" (before calibration: {})", crate::engine::eval::pct(a)))
        .unwrap_or_default();
    Some(format!(
        "options scored by log-probability, one forward pass per prompt, nothing sampled; {how}{before}"
    ))
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

pub fn export(
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
    let chart = crate::core::chart::svg(
        &format!("{dataset}: accuracy against samples per item"),
        &crate::engine::eval::chart_series(results),
    );
    // All four or none: a full disk or a folder in the way leaves no half-written export.
    write_all_atomic(&[
        (dir.join("items.jsonl"), items.into_bytes()),
        (dir.join("variants.csv"), variants_csv(results, partial)?),
        (
            dir.join("report.md"),
            report_md(dataset, results, provenance, partial).into_bytes(),
        ),
        (dir.join("accuracy.svg"), chart.into_bytes()),
    ])
}

/// report.md: the figures (accuracies with their intervals), the comparisons in words, the
/// maj@k curves and any what-if.
fn report_md(
    dataset: &str,
    results: &[VariantResult],
    provenance: &Value,
    partial: bool,
) -> String {
    let columns = columns(results);
    let mut md = format!(
        "# Evaluation: {dataset}{}\n\nProduced by {}.\n\n| variant | {} |\n|---|{}\n",
        if partial {
            " (PARTIAL: stopped before every item was sampled)"
        } else {
            ""
        },
        provenance_line(provenance, results),
        columns.head.join(" | "),
        "---|".repeat(columns.head.len())
    );
    for (r, row) in results.iter().zip(&columns.rows) {
        let _ = writeln!(md, "| {} | {} |", r.name, row.join(" | "));
    }
    md.push_str("\nAccuracies carry their 95% intervals (Wilson; maj@N clustered by item).\n");
    if let Some(heading) = comparison_heading(results) {
        let _ = writeln!(md, "\n## Comparisons\n\nCompared {heading}:\n");
        for (name, line) in comparison_lines(results) {
            let _ = writeln!(md, "- **{name}**: {line}");
        }
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
    for r in results {
        if let Some(line) = scored_line(r) {
            let _ = writeln!(md, "\n## Mode: {}\n\n{line}", r.name);
        }
    }
    md
}

/// variants.csv: one row per variant, each accuracy with its interval, and the comparison
/// with the baseline (and of an early-stop variant with every sample) as plain numbers.
fn variants_csv(results: &[VariantResult], partial: bool) -> std::io::Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let _ = csv.write_record(
        [
            "variant",
            "accuracy_first",
            "accuracy_majority",
            "accuracy_confidence",
            "accuracy_filtered",
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
        ]
        .into_iter()
        .chain(STAT_COLUMNS)
        .chain(["accuracy_strict", "accuracy_flexible", "strict_flexible_p"])
        .chain([
            "prompt_tokens_per_query",
            "seconds_per_item",
            "training_seconds",
            "adapter_bytes",
        ])
        .map(str::to_string)
        .collect::<Vec<_>>(),
    );
    for r in results {
        let _ = csv.write_record(
            [
                r.name.clone(),
                r.accuracy_first.to_string(),
                r.accuracy_majority.to_string(),
                r.accuracy_confidence
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                r.accuracy_filtered
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
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
            ]
            .into_iter()
            .chain(stat_cells(r))
            .chain([
                strict_flexible(r, |sf| sf.strict.value),
                strict_flexible(r, |sf| sf.flexible.value),
                strict_flexible(r, |sf| sf.paired.p),
            ])
            .chain([
                r.cost.prompt_tokens_per_query.to_string(),
                r.cost.seconds_per_item.to_string(),
                r.cost
                    .training_seconds
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                r.cost
                    .adapter_bytes
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
            ])
            .collect::<Vec<_>>(),
        );
    }
    csv.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The statistics' columns of variants.csv (empty cells where a figure does not apply).
const STAT_COLUMNS: [&str; 23] = [
    "accuracy_first_low",
    "accuracy_first_high",
    "accuracy_majority_low",
    "accuracy_majority_high",
    "maj_at_n_low",
    "maj_at_n_high",
    "baseline",
    "delta",
    "delta_low",
    "delta_high",
    "p_mcnemar",
    "p_holm",
    "gained",
    "lost",
    "verdict",
    "items_to_detect",
    "full_variant",
    "delta_vs_full",
    "delta_vs_full_low",
    "delta_vs_full_high",
    "p_vs_full_holm",
    "verdict_vs_full",
    "samples_saved",
];

fn stat_cells(r: &VariantResult) -> Vec<String> {
    let num = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    let iv = &r.stats.intervals;
    let bounds =
        |e: Option<crate::core::stats::Estimate>| [num(e.map(|e| e.low)), num(e.map(|e| e.high))];
    let mut cells: Vec<String> =
        [bounds(iv.first), bounds(iv.majority), bounds(iv.maj_at_n)].concat();
    let versus = r.stats.versus_baseline.as_ref();
    let counts = versus.and_then(|v| match v.paired.test {
        Test::McNemar { b_only, a_only } => Some((b_only, a_only)),
        Test::Bootstrap { .. } => None,
    });
    let items = versus.and_then(|v| match v.verdict {
        Verdict::NoDifference { items, .. } => items,
        _ => None,
    });
    cells.extend([
        versus.map(|v| v.against.clone()).unwrap_or_default(),
        num(versus.map(|v| v.paired.diff)),
        num(versus.map(|v| v.paired.low)),
        num(versus.map(|v| v.paired.high)),
        num(versus.map(|v| v.paired.p)),
        num(versus.map(|v| v.p_holm)),
        counts.map(|c| c.0.to_string()).unwrap_or_default(),
        counts.map(|c| c.1.to_string()).unwrap_or_default(),
        versus.map(|v| verdict_word(&v.verdict)).unwrap_or_default(),
        items.map(|n| n.to_string()).unwrap_or_default(),
    ]);
    let full = r.stats.versus_full.as_ref();
    cells.extend([
        full.map(|e| e.versus.against.clone()).unwrap_or_default(),
        num(full.map(|e| e.versus.paired.diff)),
        num(full.map(|e| e.versus.paired.low)),
        num(full.map(|e| e.versus.paired.high)),
        num(full.map(|e| e.versus.p_holm)),
        full.map(|e| verdict_word(&e.versus.verdict))
            .unwrap_or_default(),
        num(full.map(|e| e.samples_saved)),
    ]);
    cells
}

/// "better", "worse" or "no_difference", as in `--json`.
fn verdict_word(v: &Verdict) -> String {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::NoDifference { .. } => "no_difference",
    }
    .into()
}
