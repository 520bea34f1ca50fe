//! Evaluation through the engine: cache behaviour, and an unreliable server where every
//! sample either succeeds after bounded retries or fails with its reason, and the request
//! counts reconcile exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings};
use promptlab::backend::scripted::ScriptedBackend;
use promptlab::backend::{Backend, BackendInfo, SampleRequest, SampleStream};
use promptlab::core::render::Mode;
use promptlab::engine::cache::Cache;
use promptlab::engine::eval::{EvalOptions, Variant, eval_variant};
use promptlab::store::dataset::Item;
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

struct Counting {
    inner: ScriptedBackend,
    calls: Arc<AtomicUsize>,
}

impl Backend for Counting {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }
    fn stream(&self, r: SampleRequest) -> SampleStream {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stream(r)
    }
}

fn items(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| Item {
            id: i.to_string(),
            input: format!("What is {i} + {i}?"),
            targets: vec![(2 * i).to_string()],
        })
        .collect()
}

fn variant(backend: Arc<dyn Backend>, n: u32) -> Variant {
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = n;
    Variant {
        name: "v".into(),
        settings: serde_json::json!({}),
        template: t,
        mode: Mode::Completion,
        backend,
    }
}

fn options(cache: Option<Arc<Cache>>, concurrency: usize) -> EvalOptions {
    EvalOptions::new(concurrency, cache, CancellationToken::new())
}

#[tokio::test]
async fn cache_samples_only_what_is_missing_and_keeps_samples_independent() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let backend: Arc<dyn Backend> = Arc::new(Counting {
        inner: ScriptedBackend::from_texts([
            "The answer is 0.",
            "The answer is 2.",
            "The answer is 4.",
        ]),
        calls: calls.clone(),
    });
    let cache = Arc::new(Cache::open(dir.path()).unwrap());
    let data = items(3);
    let run = |n: u32| {
        let (backend, cache) = (backend.clone(), cache.clone());
        let data = data.clone();
        async move {
            eval_variant(
                &variant(backend, n),
                &data,
                &options(Some(cache), 8),
                Arc::new(|_: usize, _: usize| {}),
            )
            .await
        }
    };
    let first = run(3).await;
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    assert_eq!(cache.len(), 9, "each of the N samples has its own entry");
    // The same eval again: everything from the cache, identical results.
    let again = run(3).await;
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    assert_eq!((first.samples.fresh, first.samples.cached), (9, 0));
    assert_eq!((again.samples.fresh, again.samples.cached), (0, 9));
    for (a, b) in first.per_item.iter().zip(&again.per_item) {
        assert_eq!((&a.answers, &a.majority), (&b.answers, &b.majority));
        for (p, q) in a.paths.iter().zip(&b.paths) {
            assert!(!p.cached && q.cached, "cache hits say so");
            assert_eq!((&p.stages, &p.answer), (&q.stages, &q.answer));
        }
    }
    // N 3 -> 5 samples only the two new paths of each item.
    let more = run(5).await;
    assert_eq!(calls.load(Ordering::SeqCst), 9 + 6);
    assert_eq!(more.per_item[0].answers.len(), 5);
    // Reopening the file (a new process) finds the same samples.
    assert_eq!(Cache::open(dir.path()).unwrap().len(), 15);
    // Samples of one prompt stay different: the scripted texts cycle with the seed.
    let distinct: std::collections::HashSet<_> = first.per_item[0].answers.iter().collect();
    assert_eq!(distinct.len(), 3);
    assert_eq!(first.per_item[1].majority.as_deref(), Some("2"));
    assert!((first.accuracy_majority - 1.0 / 3.0).abs() < 1e-9);
}

/// 10% HTTP 500, 5% 429 with Retry-After, 2% streams cut, 2% malformed JSON, decided by a
/// counter so the mix is exact and the test repeatable.
struct Unreliable {
    seen: AtomicUsize,
}

