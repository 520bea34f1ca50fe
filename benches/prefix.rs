//! An evaluation on the embedded model, timed: items per second at N = 3 and N = 8 (gsm8k-direct
//! on the first ITEMS questions of `assets/sums.jsonl`, no sample cache, a fresh backend per
//! figure), with how many sequences each decode step held on average and the prompt tokens
//! evaluated against those sent; then a leave-one-out-like sweep (the same template with each
//! of its eight examples dropped in turn, one greedy token per item) and what its prompts cost.
//! Run: `cargo bench --bench prefix` (ITEMS=24, N_LIST=3,8 in the environment).

use std::sync::Arc;
use std::time::Instant;

use promptlab::backend::Backend;
use promptlab::backend::local::{LoadStatus, LocalBackend, LocalSettings};
use promptlab::engine::eval::{EvalOptions, Variant, VariantResult, eval_variant, variants};
use promptlab::engine::jobs::load;
use promptlab::store::dataset::Item;
use promptlab::store::models::default_model_path;
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ready_backend() -> Arc<LocalBackend> {
    let path = default_model_path().expect("cache dir");
    assert!(path.is_file(), "run scripts/fetch-model.sh first");
    let b = LocalBackend::spawn(LocalSettings::new(path)).expect("model");
    while b.status() == LoadStatus::Loading {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Arc::new(b)
}

fn variant(t: &promptlab::core::template::Template, b: &Arc<LocalBackend>) -> Variant {
    let b: Arc<dyn Backend> = b.clone();
    variants(t, &[], |_, _| Some(b.clone()))
        .expect("variant")
        .remove(0)
}

/// Sequences per decode step on average and at most, and the prompt tokens (evaluated, sent)
/// so far. (Against git main, built from an archive, these read zeros: it counts neither.)
fn counters(b: &LocalBackend) -> (f64, u64, u64, u64) {
    let d = b.decoding();
    let p = b.prompt_tokens().unwrap_or_default();
    let mean = d.tokens as f64 / d.steps.max(1) as f64;
    (mean, d.widest, p.evaluated, p.sent)
}

async fn eval(v: &Variant, items: &[Item]) -> VariantResult {
    let opts = EvalOptions::new(16, None, CancellationToken::new());
    eval_variant(v, items, &opts, Arc::new(|_, _| {})).await
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n_items: usize = env("ITEMS", 24);
    let ns: Vec<u32> = std::env::var("N_LIST")
        .unwrap_or_else(|_| "3,8".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let data = rt
        .block_on(load("assets/sums.jsonl".into(), false, Some(n_items)))
        .expect("dataset");
    let items = data.items;
    let (base, _) = resolve("gsm8k-direct").expect("template");

    println!(
        "gsm8k-direct on {} items of sums.jsonl, sampled (temperature {}, max tokens {}), no cache",
        items.len(),
        base.sampling.temperature,
        base.sampling.max_tokens
    );
    println!(
        "{:>3}  {:>9}  {:>7}  {:>10}  {:>15}  {:>20}",
        "N", "seconds", "items/s", "accuracy", "seqs per step", "prompt evaluated/sent"
    );
    for &n in &ns {
        let b = ready_backend();
        let mut t = base.clone();
        t.sampling.n = n;
        let v = variant(&t, &b);
        let started = Instant::now();
        let r = rt.block_on(eval(&v, &items));
        let secs = started.elapsed().as_secs_f64();
        let (mean, widest, evaluated, sent) = counters(&b);
        println!(
            "{n:>3}  {secs:>9.1}  {:>7.2}  {:>9.1}%  {:>15}  {:>20}",
            items.len() as f64 / secs,
            r.accuracy_majority * 100.0,
            format!("{mean:.1} (max {widest})"),
            format!("{evaluated}/{sent}"),
        );
    }

    // Leave-one-out: the full template, then each example dropped in turn, scored on the same
    // items one after the other on one backend (greedy, one token: the prompts are the cost).
    let loo_items = &items[..items.len().min(env("LOO_ITEMS", 12))];
    let b = ready_backend();
    let mut t = base.clone();
    t.sampling.n = 1;
    t.sampling.temperature = 0.0;
    t.sampling.max_tokens = 1;
    let k = t.examples.len();
    println!(
        "\nleave-one-out sweep: {} variants (all {k} examples, then each dropped) x {} items",
        k + 1,
        loo_items.len()
    );
    println!(
        "{:<12}  {:>8}  {:>9}  {:>8}",
        "variant", "sent", "evaluated", "seconds"
    );
    let started = Instant::now();
    let mut last = (0, 0);
    for drop in std::iter::once(None).chain((0..k).map(Some)) {
        let mut t = t.clone();
        if let Some(i) = drop {
            t.examples[i].enabled = false;
        }
        let v = variant(&t, &b);
        let one = Instant::now();
        rt.block_on(eval(&v, loo_items));
        let (_, _, evaluated, sent) = counters(&b);
        println!(
            "{:<12}  {:>8}  {:>9}  {:>8.2}",
            drop.map_or("all".into(), |i| format!("without {}", i + 1)),
            sent - last.1,
            evaluated - last.0,
            one.elapsed().as_secs_f64()
        );
        last = (evaluated, sent);
    }
    println!(
        "{:<12}  {:>8}  {:>9}  {:>8.2}   ({:.1}% of the prompt tokens sent were evaluated)",
        "total",
        last.1,
        last.0,
        started.elapsed().as_secs_f64(),
        100.0 * last.0 as f64 / last.1.max(1) as f64
    );
}
