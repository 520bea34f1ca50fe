//! How a run consults the sample cache: raising N keeps the paths already sampled, a fresh run
//! samples them anew and replaces them, and a path that did not finish is never stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::Cache;
use crate::backend::scripted::ScriptedBackend;
use crate::backend::{Backend, BackendInfo, SampleRequest, SampleStream};
use crate::core::calibrate::setup;
use crate::core::extract::{AnswerKind, AnswerSpec};
use crate::core::render::Mode;
use crate::core::spec::rule::Rule;
use crate::core::template::{Calibrate, Example, Sampling, Strategy, Template, Thinking};
use crate::engine::{RunPlan, RunResult, run};

/// A scripted backend that counts the samples it is asked for; `drift` shifts every sample's
/// seed by the number asked for before it, so sampling a path again gives another text.
struct Counting {
    inner: ScriptedBackend,
    calls: AtomicU64,
    drift: bool,
    lockstep: bool,
}

impl Counting {
    fn new(drift: bool, lockstep: bool) -> Arc<Counting> {
        let texts = (0..50).map(|k| format!("Sample {k}. The answer is {k}."));
        Arc::new(Counting {
            inner: ScriptedBackend::from_texts(texts),
            calls: AtomicU64::new(0),
            drift,
            lockstep,
        })
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Backend for Counting {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    fn stream(&self, mut request: SampleRequest) -> SampleStream {
        let before = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.drift {
            request.seed = request.seed.wrapping_add(10 * (before + 1));
        }
        self.inner.stream(request)
    }

    fn decodes_in_lockstep(&self) -> bool {
        self.lockstep
    }
}

fn plan(n: u32, cache: &Arc<Cache>, fresh: bool) -> Arc<RunPlan> {
    let template = crate::engine::tests::template(Strategy::Direct, n);
    let mut p = RunPlan::new(&template, "2+3?", Mode::Completion).unwrap();
    p.cache = Some(cache.clone());
    p.fresh = fresh;
    Arc::new(p)
}

async fn sample(backend: &Arc<Counting>, plan: Arc<RunPlan>) -> RunResult {
    run(backend.clone(), plan, None, CancellationToken::new()).await
}

fn texts(r: &RunResult) -> Vec<String> {
    r.paths.iter().map(|p| p.text()).collect()
}

#[tokio::test]
async fn raising_n_keeps_the_earlier_paths_and_samples_only_the_new_ones() {
    for lockstep in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(Cache::open(dir.path()).unwrap());
        let backend = Counting::new(false, lockstep);
        let four = sample(&backend, plan(4, &cache, false)).await;
        assert_eq!(backend.calls(), 4);
        assert!(four.paths.iter().all(|p| !p.cached));

        let eight = sample(&backend, plan(8, &cache, false)).await;
        assert_eq!(
            backend.calls(),
            8,
            "only paths 4-7 are sampled (lockstep {lockstep})"
        );
        assert_eq!(
            texts(&eight)[..4],
            texts(&four)[..],
            "paths 0-3 are kept exactly"
        );
        let cached: Vec<bool> = eight.paths.iter().map(|p| p.cached).collect();
        assert_eq!(cached, [true, true, true, true, false, false, false, false]);
        // Path i is seed + i whatever N: the new paths are the ones a run of 8 samples.
        let other = tempfile::tempdir().unwrap();
        let empty = Arc::new(Cache::open(other.path()).unwrap());
        let whole = sample(&Counting::new(false, lockstep), plan(8, &empty, false)).await;
        assert_eq!(texts(&eight), texts(&whole));
    }
}

#[tokio::test]
async fn a_fresh_run_samples_every_path_anew_and_replaces_the_cached_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path()).unwrap());
    let backend = Counting::new(true, false);
    let first = sample(&backend, plan(2, &cache, false)).await;
    let again = sample(&backend, plan(2, &cache, false)).await;
    assert_eq!(backend.calls(), 2, "the second run is read from the cache");
    assert_eq!(texts(&again), texts(&first));

    let fresh = sample(&backend, plan(2, &cache, true)).await;
    assert_eq!(backend.calls(), 4, "--fresh samples both paths again");
    assert!(fresh.paths.iter().all(|p| !p.cached));
    assert_ne!(
        texts(&fresh),
        texts(&first),
        "the drifting backend says something else"
    );

    let reopened = Arc::new(Cache::open(dir.path()).unwrap());
    for (c, where_) in [
        (&cache, "in memory"),
        (&reopened, "on disk: the later line wins"),
    ] {
        let again = sample(&backend, plan(2, c, false)).await;
        assert_eq!(backend.calls(), 4);
        assert_eq!(texts(&again), texts(&fresh), "replaced {where_}");
    }
}

