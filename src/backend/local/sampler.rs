//! Per-path token sampling over raw logits: top-k first (cheap even over Gemma's 262k-token
//! vocabulary: one pass that rarely touches its small candidate list), then temperature and
//! top-p, drawn with the path's own seeded RNG. It also yields each token's log-probability
//! for the weighted vote: log-softmax over the top-k candidates at temperature 1, which is the
//! model's distribution up to the (negligible) mass outside the top k.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Candidates kept when the user disables top-k (`top_k: 0`).
pub const UNLIMITED_TOP_K: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    pub token: i32,
    pub logprob: f64,
    /// The token's confidence over its top candidates (`core::confidence`).
    pub confidence: Option<f64>,
}

pub struct PathSampler {
    rng: StdRng,
    temperature: f32,
    top_p: f32,
    top_k: usize,
    candidates: Vec<(f32, i32)>,
}

impl PathSampler {
    pub fn new(seed: u64, temperature: f32, top_p: f32, top_k: u32) -> Self {
        let top_k = if top_k == 0 {
            UNLIMITED_TOP_K
        } else {
            top_k as usize
        };
        PathSampler {
            rng: StdRng::seed_from_u64(seed),
            temperature,
            top_p,
            top_k,
            candidates: Vec::with_capacity(top_k + 1),
        }
    }

    pub fn sample(&mut self, logits: &[f32]) -> Sampled {
        top_k_into(logits, self.top_k, &mut self.candidates);
        let c = &self.candidates;
        if c.is_empty() {
            return Sampled {
                token: 0,
                logprob: f64::NEG_INFINITY,
                confidence: None,
            };
        }
        let max = f64::from(c[0].0);
        let lse = log_sum_exp(logits, c[0].0);
        let pick = if self.temperature <= 0.0 {
            0
        } else {
            let t = f64::from(self.temperature);
            let weights: Vec<f64> = c
                .iter()
                .map(|(l, _)| ((f64::from(*l) - max) / t).exp())
                .collect();
            let total: f64 = weights.iter().sum();
            // Top-p: the smallest prefix whose probability reaches top_p.
            let mut keep = weights.len();
            let mut acc = 0.0;
            for (i, w) in weights.iter().enumerate() {
                acc += w / total;
                if acc >= f64::from(self.top_p) {
                    keep = i + 1;
                    break;
                }
            }
            let kept_total: f64 = weights[..keep].iter().sum();
            let mut r = self.rng.random::<f64>() * kept_total;
            let mut pick = keep - 1;
            for (i, w) in weights[..keep].iter().enumerate() {
                if r < *w {
                    pick = i;
                    break;
                }
                r -= w;
            }
            pick
        };
        let top: Vec<f64> = c
            .iter()
            .take(crate::core::confidence::TOP_K)
            .map(|(l, _)| f64::from(*l) - lse)
            .collect();
        Sampled {
            token: c[pick].1,
            logprob: f64::from(c[pick].0) - lse,
            confidence: crate::core::confidence::token_confidence(&top),
        }
    }
}

/// log Σ exp(l) over every logit, given their maximum: the full-vocabulary normaliser.
/// Eight f32 lanes the compiler vectorises, with `exp_le0`; NaN logits count as nothing.
pub fn log_sum_exp(logits: &[f32], max: f32) -> f64 {
    let mut lanes = [0f32; 8];
    let chunks = logits.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (acc, &l) in lanes.iter_mut().zip(c) {
            *acc += exp_le0(l - max);
        }
    }
    let mut total: f64 = lanes.iter().map(|&x| f64::from(x)).sum();
    total += rest
        .iter()
        .map(|&l| f64::from(exp_le0(l - max)))
        .sum::<f64>();
    f64::from(max) + total.ln()
}

/// e^x for x <= 0 (relative error below 1e-5 down to e^-10, absolute below 1e-9 beyond): 2^(x log2 e) split into an integer power,
/// built in the exponent bits, and a fraction, by a degree-5 polynomial. Below -87 (and for
/// NaN) it gives about 1e-38, which no sum of a vocabulary notices.
#[inline(always)]
#[allow(clippy::manual_clamp)] // max then min, not clamp: a NaN logit becomes -87, not NaN
fn exp_le0(x: f32) -> f32 {
    let t = x.max(-87.0).min(0.0) * std::f32::consts::LOG2_E;
    let i = t.floor();
    let f = t - i;
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5 + f * (0.055_503_6 + f * (0.009_618_13 + f * 0.001_333_355))));
    p * f32::from_bits(((i as i32 + 127) as u32) << 23)
}

