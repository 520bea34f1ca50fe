//! variants.csv: one row per variant, each accuracy with its interval, the comparison with
//! the baseline (and of an early-stop variant with every sample) as plain numbers, what
//! produced it, and its costs.

use crate::core::results::VariantResult;
use crate::core::stats::{Test, Verdict};
use crate::core::strictness::StrictFlexible;

/// variants.csv: one row per variant, each accuracy with its interval, and the comparison
/// with the baseline (and of an early-stop variant with every sample) as plain numbers.
pub(super) fn csv_bytes(results: &[VariantResult], partial: bool) -> std::io::Result<Vec<u8>> {
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

/// A CSV cell of a variant's strict-and-flexible comparison (empty for free-form answers).
fn strict_flexible(r: &VariantResult, figure: impl Fn(&StrictFlexible) -> f64) -> String {
    r.strict_flexible
        .as_ref()
        .map(|sf| figure(sf).to_string())
        .unwrap_or_default()
}