#[tokio::test]
async fn a_cancelled_path_is_never_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path()).unwrap());
    let slow = Arc::new(Counting {
        inner: ScriptedBackend::new(crate::backend::scripted::Script {
            model: None,
            responses: vec![crate::backend::scripted::ScriptedResponse {
                text: "Let me count slowly: one, two, three, four, five. The answer is 5.".into(),
                delay_ms: 20,
                ..Default::default()
            }],
        }),
        calls: AtomicU64::new(0),
        drift: false,
        lockstep: false,
    });
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        stop.cancel();
    });
    let cancelled = run(slow.clone(), plan(3, &cache, false), None, cancel).await;
    assert!(cancelled.cancelled);
    assert!(cancelled.paths.iter().all(|p| p.cancelled()));
    assert!(cache.is_empty(), "nothing unfinished is stored");
    let whole = sample(&slow, plan(3, &cache, false)).await;
    assert_eq!(slow.calls(), 6, "every path is sampled again");
    assert!(whole.paths.iter().all(|p| p.succeeded() && !p.cached));
}

#[test]
fn a_cache_write_that_fails_is_reported_once_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    assert_eq!(cache.write_failure(), None);
    // A full disk: every write fails with ENOSPC.
    *cache.file.lock().unwrap() = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let path = crate::core::record::PathRecord::new(0);
    cache.put("a", &path);
    cache.put("b", &path);
    let w = cache.write_failure().expect("the failure is reported");
    assert!(w.contains("2 sample(s) could not be stored"), "{w}");
    assert!(w.contains("No space left"), "{w}");
}

#[cfg(unix)]
#[test]
fn a_cache_file_that_is_a_device_is_refused_not_written_into() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("samples.jsonl")).unwrap();
    let e = Cache::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

/// A template every key below is made from, written out whole so that the pinned keys change
/// only when what a key holds changes.
fn pinned_template(strategy: Strategy, calibrate: Calibrate) -> Template {
    Template {
        version: 1,
        name: "pinned".into(),
        description: String::new(),
        instruction: Some("Answer with one word.".into()),
        examples: vec![Example {
            input: "Is the sky blue?".into(),
            rationale: Some("It scatters blue light.".into()),
            answer: "yes".into(),
            enabled: true,
            steps: vec![],
        }],
        decomposition: vec![],
        strategy,
        answer: AnswerSpec {
            kind: AnswerKind::Choice,
            choices: vec!["yes".into(), "no".into()],
            ..AnswerSpec::default()
        },
        sampling: Sampling {
            n: 3,
            temperature: 0.5,
            top_p: 0.9,
            top_k: 20,
            max_tokens: 64,
            seed: 7,
            thinking: Thinking::Auto,
            reasoning_effort: None,
            early_stop: Rule::None,
        },
        mode: None,
        query: None,
        queries: vec![],
        calibrate,
        select: None,
    }
}

fn pinned_backends() -> [BackendInfo; 3] {
    let mut scripted = BackendInfo::new("scripted", "scripted", Mode::Completion);
    scripted.fingerprint = Some("f00d".into());
    let mut server = BackendInfo::new("openai", "gpt-x", Mode::Chat);
    server.host = Some("http://127.0.0.1:8080/v1".into());
    let mut logprobs = BackendInfo::new("local", "gemma.gguf", Mode::Completion);
    logprobs.fingerprint = Some("beef".into());
    logprobs.logprobs = true;
    [scripted, server, logprobs]
}

