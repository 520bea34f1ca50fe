//! The sample cache against a counting backend: a cache hit gives exactly what a fresh run
//! gave, for every strategy; changing anything that can change a sample samples afresh, and
//! identical settings never do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use promptlab::backend::scripted::{Script, ScriptedBackend};
use promptlab::backend::{Backend, BackendInfo, SampleRequest, SampleStream};
use promptlab::core::render::Mode;
use promptlab::core::template::{Strategy, Template};
use promptlab::core::variants::apply;
use promptlab::engine::cache::Cache;
use promptlab::engine::{RunPlan, RunResult, run};
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

/// The demo script, counting its calls, under an identity a test can change.
struct Counting {
    inner: ScriptedBackend,
    info: BackendInfo,
    calls: Arc<AtomicUsize>,
}

impl Backend for Counting {
    fn info(&self) -> BackendInfo {
        self.info.clone()
    }
    fn stream(&self, r: SampleRequest) -> SampleStream {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stream(r)
    }
}

fn demo() -> ScriptedBackend {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo-script.yaml"
    ))
    .unwrap();
    let script: Script = serde_saphyr::from_str(&text).unwrap();
    ScriptedBackend::new(script)
}

fn counting(calls: &Arc<AtomicUsize>, change: impl FnOnce(&mut BackendInfo)) -> Arc<dyn Backend> {
    let inner = demo();
    let mut info = inner.info();
    change(&mut info);
    Arc::new(Counting {
        inner,
        info,
        calls: calls.clone(),
    })
}

async fn sample(backend: Arc<dyn Backend>, t: &Template, cache: &Arc<Cache>) -> RunResult {
    let query = t.query.clone().unwrap();
    let mut plan = RunPlan::new(t, &query, Mode::Completion).unwrap();
    plan.cache = Some(cache.clone());
    run(backend, Arc::new(plan), None, CancellationToken::new()).await
}

fn template(name: &str, strategy: Strategy) -> Template {
    let (mut t, _) = resolve(name).unwrap();
    t.strategy = strategy;
    t.sampling.n = 5;
    t
}

#[tokio::test]
async fn a_cache_hit_is_the_fresh_run_for_every_strategy() {
    for (name, strategy) in [
        ("gsm8k-cot", Strategy::Direct),
        ("gsm8k-cot", Strategy::Cot),
        ("gsm8k-cot", Strategy::ZeroShotCot),
        ("least-to-most-math", Strategy::LeastToMost),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::open(dir.path()).unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let t = template(name, strategy);
        let fresh = sample(counting(&calls, |_| {}), &t, &cache).await;
        let sent = calls.load(Ordering::SeqCst);
        assert!(sent >= 5, "{strategy}: {sent} calls");
        // Reopened, as another process would.
        let cache = Arc::new(Cache::open(dir.path()).unwrap());
        let hit = sample(counting(&calls, |_| {}), &t, &cache).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            sent,
            "{strategy}: no new call"
        );
        assert_eq!(hit.tally, fresh.tally, "{strategy}");
        for (f, h) in fresh.paths.iter().zip(&hit.paths) {
            assert!(!f.cached && h.cached, "{strategy}");
            assert_eq!(
                (&f.stages, &f.answer, f.text()),
                (&h.stages, &h.answer, h.text()),
                "{strategy}"
            );
        }
        if strategy == Strategy::LeastToMost {
            assert_eq!(
                fresh.tally.winner.as_deref(),
                Some("18"),
                "the chain's last answer"
            );
            assert!(fresh.paths.iter().all(|p| p.steps().len() == 2));
        }
        if strategy == Strategy::ZeroShotCot {
            assert!(fresh.paths.iter().all(|p| p.stages.len() == 2));
        }
    }
}

