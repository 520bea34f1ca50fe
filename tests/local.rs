//! The embedded model for real: llama.cpp in process on the Gemma 3 270M GGUF that
//! scripts/fetch-model.sh installs (scripts/test and .ci/run provision it first).
#![cfg(feature = "local")]

use std::sync::Arc;

use futures::StreamExt;
use promptlab::backend::local::{LocalBackend, LocalSettings};
use promptlab::backend::{Backend, BackendError, Finish, SampleRequest, SampleStream, StreamEvent};
use promptlab::core::render::{Mode, Prompt};
use promptlab::core::template::Thinking;
use promptlab::engine::{RunPlan, run};
use promptlab::store::models::default_model_path;
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

fn backend() -> LocalBackend {
    let path = default_model_path().expect("a cache dir");
    assert!(
        path.is_file(),
        "the embedded model is missing at {}: run scripts/fetch-model.sh",
        path.display()
    );
    LocalBackend::spawn(LocalSettings::new(path)).unwrap()
}

const FEW_SHOT: &str =
    "Q: What is 1 + 1?\nA: 2\n\nQ: What is 2 + 2?\nA: 4\n\nQ: What is 3 + 4?\nA:";

fn request(prompt: &str, seed: u64, max_tokens: u32) -> SampleRequest {
    SampleRequest {
        prompt: Prompt::Completion(prompt.into()),
        stop: vec!["\n\n".into(), "\nQ:".into()],
        max_tokens,
        temperature: 1.0,
        top_p: 0.95,
        top_k: 40,
        seed,
        thinking: Thinking::Auto,
        reasoning_effort: None,
    }
}

async fn drain(mut s: SampleStream) -> Result<(String, Finish), BackendError> {
    let mut text = String::new();
    while let Some(ev) = s.next().await {
        match ev? {
            StreamEvent::Text(t) => text.push_str(&t),
            StreamEvent::Thinking(_) => {}
            StreamEvent::Done(f) => return Ok((text, f)),
        }
    }
    Err(BackendError::StreamCut)
}

async fn batch(b: &LocalBackend, req: SampleRequest, n: usize) -> Vec<(String, Finish)> {
    let streams = b.stream_batch(req, n).expect("the local backend batches");
    let mut out = Vec::new();
    for s in streams {
        out.push(drain(s).await.unwrap());
    }
    out
}

#[tokio::test]
async fn batched_paths_are_independent_and_reproducible() {
    let b = backend();
    let req = request("Once upon a time", 11, 12);
    let first = batch(&b, req.clone(), 4).await;
    let distinct: std::collections::HashSet<&str> = first.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        distinct.len() >= 2,
        "different seeds give different texts: {first:?}"
    );
    for (text, f) in &first {
        assert!(!text.is_empty());
        assert_eq!(f.usage.completion_tokens, 12, "{text:?} {f:?}");
        assert_eq!(f.reason, "length");
        let lp = f.logprob.expect("local paths carry log-probabilities");
        assert!(lp.sum < 0.0 && lp.tokens == 12);
    }
    let again = batch(&b, req, 4).await;
    let texts = |v: &[(String, Finish)]| v.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&first), texts(&again), "same seeds, same texts");
}

#[tokio::test]
async fn stops_are_matched_on_text_and_cut() {
    let b = backend();
    let mut req = request(FEW_SHOT, 1, 24);
    req.temperature = 0.0;
    let (text, f) = drain(b.stream(req)).await.unwrap();
    assert_eq!(f.reason, "stop", "{text:?}");
    assert!(!text.contains("\n\n") && !text.contains("\nQ:"), "{text:?}");
    // The base 270M model follows the format (a short answer) even when its sum is wrong.
    assert!(
        !text.trim().is_empty() && text.trim().len() <= 8,
        "{text:?}"
    );
}

#[tokio::test]
async fn context_overflow_is_a_clear_error_before_decoding() {
    let b = backend();
    let huge = "word ".repeat(40_000);
    let err = drain(b.stream(request(&huge, 1, 16))).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Invalid(m) if m.contains("exceed the model's context")),
        "{err}"
    );
}

#[tokio::test]
async fn a_batch_too_big_for_memory_is_refused_before_decoding() {
    let b = backend();
    let mut streams = b.stream_batch(request(FEW_SHOT, 1, 2048), 64).unwrap();
    let err = drain(streams.remove(0)).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Invalid(m) if m.contains("lower N or max tokens")),
        "{err}"
    );
}