/// Keys are addresses of samples on disk: a refactor that changed one would silently strand
/// every cached sample. These are the keys as they were written (cache format 5).
#[test]
fn cache_keys_stay_what_they_were() {
    let query = "Is grass green?";
    let mut sampled = Vec::new();
    for b in &pinned_backends() {
        for strategy in [Strategy::Direct, Strategy::ZeroShotCot] {
            let t = pinned_template(strategy, Calibrate::None);
            let plan = RunPlan::new(&t, query, Mode::Completion).unwrap();
            sampled.push(super::key(b, &plan, 0));
            sampled.push(super::key(b, &plan, 2));
        }
    }
    let mut scored = Vec::new();
    for b in &pinned_backends() {
        for calibrate in [Calibrate::Scored, Calibrate::ContentFree] {
            let t = pinned_template(Strategy::Direct, calibrate);
            let plan = RunPlan::new(&t, query, Mode::Completion).unwrap();
            let setup = setup(&t, query, Mode::Completion).unwrap().unwrap();
            scored.push(super::scored_key(b, &plan, &setup));
        }
    }
    assert_eq!(
        sampled,
        [
            "cbf76c7b1920def9245b130091e2024602d38c5aa309dc13e3ee278bb6d3a002",
            "42188d4fbea4962d71fc192e52e57695bf51775f967e89966f55939c80d68d0a",
            "86fcccb2cf18bac3bb28b46de6c5cb2ffc2605ce68207322e6684ac969912062",
            "984b7bffcc088f66a5c29a4f890433fe9a445fd30075f4e7e4e9543e5fec6759",
            "2667d00a888d8025b4905a4ac213e39b2f09011b0f7470b0eae32661970b4d9e",
            "078f7e6890b14ecf53054d628b2a2fc1875b997c6a6d2dbf031ef23ea18a8f09",
            "ed27c36f8ded1493044f5fc9ee22971548487eced0af72cd957eb8071c31e0d7",
            "91b674b8e2613f74102200a389ff1928094de378997872c36c25137bc1343542",
            "1a758499d9a83524af8fd726a641f53669ca8fb3b5be7b9e5e8c986342a8b2bc",
            "d072d0795b7aaae2b4e83f7959d7953c9f014250491decc43818c91308e8ddb9",
            "f2ea7d92ff9a9b02be3276ce3ace5968ef528c15c63347dd69979bfbc522529f",
            "9345d380fb1266c1c96b14505c267e3d7349ffaccd17cc6b2d6bcce5227ce7c7",
        ]
    );
    assert_eq!(
        scored,
        [
            "62ebc89685e288b917add36e77bf5a6c99ac28dc33594d865453f34f5a1ea3ec",
            "eb3d759284ddbb7fc1dfc5bdd54fc236abcc5d5441efb48293843b2cb0d9fff5",
            "1f80a15d0c0e5154672f3f7f59862952fa41269c45706d0cab87fb672232f9e1",
            "813400bfab266fc1bde9a667da69ac241fbdf7105ba28b8135faec9bfec956cd",
            "f62a7caba951780569437b577e7756b724bc207cf2cde406ca17787a0b9590f1",
            "74cc054c5c5f9022c737f5f04555e00247e2be957d6fb25e5c157d360745d5e8",
        ]
    );
    // Log-probabilities change what a sample carries, not an option's score.
    let [_, _, mut local] = pinned_backends();
    let t = pinned_template(Strategy::Direct, Calibrate::Scored);
    let plan = RunPlan::new(&t, query, Mode::Completion).unwrap();
    let setup = setup(&t, query, Mode::Completion).unwrap().unwrap();
    let with = (
        super::key(&local, &plan, 0),
        super::scored_key(&local, &plan, &setup),
    );
    local.logprobs = false;
    assert_ne!(super::key(&local, &plan, 0), with.0);
    assert_eq!(super::scored_key(&local, &plan, &setup), with.1);
}
