//! Comparing two logit vectors over the same tokens (candle's and llama.cpp's).

/// Max absolute difference, Pearson correlation, and whether the top token agrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    pub max_abs_diff: f32,
    pub correlation: f64,
    pub argmax_agrees: bool,
}

pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 { (i, x) } else { best }
        })
        .0
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn compare(a: &[f32], b: &[f32]) -> Agreement {
    let n = a.len().min(b.len()).max(1) as f64;
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    Agreement {
        max_abs_diff: max_abs_diff(a, b),
        correlation: sab / (saa * sbb).sqrt().max(f64::MIN_POSITIVE),
        argmax_agrees: argmax(a) == argmax(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_of_close_and_far_vectors() {
        let a = [1.0, 3.0, 2.0];
        let same = compare(&a, &[1.1, 3.0, 1.9]);
        assert!(same.argmax_agrees && same.correlation > 0.98);
        assert!((same.max_abs_diff - 0.1).abs() < 1e-6);
        let other = compare(&a, &[3.0, 1.0, 2.0]);
        assert!(!other.argmax_agrees && other.correlation < 0.0);
    }
}