#[tokio::test]
async fn cancelled_paths_leave_the_batch_and_the_next_run_is_intact() {
    let b = backend();
    let mut greedy = request(FEW_SHOT, 1, 24);
    greedy.temperature = 0.0;
    let (before, _) = drain(b.stream(greedy.clone())).await.unwrap();
    let mut streams = b
        .stream_batch(request("The weather today", 5, 200), 3)
        .unwrap();
    let first = streams[0].next().await;
    assert!(matches!(first, Some(Ok(StreamEvent::Text(_)))));
    drop(streams);
    let (after, _) = drain(b.stream(greedy)).await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn bad_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let not_gguf = dir.path().join("notes.gguf");
    std::fs::write(&not_gguf, "hello").unwrap();
    let err = LocalBackend::spawn(LocalSettings::new(not_gguf))
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a GGUF"), "{err}");
    let broken = dir.path().join("broken.gguf");
    std::fs::write(&broken, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let b = LocalBackend::spawn(LocalSettings::new(broken)).unwrap();
    let err = drain(b.stream(request("x", 1, 4))).await.unwrap_err();
    assert!(
        err.to_string().contains("llama.cpp could not load"),
        "{err}"
    );
}

#[tokio::test]
async fn engine_runs_a_template_on_the_embedded_model() {
    let b = Arc::new(backend());
    let (mut t, _) = resolve("gsm8k-direct").unwrap();
    t.sampling.n = 3;
    t.sampling.max_tokens = 8;
    let plan = Arc::new(RunPlan::new(&t, "What is 3 + 4?", Mode::Completion).unwrap());
    let result = run(b, plan, None, CancellationToken::new()).await;
    assert_eq!(result.succeeded(), 3, "{result:?}");
    assert_eq!(result.tally.voted, 3);
    assert!(result.paths.iter().all(|p| p.logprob().is_some()));
    assert!(result.tally.weighted_winner.is_some() || result.tally.winner.is_none());
    // DeepConf's confidence comes with every token's top candidates.
    assert!(
        result
            .paths
            .iter()
            .all(|p| p.confidence().is_some_and(|c| c > 0.0))
    );
    assert!(result.tally.confidence_winner.is_some() || result.tally.winner.is_none());
}

#[tokio::test]
async fn a_lora_that_is_not_an_adapter_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.gguf");
    std::fs::write(&notes, "hello").unwrap();
    let path = default_model_path().unwrap();
    let err = LocalBackend::spawn(LocalSettings {
        lora: Some(notes),
        ..LocalSettings::new(path.clone())
    })
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("LoRA adapter") && err.to_string().contains("not a GGUF"),
        "{err}"
    );
    // A real GGUF that is a whole model, not an adapter: llama.cpp refuses it, and we say so.
    let b = LocalBackend::spawn(LocalSettings {
        lora: Some(path.clone()),
        ..LocalSettings::new(path)
    })
    .unwrap();
    let err = drain(b.stream(request("x", 1, 4))).await.unwrap_err();
    assert!(
        err.to_string().contains("could not load the LoRA adapter"),
        "{err}"
    );
}

#[test]
fn optimize_end_to_end_on_the_embedded_model_with_a_tiny_budget() {
    let dirs = tempfile::tempdir().unwrap();
    let out_t = dirs.path().join("ape.yaml");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("promptlab"))
        .args([
            "optimize",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
            "--candidates",
            "2",
            "--rounds",
            "1",
            "--dev",
            "2",
            "--held-out",
            "2",
            "--max-tokens",
            "8",
            "--budget",
            "12",
            "--json",
            // Two held-out items can show no winner better than the template's own
            // instruction: --force writes it anyway (marked as not shown better).
            "--force",
            "--out",
        ])
        .arg(&out_t)
        .arg("--model-path")
        .arg(default_model_path().unwrap())
        .env("PROMPTLAB_CACHE_DIR", dirs.path().join("cache"))
        .env("PROMPTLAB_CONFIG_DIR", dirs.path().join("config"))
        .env_remove("OPENAI_BASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Greedy proposals and scoring on a fixed model and seed: the same instructions every
    // time, so the search must come out with one.
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["provenance"]["backend"]["kind"], "local", "{v}");
    assert!(v["calls"].as_u64().unwrap() <= 12, "{v}");
    assert!(!v["leaderboard"].as_array().unwrap().is_empty());
    assert_eq!(v["held_out"]["items"], 2, "{v}");
    assert!(
        promptlab::store::template::load_template_file(&out_t)
            .unwrap()
            .instruction
            .is_some()
    );
}

