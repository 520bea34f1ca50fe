//! Engine overhead against an OpenAI-compatible server: 200 queries x 5 samples, each answered
//! after 50 ms by a streaming server in another process (so its CPU is not counted), one SSE
//! chunk per token (46 a reply), at concurrency 64. Prints wall time against the ideal, requests/s, client CPU per request and
//! peak memory. Run: `cargo bench --bench engine` (options: QUERIES, SAMPLES, CONCURRENCY,
//! LATENCY_MS in the environment).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings};
use promptlab::core::render::Mode;
use promptlab::engine::cache::Cache;
use promptlab::engine::eval::{EvalOptions, Variant, eval_variant};
use promptlab::engine::limit::Limiter;
use promptlab::engine::{RunPlan, run_limited};
use promptlab::store::dataset::Item;
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The server's reply, a reasoning path streamed one SSE chunk per token (46 chunks).
const REPLY: &str = "Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes \
                     muffins with 4, so 16 - 3 - 4 = 9 eggs are left. She sells each for $2, so \
                     9 * 2 = 18 dollars a day. The answer is 18.";

fn reply_tokens() -> Vec<&'static str> {
    REPLY.split_inclusive(' ').collect()
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn serve(latency: Duration) {
    let server = MockServer::builder().start().await;
    // One SSE chunk per token, as real servers stream.
    let tokens = reply_tokens();
    let mut body = String::new();
    for t in &tokens {
        let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let done = serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let usage = serde_json::json!({"choices": [], "usage": {"prompt_tokens": 900, "completion_tokens": tokens.len()}});
    body.push_str(&format!(
        "data: {done}\n\ndata: {usage}\n\ndata: [DONE]\n\n"
    ));
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body)
                .set_delay(latency),
        )
        .mount(&server)
        .await;
    println!("{}", server.uri());
    // Serve until the parent closes our stdin.
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let latency = Duration::from_millis(env("LATENCY_MS", 50));
    if std::env::var_os("PROMPTLAB_BENCH_SERVER").is_some() {
        rt.block_on(serve(latency));
        return;
    }
    let (queries, samples, concurrency) = (
        env("QUERIES", 200),
        env("SAMPLES", 5),
        env("CONCURRENCY", 64),
    );
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("PROMPTLAB_BENCH_SERVER", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut uri = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut uri)
        .expect("server address");
    let base_url = format!("{}/v1", uri.trim());

    let (mut template, _) = resolve("gsm8k-cot").expect("template");
    template.sampling.n = samples as u32;
    let backend =
        Arc::new(OpenAiBackend::new(OpenAiSettings::new(base_url, "bench")).expect("backend"));
    let stats = backend.stats();
    let plans: Vec<Arc<RunPlan>> = (0..queries)
        .map(|q| {
            Arc::new(
                RunPlan::new(
                    &template,
                    &format!("Question {q}: how many eggs?"),
                    Mode::Chat,
                )
                .expect("plan"),
            )
        })
        .collect();

    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let results = rt.block_on(async {
        let permits = Arc::new(Limiter::new(concurrency as usize));
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let b: Arc<dyn promptlab::backend::Backend> = backend.clone();
                tokio::spawn(run_limited(
                    b,
                    plan,
                    None,
                    CancellationToken::new(),
                    permits.clone(),
                ))
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("run"));
        }
        out
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;

    let requests = queries * samples;
    let ok: usize = results.iter().map(|r| r.succeeded()).sum();
    let correct = results
        .iter()
        .filter(|r| r.tally.winner.as_deref() == Some("18"))
        .count();
    let ideal = requests as f64 * latency.as_secs_f64() / concurrency as f64;
    println!(
        "engine over HTTP: {queries} queries x {samples} samples, server latency {} ms, concurrency {concurrency}",
        latency.as_millis()
    );
    println!(
        "  samples ok        {ok}/{requests} (votes right: {correct}/{queries}); requests sent {}, retries {}",
        stats.sent(),
        stats.retries()
    );
    println!(
        "  wall time         {:.3} s  (ideal {:.3} s, ratio {:.2}x; goal <= 1.3x)",
        wall,
        ideal,
        wall / ideal
    );
    println!(
        "  throughput        {:.0} requests/s",
        requests as f64 / wall
    );
    println!(
        "  client CPU        {:.2} s total, {:.3} ms per streamed request of {} chunks (goal <= 0.5 ms)",
        cpu,
        cpu * 1000.0 / requests as f64,
        reply_tokens().len()
    );
    println!("  peak memory       {:.1} MB", peak_rss_mb());

    // The same 1000 samples as an evaluation with the sample cache: sampled, then all cached.
    let dir = tempfile::tempdir().expect("tempdir");
    let data: Vec<Item> = (0..queries)
        .map(|q| Item {
            id: q.to_string(),
            input: format!("Question {q}: how many eggs?"),
            targets: vec!["18".into()],
        })
        .collect();
    let backend: Arc<dyn promptlab::backend::Backend> = backend;
    let variant = Variant {
        name: "bench".into(),
        settings: serde_json::json!({}),
        template,
        mode: Mode::Chat,
        backend,
    };
    let timed = |label: &str| {
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        let cache = Arc::new(Cache::open(dir.path()).expect("cache"));
        let opts = EvalOptions::new(concurrency as usize, Some(cache), CancellationToken::new());
        let r = rt.block_on(eval_variant(&variant, &data, &opts, Arc::new(|_, _| {})));
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        println!(
            "  eval {label:<21} {wall:.3} s wall, {cpu:.2} s CPU, accuracy {:.0}%",
            r.accuracy_majority * 100.0
        );
        wall
    };
    println!("evaluation of the same {requests} samples (cache in a temp dir):");
    timed("sampling + caching");
    let cached = timed("fully cached re-run");
    println!(
        "  (goal: cached re-run under 0.5 s; it took {cached:.3} s, cache file opened included)"
    );
    drop(child.stdin.take());
    let _ = child.wait();
}
