//! What the statistics of an evaluation cost: `core::evaluation::grid` (every interval, the maj@k
//! bands, each variant against the baseline with McNemar and Newcombe, Holm, the verdicts) on a
//! grid of ITEMS items × VARIANTS variants × N samples per item, and one paired bootstrap of
//! per-item averages. The grid must stay under 50 ms at 1,000 × 10.
//!
//! Run: `cargo bench --bench stats` (ITEMS=1000, VARIANTS=10, N=10, ROUNDS=20).

use std::time::Instant;

use promptlab::core::evaluation::{ItemScore, VariantScores, grid};
use promptlab::core::stats::{LEVEL, RESAMPLES, paired_bootstrap};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A variant whose items are right with probability `skill` times the item's ease.
fn variant(name: &str, ease: &[f64], skill: f64, n: usize, rng: &mut StdRng) -> VariantScores {
    let items = ease
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = (skill * e).min(1.0);
            let hits: Vec<bool> = (0..n).map(|_| rng.random::<f64>() < p).collect();
            let mut right = 0usize;
            let curve: Vec<f64> = hits
                .iter()
                .enumerate()
                .map(|(k, h)| {
                    right += usize::from(*h);
                    right as f64 / (k + 1) as f64
                })
                .collect();
            ItemScore {
                id: i.to_string(),
                first: hits[0],
                majority: 2 * right > n,
                curve,
                confidence: Some(hits[0]),
                filtered: Some(hits[n - 1]),
            }
        })
        .collect();
    VariantScores {
        name: name.into(),
        key: name.into(),
        items,
        early_stop: false,
        samples_per_item: n as f64,
    }
}

fn main() {
    let (items, variants, n, rounds) = (
        env("ITEMS", 1000),
        env("VARIANTS", 10),
        env("N", 10).max(1),
        env("ROUNDS", 20).max(1),
    );
    let mut rng = StdRng::seed_from_u64(24);
    let ease: Vec<f64> = (0..items).map(|_| rng.random()).collect();
    let grid_in: Vec<VariantScores> = (0..variants)
        .map(|v| variant(&format!("v{v}"), &ease, 0.8 + 0.04 * v as f64, n, &mut rng))
        .collect();
    let mut times = Vec::new();
    let mut verdicts = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let stats = grid(&grid_in, 0);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        verdicts = stats.iter().filter(|s| s.versus_baseline.is_some()).count();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "grid statistics, {items} items × {variants} variants × {n} samples: median {:.2} ms, worst {:.2} ms over {rounds} rounds ({verdicts} comparisons; budget 50 ms)",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    let a: Vec<f64> = grid_in[0].items.iter().map(|i| i.curve[n - 1]).collect();
    let b: Vec<f64> = grid_in[1].items.iter().map(|i| i.curve[n - 1]).collect();
    let t = Instant::now();
    let c = paired_bootstrap(&a, &b, RESAMPLES, 1, LEVEL);
    println!(
        "paired bootstrap, {items} items × {RESAMPLES} resamples: {:.2} ms (Δ {:+.4})",
        t.elapsed().as_secs_f64() * 1000.0,
        c.map_or(0.0, |c| c.diff)
    );
}
