use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::backend::SampleStream;
use crate::backend::scripted::{Script, ScriptedBackend, ScriptedResponse};
use crate::core::extract::AnswerSpec;
use crate::core::template::Example;

pub(super) fn template(strategy: Strategy, n: u32) -> Template {
    Template {
        version: 1,
        name: "t".into(),
        description: String::new(),
        instruction: None,
        examples: vec![Example {
            input: "1+1?".into(),
            rationale: Some("1+1=2.".into()),
            answer: "2".into(),
            enabled: true,
            steps: vec![],
        }],
        decomposition: vec![],
        strategy,
        answer: AnswerSpec::default(),
        sampling: Sampling {
            n,
            ..Sampling::default()
        },
        mode: None,
        query: None,
        queries: vec![],
        calibrate: Default::default(),
        select: None,
    }
}

fn plan(strategy: Strategy, n: u32) -> Arc<RunPlan> {
    Arc::new(RunPlan::new(&template(strategy, n), "2+3?", Mode::Completion).unwrap())
}

async fn collect_events(rx: &mut mpsc::UnboundedReceiver<EngineEvent>) -> Vec<EngineEvent> {
    let mut out = vec![];
    while let Some(e) = rx.recv().await {
        out.push(e);
    }
    out
}

#[tokio::test]
async fn n_paths_vote_with_seed_plus_i() {
    let backend = Arc::new(ScriptedBackend::from_texts([
        " 2+3=5. The answer is 5.",
        " 2+3=6. The answer is 6.",
        " The answer is 5.",
    ]));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = run(
        backend,
        plan(Strategy::Cot, 5),
        Some(tx),
        CancellationToken::new(),
    )
    .await;
    let answers: Vec<_> = result.paths.iter().map(|p| p.answer.as_deref()).collect();
    // seed 1 + i walks the script from its second entry.
    assert_eq!(
        answers,
        [Some("6"), Some("5"), Some("5"), Some("6"), Some("5")]
    );
    assert_eq!(result.tally.winner.as_deref(), Some("5"));
    assert_eq!(result.tally.agreement, 0.6);
    let events = collect_events(&mut rx).await;
    assert!(matches!(events.last(), Some(EngineEvent::RunDone(r)) if r == &result));
    let done = events
        .iter()
        .filter(|e| matches!(e, EngineEvent::PathDone(_)))
        .count();
    assert_eq!(done, 5);
    // Chunks of a path add up to its text.
    let text0: String = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Chunk { path: 0, text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text0, result.paths[0].text());
}

#[tokio::test]
async fn zero_shot_cot_runs_two_stages_per_path() {
    let backend = Arc::new(ScriptedBackend::new(Script {
        model: None,
        responses: vec![
            ScriptedResponse::text(" 2 plus 3 makes 5."),
            ScriptedResponse {
                when: Some("Therefore".into()),
                text: " 5.".into(),
                ..Default::default()
            },
        ],
    }));
    let result = run(
        backend,
        plan(Strategy::ZeroShotCot, 2),
        None,
        CancellationToken::new(),
    )
    .await;
    for p in &result.paths {
        assert_eq!(
            p.text(),
            " 2 plus 3 makes 5.\nTherefore, the answer (arabic numerals) is 5."
        );
        assert_eq!(p.answer.as_deref(), Some("5"));
    }
}

#[tokio::test]
async fn broken_stream_is_resampled_and_failure_stays_on_its_path() {
    let backend = Arc::new(ScriptedBackend::new(Script {
        model: None,
        responses: vec![
            ScriptedResponse {
                text: "The answer is 5.".into(),
                cut: true,
                fail_times: 1,
                ..Default::default()
            },
            ScriptedResponse {
                text: "partial".into(),
                error: Some("boom".into()),
                ..Default::default()
            },
        ],
    }));
    let mut p = template(Strategy::Direct, 2);
    p.sampling.seed = 0;
    let plan = Arc::new(RunPlan::new(&p, "q", Mode::Completion).unwrap());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = run(backend, plan, Some(tx), CancellationToken::new()).await;
    assert_eq!(result.paths[0].answer.as_deref(), Some("5"));
    assert_eq!(result.paths[0].resamples, 1);
    assert_eq!(result.paths[0].text(), "The answer is 5.");
    assert_eq!(result.paths[1].error.as_deref(), Some("model error: boom"));
    assert_eq!(result.paths[1].text(), "partial");
    assert_eq!(result.tally.voted, 1);
    let events = collect_events(&mut rx).await;
    assert!(
        events.iter().any(
            |e| matches!(e, EngineEvent::PathRestarted { path: 0, text, .. } if text.is_empty())
        )
    );
}

