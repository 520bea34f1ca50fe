//! Option scoring, contextual calibration and kNN example selection through the engine: a
//! backend whose option scores favour one label is calibrated back to the right answers (in
//! process and over HTTP against a mock server with echoed prompt log-probabilities), and kNN
//! selection finds the example that answers each query.

use std::sync::Arc;

use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings};
use promptlab::backend::scripted::ScriptedBackend;
use promptlab::backend::{Backend, BackendInfo, SampleRequest, SampleStream, ScoreFuture, Scores};
use promptlab::core::extract::{AnswerKind, AnswerSpec};
use promptlab::core::render::{Mode, Prompt};
use promptlab::core::template::{Calibrate, Example, Strategy, Template};
use promptlab::engine::eval::{EvalOptions, VariantResult, variants};
use promptlab::engine::jobs::EvalJob;
use promptlab::store::dataset::{Dataset, Item};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The log-probability a biased model gives `option` after `prompt`: it leans 6 to 1 towards
/// "positive" whatever it reads, and 3 to 1 towards the label the query's words call for.
fn biased_logprob(prompt: &str, options: &[String], option: &str) -> f64 {
    let query = prompt.rsplit("Q: ").next().unwrap_or("");
    let weight = |o: &str| {
        let o = o.trim();
        let bias = if o == "positive" { 6.0 } else { 1.0 };
        let fits = (o == "positive" && query.contains("loved"))
            || (o == "negative" && query.contains("hated"));
        bias * if fits { 3.0 } else { 1.0 }
    };
    let total: f64 = options.iter().map(|o| weight(o)).sum();
    (weight(option) / total).ln()
}

/// Scores options as `biased_logprob`; samples "positive" every time.
struct Biased;

impl Backend for Biased {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "biased", Mode::Completion)
    }

    fn stream(&self, r: SampleRequest) -> SampleStream {
        ScriptedBackend::from_texts(["positive"]).stream(r)
    }

    fn score(&self, prompt: &Prompt, options: &[String]) -> Option<ScoreFuture> {
        let Prompt::Completion(p) = prompt else {
            return None;
        };
        let scores: Vec<f64> = options
            .iter()
            .map(|o| biased_logprob(p, options, o))
            .collect();
        Some(Box::pin(async move { Ok(Scores::from(scores)) }))
    }
}

fn example(input: &str, answer: &str) -> Example {
    Example {
        input: input.into(),
        rationale: None,
        answer: answer.into(),
        enabled: true,
        steps: vec![],
    }
}

fn sentiment() -> Template {
    let (mut t, _) = promptlab::store::template::resolve("gsm8k-cot").unwrap();
    t.instruction = Some("Is the review positive or negative?".into());
    t.strategy = Strategy::Direct;
    t.answer = AnswerSpec {
        choices: vec!["positive".into(), "negative".into()],
        ..AnswerSpec::of(AnswerKind::Choice)
    };
    t.examples = vec![
        example("A fine evening.", "positive"),
        example("A dull evening.", "negative"),
    ];
    t.sampling.n = 1;
    t
}

fn reviews() -> Dataset {
    let items = (0..10)
        .map(|i| {
            let (word, label) = if i % 2 == 0 {
                ("loved", "positive")
            } else {
                ("hated", "negative")
            };
            Item {
                id: i.to_string(),
                input: format!("Review {i}: I {word} this film."),
                targets: vec![label.into()],
            }
        })
        .collect();
    Dataset {
        name: "reviews".into(),
        items,
        problems: vec![],
    }
}

async fn evaluate(
    base: &Template,
    key: &str,
    values: &[&str],
    backend: Arc<dyn Backend>,
    mode: Mode,
    dataset: Dataset,
) -> Vec<VariantResult> {
    let vary = vec![(
        key.to_string(),
        values.iter().map(|v| v.to_string()).collect(),
    )];
    let mut vs = variants(base, &vary, |_, _| Some(backend.clone())).unwrap();
    for v in &mut vs {
        v.mode = mode;
    }
    let job = EvalJob {
        dataset,
        variants: vs,
        opts: EvalOptions::new(4, None, CancellationToken::new()),
        baseline: 0,
    };
    let quiet: promptlab::engine::jobs::Report = Arc::new(|_| {});
    job.run(&quiet).await
}