/// A named change to a template or a backend identity.
type Change<T> = (&'static str, Box<dyn Fn(&mut T)>);

#[tokio::test]
async fn anything_that_changes_a_sample_samples_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path()).unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let base = template("least-to-most-math", Strategy::LeastToMost);
    sample(counting(&calls, |_| {}), &base, &cache).await;
    let mut before = calls.load(Ordering::SeqCst);

    // Identical settings: nothing is sampled, however often.
    for _ in 0..2 {
        sample(counting(&calls, |_| {}), &base, &cache).await;
        assert_eq!(calls.load(Ordering::SeqCst), before, "identical settings");
    }

    let template_changes: Vec<Change<Template>> = vec![
        (
            "temperature",
            Box::new(|t| apply(t, "temperature", "0.3").unwrap()),
        ),
        ("top_p", Box::new(|t| apply(t, "top_p", "0.5").unwrap())),
        ("top_k", Box::new(|t| apply(t, "top_k", "7").unwrap())),
        (
            "max_tokens",
            Box::new(|t| apply(t, "max_tokens", "99").unwrap()),
        ),
        ("seed", Box::new(|t| apply(t, "seed", "77").unwrap())),
        (
            "instruction",
            Box::new(|t| apply(t, "instruction", "Be brief.").unwrap()),
        ),
        // The decomposition prompt is the same: only the solving exemplars change.
        ("shots", Box::new(|t| apply(t, "shots", "1").unwrap())),
        (
            "a solving step",
            Box::new(|t| t.examples[0].steps[0].answer.push_str(" Indeed.")),
        ),
        ("strategy", Box::new(|t| t.strategy = Strategy::Direct)),
    ];
    for (what, change) in &template_changes {
        let mut t = base.clone();
        change(&mut t);
        sample(counting(&calls, |_| {}), &t, &cache).await;
        let now = calls.load(Ordering::SeqCst);
        assert!(now > before, "changing {what} must sample afresh");
        before = now;
    }

    let identity_changes: Vec<Change<BackendInfo>> = vec![
        ("model", Box::new(|i| i.model = "other".into())),
        (
            "server host",
            Box::new(|i| i.host = Some("http://10.0.0.2/v1".into())),
        ),
        (
            "GGUF or script fingerprint",
            Box::new(|i| i.fingerprint = Some("beef".into())),
        ),
        (
            "log-probabilities asked for",
            Box::new(|i| i.logprobs = !i.logprobs),
        ),
        ("backend kind", Box::new(|i| i.kind = "openai".into())),
    ];
    for (what, change) in &identity_changes {
        sample(counting(&calls, change), &base, &cache).await;
        let now = calls.load(Ordering::SeqCst);
        assert!(now > before, "changing the {what} must sample afresh");
        before = now;
    }

    // N 5 -> 7: only the two new paths.
    let mut more = base.clone();
    more.sampling.n = 7;
    let calls_per_path = {
        let c = Arc::new(AtomicUsize::new(0));
        let d = tempfile::tempdir().unwrap();
        let fresh = Arc::new(Cache::open(d.path()).unwrap());
        let mut one = base.clone();
        one.sampling.n = 1;
        sample(counting(&c, |_| {}), &one, &fresh).await;
        c.load(Ordering::SeqCst)
    };
    sample(counting(&calls, |_| {}), &more, &cache).await;
    assert_eq!(calls.load(Ordering::SeqCst), before + 2 * calls_per_path);
}

#[test]
fn broken_foreign_and_old_lines_are_skipped_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("samples.jsonl");
    let old = r#"{"key":"k1","path":{"index":0,"text":"The answer is 1.","answer":"1","finish_reason":"stop","prompt_tokens":1,"completion_tokens":1,"latency_ms":1,"error":null}}"#;
    let mut bytes = format!("{old}\nnot json at all\n").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    bytes.extend_from_slice(br#"{"format":2,"key":"torn","pa"#);
    std::fs::write(&file, &bytes).unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    assert_eq!(cache.len(), 0, "nothing is read as a sample");
    assert_eq!(cache.skipped(), 4);
    let warning = cache.warning().unwrap();
    assert!(
        warning.contains("samples.jsonl") && warning.contains('4'),
        "{warning}"
    );
    // A new entry starts on its own line after the torn one, so both survive a reopen.
    let mut p = promptlab::core::record::PathRecord::new(0);
    p.stages = vec![promptlab::core::record::StageRecord::new(
        promptlab::core::strategy::Stage::Answer,
        "The answer is 2.",
    )];
    cache.put("k2", &p);
    drop(cache);
    let again = Cache::open(dir.path()).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again.get("k2").unwrap().text(), "The answer is 2.");
}
