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
            };
        }
        let max = f64::from(c[0].0);
        let lse = max
            + c.iter()
                .map(|(l, _)| (f64::from(*l) - max).exp())
                .sum::<f64>()
                .ln();
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
        Sampled {
            token: c[pick].1,
            logprob: f64::from(c[pick].0) - lse,
        }
    }
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
        let lse = (3.0f64.exp() + 2.0f64.exp()).ln();
        assert!((got.logprob - (3.0 - lse)).abs() < 1e-9);
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