#[tokio::test]
async fn calibration_divides_out_a_known_option_bias() {
    let backend: Arc<dyn Backend> = Arc::new(Biased);
    let results = evaluate(
        &sentiment(),
        "calibrate",
        &["none", "scored", "content-free"],
        backend,
        Mode::Completion,
        reviews(),
    )
    .await;
    let acc: Vec<f64> = results.iter().map(|r| r.accuracy_majority).collect();
    assert_eq!(acc, [0.5, 0.5, 1.0], "sampled, scored, calibrated");
    assert_eq!(results[0].answers_from, None);
    assert_eq!(results[1].answers_from, Some(Calibrate::Scored));
    assert_eq!(results[2].answers_from, Some(Calibrate::ContentFree));
    // Before and after, from the same scores.
    assert_eq!(results[2].accuracy_uncalibrated, Some(0.5));
    assert_eq!(results[1].accuracy_uncalibrated, None);
    // Each item's one path says it was scored, not sampled.
    let path = &results[2].per_item[1].paths[0];
    assert_eq!(path.stages[0].finish_reason.as_deref(), Some("scored"));
    assert_eq!(path.answer.as_deref(), Some("negative"));
    // Paired against the sampled baseline: five items flip, all to right.
    let json = serde_json::to_value(&results[2]).unwrap();
    assert!(json.get("answers_from").is_some(), "{json}");
}

/// `Biased`, counting the prompts it scores and reporting a quarter of a prompt's characters
/// as its tokens.
struct Counting(Arc<std::sync::atomic::AtomicUsize>);

impl Backend for Counting {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "counting", Mode::Completion)
    }

    fn stream(&self, r: SampleRequest) -> SampleStream {
        Biased.stream(r)
    }

    fn score(&self, prompt: &Prompt, options: &[String]) -> Option<ScoreFuture> {
        let Prompt::Completion(p) = prompt else {
            return None;
        };
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let scores = Scores {
            logprobs: options
                .iter()
                .map(|o| biased_logprob(p, options, o))
                .collect(),
            prompt_tokens: p.len() as u32 / 4,
        };
        Some(Box::pin(async move { Ok(scores) }))
    }
}

