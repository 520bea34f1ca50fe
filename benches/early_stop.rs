//! What adaptive self-consistency saves: the same items scored with full self-consistency
//! (`none`) and with the early-stop rules, printing accuracy, samples per item and wall time.
//!
//! - Over HTTP: an OpenAI-compatible server on 127.0.0.1 answering each sample after LATENCY_MS
//!   (50), one SSE chunk per token; it gets a sum right for 70% of the seeds and otherwise
//!   misses by ten, so votes split as they do on a real model.
//! - On the embedded model (when it is installed): the `sums` template (chain of thought) on
//!   `assets/sums.jsonl`, no sample cache, so every sample is decoded.
//!
//! Run: `cargo bench --bench early_stop` (ITEMS=60, N=20, LATENCY_MS=50, LOCAL=0 to skip the
//! embedded model, RULES=none,beta:0.95,esc:5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use promptlab::backend::Backend;
use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings};
use promptlab::core::early_stop::{Rule, simulate};
use promptlab::core::render::Mode;
use promptlab::engine::eval::{EvalOptions, Variant, VariantResult, eval_variant};
use promptlab::store::dataset::{Item, load_dataset};
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Answers the last "What is A plus B?" of the prompt: right for 70% of the seeds, else ten off,
/// streamed one word per SSE chunk.
struct Sums {
    latency: Duration,
}

impl Respond for Sums {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let prompt = body["prompt"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| body["messages"].to_string());
        let last = prompt.rsplit("What is ").next().unwrap_or("");
        let nums: Vec<i64> = last
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .take(2)
            .collect();
        let (a, b) = (
            nums.first().copied().unwrap_or(1),
            nums.get(1).copied().unwrap_or(1),
        );
        let seed = body["seed"].as_u64().unwrap_or(0);
        let mix = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (a * 100 + b) as u64;
        let sum = match mix % 10 {
            0..=6 => a + b,
            7 | 8 => a + b + 10,
            _ => a + b - 10,
        };
        let text = format!(
            " {} + {} = {}, and {} + {} = {}, so the total is {sum}. The answer is {sum}.",
            a / 10 * 10,
            b / 10 * 10,
            a / 10 * 10 + b / 10 * 10,
            a % 10,
            b % 10,
            a % 10 + b % 10
        );
        let mut sse = String::new();
        let words: Vec<&str> = text.split_inclusive(' ').collect();
        for w in &words {
            let chunk = serde_json::json!({"choices": [{"index": 0, "text": w}]});
            sse.push_str(&format!("data: {chunk}\n\n"));
        }
        let done = serde_json::json!({"choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 300, "completion_tokens": words.len()}});
        sse.push_str(&format!("data: {done}\n\ndata: [DONE]\n\n"));
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(sse)
            .set_delay(self.latency)
    }
}

fn rules() -> Vec<Rule> {
    std::env::var("RULES")
        .unwrap_or_else(|_| "none,beta:0.95,esc:5".into())
        .split(',')
        .map(|r| r.parse().expect("RULES"))
        .collect()
}

/// Scores `items` under each rule; prints one line each and the what-if of the first (full)
/// run's samples beside the live figures.
async fn compare(
    label: &str,
    backend: Arc<dyn Backend>,
    mode: Mode,
    items: &[Item],
    n: u32,
    concurrency: usize,
) {
    let (mut t, _) = resolve("sums").expect("template");
    t.sampling.n = n;
    println!(
        "{label}: {} items x N = {n}, concurrency {concurrency}",
        items.len()
    );
    let mut full: Option<(VariantResult, f64)> = None;
    for rule in rules() {
        let mut template = t.clone();
        template.sampling.early_stop = rule;
        let v = Variant {
            name: rule.to_string(),
            settings: serde_json::json!({}),
            template,
            mode,
            backend: backend.clone(),
        };
        let opts = EvalOptions::new(concurrency, None, CancellationToken::new());
        let started = Instant::now();
        let r = eval_variant(&v, items, &opts, Arc::new(|_, _| {})).await;
        let wall = started.elapsed().as_secs_f64();
        let vs = match &full {
            Some((f, fw)) => format!(
                "  ({:.1}x fewer samples, {:.1}x less time, {:+.1} points)",
                f.samples_per_item / r.samples_per_item.max(1e-9),
                fw / wall.max(1e-9),
                (r.accuracy_majority - f.accuracy_majority) * 100.0
            ),
            None => String::new(),
        };
        println!(
            "  {:<11} accuracy {:>5.1}%  samples/item {:>5.2}  wall {:>7.2} s{vs}",
            rule.to_string(),
            r.accuracy_majority * 100.0,
            r.samples_per_item,
            wall
        );
        if rule.is_none() && full.is_none() {
            full = Some((r, wall));
        }
    }
    // The offline what-if on the full run's samples (the method of the ESC paper).
    if let Some((f, _)) = &full {
        let per_item: Vec<(Vec<Option<String>>, Vec<String>)> = f
            .per_item
            .iter()
            .map(|i| (i.answers.clone(), i.accepted.clone()))
            .collect();
        for rule in rules().into_iter().filter(|r| !r.is_none()) {
            let s = simulate(&rule, &per_item, 50, 1);
            println!(
                "  what-if {:<11} on those samples, 50 orders: accuracy {:>5.1}%  samples/item {:>5.2}",
                rule.to_string(),
                s.accuracy * 100.0,
                s.samples_per_item
            );
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = load_dataset(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sums.jsonl"),
        true,
    )
    .expect("assets/sums.jsonl");
    let items: Vec<Item> = data
        .items
        .into_iter()
        .take(env("ITEMS", 60) as usize)
        .collect();
    let n = env("N", 20) as u32;

    rt.block_on(async {
        let server = MockServer::builder().start().await;
        Mock::given(method("POST"))
            .respond_with(Sums {
                latency: Duration::from_millis(env("LATENCY_MS", 50)),
            })
            .mount(&server)
            .await;
        let mut settings = OpenAiSettings::new(format!("{}/v1", server.uri()), "sums");
        settings.mode = Mode::Completion;
        let backend = OpenAiBackend::new(settings).expect("backend");
        compare(
            &format!("HTTP, {} ms a reply", env("LATENCY_MS", 50)),
            Arc::new(backend),
            Mode::Completion,
            &items,
            n,
            16,
        )
        .await;
    });

    #[cfg(feature = "local")]
    if env("LOCAL", 1) == 1 {
        use promptlab::backend::local::{LoadStatus, LocalBackend, LocalSettings};
        use promptlab::store::models::default_model_path;
        let path = default_model_path().expect("cache dir");
        if !path.is_file() {
            println!("embedded model: not installed (scripts/fetch-model.sh), skipped");
            return;
        }
        let backend = LocalBackend::spawn(LocalSettings::new(path)).expect("model");
        while backend.status() == LoadStatus::Loading {
            std::thread::sleep(Duration::from_millis(5));
        }
        rt.block_on(compare(
            "embedded Gemma 3 270M",
            Arc::new(backend),
            Mode::Completion,
            &items,
            n,
            16,
        ));
    }
}