/// The `k` largest logits, largest first (NaN logits are skipped).
fn top_k_into(logits: &[f32], k: usize, out: &mut Vec<(f32, i32)>) {
    out.clear();
    let k = k.max(1);
    let mut min_at = 0;
    for (i, &l) in logits.iter().enumerate() {
        if out.len() < k {
            if l.is_nan() {
                continue;
            }
            out.push((l, i as i32));
            if out.len() == k {
                min_at = argmin(out);
            }
        } else if l > out[min_at].0 {
            out[min_at] = (l, i as i32);
            min_at = argmin(out);
        }
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
}

fn argmin(v: &[(f32, i32)]) -> usize {
    let mut at = 0;
    for (i, x) in v.iter().enumerate() {
        if x.0 < v[at].0 {
            at = i;
        }
    }
    at
}

/// The RNG seed of a path: its seed (the run's seed + i) mixed with the prompt's tokens.
/// The same seed and prompt always give the same text; without the prompt in it, a seed's
/// first draws would be the same quantiles for every question, so path 0 of every item would
/// start from the same tail of its distribution and evaluations' first-sample figures would
/// measure that seed, not the prompt.
pub fn path_seed(seed: u64, prompt: &[i32]) -> u64 {
    // FNV-1a over the token ids, then splitmix64 of the mix.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in prompt {
        for b in t.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut z = (seed ^ h).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn greedy_picks_argmax_with_its_logprob() {
        let logits = [0.0, 3.0, 1.0, 2.0];
        let mut s = PathSampler::new(1, 0.0, 1.0, 2);
        let got = s.sample(&logits);
        assert_eq!(got.token, 1);
        // Normalised over the whole vocabulary, not over the two top-k candidates.
        let lse = logits.iter().map(|l| f64::from(*l).exp()).sum::<f64>().ln();
        assert!((got.logprob - (3.0 - lse)).abs() < 1e-5, "{}", got.logprob);
    }

    #[test]
    fn full_vocabulary_normaliser_matches_exact_sum() {
        let logits: Vec<f32> = (0..262_144u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) % 4000) as f32) / 100.0 - 25.0)
            .chain([f32::NAN, -1e30])
            .collect();
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let exact = f64::from(max)
            + logits
                .iter()
                .filter(|l| !l.is_nan())
                .map(|&l| (f64::from(l) - f64::from(max)).exp())
                .sum::<f64>()
                .ln();
        let got = log_sum_exp(&logits, max);
        assert!((got - exact).abs() < 1e-4, "{got} vs {exact}");
        // Terms near the maximum carry the sum: those are close in relative terms, the tiny
        // ones in absolute terms.
        for x in [0.0f32, -0.5, -1.0, -3.0, -10.0, -20.0, -50.0, -86.0, -200.0] {
            let (got, want) = (f64::from(exp_le0(x)), f64::from(x).exp());
            assert!(
                (got - want).abs() < 1e-5 * want.max(1e-4),
                "{x}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn path_seeds_depend_on_the_seed_and_the_prompt() {
        assert_eq!(path_seed(1, &[5, 6]), path_seed(1, &[5, 6]));
        assert_ne!(path_seed(1, &[5, 6]), path_seed(2, &[5, 6]));
        assert_ne!(path_seed(1, &[5, 6]), path_seed(1, &[5, 7]));
    }

    #[test]
    fn same_seed_same_tokens_different_seed_differs() {
        let logits: Vec<f32> = (0..1000)
            .map(|i| ((i * 7919) % 101) as f32 / 10.0)
            .collect();
        let run = |seed| {
            let mut s = PathSampler::new(seed, 1.0, 1.0, 40);
            (0..50).map(|_| s.sample(&logits).token).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn top_p_cuts_the_tail() {
        // One token holds almost all the mass: top_p 0.5 must always pick it.
        let logits = [10.0, 0.0, 0.0, 0.0];
        let mut s = PathSampler::new(3, 1.0, 0.5, 4);
        assert!((0..100).all(|_| s.sample(&logits).token == 0));
    }

    proptest! {
        #[test]
        fn top_k_matches_sort(logits in proptest::collection::vec(-100.0f32..100.0, 1..300), k in 1usize..50) {
            let mut got = Vec::new();
            top_k_into(&logits, k, &mut got);
            let mut all: Vec<(f32, i32)> = logits.iter().enumerate().map(|(i, l)| (*l, i as i32)).collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<f32> = all.iter().take(k).map(|x| x.0).collect();
            prop_assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), want);
        }

        #[test]
        fn sampled_token_is_a_candidate(logits in proptest::collection::vec(-20.0f32..20.0, 1..200), seed in 0u64..1000, t in 0.0f32..2.0, p in 0.05f32..1.0) {
            let mut s = PathSampler::new(seed, t, p, 40);
            let got = s.sample(&logits);
            prop_assert!((got.token as usize) < logits.len());
            prop_assert!(got.logprob <= 1e-9);
        }
    }
}