#[tokio::test]
async fn scored_runs_count_their_prompt_tokens_and_a_repeat_comes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(promptlab::engine::cache::Cache::open(dir.path()).unwrap());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backend: Arc<dyn Backend> = Arc::new(Counting(calls.clone()));
    let run = |cache: Arc<promptlab::engine::cache::Cache>| {
        let backend = backend.clone();
        async move {
            let vary = vec![(
                "calibrate".to_string(),
                vec!["scored".to_string(), "content-free".to_string()],
            )];
            let vs = variants(&sentiment(), &vary, |_, _| Some(backend.clone())).unwrap();
            let job = EvalJob {
                dataset: reviews(),
                variants: vs,
                opts: EvalOptions::new(4, Some(cache), CancellationToken::new()),
                baseline: 0,
            };
            let quiet: promptlab::engine::jobs::Report = Arc::new(|_| {});
            job.run(&quiet).await
        }
    };
    let first = run(cache.clone()).await;
    // Ten items scored twice (plain, calibrated), and the three content-free prompts once.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 23);
    for r in &first {
        assert!(
            r.cost.prompt_tokens_per_query > 0.0,
            "{}: prompt tokens recorded",
            r.name
        );
        assert_eq!((r.samples.fresh, r.samples.cached), (10, 0));
    }
    let tokens = |r: &VariantResult| -> u32 {
        r.per_item
            .iter()
            .map(|i| i.paths[0].stages[0].prompt_tokens)
            .sum()
    };
    // The calibrated variant's items carry the content-free prompts' tokens once between them.
    assert!(tokens(&first[1]) > tokens(&first[0]));
    // The same evaluation again: nothing scored, the same answers and figures from the cache.
    let again = run(cache.clone()).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 23);
    for (a, b) in first.iter().zip(&again) {
        assert_eq!((b.samples.fresh, b.samples.cached), (0, 10));
        assert_eq!(a.accuracy_majority, b.accuracy_majority);
        assert_eq!(a.accuracy_uncalibrated, b.accuracy_uncalibrated);
        assert_eq!(tokens(a), tokens(b));
    }
    assert_eq!(again[1].accuracy_majority, 1.0);
    // The key holds the scoring mode: a cache of plain scores does not serve calibrated runs.
    let fresh_dir = tempfile::tempdir().unwrap();
    let other = Arc::new(promptlab::engine::cache::Cache::open(fresh_dir.path()).unwrap());
    let mut plain = sentiment();
    plain.calibrate = Calibrate::Scored;
    let plan = promptlab::engine::RunPlan::new(&plain, "I loved it.", Mode::Completion).unwrap();
    let mut cal = plain.clone();
    cal.calibrate = Calibrate::ContentFree;
    let mut cal_plan =
        promptlab::engine::RunPlan::new(&cal, "I loved it.", Mode::Completion).unwrap();
    let mut plan = plan;
    plan.cache = Some(other.clone());
    cal_plan.cache = Some(other);
    let r = promptlab::engine::run(
        backend.clone(),
        Arc::new(plan),
        None,
        CancellationToken::new(),
    )
    .await;
    assert!(!r.paths[0].cached);
    let r = promptlab::engine::run(
        backend.clone(),
        Arc::new(cal_plan),
        None,
        CancellationToken::new(),
    )
    .await;
    assert!(!r.paths[0].cached, "another mode, another key");
    assert!(r.scored.unwrap().content_free.len() == 2);
}

#[tokio::test]
async fn a_backend_that_cannot_score_says_so() {
    let mut t = sentiment();
    t.calibrate = Calibrate::ContentFree;
    let plan = promptlab::engine::RunPlan::new(&t, "I loved it.", Mode::Completion).unwrap();
    let backend: Arc<dyn Backend> = Arc::new(ScriptedBackend::from_texts(["positive"]));
    let r = promptlab::engine::run(backend, Arc::new(plan), None, CancellationToken::new()).await;
    let error = r.paths[0].error.clone().unwrap();
    assert!(error.contains("cannot score options"), "{error}");
    assert!(r.scored.is_none());
}

/// A server with echoed prompt log-probabilities, scoring as `biased_logprob`: each prompt in
/// the list is answered with two tokens, the prompt and the option that ends it.
struct EchoServer {
    options: Vec<String>,
}

impl Respond for EchoServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["echo"], json!(true));
        assert_eq!(body["max_tokens"], json!(0));
        let texts = body["prompt"].as_array().unwrap();
        let choices: Vec<Value> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let text = text.as_str().unwrap();
                let option = self
                    .options
                    .iter()
                    .find(|o| text.ends_with(o.as_str()))
                    .unwrap();
                let prompt = &text[..text.len() - option.len()];
                json!({
                    "index": i,
                    "text": text,
                    "logprobs": {
                        "tokens": [prompt, option],
                        "token_logprobs": [null, biased_logprob(prompt, &self.options, option)],
                        "text_offset": [0, prompt.chars().count()],
                    },
                    "finish_reason": "length",
                })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({ "object": "text_completion", "choices": choices }))
    }
}

fn http_backend(server: &MockServer) -> Arc<dyn Backend> {
    let mut s = OpenAiSettings::new(format!("{}/v1", server.uri()), "biased");
    s.mode = Mode::Completion;
    Arc::new(OpenAiBackend::new(s).unwrap())
}

