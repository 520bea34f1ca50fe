//! An evaluation's results as `core::evaluation` sees them, and its statistics filled in once
//! for every face.

use crate::core::evaluation::{self, ItemScore, VariantScores, describe};

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

/// The width of each `FIGURES` column over `results` (its header's at least, and 9).
pub fn figure_widths(results: &[VariantResult]) -> [usize; FIGURES.len()] {
    let mut w = FIGURES.map(|h| h.chars().count().max(9));
    for r in results {
        for (w, c) in w.iter_mut().zip(r.figures()) {
            *w = (*w).max(c.chars().count());
        }
    }
    w
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