#[tokio::test]
async fn cancel_stops_promptly_and_keeps_what_arrived() {
    let backend = Arc::new(ScriptedBackend::new(Script {
        model: None,
        responses: vec![ScriptedResponse {
            text: "a b c d e f g h i j k l".into(),
            delay_ms: 40,
            ..Default::default()
        }],
    }));
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c2.cancel();
    });
    let result = tokio::time::timeout(
        Duration::from_secs(2),
        run(backend, plan(Strategy::Direct, 3), None, cancel),
    )
    .await
    .expect("cancel is prompt");
    assert!(result.cancelled);
    for p in &result.paths {
        assert_eq!(p.error.as_deref(), Some("cancelled"));
        assert!(
            p.text().starts_with('a'),
            "kept partial text: {:?}",
            p.text()
        );
        assert!(p.text().len() < "a b c d e f g h i j k l".len());
    }
}

/// Counts streams open at once.
struct Gauge {
    inner: ScriptedBackend,
    open: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    /// Streams opened in all.
    opened: Arc<AtomicUsize>,
}

impl Backend for Gauge {
    fn info(&self) -> crate::backend::BackendInfo {
        self.inner.info()
    }
    fn stream(&self, request: SampleRequest) -> SampleStream {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let open = self.open.clone();
        let guard = scopeguard(move || {
            open.fetch_sub(1, Ordering::SeqCst);
        });
        self.inner
            .stream(request)
            .map(move |e| {
                let _ = &guard;
                e
            })
            .boxed()
    }
}