#[tokio::test]
async fn early_stop_on_the_embedded_model_stops_the_batch_once_the_vote_settles() {
    let b = Arc::new(backend());
    let (mut t, _) = resolve("sums").unwrap();
    assert_eq!(t.sampling.early_stop.to_string(), "beta:0.95");
    // A colder vote settles sooner; the query is the model's easiest kind.
    t.sampling.temperature = 0.3;
    let plan = Arc::new(RunPlan::new(&t, "What is 2 plus 2?", Mode::Completion).unwrap());
    let first = run(b.clone(), plan.clone(), None, CancellationToken::new()).await;
    let e = first.early_stop.clone().unwrap();
    assert_eq!(e.max, 20);
    // The embedded model decodes in lockstep: every path started in one batch.
    assert_eq!(first.paths.len(), 20);
    assert!(!first.cancelled);
    for p in &first.paths {
        if p.index < e.samples_used {
            assert!(
                p.succeeded(),
                "path {} in the settling prefix: {:?}",
                p.index,
                p.error
            );
        } else {
            assert!(p.succeeded() || p.stopped(), "{:?}", p.error);
        }
    }
    if e.settled {
        assert!(e.probability.unwrap() >= 0.95);
    }
    // The same samples settle at the same path, and the next run is intact.
    let again = run(b, plan, None, CancellationToken::new()).await;
    let again_e = again.early_stop.unwrap();
    assert_eq!(
        (again_e.samples_used, again_e.settled),
        (e.samples_used, e.settled)
    );
    let prefix = |r: &[promptlab::core::record::PathRecord]| {
        r[..e.samples_used]
            .iter()
            .map(|p| p.text())
            .collect::<Vec<_>>()
    };
    assert_eq!(prefix(&again.paths), prefix(&first.paths));
}

#[tokio::test]
async fn an_embedding_model_gives_answers_vectors_and_a_run_clusters_by_them() {
    use promptlab::backend::Embedder;
    use promptlab::backend::local::embed::LocalEmbedder;
    let path = default_model_path().unwrap();
    let e = LocalEmbedder::spawn(&path, 2).unwrap();
    let a = e.embed("michelangelo").await.unwrap();
    assert!(!a.is_empty() && a.iter().all(|x| x.is_finite()));
    assert_eq!(
        e.embed("michelangelo").await.unwrap(),
        a,
        "one text, one vector"
    );
    let b = e.embed("raphael").await.unwrap();
    assert_eq!(a.len(), b.len());
    assert!(promptlab::core::free::cosine(&a, &b) < 0.9999);

    // End to end: scripted answers, clustered by this model's embeddings.
    let dirs = tempfile::tempdir().unwrap();
    let t = dirs.path().join("trivia-embed.yaml");
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates/trivia.yaml"
    ))
    .unwrap()
    .replace("cluster: overlap", "cluster: embed");
    std::fs::write(&t, yaml).unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("promptlab"))
        .args([
            "run",
            "--backend",
            "scripted",
            "--script",
            "assets/demo-script.yaml",
            "--json",
            "-t",
        ])
        .arg(&t)
        .arg("--embed-model")
        .arg(&path)
        .env("PROMPTLAB_CACHE_DIR", dirs.path().join("cache"))
        .env("PROMPTLAB_CONFIG_DIR", dirs.path().join("config"))
        .env_remove("OPENAI_BASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clustering"]["rule"], "embed", "{}", v["clustering"]);
    assert!(
        v["clustering"]["note"].is_null(),
        "every answer had an embedding: {}",
        v["clustering"]
    );
    let votes: u64 = v["tally"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["votes"].as_u64().unwrap())
        .sum();
    assert_eq!(votes, 8);
}

/// A few-shot prompt of `shots` examples (each dropped in turn by `skip`) and a question.
fn shots_prompt(skip: Option<usize>, question: &str) -> String {
    let shots = [
        ("What is 2 + 3?", "5"),
        ("What is 7 + 1?", "8"),
        ("What is 4 + 4?", "8"),
        ("What is 9 + 0?", "9"),
        ("What is 6 + 3?", "9"),
    ];
    let mut p = String::from("Answer each sum with a number.\n\n");
    for (i, (q, a)) in shots.iter().enumerate() {
        if Some(i) != skip {
            p.push_str(&format!("Q: {q}\nA: {a}\n\n"));
        }
    }
    p.push_str(&format!("Q: {question}\nA:"));
    p
}

