//! An evaluation's results as `core::evaluation` sees them, and its statistics filled in once
//! for every face.

use crate::core::evaluation::{self, ItemScore, VariantScores, describe};

use super::cost::COSTS;
use super::eval::{FIGURES, ItemResult, VariantResult};

impl ItemResult {
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

/// A variant's per-item scores, each item's maj@k curve carried to the variant's N.
pub fn scores(r: &VariantResult) -> VariantScores {
    let n = r
        .per_item
        .iter()
        .map(|i| i.maj_at_k.len())
        .max()
        .unwrap_or(0);
    let mut settings = r.settings.clone();
    if let Some(m) = settings.as_object_mut() {
        m.remove("early_stop");
    }
    VariantScores {
        name: r.name.clone(),
        items: r
            .per_item
            .iter()
            .map(|i| ItemScore {
                id: i.id.clone(),
                first: i.first_correct,
                majority: i.correct,
                curve: (0..n).map(|k| i.maj_at(k)).collect(),
                confidence: i.confidence_correct,
                filtered: i.filtered_correct,
            })
            .collect(),
        key: format!("{} {settings}", r.backend.label()),
        early_stop: r.early_stop.is_some(),
        samples_per_item: r.samples_per_item,
    }
}

/// Computes the grid's statistics against the variant at `baseline` and stores each in its
/// result.
pub fn fill(results: &mut [VariantResult], baseline: usize) {
    let scores: Vec<VariantScores> = results.iter().map(scores).collect();
    for (r, s) in results.iter_mut().zip(evaluation::grid(&scores, baseline)) {
        r.stats = s;
    }
}

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