#[tokio::test]
async fn a_server_with_echoed_log_probabilities_is_calibrated_too() {
    let server = MockServer::start().await;
    let options = vec![" positive".to_string(), " negative".to_string()];
    Mock::given(wiremock::matchers::path("/v1/completions"))
        .respond_with(EchoServer { options })
        .mount(&server)
        .await;
    let results = evaluate(
        &sentiment(),
        "calibrate",
        &["scored", "content-free"],
        http_backend(&server),
        Mode::Completion,
        reviews(),
    )
    .await;
    let acc: Vec<f64> = results.iter().map(|r| r.accuracy_majority).collect();
    assert_eq!(acc, [0.5, 1.0]);
    // One request per scored prompt (the query's, and the three content-free ones once).
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!(
        requests,
        10 + 10 + 3,
        "content-free scores are shared by the items"
    );
}

#[tokio::test]
async fn a_server_without_prompt_log_probabilities_is_named() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/v1/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{ "index": 0, "text": "", "logprobs": null, "finish_reason": "length" },
                        { "index": 1, "text": "", "logprobs": null, "finish_reason": "length" }]
        })))
        .mount(&server)
        .await;
    let options = vec![" positive".to_string(), " negative".to_string()];
    let err = http_backend(&server)
        .score(&Prompt::Completion("Q: x\nA:".into()), &options)
        .unwrap()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("gives no log-probabilities"), "{err}");
    assert!(err.contains("127.0.0.1"), "names the server: {err}");
    let chat = http_backend(&server)
        .score(&Prompt::Chat(vec![]), &options)
        .unwrap()
        .await
        .unwrap_err()
        .to_string();
    assert!(chat.contains("--mode completion"), "{chat}");
}

/// Answers with the answer of the last demonstration in its prompt: a model of pure recency.
struct Recency;

impl Backend for Recency {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "recency", Mode::Completion)
    }

    fn stream(&self, r: SampleRequest) -> SampleStream {
        let Prompt::Completion(p) = &r.prompt else {
            panic!("completion prompts only")
        };
        let last = p
            .rsplit("\nA: ")
            .next()
            .and_then(|s| s.lines().next())
            .unwrap_or("")
            .to_string();
        ScriptedBackend::from_texts([last]).stream(r)
    }
}

#[tokio::test]
async fn knn_selection_shows_each_query_its_neighbour() {
    let mut t = sentiment();
    t.answer = AnswerSpec::of(AnswerKind::Text);
    t.instruction = None;
    t.examples = vec![
        example("Which sport has goalies and penalty kicks?", "football"),
        example("Which sport has rackets, nets and a serve?", "tennis"),
        example("Which sport has hoops, dribbling and dunks?", "basketball"),
        example("Which sport has pucks, sticks and ice?", "hockey"),
    ];
    let asks = [
        ("Name the sport with a puck on the ice.", "hockey"),
        (
            "Name the sport where a goalie saves penalty kicks.",
            "football",
        ),
        ("Name the sport with a racket and a serve.", "tennis"),
        (
            "Name the sport of the slam dunk and the hoop.",
            "basketball",
        ),
    ];
    let dataset = Dataset {
        name: "sports".into(),
        items: asks
            .iter()
            .enumerate()
            .map(|(i, (q, a))| Item {
                id: i.to_string(),
                input: q.to_string(),
                targets: vec![a.to_string()],
            })
            .collect(),
        problems: vec![],
    };
    let results = evaluate(
        &t,
        "select",
        &["fixed", "knn:1"],
        Arc::new(Recency),
        Mode::Completion,
        dataset,
    )
    .await;
    let acc: Vec<f64> = results.iter().map(|r| r.accuracy_majority).collect();
    assert_eq!(acc, [0.25, 1.0], "fixed: always hockey; knn: the neighbour");
}

