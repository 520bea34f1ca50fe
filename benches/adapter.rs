//! What a LoRA adapter costs llama.cpp at serving time, measured apart from the machine's
//! drift: one model and one context, the base and each adapter decoding the same greedy paths
//! in alternation, many short rounds, and each adapter's slowdown against the base of the same
//! round summarised by its median with a distribution-free 95% interval. Also llama.cpp's time
//! to load each adapter (the start-up it adds).
//! Run: `cargo bench --bench adapter` (ADAPTERS=name,name or paths: default every adapter of
//! the embedded model in the models folder's `adapters/`; PATHS=1,4: sequences decoded
//! together; STEPS=32 tokens a path; ROUNDS=15).

use std::path::PathBuf;

use promptlab::backend::local::reference::{Block, DecodeRounds, decode_rounds};
use promptlab::core::display::visible;
use promptlab::core::render::Prompt;
use promptlab::core::stats::{LEVEL, Median, median};
use promptlab::store::adapters::{adapters_dir, find, resolve_in};
use promptlab::store::models::default_model_path;

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn shown(m: Option<Median>) -> String {
    match m {
        Some(Median {
            value,
            interval: Some(i),
        }) => format!("{value:.1}% [{:.1}, {:.1}]", i.low, i.high),
        Some(Median { value, .. }) => format!("{value:.1}% (too few rounds for an interval)"),
        None => "-".into(),
    }
}

fn main() {
    let model = default_model_path().expect("cache dir");
    assert!(model.is_file(), "run scripts/fetch-model.sh first");
    let dir = adapters_dir();
    let size = std::fs::metadata(&model).map_or(0, |m| m.len());
    let adapters: Vec<PathBuf> = match std::env::var("ADAPTERS") {
        Ok(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| resolve_in(s.as_ref(), dir.as_deref()))
            .collect(),
        Err(_) => dir
            .as_deref()
            .map(find)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.fits(&model, size))
            .map(|a| a.path)
            .collect(),
    };
    assert!(
        !adapters.is_empty(),
        "no adapter of {} found: train one (`promptlab tune`) or name some in ADAPTERS",
        model.display()
    );
    // File names reach the terminal escaped.
    let names: Vec<String> = std::iter::once("base".to_string())
        .chain(adapters.iter().map(|p| {
            let stem = p
                .file_stem()
                .map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into());
            visible(&stem).into_owned()
        }))
        .collect();
    let paths: Vec<usize> = std::env::var("PATHS")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let (steps, rounds) = (env("STEPS", 32usize), env("ROUNDS", 15usize));
    let prompt = Prompt::Completion("Q: What is 12 plus 30?\nA:".into());
    if rounds < 15 {
        println!("(with fewer than 15 rounds the interval is most of the rounds' range)");
    }
    println!(
        "{} · {} · {steps} greedy tokens a path, {rounds} rounds, base and adapters alternated",
        visible(&model.display().to_string()),
        names[1..].join(", ")
    );
    let load = || {
        let avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        avg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    };
    println!("load average at the start: {}", load());
    for &n in &paths {
        let mut blocks: Vec<Block> = Vec::new();
        let loads = decode_rounds(
            &model,
            &adapters,
            &DecodeRounds {
                prompt: &prompt,
                paths: n,
                steps,
                rounds,
            },
            |b| blocks.push(*b),
        )
        .expect("llama.cpp");
        let rate = |round: usize, arm: usize| {
            blocks
                .iter()
                .find(|b| b.round == round && b.arm == arm)
                .map(|b| b.tokens as f64 / b.secs)
        };
        println!(
            "\n{n} path(s) decoded together (load average now {}; other work on the machine widens the interval):",
            load()
        );
        let base: Vec<f64> = (0..rounds).filter_map(|r| rate(r, 0)).collect();
        let speed = |xs: &[f64]| median(xs, LEVEL).map_or(f64::NAN, |m| m.value);
        println!(
            "  {:<16} {:>6.1} tokens/s (median of {rounds})",
            names[0],
            speed(&base)
        );
        for (i, name) in names.iter().enumerate().skip(1) {
            let own: Vec<f64> = (0..rounds).filter_map(|r| rate(r, i)).collect();
            let slower: Vec<f64> = (0..rounds)
                .filter_map(|r| Some(100.0 * (1.0 - rate(r, i)? / rate(r, 0)?)))
                .collect();
            println!(
                "  {name:<16} {:>6.1} tokens/s, slowdown against the base {} (median over rounds, 95%; negative: faster); loaded in {:.0} ms",
                speed(&own),
                shown(median(&slower, LEVEL)),
                loads[i - 1].as_secs_f64() * 1000.0
            );
        }
    }
}