impl Respond for Unreliable {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        let roll = (n * 37) % 100;
        let sse = |body: String| {
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body)
        };
        match roll {
            0..10 => ResponseTemplate::new(500).set_body_string("overloaded"),
            10..15 => ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string("slow down"),
            15..17 => sse(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The ans\"}}]}\n\n"
                    .into(),
            ),
            17..19 => sse("data: {\"choices\":[{\"index\":0,\"delta\":\n\n".into()),
            _ => {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                let seed = body["seed"].as_u64().unwrap();
                sse(format!(
                    "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"The answer is {}.\"}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n",
                    seed % 3
                ))
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreliable_server_eval_completes_and_counts_reconcile() {
    unreliable_eval(promptlab::core::template::Strategy::Cot, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reconcile_per_stage_for_two_stage_strategies_and_greedy() {
    unreliable_eval(promptlab::core::template::Strategy::ZeroShotCot, true).await;
}

async fn unreliable_eval(strategy: promptlab::core::template::Strategy, greedy: bool) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Unreliable {
            seen: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    let mut s = OpenAiSettings::new(format!("{}/v1", server.uri()), "m");
    s.retry.base_delay = Duration::from_millis(5);
    s.retry.max_delay = Duration::from_millis(50);
    let backend = Arc::new(OpenAiBackend::new(s).unwrap());
    let stats = backend.stats();
    let noop = Arc::new(|_: usize, _: usize| {});
    let mut v = variant(backend, 5);
    v.template.strategy = strategy;
    let mut opts = options(None, 64);
    opts.greedy = greedy;
    let r = eval_variant(&v, &items(200), &opts, noop).await;
    let samples = 200 * (5 + usize::from(greedy));
    assert_eq!(
        r.samples.succeeded + r.samples.failed,
        samples,
        "every sample accounted for"
    );
    assert!(
        r.samples.succeeded > samples * 99 / 100,
        "bounded retries recover almost all: {:?}",
        r.samples
    );
    for p in r
        .per_item
        .iter()
        .flat_map(|i| &i.paths)
        .filter(|p| !p.succeeded())
    {
        assert!(
            p.error.as_deref().is_some_and(|e| !e.is_empty()),
            "a failed sample carries its reason"
        );
    }
    let sent = stats.sent() as usize;
    let retries = stats.retries() as usize;
    assert!(
        retries > 100 && r.samples.resamples > 10,
        "the failures happened: {retries} retries, {} resamples",
        r.samples.resamples
    );
    let c = &r.samples;
    let stages = if strategy == promptlab::core::template::Strategy::ZeroShotCot {
        2
    } else {
        1
    };
    // Every finished path made every stage's call; a failed path failed in exactly one.
    assert!(c.calls_succeeded >= c.succeeded * stages, "{c:?}");
    assert_eq!(c.calls_failed, c.failed, "{c:?}");
    assert_eq!(
        sent + c.calls_shared,
        c.calls_succeeded + c.calls_failed + c.calls_cancelled + retries + c.resamples,
        "requests sent = calls that finished + failed + cancelled + HTTP retries + resamples - calls that shared a request: {c:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), sent);
}

#[tokio::test]
async fn greedy_first_sample_is_a_separate_temperature_zero_sample() {
    let calls = Arc::new(AtomicUsize::new(0));
    let backend: Arc<dyn Backend> = Arc::new(Counting {
        inner: ScriptedBackend::from_texts(["The answer is 0.", "The answer is 2."]),
        calls: calls.clone(),
    });
    let mut opts = options(None, 4);
    opts.greedy = true;
    let r = eval_variant(
        &variant(backend, 2),
        &items(2),
        &opts,
        Arc::new(|_: usize, _: usize| {}),
    )
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2 * (2 + 1),
        "N samples plus one greedy sample per item"
    );
    // Seeds 1 and 2 answer 2 and 0; the greedy sample (seed 1) answers 2: right for item 1 only.
    assert!(r.per_item[1].first_correct);
    assert!(!r.per_item[0].first_correct);
}

/// One simulated grid of two variants on `n` items: each item has a latent difficulty shared by
/// both variants, each variant adds its own noise (sd 0.5) and gets the item right below its
/// threshold, so their per-item results correlate as two prompts on one model's items do
/// (about 0.6). Returns whether the grid's statistics declare a difference.
fn simulated_grid_differs(
    rng: &mut rand::rngs::StdRng,
    n: usize,
    accuracy_a: f64,
    accuracy_b: f64,
) -> bool {
    use promptlab::core::evaluation::{ItemScore, VariantScores, grid};
    use promptlab::core::stats::Verdict;
    use rand::Rng;
    use statrs::distribution::{ContinuousCDF, Normal};
    let normal = Normal::standard();
    let noise = 0.5f64;
    let spread = (1.0 + noise * noise).sqrt();
    let threshold = |acc: f64| normal.inverse_cdf(acc) * spread;
    let (ta, tb) = (threshold(accuracy_a), threshold(accuracy_b));
    let draw = |rng: &mut rand::rngs::StdRng| normal.inverse_cdf(rng.random_range(1e-12..1.0));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..n {
        let difficulty = draw(rng);
        let right_a = difficulty + noise * draw(rng) < ta;
        let right_b = difficulty + noise * draw(rng) < tb;
        for (v, right) in [(&mut a, right_a), (&mut b, right_b)] {
            v.push(ItemScore {
                id: i.to_string(),
                first: right,
                majority: right,
                curve: vec![f64::from(u8::from(right))],
                ..ItemScore::default()
            });
        }
    }
    let variant = |name: &str, items| VariantScores {
        name: name.into(),
        key: name.into(),
        items,
        ..VariantScores::default()
    };
    let stats = grid(&[variant("a", a), variant("b", b)], 0);
    let versus = stats[1].versus_baseline.as_ref().expect("paired");
    !matches!(versus.verdict, Verdict::NoDifference { .. })
}

#[test]
fn the_paired_test_holds_its_level_and_finds_a_real_15_point_difference() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(24);
    let grids = 200;
    // Two identical variants (different seeds: independent noise on the same items).
    let false_alarms = (0..grids)
        .filter(|_| simulated_grid_differs(&mut rng, 40, 0.5, 0.5))
        .count();
    // At most 5%, plus three standard errors of a share of 200 grids.
    let allowed = 0.05 + 3.0 * (0.05f64 * 0.95 / grids as f64).sqrt();
    assert!(
        (false_alarms as f64 / grids as f64) <= allowed,
        "{false_alarms} of {grids} grids of identical variants declared a difference"
    );
    let found = (0..grids)
        .filter(|_| simulated_grid_differs(&mut rng, 100, 0.5, 0.65))
        .count();
    assert!(
        found as f64 / grids as f64 >= 0.8,
        "a true 15-point difference on 100 items was found in only {found} of {grids} grids"
    );
}
