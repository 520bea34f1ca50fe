//! Is path i the same path whatever N? On the embedded model, for each of the first QUERIES
//! (default 50) questions of `assets/sums.jsonl` under gsm8k-cot, path 0 is decoded alone
//! (N = 1), among 4 and among 16, and alone again beside another prompt's batch of 8; paths
//! 0-3 of N = 4 and N = 16 are compared too. Prints how many paths differ and, where they
//! do, after how many characters their texts depart.
//! Run: `cargo bench --bench path_stability` (QUERIES=50 TOKENS=64 by default; STRATEGY=
//! zero-shot-cot for a short prompt instead of the few-shot one, under 512 cache cells).

use futures::StreamExt;
use promptlab::backend::local::{LoadStatus, LocalBackend, LocalSettings};
use promptlab::backend::{Backend, SampleRequest, SampleStream, StreamEvent};
use promptlab::core::render::Mode;
use promptlab::engine::RunPlan;
use promptlab::store::models::default_model_path;
use promptlab::store::template::resolve;

async fn text(mut s: SampleStream) -> String {
    let mut out = String::new();
    while let Some(ev) = s.next().await {
        match ev.expect("sample") {
            StreamEvent::Text(t) => out.push_str(&t),
            StreamEvent::Thinking(_) => {}
            StreamEvent::Done(_) => break,
        }
    }
    out
}

async fn texts(streams: Vec<SampleStream>) -> Vec<String> {
    futures::future::join_all(streams.into_iter().map(text)).await
}

/// Where two texts depart (in characters), or `None` when they are the same.
fn departs(a: &str, b: &str) -> Option<usize> {
    (a != b).then(|| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count())
}

/// One comparison over every query: how many pairs differed, and where.
#[derive(Default)]
struct Tally {
    pairs: usize,
    at: Vec<usize>,
}

impl Tally {
    fn add(&mut self, a: &str, b: &str) {
        self.pairs += 1;
        self.at.extend(departs(a, b));
    }

    fn line(&self, what: &str) -> String {
        let mut at = self.at.clone();
        at.sort_unstable();
        let median = at.get(at.len() / 2).map_or("-".into(), |m| m.to_string());
        format!(
            "{what:<34} {:>3} of {:>3} differ ({:>3.0}%), median departure at char {median}",
            at.len(),
            self.pairs,
            100.0 * at.len() as f64 / self.pairs.max(1) as f64
        )
    }
}

fn main() {
    let path = default_model_path().expect("cache dir");
    assert!(path.is_file(), "run scripts/fetch-model.sh first");
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (queries, tokens) = (env("QUERIES", 50), env("TOKENS", 64) as u32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backend = LocalBackend::spawn(LocalSettings::new(path)).expect("model");
    while backend.status() == LoadStatus::Loading {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (mut template, _) = resolve("gsm8k-cot").expect("template");
    if let Some(strategy) = std::env::var("STRATEGY").ok().and_then(|s| s.parse().ok()) {
        template.strategy = strategy;
    }
    let data = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sums.jsonl"))
        .expect("assets/sums.jsonl");
    let questions: Vec<String> = data
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["input"].as_str().map(String::from))
        .take(queries)
        .collect();
    let request = |q: &str| {
        let plan = RunPlan::new(&template, q, Mode::Completion).expect("plan");
        SampleRequest {
            prompt: plan.first.prompt.clone(),
            stop: plan.first.stop.clone(),
            max_tokens: tokens,
            temperature: plan.sampling.temperature,
            top_p: plan.sampling.top_p,
            top_k: plan.sampling.top_k,
            seed: 11,
            thinking: plan.sampling.thinking,
            reasoning_effort: None,
        }
    };
    let (mut one_16, mut one_4, mut four_16, mut beside) = Default::default();
    let started = std::time::Instant::now();
    for (k, q) in questions.iter().enumerate() {
        let r = request(q);
        let batch = |n| rt.block_on(texts(backend.stream_batch(r.clone(), n).expect("batch")));
        let (n1, n4, n16) = (batch(1), batch(4), batch(16));
        Tally::add(&mut one_16, &n1[0], &n16[0]);
        Tally::add(&mut one_4, &n1[0], &n4[0]);
        for (a, b) in n4.iter().zip(&n16) {
            Tally::add(&mut four_16, a, b);
        }
        // The same prompt alone, decoded while another question's 8 paths share the steps.
        let other = request(&questions[(k + 1) % questions.len()]);
        let (alone, _) = rt.block_on(async {
            let neighbour = backend.stream_batch(other, 8).expect("batch");
            let mine = backend.stream_batch(r.clone(), 1).expect("batch");
            futures::join!(texts(mine), texts(neighbour))
        });
        Tally::add(&mut beside, &n1[0], &alone[0]);
        // Progress, for runs too long to wait for.
        eprintln!(
            "{}/{} queries, {:.0} s: differ {} (1 v 4), {} (1 v 16), {} (4 v 16), {} (beside)",
            k + 1,
            questions.len(),
            started.elapsed().as_secs_f64(),
            one_4.at.len(),
            one_16.at.len(),
            four_16.at.len(),
            beside.at.len()
        );
    }
    println!(
        "{} queries, {tokens} tokens at most, seed 11, {:.0} s",
        questions.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", one_4.line("path 0: N=1 against N=4"));
    println!("{}", one_16.line("path 0: N=1 against N=16"));
    println!("{}", four_16.line("paths 0-3: N=4 against N=16"));
    println!("{}", beside.line("path 0: alone against beside 8"));
}
