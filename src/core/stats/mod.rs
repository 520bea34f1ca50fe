//! Statistics that say whether a difference is larger than the noise (Evan Miller, "Adding
//! Error Bars to Evals", 2024): every figure of an evaluation is a mean over *items*, so the
//! item is the unit of every standard error, whatever the number of samples per item.
//!
//! - [`proportion`] / [`wilson`]: a share of items right (0/1 per item), with the Wilson score
//!   interval, which keeps its coverage on 20-50 items where the normal approximation does not
//!   (Newcombe 1998, "Two-sided confidence intervals for the single proportion").
//! - [`mean_over_items`]: scores averaged over several samples per item (maj@k, accuracy over
//!   samples): the standard error clustered by item, and a Wilson interval at the effective
//!   number of items that standard error implies.
//! - [`paired_binary`]: two variants on the same items, 0/1 scores: the mean difference, its
//!   standard error from the per-item differences, Newcombe's hybrid score interval for paired
//!   proportions, and the exact McNemar test with its two discordant counts.
//! - [`paired_bootstrap`]: the same for other scores (per-item averages), by a seeded paired
//!   bootstrap.
//! - [`median`]: a median of repeated measurements (timings) with the distribution-free
//!   interval of its order statistics.
//! - [`holm`]: Holm's step-down correction across the comparisons of a grid.
//! - [`power`], [`minimum_detectable`], [`items_needed`]: what a number of items can show.
//! - [`verdict`]: better, worse or no detectable difference, in words.
//!
//! Distributions come from `statrs`; nothing here hand-writes a special function. The unit
//! tests check every statistic against reference values computed once with scipy and
//! statsmodels (`scripts/stats-reference.py` writes `tests/fixtures/stats-reference.json`).

mod median;
mod paired;
mod power;
mod proportion;

use std::fmt;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

pub use median::{Median, median};
pub use paired::{Paired, Test, holm, mcnemar_exact, paired, paired_binary, paired_bootstrap};
pub use power::{
    ALPHA, DETECT, PLANNING_DISCORDANCE, POWER, items_needed, minimum_detectable, planning_sd,
    power,
};
pub use proportion::{Estimate, mean_over_items, newcombe_unpaired, proportion, wilson};

/// The confidence level of every interval shown (95%).
pub const LEVEL: f64 = 0.95;

/// Bootstrap resamples for comparisons of non-0/1 scores.
pub const RESAMPLES: u32 = 2000;

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

/// The standard normal quantile for a two-sided interval at `level` (1.96 at 95%).
pub fn z(level: f64) -> f64 {
    normal().inverse_cdf(0.5 + level / 2.0)
}

fn normal() -> Normal {
    Normal::standard()
}

/// What a paired comparison says, in words: the variant is better or worse than the baseline
/// (the Holm-adjusted p below [`ALPHA`]), or no difference could be detected, with the number of
/// items that would detect [`DETECT`] (5 points) at [`POWER`] across the grid's comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    NoDifference {
        /// The difference the item count is for (0.05).
        detect: f64,
        /// Items that would detect it (`None`: the items disagree on nothing to estimate from
        /// and no planning figure applies).
        items: Option<u64>,
    },
}

/// The verdict on comparison `c` whose p-value, adjusted across `comparisons` comparisons, is
/// `p_adjusted`. The items needed are sized at the Bonferroni level `ALPHA / comparisons` (the
/// strictest step of Holm's), from the spread of the observed per-item differences, or
/// [`planning_sd`] when no item told the variants apart.
pub fn verdict(c: &Paired, p_adjusted: f64, comparisons: usize) -> Verdict {
    if p_adjusted < ALPHA && c.diff != 0.0 {
        return if c.diff > 0.0 {
            Verdict::Better
        } else {
            Verdict::Worse
        };
    }
    let sd = match c.sd() {
        sd if sd > 0.0 => sd,
        _ => planning_sd(),
    };
    Verdict::NoDifference {
        detect: DETECT,
        items: items_needed(DETECT, sd, ALPHA / comparisons.max(1) as f64, POWER),
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Better => f.write_str("better"),
            Verdict::Worse => f.write_str("worse"),
            Verdict::NoDifference {
                detect,
                items: Some(n),
            } => write!(
                f,
                "no detectable difference: about {} items would detect {:.0} points",
                round_items(*n),
                detect * 100.0
            ),
            Verdict::NoDifference { .. } => f.write_str("no detectable difference"),
        }
    }
}

/// An item count as people say it: two significant figures ("about 620 items").
pub fn round_items(n: u64) -> u64 {
    if n < 100 {
        return n;
    }
    let scale = 10u64.pow(n.ilog10() - 1);
    n.div_ceil(scale) * scale
}

/// A difference in points with its sign: "+12.5", "−3.0", "0.0".
pub fn points(x: f64) -> String {
    let v = x * 100.0;
    if v.abs() < 0.05 {
        "0.0".into()
    } else if v > 0.0 {
        format!("+{v:.1}")
    } else {
        format!("−{:.1}", -v)
    }
}

#[cfg(test)]
mod tests;
