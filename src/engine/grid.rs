//! An evaluation's results as `core::evaluation` sees them, and its statistics filled in once
//! for every face and file.

use crate::core::evaluation::{self, ItemScore, VariantScores};
use crate::core::results::VariantResult;

// What the faces and the export files show of the results (`core::results::table`).
pub use crate::core::results::{Columns, columns, comparison_heading, comparison_lines};

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
