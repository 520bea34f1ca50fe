//! How a run consults the sample cache: raising N keeps the paths already sampled, a fresh run
//! samples them anew and replaces them, and a path that did not finish is never stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::Cache;
use crate::backend::scripted::ScriptedBackend;
use crate::backend::{Backend, BackendInfo, SampleRequest, SampleStream};
use crate::core::render::Mode;
use crate::core::template::Strategy;
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
