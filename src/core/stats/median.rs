//! The median of repeated measurements with a distribution-free interval: the order
//! statistics that bracket the population median with the binomial's coverage (each
//! measurement falls below the median with probability ½), whatever the noise's shape. For
//! timings on a shared machine, whose noise is neither normal nor symmetric.

use statrs::distribution::{Binomial, DiscreteCDF};

use super::Interval;

/// A median and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Median {
    pub value: f64,
    /// `None` when there are too few values for the level (fewer than 6 at 95%).
    pub interval: Option<Interval>,
}

/// The median of `xs` (the mean of the middle two for an even count) and the narrowest pair
/// of order statistics `[x(k), x(n+1-k)]` whose coverage, 1 − 2·P(Bin(n, ½) < k), is at least
/// `level`. `None` for no values or a NaN among them.
pub fn median(xs: &[f64], level: f64) -> Option<Median> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let value = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let b = Binomial::new(0.5, n as u64).ok()?;
    // The largest k (1-based) whose interval still covers at `level`.
    let k = (1..=n.div_ceil(2))
        .take_while(|&k| 1.0 - 2.0 * b.cdf(k as u64 - 1) >= level)
        .last();
    let interval = k.map(|k| Interval {
        low: v[k - 1],
        high: v[n - k],
    });
    Some(Median { value, interval })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_values_give_the_fourth_and_twelfth() {
        // Tables of the sign-test interval: n = 15 at 95% is [x(4), x(12)] (coverage 96.5%).
        let xs: Vec<f64> = (1..=15).rev().map(f64::from).collect();
        let m = median(&xs, 0.95).unwrap();
        assert_eq!(m.value, 8.0);
        assert_eq!(
            m.interval,
            Some(Interval {
                low: 4.0,
                high: 12.0
            })
        );
    }

    #[test]
    fn six_values_are_the_fewest_for_95_percent() {
        // n = 6: [x(1), x(6)] covers 1 − 2/64 = 96.9%; n = 5 only 93.8%.
        let m = median(&[3.0, 1.0, 2.0, 6.0, 5.0, 4.0], 0.95).unwrap();
        assert_eq!(m.value, 3.5);
        assert_eq!(
            m.interval,
            Some(Interval {
                low: 1.0,
                high: 6.0
            })
        );
        let m = median(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).unwrap();
        assert_eq!(m.value, 3.0);
        assert_eq!(m.interval, None);
    }

    #[test]
    fn a_lower_level_narrows_it() {
        let xs: Vec<f64> = (1..=15).map(f64::from).collect();
        // 80%: k = 5 covers 1 − 2·P(Bin(15,½) ≤ 4) = 88.2%, k = 6 only 69.8%.
        let m = median(&xs, 0.80).unwrap();
        assert_eq!(
            m.interval,
            Some(Interval {
                low: 5.0,
                high: 11.0
            })
        );
    }

    #[test]
    fn nothing_to_summarise() {
        assert_eq!(median(&[], 0.95), None);
        assert_eq!(median(&[1.0, f64::NAN], 0.95), None);
    }
}