#[tokio::test]
async fn a_reused_prefix_gives_what_a_full_evaluation_gives() {
    let greedy = |prompt: &str, max_tokens| {
        let mut r = request(prompt, 3, max_tokens);
        r.temperature = 0.0;
        r
    };
    let target = shots_prompt(Some(3), "What is 5 + 2?");
    // Evaluated from scratch on a backend that has seen nothing.
    let fresh = backend();
    let (want_text, want) = drain(fresh.stream(greedy(&target, 12))).await.unwrap();
    let (_, want_first) = drain(fresh.stream(greedy(&target, 1))).await.unwrap();
    let fresh_counts = fresh.prompt_tokens().unwrap();
    // The full prompt once, then the same prompt again (all of it reused).
    assert_eq!(fresh_counts.evaluated, u64::from(want.usage.prompt_tokens));
    assert_eq!(fresh_counts.sent, 2 * fresh_counts.evaluated);

    // Another backend first sees the prompt with every example and another question: the
    // target shares everything before the example it drops.
    let warm = backend();
    let (_, other) = drain(warm.stream(greedy(&shots_prompt(None, "What is 1 + 8?"), 4)))
        .await
        .unwrap();
    let before = warm.prompt_tokens().unwrap();
    let (got_text, got) = drain(warm.stream(greedy(&target, 12))).await.unwrap();
    let spent = warm.prompt_tokens().unwrap().since(before);
    assert_eq!(spent.sent, u64::from(got.usage.prompt_tokens));
    assert!(
        spent.evaluated < spent.sent / 2,
        "the instruction and three examples were reused: {spent:?} (the other prompt had {} tokens)",
        other.usage.prompt_tokens
    );
    assert_eq!(got_text, want_text);
    let (lp, want_lp) = (got.logprob.unwrap(), want.logprob.unwrap());
    assert_eq!(lp.tokens, want_lp.tokens);
    assert!(
        (lp.sum - want_lp.sum).abs() < 1e-2 * f64::from(lp.tokens),
        "{lp:?} vs {want_lp:?}"
    );
    // The first token's log-probability is read straight off the last prompt logits. They are
    // not bit for bit those of one whole evaluation: llama.cpp's kernels round by the shape
    // of the batch, and the same prompt evaluated in 64-token chunks moves this figure by
    // 0.035 (measured: -0.150 whole, -0.115 in chunks); a wrong prefix moves it by far more.
    let (_, first) = drain(warm.stream(greedy(&target, 1))).await.unwrap();
    let (a, b) = (first.logprob.unwrap().sum, want_first.logprob.unwrap().sum);
    assert!((a - b).abs() < 0.05, "{a} vs {b}");
}

#[tokio::test]
async fn an_evaluations_items_decode_together_and_share_their_prompt_prefix() {
    use promptlab::engine::eval::{EvalOptions, eval_variant, variants};
    let b = Arc::new(backend());
    let (mut t, _) = resolve("gsm8k-direct").unwrap();
    // Eight paths of up to 256 tokens an item: one item alone fills a 4096-cell context, so
    // items decode together only in a context sized for several.
    t.sampling.n = 8;
    t.sampling.max_tokens = 256;
    let data = promptlab::engine::jobs::load("assets/sums.jsonl".into(), false, Some(4))
        .await
        .unwrap();
    let dyn_b: Arc<dyn Backend> = b.clone();
    let v = variants(&t, &[], |_, _| Some(dyn_b.clone()))
        .unwrap()
        .remove(0);
    let opts = EvalOptions::new(16, None, CancellationToken::new());
    let r = eval_variant(&v, &data.items, &opts, Arc::new(|_, _| {})).await;
    assert_eq!(r.samples.succeeded, 32, "{:?}", r.samples);
    let d = b.decoding();
    assert!(
        d.widest > 8,
        "more than one item's 8 paths in a decode step: {d:?}"
    );
    // The eight examples are evaluated once; each further item evaluates its question.
    let p = r
        .prompt_tokens
        .expect("the local backend counts prompt tokens");
    assert_eq!(p.sent, u64::from(r.usage.prompt_tokens) / 8);
    assert!(p.evaluated * 2 < p.sent, "{p:?}");
}

/// A few-shot label prompt: shared examples, then `question`.
fn label_prompt(question: &str) -> Prompt {
    Prompt::Completion(format!(
        "Is the review positive or negative?\n\nReview: What a wonderful, moving film.\nAnswer: positive\n\nReview: A boring, badly acted mess.\nAnswer: negative\n\nReview: {question}\nAnswer:"
    ))
}

const REVIEWS: [&str; 6] = [
    "I loved every minute of it.",
    "Terrible plot and awful acting.",
    "Beautiful, funny and warm, a real delight from start to end.",
    "A waste of time.",
    "Not bad.",
    "The best thing I have seen this year, unforgettable.",
];

fn label_options() -> Vec<String> {
    // Several tokens each: the options' own decode is exercised too.
    vec![
        " positive review".into(),
        " negative review".into(),
        " neutral".into(),
    ]
}

