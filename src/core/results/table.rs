//! What every face and every export file shows of an evaluation's results: the table's
//! columns, each variant against the baseline in words, the chart's series, the line saying
//! what produced the figures, and the lines for a variant's maj@k curve, what-if and mode.

use serde_json::{Value, json};

use super::cost::COSTS;
use super::{FIGURES, VariantResult, pct};
use crate::core::chart::Series;
use crate::core::evaluation::describe;
use crate::core::record::BackendInfo;

/// The table every face shows for `results`: the `FIGURES`, then the cost columns
/// (`cost::COSTS`; training and adapter only when some variant is a specialist), each
/// variant's cells, and each column's width (its header's at least: the lab's pane holds
/// every column at 130 characters).
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub widths: Vec<usize>,
}

pub fn columns(results: &[VariantResult]) -> Columns {
    let specialist = results
        .iter()
        .any(|r| r.cost.training_seconds.is_some() || r.cost.adapter_bytes.is_some());
    let costs = if specialist { COSTS.len() } else { 2 };
    let head: Vec<&'static str> = FIGURES.iter().chain(&COSTS[..costs]).copied().collect();
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            r.figures()
                .into_iter()
                .chain(r.cost.cells().into_iter().take(costs))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    Columns { head, rows, widths }
}

/// Each variant against the baseline, and each early-stop variant against full
/// self-consistency, one line each ("name  Δ … · McNemar p … · verdict"); empty with one
/// variant.
pub fn comparison_lines(results: &[VariantResult]) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for r in results {
        if let Some(v) = &r.stats.versus_baseline {
            lines.push((r.name.clone(), describe(v)));
        }
    }
    for r in results {
        if let Some(e) = &r.stats.versus_full {
            lines.push((
                r.name.clone(),
                format!(
                    "against {} (every sample): {} · {:.0}% fewer samples",
                    e.versus.against,
                    describe(&e.versus),
                    e.samples_saved * 100.0
                ),
            ));
        }
    }
    lines
}

/// What the comparisons are of: "against the baseline X, paired on the same items (majority
/// vote, 95% intervals)"; `None` with nothing compared.
pub fn comparison_heading(results: &[VariantResult]) -> Option<String> {
    let against = results
        .iter()
        .find_map(|r| r.stats.versus_baseline.as_ref())
        .map(|v| v.against.clone())
        .or_else(|| {
            results
                .iter()
                .any(|r| r.stats.versus_full.is_some())
                .then(String::new)
        })?;
    Some(if against.is_empty() {
        "early stop against every sample, paired on the same items (majority vote, 95% intervals)"
            .into()
    } else {
        format!(
            "against the baseline {against}, paired on the same items (majority vote, 95% intervals; p adjusted by Holm across the grid)"
        )
    })
}

/// What the accuracy-against-samples chart draws: each full self-consistency variant's maj@k
/// curve, each early-stop variant (and each what-if) as a point.
pub fn chart_series(results: &[VariantResult]) -> Vec<Series> {
    let mut series = Vec::new();
    for r in results {
        let iv = &r.stats.intervals;
        match r.early_stop {
            Some(_) => series.push(Series::Point {
                name: r.name.clone(),
                x: r.samples_per_item,
                y: r.accuracy_majority,
                interval: iv.majority.map(|e| (e.low, e.high)),
            }),
            None if !r.maj_at_k.is_empty() => series.push(Series::Curve {
                name: r.name.clone(),
                points: r
                    .maj_at_k
                    .iter()
                    .enumerate()
                    .map(|(k, v)| ((k + 1) as f64, *v))
                    .collect(),
                band: iv.band.iter().map(|i| (i.low, i.high)).collect(),
            }),
            None => {}
        }
        if let Some(s) = &r.what_if {
            series.push(Series::Point {
                name: format!("{} what-if {}", r.name, s.rule),
                x: s.samples_per_item,
                y: s.accuracy,
                interval: None,
            });
        }
    }
    series
}

/// What produced an evaluation: the promptlab, every backend that sampled, and how many
/// paths were sampled now or read from the cache.
pub fn provenance(results: &[VariantResult]) -> Value {
    let mut backends: Vec<&BackendInfo> = Vec::new();
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
pub fn provenance_line(p: &Value, results: &[VariantResult]) -> String {
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

/// "1:12% 2:15% …" for a variant's maj@k curve, the points joined by `sep`.
pub fn maj_at_k_line(r: &VariantResult, sep: &str) -> String {
    r.maj_at_k
        .iter()
        .enumerate()
        .map(|(k, v)| format!("{}:{:.0}%", k + 1, v * 100.0))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Which mode produced a variant's figures when its answers were not sampled: "options scored
/// by log-probability, content-free calibration (before calibration: 50.0%)".
pub fn scored_line(r: &VariantResult) -> Option<String> {
    let how = r.answers_from?;
    let before = r
        .accuracy_uncalibrated
        .map(|a| format!(" (before calibration: {})", pct(a)))
        .unwrap_or_default();
    Some(format!(
        "options scored by log-probability, one forward pass per prompt, nothing sampled; {how}{before}"
    ))
}

/// "beta:0.95 over 20 orders of 12 items: 71.2% at 6.3 samples/item (every sample: 72.0% at
/// 20.0)", of an evaluation over `items` items.
pub fn what_if_line(r: &VariantResult, items: usize) -> Option<String> {
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
