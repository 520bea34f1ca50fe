//! Two variants on the same items: the per-item differences carry the comparison, so what the
//! items share (an easy item is easy for both) cancels out.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use statrs::distribution::{Binomial, DiscreteCDF};

use super::{Interval, wilson};

/// Variant B against variant A (the baseline) on the same items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    pub items: usize,
    /// The two means (A's, B's) and their difference `b − a`.
    pub a: f64,
    pub b: f64,
    pub diff: f64,
    /// The standard error of `diff` from the per-item differences, `√(Σ(dᵢ − d̄)²) / n`.
    pub se: f64,
    /// The interval for `diff` (how: see `test`).
    pub low: f64,
    pub high: f64,
    /// Two-sided p-value for "no difference", before any correction across a grid.
    pub p: f64,
    pub test: Test,
}

/// How a comparison's interval and p-value were computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Test {
    /// 0/1 scores: the exact McNemar test on the discordant items (binomial, p = ½), and
    /// Newcombe's hybrid score interval for paired proportions (square-and-add of the two
    /// Wilson intervals with his correction for their correlation; Newcombe 1998, "Improved
    /// confidence intervals for the difference between binomial proportions based on paired
    /// data", method 10), chosen over `diff ± z·se` because that collapses to a point when no
    /// item is discordant and undercovers on a few dozen items.
    McNemar {
        /// Items only B got right, and items only A got right.
        b_only: u64,
        a_only: u64,
    },
    /// Other scores: `resamples` paired bootstrap resamples of the items (seeded, so the same
    /// scores give the same figures): the percentile interval, and the p-value of the
    /// bootstrap distribution shifted to a zero mean, `(1 + #{|d* − d̄| ≥ |d̄|}) / (1 + B)`.
    Bootstrap { resamples: u32, seed: u64 },
}

impl Paired {
    pub fn interval(&self) -> Interval {
        Interval {
            low: self.low,
            high: self.high,
        }
    }

    /// The standard deviation of the per-item differences (for sizing a next evaluation).
    pub fn sd(&self) -> f64 {
        self.se * (self.items as f64).sqrt()
    }
}

/// The exact two-sided McNemar p-value for `b` and `c` discordant items:
/// `min(1, 2·P(X ≤ min(b, c)))` with `X ~ Binomial(b + c, ½)`; 1 when no item is discordant.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    match Binomial::new(0.5, n) {
        Ok(d) => (2.0 * d.cdf(b.min(c))).min(1.0),
        Err(_) => 1.0,
    }
}

/// Compares 0/1 scores of A and B on the same items (`None` unless both have the same,
/// non-zero number of items): McNemar's exact test and Newcombe's paired interval.
pub fn paired_binary(a: &[bool], b: &[bool], level: f64) -> Option<Paired> {
    let n = a.len();
    if n == 0 || b.len() != n {
        return None;
    }
    // The 2×2 table of B (rows: right, wrong) against A (columns: right, wrong).
    let (mut both, mut b_only, mut a_only) = (0u64, 0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        match (x, y) {
            (true, true) => both += 1,
            (false, true) => b_only += 1,
            (true, false) => a_only += 1,
            (false, false) => {}
        }
    }
    let neither = n as u64 - both - b_only - a_only;
    let nf = n as f64;
    let (kb, ka) = (both + b_only, both + a_only);
    let (pb, pa) = (kb as f64 / nf, ka as f64 / nf);
    let diff = pb - pa;
    let discordant = (b_only + a_only) as f64 / nf;
    let se = ((discordant - diff * diff).max(0.0) / nf).sqrt();
    let (ib, ia) = (wilson(kb, n as u64, level)?, wilson(ka, n as u64, level)?);
    // Newcombe's correlation of the two shares, with his continuity correction of the cross
    // product and 0 when a margin is empty.
    let margins = [kb, n as u64 - kb, ka, n as u64 - ka];
    let phi = if margins.contains(&0) {
        0.0
    } else {
        let cross = both as f64 * neither as f64 - b_only as f64 * a_only as f64;
        let corrected = if cross > nf / 2.0 {
            cross - nf / 2.0
        } else if cross >= 0.0 {
            0.0
        } else {
            cross
        };
        corrected / margins.iter().map(|&m| m as f64).product::<f64>().sqrt()
    };
    let (db, ua) = (pb - ib.low, ia.high - pa);
    let (da, ub) = (pa - ia.low, ib.high - pb);
    let low = diff - (db * db + ua * ua - 2.0 * phi * db * ua).max(0.0).sqrt();
    let high = diff + (da * da + ub * ub - 2.0 * phi * da * ub).max(0.0).sqrt();
    Some(Paired {
        items: n,
        a: pa,
        b: pb,
        diff,
        se,
        low: low.max(-1.0),
        high: high.min(1.0),
        p: mcnemar_exact(b_only, a_only),
        test: Test::McNemar { b_only, a_only },
    })
}

/// Compares per-item scores of A and B on the same items by a seeded paired bootstrap of the
/// items (`None` unless both have the same, non-zero number of items, or with no resample).
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    resamples: u32,
    seed: u64,
    level: f64,
) -> Option<Paired> {
    let n = a.len();
    if n == 0 || b.len() != n || resamples == 0 {
        return None;
    }
    let nf = n as f64;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let diff = d.iter().sum::<f64>() / nf;
    let se = d.iter().map(|x| (x - diff).powi(2)).sum::<f64>().sqrt() / nf;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / nf)
        .collect();
    means.sort_by(f64::total_cmp);
    let extreme = means
        .iter()
        .filter(|m| (*m - diff).abs() >= diff.abs() - 1e-12)
        .count();
    let tail = (1.0 - level) / 2.0;
    Some(Paired {
        items: n,
        a: a.iter().sum::<f64>() / nf,
        b: b.iter().sum::<f64>() / nf,
        diff,
        se,
        low: quantile(&means, tail),
        high: quantile(&means, 1.0 - tail),
        p: ((1 + extreme) as f64 / (1 + resamples) as f64).min(1.0),
        test: Test::Bootstrap { resamples, seed },
    })
}

/// Compares per-item scores in [0, 1]: [`paired_binary`] when every score is 0 or 1, else
/// [`paired_bootstrap`] with `resamples` resamples seeded by `seed`.
pub fn paired(a: &[f64], b: &[f64], resamples: u32, seed: u64, level: f64) -> Option<Paired> {
    let binary = |s: &[f64]| s.iter().all(|x| *x == 0.0 || *x == 1.0);
    if binary(a) && binary(b) {
        let bits = |s: &[f64]| s.iter().map(|x| *x == 1.0).collect::<Vec<bool>>();
        paired_binary(&bits(a), &bits(b), level)
    } else {
        paired_bootstrap(a, b, resamples, seed, level)
    }
}

/// The `q` quantile of sorted values, interpolated linearly between order statistics (numpy's
/// default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Holm's step-down adjustment of p-values for the comparisons of one grid (same order as
/// given): the k-th smallest becomes `max over j ≤ k of min(1, (m − j + 1)·p₍ⱼ₎)`. It keeps the
/// chance of any false "better" or "worse" in the grid at the level, with more power than
/// Bonferroni.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}
