//! What a number of items can show: the power of a paired comparison, the smallest difference
//! it detects, and the items needed to detect a difference a person names.
//!
//! A paired comparison's difference has standard error `sd / √n`, `sd` the standard deviation
//! of the per-item differences; a two-sided test at level α detects δ with power
//! `Φ(δ√n/sd − z₁₋α/₂) + Φ(−δ√n/sd − z₁₋α/₂)` (the one-sample z-test's, as statsmodels'
//! `NormalIndPower` with `ratio=0`).

use statrs::distribution::ContinuousCDF;

use super::normal;

/// The significance level of verdicts and of the sizes below.
pub const ALPHA: f64 = 0.05;
/// The power sizes aim for.
pub const POWER: f64 = 0.8;
/// The difference a verdict of "no detectable difference" sizes the next evaluation for.
pub const DETECT: f64 = 0.05;

/// Before two variants have answered, the share of items one gets right and the other wrong is
/// taken as 0.3 (for two variants near 50% accuracy, a correlation of 0.4 between their
/// per-item results); the per-item differences then have standard deviation `√0.3 ≈ 0.55`,
/// and 40 items can tell apart differences of about 24 points.
pub const PLANNING_DISCORDANCE: f64 = 0.3;

/// The standard deviation of per-item differences assumed before any data
/// (`√PLANNING_DISCORDANCE`).
pub fn planning_sd() -> f64 {
    PLANNING_DISCORDANCE.sqrt()
}

/// The power of a two-sided paired test at level `alpha` to detect a difference `delta` on
/// `items` items whose per-item differences have standard deviation `sd`.
pub fn power(delta: f64, sd: f64, items: u64, alpha: f64) -> f64 {
    if items == 0 || sd <= 0.0 {
        return if delta != 0.0 && items > 0 { 1.0 } else { 0.0 };
    }
    let n = normal();
    let z = n.inverse_cdf(1.0 - alpha / 2.0);
    let shift = delta.abs() * (items as f64).sqrt() / sd;
    n.cdf(shift - z) + n.cdf(-shift - z)
}

/// The smallest difference `items` items detect with power `power` at level `alpha`, for
/// per-item differences of standard deviation `sd` (`None` with no item or no spread).
pub fn minimum_detectable(items: u64, sd: f64, alpha: f64, power: f64) -> Option<f64> {
    if items == 0 || sd <= 0.0 || !(0.0..1.0).contains(&power) {
        return None;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while self::power(hi, sd, items, alpha) < power {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if self::power(mid, sd, items, alpha) < power {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// The fewest items that detect a difference `delta` with power `power` at level `alpha`, for
/// per-item differences of standard deviation `sd` (`None` for no difference or no spread).
pub fn items_needed(delta: f64, sd: f64, alpha: f64, power: f64) -> Option<u64> {
    if delta == 0.0 || sd <= 0.0 || !(0.0..1.0).contains(&power) {
        return None;
    }
    let n = normal();
    let guess = ((n.inverse_cdf(1.0 - alpha / 2.0) + n.inverse_cdf(power)) * sd / delta).powi(2);
    // The closed form ignores the far tail, so it is never too small by more than one; step
    // down while the item before still has the power, then up until it does.
    let mut items = (guess.ceil() as u64).max(1);
    while items > 1 && self::power(delta, sd, items - 1, alpha) >= power {
        items -= 1;
    }
    while self::power(delta, sd, items, alpha) < power {
        items += 1;
    }
    Some(items)
}
