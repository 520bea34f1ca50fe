//! LoRA training on the embedded Gemma 3 270M (feature `train`): load time, training tokens
//! per second and peak memory (VmHWM) for an adapter of rank 8 on every linear layer, over
//! the shipped sums dataset in the template's direct format; then what the adapter costs at
//! serving time: llama.cpp's start-up with and without it, and its sampling speed.
//! Run: `cargo bench --features train --bench train` (EPOCHS=1, RANK=8, BATCH_TOKENS=512).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use futures::StreamExt;
use promptlab::backend::local::reference::Tokenizer;
use promptlab::backend::local::{LoadStatus, LocalBackend, LocalSettings};
use promptlab::backend::{Backend, SampleRequest, StreamEvent};
use promptlab::core::render::{Mode, Prompt};
use promptlab::core::template::{Strategy, Thinking};
use promptlab::store::dataset::load_dataset;
use promptlab::store::models::default_model_path;
use promptlab::train::adapter;
use promptlab::train::data::{sequences, specialist};
use promptlab::train::model::Model;
use promptlab::train::trainer::{Settings, train};
use promptlab::train::weights::Gguf;

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of this process so far, in MB.
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let path = default_model_path().expect("cache dir");
    assert!(path.is_file(), "run scripts/fetch-model.sh first");
    let rank: usize = env("RANK", 8);
    let settings = Settings {
        rank,
        alpha: 2.0 * rank as f64,
        epochs: env("EPOCHS", 1),
        batch_tokens: env("BATCH_TOKENS", 512),
        ..Settings::default()
    };
    let (template, _) = promptlab::store::template::resolve("sums").expect("template");
    let mut template = template;
    template.strategy = Strategy::Direct;
    let template = specialist(&template).expect("direct");
    let data = load_dataset(Path::new("assets/sums.jsonl"), true).expect("dataset");
    let tokenizer = Tokenizer::open(&path).expect("tokenizer");
    let rows = sequences(&tokenizer, &template, &data.items, Mode::Completion).expect("rows");
    let tokens: usize = rows.iter().map(|r| r.tokens.len()).sum();
    println!(
        "{} rows, {tokens} tokens ({:.1} per row), rank {rank}, all linear layers, {} tokens a step",
        rows.len(),
        tokens as f64 / rows.len() as f64,
        settings.batch_tokens
    );

    let load = Instant::now();
    let mut gguf = Gguf::open(&path).expect("gguf");
    let config = gguf.config.clone();
    let model = Model::build(config, |n| gguf.tensor(n), Some(&settings.adapter())).expect("model");
    println!(
        "weights dequantized to f32 in {:.2} s, peak memory {:.0} MB",
        load.elapsed().as_secs_f64(),
        peak_mb()
    );

    let out = train(
        &model,
        &rows,
        &settings,
        &AtomicBool::new(false),
        &mut |s| {
            if s.step == 1 || s.step % 10 == 0 || s.step == s.steps {
                println!(
                    "  step {:>3}/{} loss {:.3}  {:.0} tokens/s",
                    s.step,
                    s.steps,
                    s.loss,
                    s.tokens_per_second()
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
    let adapter_path = dir.join("sums.gguf");
    let bytes = adapter::write(&adapter_path, &model, settings.alpha, "bench").expect("write");
    println!("adapter: {:.1} MB", bytes as f64 / 1e6);
    drop(model);
    serving(&path, &adapter_path);
    let _ = std::fs::remove_dir_all(dir);
}

/// llama.cpp's load time and sampling speed, base against base + adapter.
fn serving(path: &Path, adapter: &Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for lora in [None, Some(adapter.to_path_buf())] {
        let start = Instant::now();
        let backend = LocalBackend::spawn(LocalSettings {
            lora: lora.clone(),
            ..LocalSettings::new(path.to_path_buf())
        })
        .expect("backend");
        while backend.status() == LoadStatus::Loading {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let loaded = start.elapsed().as_secs_f64();
        let request = SampleRequest {
            prompt: Prompt::Completion("Q: What is 12 plus 30?\nA:".into()),
            stop: vec![],
            max_tokens: 128,
            temperature: 0.8,
            top_p: 0.95,
            top_k: 40,
            seed: 1,
            thinking: Thinking::Auto,
            reasoning_effort: None,
        };
        let (generated, secs) = rt.block_on(async {
            let started = Instant::now();
            let mut generated = 0;
            for seed in 0..4 {
                let mut s = backend.stream(SampleRequest {
                    seed,
                    ..request.clone()
                });
                while let Some(ev) = s.next().await {
                    if let Ok(StreamEvent::Done(f)) = ev {
                        generated += f.usage.completion_tokens;
                    }
                }
            }
            (generated, started.elapsed().as_secs_f64())
        });
        println!(
            "llama.cpp {}: loaded in {loaded:.2} s, {:.0} generated tokens/s",
            if lora.is_some() {
                "with the adapter"
            } else {
                "base"
            },
            f64::from(generated) / secs
        );
    }
}
