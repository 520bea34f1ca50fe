//! N samples of one prompt as one request (`--server-n on`) against one request per path
//! (`off`), on a server that honours `n`: requests sent, prompt tokens billed and wall time
//! for an evaluation of 200 items x 10 samples.
//!
//! The server (wiremock on 127.0.0.1) answers after LATENCY_MS (20) with one SSE chunk per
//! token, the choices of an `n` request interleaved, and bills the prompt once per request,
//! as vLLM and OpenAI do.
//!
//! Run: `cargo bench --bench server_n` (ITEMS=200, N=10, LATENCY_MS=20, CONCURRENCY=16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use promptlab::backend::Backend;
use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings, ServerN};
use promptlab::core::render::Mode;
use promptlab::engine::eval::{EvalOptions, Variant, eval_variant};
use promptlab::store::dataset::Item;
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

struct Server {
    latency: Duration,
}

impl Respond for Server {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let n = body["n"].as_u64().unwrap_or(1) as usize;
        let seed = body["seed"].as_u64().unwrap_or(0);
        let replies: Vec<Vec<String>> = (0..n)
            .map(|i| {
                let answer = if (seed + i as u64) % 10 < 7 { 5 } else { 6 };
                format!("Two and three make five, since two plus three is {answer}. The answer is {answer}.")
                    .split_inclusive(' ')
                    .map(String::from)
                    .collect()
            })
            .collect();
        let mut sse = String::new();
        let longest = replies.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..longest {
            for (i, words) in replies.iter().enumerate() {
                if let Some(w) = words.get(k) {
                    let chunk =
                        serde_json::json!({"choices": [{"index": i, "delta": {"content": w}}]});
                    sse.push_str(&format!("data: {chunk}\n\n"));
                }
            }
        }
        for i in 0..n {
            let done = serde_json::json!({"choices": [{"index": i, "delta": {}, "finish_reason": "stop"}]});
            sse.push_str(&format!("data: {done}\n\n"));
        }
        let tokens: usize = replies.iter().map(Vec::len).sum();
        let usage = serde_json::json!({"choices": [], "usage": {"prompt_tokens": 400, "completion_tokens": tokens}});
        sse.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(sse)
            .set_delay(self.latency)
    }
}

fn main() {
    let items = env("ITEMS", 200) as usize;
    let n = env("N", 10) as u32;
    let concurrency = env("CONCURRENCY", 16) as usize;
    let latency = Duration::from_millis(env("LATENCY_MS", 20));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(Server { latency })
            .mount(&server)
            .await;
        let dataset: Vec<Item> = (0..items)
            .map(|i| Item {
                id: i.to_string(),
                input: format!("Item {i}: what is 2 plus 3?"),
                targets: vec!["5".into()],
            })
            .collect();
        let (mut t, _) = resolve("gsm8k-direct").expect("template");
        t.sampling.n = n;
        println!(
            "{items} items x {n} samples, concurrency {concurrency}, a server honouring n ({} ms a reply)",
            latency.as_millis()
        );
        let mut off_figures = None;
        for mode in [ServerN::Off, ServerN::On] {
            let mut s = OpenAiSettings::new(format!("{}/v1", server.uri()), "bench-model");
            s.server_n = mode;
            let backend = Arc::new(OpenAiBackend::new(s).expect("backend"));
            let v = Variant {
                name: format!("{mode:?}"),
                settings: serde_json::json!({}),
                template: t.clone(),
                mode: Mode::Chat,
                backend: backend.clone() as Arc<dyn Backend>,
            };
            let opts = EvalOptions::new(concurrency, None, CancellationToken::new());
            let started = Instant::now();
            let r = eval_variant(&v, &dataset, &opts, Arc::new(|_, _| {})).await;
            let wall = started.elapsed().as_secs_f64();
            let sent = backend.stats().sent();
            let vs = match off_figures {
                Some((s, w, p)) => format!(
                    "  ({:.1}x fewer requests, {:.1}x less time, {:.1}x fewer prompt tokens)",
                    s as f64 / sent.max(1) as f64,
                    w / wall.max(1e-9),
                    p as f64 / r.usage.prompt_tokens.max(1) as f64
                ),
                None => String::new(),
            };
            println!(
                "  --server-n {:<4} requests {sent:>5}  prompt tokens billed {:>7}  wall {wall:>6.2} s  accuracy {:.1}%{vs}",
                format!("{mode:?}").to_lowercase(),
                r.usage.prompt_tokens,
                r.accuracy_majority * 100.0
            );
            off_figures = Some((sent, wall, r.usage.prompt_tokens));
        }
    });
}