struct OnDrop<F: FnMut()>(F);
impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> OnDrop<F> {
    OnDrop(f)
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let peak = Arc::new(AtomicUsize::new(0));
    let backend = Arc::new(Gauge {
        inner: ScriptedBackend::new(Script {
            model: None,
            responses: vec![ScriptedResponse {
                text: "The answer is 1.".into(),
                delay_ms: 5,
                ..Default::default()
            }],
        }),
        open: Arc::new(AtomicUsize::new(0)),
        peak: peak.clone(),
        opened: Arc::new(AtomicUsize::new(0)),
    });
    let mut p = (*plan(Strategy::Direct, 12)).clone();
    p.concurrency = 3;
    let result = run(backend, Arc::new(p), None, CancellationToken::new()).await;
    assert_eq!(result.succeeded(), 12);
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

fn least_to_most_backend(fail_second_step: bool) -> Arc<ScriptedBackend> {
    Arc::new(ScriptedBackend::new(Script {
        model: None,
        responses: vec![
            ScriptedResponse {
                when: Some("Sub-questions:".into()),
                text: "\n1. How many cars does Ben have?".into(),
                ..Default::default()
            },
            ScriptedResponse {
                when: Some("Q: How many cars does Ben have?\nA:".into()),
                text: " Ben has 3 + 4 = 7 cars.".into(),
                ..Default::default()
            },
            ScriptedResponse {
                when: Some("Q: How many cars do they have together?\nA:".into()),
                text: " 3 + 7 = 10. The answer is 10.".into(),
                error: fail_second_step.then(|| "server went away".to_string()),
                ..Default::default()
            },
        ],
    }))
}

#[tokio::test]
async fn least_to_most_chains_stream_steps_and_vote() {
    let (mut t, _) = crate::store::template::resolve("least-to-most-math").unwrap();
    t.sampling.n = 3;
    let q = "Tom has 3 cars. Ben has 4 more cars than Tom. How many cars do they have together?";
    let plan = Arc::new(RunPlan::new(&t, q, Mode::Completion).unwrap());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = run(
        least_to_most_backend(false),
        plan,
        Some(tx),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(result.tally.winner.as_deref(), Some("10"));
    let p = &result.paths[0];
    assert_eq!(p.steps().len(), 2);
    assert_eq!(p.steps()[0].question, "How many cars does Ben have?");
    assert_eq!(p.steps()[0].answer, Some("7"));
    assert_eq!(
        p.steps()[1].question,
        "How many cars do they have together?"
    );
    assert_eq!(p.answer.as_deref(), Some("10"));
    // The streamed text is the tree as it grows.
    let streamed: String = collect_events(&mut rx)
        .await
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::Chunk { path: 0, text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, p.text());
    assert!(p.text().contains("\n\nQ: How many cars does Ben have?\nA: Ben has 3 + 4 = 7 cars.\n\nQ: How many cars do they have together?\nA: 3 + 7"), "{}", p.text());
}

#[tokio::test]
async fn a_failing_sub_question_fails_its_path_and_keeps_the_chain_so_far() {
    let (mut t, _) = crate::store::template::resolve("least-to-most-math").unwrap();
    t.sampling.n = 1;
    let q = "Tom has 3 cars. Ben has 4 more cars than Tom. How many cars do they have together?";
    let plan = Arc::new(RunPlan::new(&t, q, Mode::Completion).unwrap());
    let result = run(
        least_to_most_backend(true),
        plan,
        None,
        CancellationToken::new(),
    )
    .await;
    let p = &result.paths[0];
    assert_eq!(p.error.as_deref(), Some("model error: server went away"));
    assert!(p.text().contains("Ben has 3 + 4 = 7 cars."), "{}", p.text());
    assert_eq!(result.tally.voted, 0);
}

fn dataset(targets: &[&str]) -> crate::store::dataset::Dataset {
    crate::store::dataset::Dataset {
        name: "sums".into(),
        items: targets
            .iter()
            .enumerate()
            .map(|(i, t)| crate::store::dataset::Item {
                id: i.to_string(),
                input: format!("What is {i} + 1?"),
                targets: vec![t.to_string()],
            })
            .collect(),
        problems: vec![],
    }
}

/// Events of a job, collected through its report.
fn recorder() -> (jobs::Report, Arc<std::sync::Mutex<Vec<jobs::JobEvent>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    (Arc::new(move |e| sink.lock().unwrap().push(e)), seen)
}

/// Two variants (direct, cot) of a model that always answers 2.
fn direct_and_cot() -> Vec<eval::Variant> {
    let backend: Arc<dyn Backend> = Arc::new(ScriptedBackend::from_texts(["The answer is 2."]));
    let vary = crate::core::variants::parse_vary(&["strategy=direct,cot".into()]).unwrap();
    eval::variants(&template(Strategy::Direct, 1), &vary, |_, _| {
        Some(backend.clone())
    })
    .unwrap()
}

fn eval_options(cancel: CancellationToken) -> eval::EvalOptions {
    eval::EvalOptions::new(4, None, cancel)
}

#[tokio::test]
async fn an_evaluation_job_reports_start_items_variants_and_end_in_order() {
    let variants = direct_and_cot();
    let job = jobs::EvalJob {
        dataset: dataset(&["2", "3", "2"]),
        variants,
        opts: eval_options(CancellationToken::new()),
        baseline: 0,
    };
    let (report, seen) = recorder();
    let results = job.run(&report).await;
    assert_eq!(results.len(), 2);
    assert!((results[0].accuracy_majority - 2.0 / 3.0).abs() < 1e-9);
    // The statistics are in the results: the baseline's interval, the other against it.
    let majority = results[0].stats.intervals.majority.expect("an interval");
    assert!(majority.low < 2.0 / 3.0 && majority.high > 2.0 / 3.0);
    assert!(results[0].stats.versus_baseline.is_none());
    let versus = results[1].stats.versus_baseline.as_ref().expect("paired");
    assert_eq!(versus.against, "strategy=direct");
    assert_eq!(versus.paired.items, 3);
    let seen = seen.lock().unwrap();
    let kinds: Vec<String> = seen
        .iter()
        .map(|e| match e {
            jobs::JobEvent::EvalStarted {
                items, variants, ..
            } => format!("start {items} {}", variants.join("|")),
            jobs::JobEvent::ItemDone { variant, done, .. } => format!("item {variant} {done}"),
            jobs::JobEvent::VariantDone(r) => format!("done {}", r.name),
            jobs::JobEvent::Statistics(s) => format!("stats {}", s.len()),
            jobs::JobEvent::EvalFinished { lowered } => format!("end {lowered:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start 3 strategy=direct|strategy=cot",
            "item 0 1",
            "item 0 2",
            "item 0 3",
            "done strategy=direct",
            "stats 1",
            "item 1 1",
            "item 1 2",
            "item 1 3",
            "done strategy=cot",
            "stats 2",
            "end None",
        ]
    );
}

#[tokio::test]
async fn a_cancelled_evaluation_job_still_ends_with_what_it_scored() {
    let variants = direct_and_cot();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let job = jobs::EvalJob {
        dataset: dataset(&["2"]),
        variants,
        opts: eval_options(cancel),
        baseline: 0,
    };
    let (report, seen) = recorder();
    let results = job.run(&report).await;
    assert_eq!(results.len(), 1, "no variant starts after a cancel");
    assert!(results[0].cancelled);
    let seen = seen.lock().unwrap();
    assert!(matches!(
        seen.last(),
        Some(jobs::JobEvent::EvalFinished { .. })
    ));
}

#[tokio::test]
async fn a_search_job_is_set_up_like_the_cli_and_reports_its_plan_first_and_result_last() {
    let backend: Arc<dyn Backend> = Arc::new(ScriptedBackend::new(Script {
        model: None,
        responses: vec![
            ScriptedResponse {
                when: Some("The instruction was to".into()),
                text: " add one".into(),
                ..Default::default()
            },
            ScriptedResponse {
                when: Some("Generate a variation".into()),
                text: " Add one to the number.".into(),
                ..Default::default()
            },
            ScriptedResponse {
                text: "The answer is 2.".into(),
                ..Default::default()
            },
        ],
    }));
    let options: crate::core::ape::SearchOptions = "candidates=2 rounds=1 dev=3".parse().unwrap();
    let mut base = template(Strategy::Direct, 5);
    base.sampling.temperature = 0.8;
    let search = jobs::search(
        backend,
        &base,
        dataset(&["2", "2", "2", "3", "2"]),
        &options,
        None,
        None,
        eval_options(CancellationToken::new()),
    )
    .unwrap();
    // Scored by one greedy sample unless the user says otherwise.
    assert_eq!(search.base.sampling.n, 1);
    assert_eq!(search.base.sampling.temperature, 0.0);
    assert_eq!((search.dev.len(), search.held.len()), (3, 2));
    let (report, seen) = recorder();
    let r = search.run(report.as_ref()).await;
    assert!(!r.leaderboard.is_empty());
    let seen = seen.lock().unwrap();
    let Some(jobs::JobEvent::SearchStarted(plan)) = seen.first() else {
        panic!("{:?}", seen.first())
    };
    assert_eq!((plan.dataset.as_str(), plan.dev, plan.held), ("sums", 3, 2));
    assert!(seen.iter().any(|e| matches!(e, jobs::JobEvent::Raced(_))));
    let Some(jobs::JobEvent::SearchFinished(done)) = seen.last() else {
        panic!("{:?}", seen.last())
    };
    assert_eq!(done.calls, r.calls);
    let too_small = jobs::search(
        Arc::new(ScriptedBackend::new(Script {
            model: None,
            responses: vec![],
        })),
        &base,
        dataset(&["2"]),
        &options,
        None,
        None,
        eval_options(CancellationToken::new()),
    );
    assert!(too_small.is_err());
}

/// A scripted backend that counts the streams it opens, and the most open at once.
fn gauged(responses: Vec<ScriptedResponse>) -> (Arc<Gauge>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (open, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let opened = Arc::new(AtomicUsize::new(0));
    let backend = Arc::new(Gauge {
        inner: ScriptedBackend::new(Script {
            model: None,
            responses,
        }),
        open,
        peak: peak.clone(),
        opened: opened.clone(),
    });
    (backend, opened, peak)
}

fn early_plan(rule: &str, n: u32) -> Arc<RunPlan> {
    let mut p = (*plan(Strategy::Direct, n)).clone();
    p.sampling.early_stop = rule.parse().unwrap();
    Arc::new(p)
}

#[tokio::test]
async fn a_unanimous_vote_stops_after_the_minimum_and_samples_no_more() {
    for (rule, expected) in [("beta", 4), ("esc:5", 5), ("beta:0.6", 3)] {
        let (backend, opened, peak) = gauged(vec![ScriptedResponse {
            text: "The answer is 2.".into(),
            delay_ms: 2,
            ..Default::default()
        }]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let result = run(
            backend,
            early_plan(rule, 20),
            Some(tx),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(result.paths.len(), expected, "{rule}");
        assert_eq!(opened.load(Ordering::SeqCst), expected, "{rule}: requests");
        assert!(peak.load(Ordering::SeqCst) <= expected, "{rule}: in flight");
        let e = result.early_stop.clone().unwrap();
        assert!(e.settled);
        assert_eq!((e.samples_used, e.max), (expected, 20));
        assert_eq!(result.tally.winner.as_deref(), Some("2"));
        let events = collect_events(&mut rx).await;
        assert!(events.contains(&EngineEvent::Settled {
            after: expected,
            of: 20
        }));
    }
}

#[tokio::test]
async fn a_split_vote_runs_to_n_and_says_it_never_settled() {
    let (backend, opened, _) = gauged(vec![
        ScriptedResponse::text("The answer is 2."),
        ScriptedResponse::text("The answer is 3."),
    ]);
    let result = run(
        backend,
        early_plan("beta", 10),
        None,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(result.paths.len(), 10);
    assert_eq!(opened.load(Ordering::SeqCst), 10);
    let e = result.early_stop.unwrap();
    assert!(!e.settled);
    assert_eq!(e.samples_used, 10);
    // Five against five: a coin flip.
    assert!((e.probability.unwrap() - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn waves_never_hold_more_in_flight_than_the_rule_could_still_need() {
    // Paths answer 2, 3, 2, 3, … then only 2 (seed 1 + i picks the response).
    let (backend, opened, peak) = gauged(vec![
        ScriptedResponse {
            text: "The answer is 2.".into(),
            delay_ms: 3,
            ..Default::default()
        },
        ScriptedResponse {
            text: "The answer is 3.".into(),
            delay_ms: 3,
            ..Default::default()
        },
    ]);
    let result = run(
        backend,
        early_plan("esc:3", 12),
        None,
        CancellationToken::new(),
    )
    .await;
    // Alternating answers never give three alike in a row.
    assert_eq!(result.paths.len(), 12);
    assert_eq!(opened.load(Ordering::SeqCst), 12);
    // Each new answer leaves the last one at best two short of a window.
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "{}",
        peak.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn cached_paths_count_in_order_and_a_settled_cache_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path()).unwrap());
    let (backend, opened, _) = gauged(vec![ScriptedResponse::text("The answer is 2.")]);
    let mut full = (*plan(Strategy::Direct, 8)).clone();
    full.cache = Some(cache.clone());
    let first = run(
        backend.clone(),
        Arc::new(full.clone()),
        None,
        CancellationToken::new(),
    )
    .await;
    assert_eq!((first.paths.len(), opened.load(Ordering::SeqCst)), (8, 8));
    full.sampling.early_stop = "beta".parse().unwrap();
    let again = run(backend, Arc::new(full), None, CancellationToken::new()).await;
    assert_eq!(again.paths.len(), 4);
    assert!(again.paths.iter().all(|p| p.cached));
    assert_eq!(opened.load(Ordering::SeqCst), 8, "no new request");
}

#[tokio::test]
async fn a_cache_only_run_fails_what_is_not_cached_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, opened, _) = gauged(vec![ScriptedResponse::text("The answer is 2.")]);
    let mut p = (*plan(Strategy::Direct, 3)).clone();
    p.cache = Some(Arc::new(Cache::open(dir.path()).unwrap()));
    p.cache_only = true;
    let result = run(backend, Arc::new(p), None, CancellationToken::new()).await;
    assert_eq!(opened.load(Ordering::SeqCst), 0);
    assert_eq!(result.paths.len(), 3);
    assert!(
        result
            .paths
            .iter()
            .all(|p| p.error.as_deref() == Some(NOT_CACHED))
    );
}

/// A scripted backend that, like the embedded one, decodes its samples in lockstep.
struct Lockstep(ScriptedBackend);

impl Backend for Lockstep {
    fn info(&self) -> crate::backend::BackendInfo {
        self.0.info()
    }
    fn stream(&self, request: SampleRequest) -> SampleStream {
        self.0.stream(request)
    }
    fn decodes_in_lockstep(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_lockstep_backend_gets_every_path_and_the_unneeded_ones_stop_with_their_text() {
    // Seed 1 + i picks response (1 + i) % 8: path 3 is slow, path 7 slower, the rest quick.
    let slow = |delay_ms| ScriptedResponse {
        text: "Let me see, two and two make four. The answer is 4.".into(),
        delay_ms,
        ..Default::default()
    };
    let quick = ScriptedResponse::text("The answer is 4.");
    let mut responses = vec![quick; 8];
    responses[0] = slow(50);
    responses[4] = slow(10);
    let backend = Arc::new(Lockstep(ScriptedBackend::new(Script {
        model: None,
        responses,
    })));
    let mut p = (*plan(Strategy::Direct, 8)).clone();
    p.sampling.early_stop = "beta".parse().unwrap();
    p.sampling.seed = 1;
    let result = run(backend, Arc::new(p), None, CancellationToken::new()).await;
    assert_eq!(result.paths.len(), 8, "every path started at once");
    let e = result.early_stop.clone().unwrap();
    // Paths 0-3 settle it (four answers of 4); 4-6 finished meanwhile and vote too.
    assert!(e.settled);
    assert_eq!(e.samples_used, 4);
    assert!(result.paths[..7].iter().all(|p| p.succeeded()));
    let last = &result.paths[7];
    assert!(last.stopped(), "{:?}", last.error);
    assert!(!result.cancelled);
    assert!(
        last.text().starts_with("Let me"),
        "its text is kept: {:?}",
        last.text()
    );
    assert_eq!(result.tally.voted, 7);
}

/// A scripted backend that keeps every prompt it is sent.
struct Recording(ScriptedBackend, std::sync::Mutex<Vec<String>>);

impl Backend for Recording {
    fn info(&self) -> crate::backend::BackendInfo {
        self.0.info()
    }
    fn stream(&self, request: SampleRequest) -> SampleStream {
        if let Ok(mut p) = self.1.lock() {
            p.push(request.prompt.to_string());
        }
        self.0.stream(request)
    }
}

fn usc_plan(n: u32) -> Arc<RunPlan> {
    let mut t = template(Strategy::Direct, n);
    t.answer = AnswerSpec {
        cluster: Some(crate::core::free::ClusterRule::Usc),
        ..AnswerSpec::of(AnswerKind::Free)
    };
    Arc::new(RunPlan::new(&t, "Where was the treaty signed?", Mode::Completion).unwrap())
}

fn usc_backend(selector: &str) -> Arc<Recording> {
    let answer = |t: &str| ScriptedResponse::text(t);
    Arc::new(Recording(
        ScriptedBackend::new(Script {
            model: None,
            responses: vec![
                answer("At Westphalia in 1648."),
                answer("It was signed in Utrecht."),
                answer("Utrecht, in 1713."),
                ScriptedResponse {
                    when: Some("most consistent response is Response".into()),
                    ..answer(selector)
                },
            ],
        }),
        std::sync::Mutex::new(Vec::new()),
    ))
}

#[tokio::test]
async fn usc_shows_the_selector_every_response_and_its_pick_wins() {
    let backend = usc_backend(" 3");
    let result = run(backend.clone(), usc_plan(3), None, CancellationToken::new()).await;
    let prompts = backend.1.lock().unwrap().clone();
    assert_eq!(prompts.len(), 4, "three paths and one selector call");
    let selector = prompts.last().unwrap();
    for p in &result.paths {
        assert!(selector.contains(p.text().trim()), "{selector}");
    }
    assert!(selector.contains("Where was the treaty signed?"));
    let sel = result.selection.clone().unwrap();
    // Seed 1 + i: path 0 says Utrecht, path 1 Utrecht in 1713, path 2 Westphalia: three
    // clusters of one, which overlap's tie-break gives to path 0. Response 3 is path 2.
    assert_eq!(sel.responses, vec![0, 1, 2]);
    assert_eq!(sel.chosen, Some(2));
    assert_eq!(result.tally.winner, result.paths[2].answer);
    assert_eq!(result.tally.entries[0].paths, vec![2]);
    assert_eq!(result.tally.clustering.as_ref().unwrap().note, None);
}

#[tokio::test]
async fn an_unreadable_selector_reply_falls_back_to_the_overlap_winner_with_a_note() {
    let backend = usc_backend(" the second one, probably");
    let result = run(backend, usc_plan(3), None, CancellationToken::new()).await;
    let sel = result.selection.clone().unwrap();
    assert_eq!(sel.chosen, None);
    assert_eq!(sel.reply, " the second one, probably");
    let overlap = crate::core::record::tally(
        &result.paths,
        &Voting::of(&AnswerSpec::of(AnswerKind::Free)),
    );
    assert_eq!(result.tally.winner, overlap.winner);
    let note = result.tally.clustering.unwrap().note.unwrap();
    assert!(note.contains("voted by overlap"), "{note}");
}

/// A scripted backend that says it was sent 10 prompt tokens per call and evaluated 4.
struct Counting(
    ScriptedBackend,
    std::sync::Mutex<crate::backend::PromptTokens>,
);

impl Backend for Counting {
    fn info(&self) -> crate::backend::BackendInfo {
        self.0.info()
    }
    fn stream(&self, request: SampleRequest) -> SampleStream {
        let mut c = self.1.lock().unwrap();
        c.sent += 10;
        c.evaluated += 4;
        self.0.stream(request)
    }
    fn prompt_tokens(&self) -> Option<crate::backend::PromptTokens> {
        Some(*self.1.lock().unwrap())
    }
}

#[tokio::test]
async fn each_variant_reports_the_prompt_tokens_sent_and_evaluated_while_it_ran() {
    let counting: Arc<dyn Backend> = Arc::new(Counting(
        ScriptedBackend::from_texts(["The answer is 2."]),
        Default::default(),
    ));
    let vary = crate::core::variants::parse_vary(&["strategy=direct,cot".into()]).unwrap();
    let with = |b: &Arc<dyn Backend>| {
        eval::variants(&template(Strategy::Direct, 1), &vary, |_, _| {
            Some(b.clone())
        })
        .unwrap()
    };
    let run = |variants| jobs::EvalJob {
        dataset: dataset(&["2", "3", "2"]),
        variants,
        opts: eval_options(CancellationToken::new()),
        baseline: 0,
    };
    let results = run(with(&counting)).run(&recorder().0).await;
    // Three items, one call each, per variant: the second variant's figures are its own.
    let want = crate::backend::PromptTokens {
        sent: 30,
        evaluated: 12,
    };
    assert_eq!(results[0].prompt_tokens, Some(want));
    assert_eq!(results[1].prompt_tokens, Some(want));
    // A backend that does not count says nothing.
    let plain: Arc<dyn Backend> = Arc::new(ScriptedBackend::from_texts(["The answer is 2."]));
    let results = run(with(&plain)).run(&recorder().0).await;
    assert!(results.iter().all(|r| r.prompt_tokens.is_none()));
}
