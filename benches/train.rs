//! LoRA training on the embedded Gemma 3 270M (feature `train`): load time, training tokens
//! per second and peak memory (VmHWM) for an adapter of rank 8 (on the feed-forward layers,
//! the default, unless TARGETS says which), over the shipped tickets example (260 rows) in the
//! template's direct format, with where a step's time goes (forward, backward, optimiser) and
//! the memory as it goes. The adapter is left in the temporary directory for `benches/adapter.rs`,
//! which measures what it costs at serving time.
//! Run: `cargo bench --features train --bench train` (TEMPLATE=tickets,
//! DATASET=assets/tickets.jsonl, EPOCHS=1, RANK=8, TARGETS: tune's default, BATCH_TOKENS=512,
//! STEPS=0: all).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use promptlab::backend::local::reference::Tokenizer;
use promptlab::core::render::Mode;
use promptlab::core::template::Strategy;
use promptlab::store::dataset::load_dataset;
use promptlab::store::models::default_model_path;
use promptlab::train::adapter;
use promptlab::train::data::{sequences, specialist};
use promptlab::train::lora::parse_targets;
use promptlab::train::model::Model;
use promptlab::train::trainer::{Settings, train};
use promptlab::train::weights::Gguf;

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A memory figure of this process from /proc/self/status (`VmHWM`: the peak so far;
/// `VmRSS`: now), in MB.
fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn peak_mb() -> f64 {
    status_mb("VmHWM:")
}

fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

fn main() {
    let path = default_model_path().expect("cache dir");
    assert!(path.is_file(), "run scripts/fetch-model.sh first");
    let rank: usize = env("RANK", 8);
    // `tune`'s default layers unless TARGETS names others.
    let targets = match std::env::var("TARGETS") {
        Ok(t) => {
            parse_targets(&t).expect("TARGETS: q, k, v, o, gate, up, down, attention, mlp or all")
        }
        Err(_) => Settings::default().targets,
    };
    let shown: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
    let shown = shown.join(",");
    let settings = Settings {
        rank,
        targets,
        alpha: 2.0 * rank as f64,
        epochs: env("EPOCHS", 1),
        batch_tokens: env("BATCH_TOKENS", 512),
        ..Settings::default()
    };
    let max_steps: usize = env("STEPS", 0);
    let name: String = env("TEMPLATE", "tickets".to_string());
    let dataset: String = env("DATASET", "assets/tickets.jsonl".to_string());
    let (mut template, _) = promptlab::store::template::resolve(&name).expect("template");
    template.strategy = Strategy::Direct;
    let template = specialist(&template).expect("direct");
    let data = load_dataset(Path::new(&dataset), true).expect("dataset");
    let tokenizer = Tokenizer::open(&path).expect("tokenizer");
    let rows = sequences(&tokenizer, &template, &data.items, Mode::Completion).expect("rows");
    let tokens: usize = rows.iter().map(|r| r.tokens.len()).sum();
    println!(
        "{} rows, {tokens} tokens ({:.1} per row), rank {rank} on {}, {} tokens a step",
        rows.len(),
        tokens as f64 / rows.len() as f64,
        shown,
        settings.batch_tokens
    );

    let load = Instant::now();
    let mut gguf = Gguf::open(&path).expect("gguf");
    let config = gguf.config.clone();
    let model = Model::build(config, |n| gguf.tensor(n), Some(&settings.adapter())).expect("model");
    drop(gguf);
    println!(
        "weights dequantized to f32 in {:.2} s, memory {:.0} MB (peak {:.0} MB)",
        load.elapsed().as_secs_f64(),
        rss_mb(),
        peak_mb()
    );

    let stop = AtomicBool::new(false);
    let out = train(
        &model,
        &rows,
        &settings,
        &stop,
        &mut |s| {
            if s.step == max_steps {
                stop.store(true, Ordering::Relaxed);
            }
            if s.step == 1 || s.step % 5 == 0 || s.step == s.steps || s.step == max_steps {
                let p = s.phases;
                println!(
                    "  step {:>3}/{} loss {:.3}  {:.0} tokens/s  forward {:.1} s, backward {:.1} s, \
                     optimizer {:.2} s so far; memory {:.0} MB (peak {:.0} MB)",
                    s.step,
                    s.steps,
                    s.loss,
                    s.tokens_per_second(),
                    p.forward.as_secs_f64(),
                    p.backward.as_secs_f64(),
                    p.optimizer.as_secs_f64(),
                    rss_mb(),
                    peak_mb()
                );
            }
        },
        &mut |_, _| Ok(()),
    )
    .expect("train");
    let secs = out.elapsed.as_secs_f64();
    println!(
        "trained {} steps, {} tokens in {secs:.1} s: {:.0} training tokens/s; peak memory {:.0} MB",
        out.losses.len(),
        out.tokens,
        out.tokens as f64 / secs,
        peak_mb()
    );
    println!(
        "at this pace one epoch over 500 rows like these takes {:.1} min",
        500.0 * tokens as f64 / rows.len() as f64 / (out.tokens as f64 / secs) / 60.0
    );

    let dir = std::env::temp_dir().join(format!("promptlab-bench-train-{}", std::process::id()));
    let adapter_path = dir.join(format!("{name}.gguf"));
    let bytes = adapter::write(&adapter_path, &model, settings.alpha, "bench").expect("write");
    println!(
        "adapter: {:.1} MB; its cost at serving time: ADAPTERS={} cargo bench --bench adapter",
        bytes as f64 / 1e6,
        adapter_path.display()
    );
}
