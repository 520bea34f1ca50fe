//! One figure with its interval: a share of items (Wilson), a mean of per-item scores
//! (clustered by item), and the difference of two independent shares (Newcombe).

use serde::Serialize;

use super::{Interval, z};

/// A mean over items with its standard error and interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    /// The standard error of `value`, the item the unit.
    pub se: f64,
    pub low: f64,
    pub high: f64,
    pub items: usize,
}

impl Estimate {
    pub fn interval(&self) -> Interval {
        Interval {
            low: self.low,
            high: self.high,
        }
    }
}

/// The Wilson score interval for `successes` out of `n` (`None` when `n` is 0).
///
/// `(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)`: never outside [0, 1], never of zero
/// width, and close to its nominal coverage on a few dozen items, where `p ± z·se` is not.
pub fn wilson(successes: u64, n: u64, level: f64) -> Option<Interval> {
    (n > 0).then(|| wilson_at(successes.min(n) as f64 / n as f64, n as f64, z(level)))
}

/// Wilson's interval for a share `p` of `n` (not necessarily whole) observations.
fn wilson_at(p: f64, n: f64, z: f64) -> Interval {
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// A share of items right: `successes / n` with the binomial standard error `√(p(1−p)/n)` and
/// the Wilson interval.
pub fn proportion(successes: u64, n: u64, level: f64) -> Option<Estimate> {
    let i = wilson(successes, n, level)?;
    let p = successes.min(n) as f64 / n as f64;
    Some(Estimate {
        value: p,
        se: (p * (1.0 - p) / n as f64).sqrt(),
        low: i.low,
        high: i.high,
        items: n as usize,
    })
}

/// The mean of per-item scores in [0, 1] (each item's score already averaged over its samples:
/// maj@k, accuracy over samples), with the standard error clustered by item and an interval.
///
/// The standard error is the CLT's over items, `√(Σ(sᵢ − s̄)²) / n` (the cluster-robust
/// CR0 form for items with equally many samples; for 0/1 scores exactly `√(p(1−p)/n)`), never
/// the N × items samples taken as independent. The interval is Wilson's at the effective number
/// of items that standard error implies, `n_eff = s̄(1−s̄)/se²` (Kish's design effect; Korn and
/// Graubard 1998 use it the same way with Clopper–Pearson), bounded to `[n, samples]`: never
/// narrower than the `samples` scored (all items' samples together) would give, nor wider than
/// the items alone. With 0/1 scores it is exactly [`proportion`]'s interval. `samples` below
/// `n` is taken as `n`; an empty slice gives `None`.
pub fn mean_over_items(scores: &[f64], samples: usize, level: f64) -> Option<Estimate> {
    let n = scores.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = scores.iter().sum::<f64>() / nf;
    let ss: f64 = scores.iter().map(|s| (s - mean).powi(2)).sum();
    let se = ss.sqrt() / nf;
    let spread = mean * (1.0 - mean);
    let most = samples.max(n) as f64;
    let n_eff = if spread <= 0.0 {
        nf
    } else if se <= 0.0 {
        most
    } else {
        (spread / (se * se)).clamp(nf, most)
    };
    let i = wilson_at(mean.clamp(0.0, 1.0), n_eff, z(level));
    Some(Estimate {
        value: mean,
        se,
        low: i.low,
        high: i.high,
        items: n,
    })
}

/// Newcombe's hybrid score interval (his method 10, 1998) for the difference `k_b/n_b −
/// k_a/n_a` of two *independent* shares, such as the winner's share in two separate runs:
/// each share's Wilson bounds, squared and added. `None` when either count of trials is 0.
pub fn newcombe_unpaired(k_a: u64, n_a: u64, k_b: u64, n_b: u64, level: f64) -> Option<Interval> {
    let (ia, ib) = (wilson(k_a, n_a, level)?, wilson(k_b, n_b, level)?);
    let (pa, pb) = (k_a as f64 / n_a as f64, k_b as f64 / n_b as f64);
    let d = pb - pa;
    Some(Interval {
        low: d - ((pb - ib.low).powi(2) + (ia.high - pa).powi(2)).sqrt(),
        high: d + ((ib.high - pb).powi(2) + (pa - ia.low).powi(2)).sqrt(),
    })
}