#[tokio::test]
async fn score_jobs_that_wait_together_run_together_and_score_as_alone() {
    let options = label_options();
    // One at a time, each awaited before the next is sent.
    let alone = backend();
    let mut want = Vec::new();
    for q in REVIEWS {
        let s = alone
            .score(&label_prompt(q), &options)
            .unwrap()
            .await
            .unwrap();
        want.push(s);
    }
    let one_by_one = alone.decoding();
    assert_eq!(one_by_one.scores, REVIEWS.len() as u64);
    // All at once, with a bad job among them (an empty option): it fails alone.
    let together = backend();
    let mut pending: Vec<_> = REVIEWS
        .iter()
        .map(|q| together.score(&label_prompt(q), &options).unwrap())
        .collect();
    let bad = vec![" positive".to_string(), String::new()];
    pending.insert(2, together.score(&label_prompt("Fine."), &bad).unwrap());
    let mut got = futures::future::join_all(pending).await;
    let failed = got.remove(2).unwrap_err().to_string();
    assert!(failed.contains("option 2 is empty"), "{failed}");
    let mut worst = 0f64;
    for (q, (g, w)) in REVIEWS.iter().zip(got.into_iter().zip(&want)) {
        let g = g.unwrap();
        assert_eq!(g.prompt_tokens, w.prompt_tokens, "{q}");
        for (a, b) in g.logprobs.iter().zip(&w.logprobs) {
            worst = worst.max((a - b).abs());
        }
        let pick = |l: &[f64]| (0..l.len()).max_by(|&i, &j| l[i].total_cmp(&l[j]));
        assert_eq!(pick(&g.logprobs), pick(&w.logprobs), "{q}: {g:?} vs {w:?}");
    }
    // llama.cpp's quantized kernels round differently with the call's shape: a job alone
    // scores exactly as before batching; in a batch of six, a single-token option's score
    // moved up to 0.23 and a two-token option's up to 0.41, either way (the picks are the
    // same).
    assert!(worst < 0.5, "{worst}");
    let d = together.decoding();
    eprintln!("one at a time: {one_by_one:?}\ntogether: {d:?}");
    assert_eq!(
        d.scores,
        REVIEWS.len() as u64,
        "the bad job is not a scoring"
    );
    // One at a time: a call for each question and one for its options; together, far fewer.
    assert!(
        one_by_one.score_calls >= 2 * REVIEWS.len() as u64,
        "{one_by_one:?}"
    );
    assert!(d.score_calls <= 4, "{d:?}");
}

#[tokio::test]
async fn a_cancelled_score_job_costs_nothing() {
    let b = backend();
    let options = label_options();
    // Sent, then dropped before the model thread has loaded: never scored.
    drop(b.score(&label_prompt("Great."), &options).unwrap());
    let s = b
        .score(&label_prompt("Awful."), &options)
        .unwrap()
        .await
        .unwrap();
    assert_eq!(s.logprobs.len(), 3);
    assert_eq!(b.decoding().scores, 1);
}

/// `label_prompt` with other examples: another example set's prompt.
fn other_prompt(question: &str) -> Prompt {
    Prompt::Completion(format!(
        "Is the review positive or negative?\n\nReview: Dull from start to end.\nAnswer: negative\n\nReview: A joy to watch, and funny too.\nAnswer: positive\n\nReview: {question}\nAnswer:"
    ))
}

#[tokio::test]
async fn score_jobs_of_several_example_sets_keep_each_sets_prefix() {
    let b = backend();
    let options = label_options();
    let round = || {
        let pending: Vec<_> = REVIEWS
            .iter()
            .flat_map(|q| [label_prompt(q), other_prompt(q)])
            .map(|p| b.score(&p, &options).unwrap())
            .collect();
        futures::future::join_all(pending)
    };
    let first: Vec<_> = round().await.into_iter().map(Result::unwrap).collect();
    let before = b.prompt_tokens().unwrap();
    let again: Vec<_> = round().await.into_iter().map(Result::unwrap).collect();
    let spent = b.prompt_tokens().unwrap().since(before);
    // Both sets' examples were kept: the second round evaluates only the questions.
    assert!(spent.evaluated * 3 < spent.sent, "{spent:?}");
    for (a, b) in first.iter().zip(&again) {
        for (x, y) in a.logprobs.iter().zip(&b.logprobs) {
            assert!((x - y).abs() < 0.5, "{a:?} {b:?}");
        }
    }
    assert_eq!(b.decoding().scores, 2 * 2 * REVIEWS.len() as u64);
}
