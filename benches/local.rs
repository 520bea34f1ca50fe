//! Batched self-consistency on the embedded model: N paths of 128 tokens on one ~300-token
//! few-shot prompt, batched (prompt evaluated once, KV cache shared, one decode per step) and
//! run one after another. Prints prompt tokens/s, wall time and aggregate generated tokens/s.
//! Run: `cargo bench --bench local` (N_LIST=1,5,10 and TOKENS=128 in the environment).

use std::time::Instant;

use futures::StreamExt;
use promptlab::backend::local::{LoadStatus, LocalBackend, LocalSettings};
use promptlab::backend::{Backend, SampleRequest, SampleStream, StreamEvent};
use promptlab::core::render::{Mode, render};
use promptlab::core::template::Thinking;
use promptlab::store::models::default_model_path;
use promptlab::store::template::resolve;

struct Outcome {
    first_token_s: f64,
    wall_s: f64,
    generated: u64,
    prompt_tokens: u64,
}

async fn drain_all(streams: Vec<SampleStream>, started: Instant) -> Outcome {
    let mut first: Option<f64> = None;
    let mut generated = 0;
    let mut prompt_tokens = 0;
    let mut merged = futures::stream::select_all(streams);
    while let Some(ev) = merged.next().await {
        match ev.expect("sample") {
            StreamEvent::Text(_) | StreamEvent::Thinking(_) => {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64());
            }
            StreamEvent::Done(f) => {
                generated += u64::from(f.usage.completion_tokens);
                prompt_tokens = u64::from(f.usage.prompt_tokens);
            }
        }
    }
    Outcome {
        first_token_s: first.unwrap_or(0.0),
        wall_s: started.elapsed().as_secs_f64(),
        generated,
        prompt_tokens,
    }
}

fn main() {
    let path = default_model_path().expect("cache dir");
    assert!(path.is_file(), "run scripts/fetch-model.sh first");
    let tokens: u32 = std::env::var("TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let ns: Vec<usize> = std::env::var("N_LIST")
        .unwrap_or_else(|_| "1,5,10,20,40".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let load = Instant::now();
    let backend = LocalBackend::spawn(LocalSettings::new(path)).expect("model");
    while backend.status() == LoadStatus::Loading {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    println!("model loaded in {:.2} s", load.elapsed().as_secs_f64());

    // gsm8k-direct with its eight exemplars is a ~300-token few-shot prompt.
    let (t, _) = resolve("gsm8k-direct").expect("template");
    let prompt = render(&t, t.query.as_deref().unwrap_or("?"), Mode::Completion).prompt;
    let request = |seed| SampleRequest {
        prompt: prompt.clone(),
        stop: vec![],
        max_tokens: tokens,
        temperature: 0.8,
        top_p: 0.95,
        top_k: 40,
        seed,
        thinking: Thinking::Auto,
        reasoning_effort: None,
    };
    // Warm up (first context allocation, caches).
    rt.block_on(drain_all(
        backend.stream_batch(request(0), 1).expect("batch"),
        Instant::now(),
    ));

    println!(
        "{:>3}  {:>10}  {:>9}  {:>10}  {:>12}  {:>10}  {:>8}",
        "N", "prompt t/s", "batched s", "gen tok/s", "sequential s", "gen tok/s", "speedup"
    );
    let mut one_path_wall = None;
    for &n in &ns {
        let started = Instant::now();
        let b = rt.block_on(drain_all(
            backend.stream_batch(request(1), n).expect("batch"),
            started,
        ));
        let started = Instant::now();
        let mut seq_generated = 0;
        for i in 0..n {
            seq_generated += rt
                .block_on(drain_all(
                    vec![backend.stream(request(1 + i as u64))],
                    Instant::now(),
                ))
                .generated;
        }
        let seq_wall = started.elapsed().as_secs_f64();
        one_path_wall.get_or_insert(b.wall_s);
        println!(
            "{n:>3}  {:>10.0}  {:>9.2}  {:>10.1}  {:>12.2}  {:>10.1}  {:>7.2}x",
            b.prompt_tokens as f64 / b.first_token_s.max(1e-9),
            b.wall_s,
            b.generated as f64 / b.wall_s,
            seq_wall,
            seq_generated as f64 / seq_wall,
            seq_wall / b.wall_s,
        );
    }
    if let Some(one) = one_path_wall {
        println!("(goal: 10 paths within 2.5x the wall time of 1 path; 1 path took {one:.2} s)");
    }
}