/// The embedded model (Gemma 3 270M, installed by scripts/fetch-model.sh) scoring options.
#[cfg(feature = "local")]
mod embedded {
    use super::*;
    use promptlab::backend::local::{LocalBackend, LocalSettings};

    fn backend() -> Arc<dyn Backend> {
        let path = promptlab::store::models::default_model_path().expect("a cache dir");
        assert!(
            path.is_file(),
            "the embedded model is missing: run scripts/fetch-model.sh"
        );
        Arc::new(LocalBackend::spawn(LocalSettings::new(path)).unwrap())
    }

    async fn score(b: &dyn Backend, prompt: &str, options: &[&str]) -> Vec<f64> {
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        let s = b
            .score(&Prompt::Completion(prompt.into()), &options)
            .expect("the embedded model scores")
            .await
            .unwrap();
        assert!(s.prompt_tokens > 0, "the prompt's tokens are counted");
        s.logprobs
    }

    #[tokio::test]
    async fn option_scores_are_sums_of_token_log_probabilities() {
        let b = backend();
        let prompt = "red apple, red apple, red apple, red";
        let s = score(b.as_ref(), prompt, &[" apple", " banana", " apple, red"]).await;
        assert!(s.iter().all(|x| *x < 0.0 && x.is_finite()), "{s:?}");
        assert!(s[0] > s[1], "the repeated word wins: {s:?}");
        // A longer option is its first part plus the rest after it (up to the rounding of
        // llama.cpp's quantized kernels, which differs with the batch's shape: 0.02 to 0.055
        // seen), the rest scored in a fresh context.
        let extended = format!("{prompt} apple");
        let rest = score(backend().as_ref(), &extended, &[", red"]).await;
        assert!(rest[0] < -0.5, "the rest is worth checking: {rest:?}");
        assert!((s[2] - (s[0] + rest[0])).abs() < 0.1, "{s:?} {rest:?}");
        // The scorer keeps its last prompt, so the same question after `prompt` evaluates
        // only " apple", alone in its batch: a shape of its own, within 0.1 of a fresh
        // context (0.055 seen).
        let kept = score(b.as_ref(), &extended, &[", red"]).await;
        assert!((kept[0] - rest[0]).abs() < 0.1, "{kept:?} {rest:?}");
        // The same question twice gives the same scores (nothing sampled).
        assert_eq!(score(b.as_ref(), prompt, &[" apple"]).await[0], s[0]);
    }

    #[tokio::test]
    async fn the_embedded_model_answers_a_label_task_by_scored_options() {
        let mut t = sentiment();
        t.examples = vec![
            example("What a wonderful, moving film.", "positive"),
            example("A boring, badly acted mess.", "negative"),
        ];
        let items = [
            ("I loved every minute of it, a delight.", "positive"),
            ("Terrible plot and awful acting, I hated it.", "negative"),
            ("Beautiful, funny and warm.", "positive"),
            ("A waste of time, dull and ugly.", "negative"),
        ];
        let dataset = Dataset {
            name: "tiny-reviews".into(),
            items: items
                .iter()
                .enumerate()
                .map(|(i, (q, a))| Item {
                    id: i.to_string(),
                    input: q.to_string(),
                    targets: vec![a.to_string()],
                })
                .collect(),
            problems: vec![],
        };
        let results = evaluate(
            &t,
            "calibrate",
            &["scored", "content-free"],
            backend(),
            Mode::Completion,
            dataset,
        )
        .await;
        for r in &results {
            for item in &r.per_item {
                let p = &item.paths[0];
                assert_eq!(p.error, None);
                assert_eq!(p.stages[0].finish_reason.as_deref(), Some("scored"));
                assert!(item.majority.is_some(), "every item gets a label");
            }
            eprintln!(
                "{}: {:.2} (before calibration {:?})",
                r.name, r.accuracy_majority, r.accuracy_uncalibrated
            );
        }
        assert!(results[1].accuracy_uncalibrated.is_some());
    }
}
