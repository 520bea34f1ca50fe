//! The OpenAI-compatible backend against a real local HTTP server (wiremock on 127.0.0.1):
//! streaming on both endpoints, retries, broken streams, malformed JSON, auth failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings, ServerN};
use promptlab::backend::{Backend, BackendError, SampleRequest, StreamEvent};
use promptlab::core::render::{Message, Prompt, Role};
use promptlab::core::template::Strategy;
use promptlab::core::template::Thinking;
use promptlab::engine::{RunPlan, run};
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn sse(events: &[serde_json::Value]) -> String {
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    body
}

fn chat_stream(text: &str) -> String {
    let words: Vec<String> = text.split_inclusive(' ').map(String::from).collect();
    let mut events: Vec<serde_json::Value> = words
        .iter()
        .map(|w| serde_json::json!({"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]}))
        .collect();
    // vLLM / llama.cpp style: an unknown extra field, then finish and usage.
    events.push(serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": 42}]}));
    events.push(serde_json::json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": words.len()}}));
    sse(&events)
}

fn sse_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_string(body)
}

fn settings(server: &MockServer) -> OpenAiSettings {
    let mut s = OpenAiSettings::new(format!("{}/v1", server.uri()), "test-model");
    s.retry.base_delay = Duration::from_millis(5);
    s.retry.max_delay = Duration::from_millis(20);
    s
}

fn request(prompt: Prompt) -> SampleRequest {
    SampleRequest {
        prompt,
        stop: vec!["\nQ:".into()],
        max_tokens: 64,
        temperature: 0.7,
        top_p: 0.95,
        top_k: 40,
        seed: 3,
        thinking: Thinking::Auto,
        reasoning_effort: None,
    }
}

fn chat() -> Prompt {
    Prompt::Chat(vec![Message::new(Role::User, "2+3?")])
}

async fn collect(
    b: &OpenAiBackend,
    p: Prompt,
) -> Result<(String, promptlab::backend::Finish), BackendError> {
    let mut s = b.stream(request(p));
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

#[tokio::test]
async fn chat_streams_text_usage_and_sends_seed_and_stop() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(serde_json::json!({"model": "test-model", "stream": true, "seed": 3, "stop": ["\nQ:"], "max_tokens": 64})))
        .respond_with(sse_response(chat_stream("So 2 + 3 = 5. The answer is 5.")))
        .expect(1)
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let (text, finish) = collect(&b, chat()).await.unwrap();
    assert_eq!(text, "So 2 + 3 = 5. The answer is 5.");
    assert_eq!(finish.reason, "stop");
    assert_eq!(finish.usage.prompt_tokens, 11);
}

#[tokio::test]
async fn completions_endpoint_with_logprobs() {
    let server = MockServer::start().await;
    let events = vec![
        serde_json::json!({"choices": [{"index": 0, "text": " The answer", "logprobs": {"token_logprobs": [-0.5, -0.25]}, "finish_reason": null}]}),
        serde_json::json!({"choices": [{"index": 0, "text": " is 5.", "logprobs": {"token_logprobs": [-0.25, null]}, "finish_reason": "length"}]}),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(body_partial_json(
            serde_json::json!({"prompt": "Q: 2+3?\nA:", "logprobs": 5}),
        ))
        .respond_with(sse_response(sse(&events)))
        .mount(&server)
        .await;
    let mut s = settings(&server);
    s.logprobs = true;
    let b = OpenAiBackend::new(s).unwrap();
    let (text, finish) = collect(&b, Prompt::Completion("Q: 2+3?\nA:".into()))
        .await
        .unwrap();
    assert_eq!(text, " The answer is 5.");
    assert_eq!(finish.reason, "length");
    let lp = finish.logprob.unwrap();
    assert_eq!((lp.sum, lp.tokens), (-1.0, 3));
    // No candidates were sent: no confidence is made up.
    assert_eq!(finish.confidence, None);
}

#[tokio::test]
async fn top_logprobs_give_each_path_a_confidence_in_chat_and_completions() {
    let server = MockServer::start().await;
    let top = |lps: &[f64]| -> Vec<serde_json::Value> {
        lps.iter()
            .map(|l| serde_json::json!({"token": "x", "logprob": l}))
            .collect()
    };
    let chat_events = vec![
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": "5"}, "logprobs": {"content": [
            {"token": "5", "logprob": -0.01, "top_logprobs": top(&[-0.01, -6.0, -7.0, -8.0, -9.0])}
        ]}, "finish_reason": null}]}),
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": "."}, "logprobs": {"content": [
            {"token": ".", "logprob": -0.5, "top_logprobs": top(&[-0.5, -1.0, -2.0, -3.0, -3.5])}
        ]}, "finish_reason": "stop"}]}),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            serde_json::json!({"logprobs": true, "top_logprobs": 5}),
        ))
        .respond_with(sse_response(sse(&chat_events)))
        .mount(&server)
        .await;
    let completion_events = vec![
        serde_json::json!({"choices": [{"index": 0, "text": " 5", "logprobs": {
        "token_logprobs": [-0.01],
        "top_logprobs": [{" 5": -0.01, " 6": -6.0, " 4": -7.0, " 7": -8.0, " 3": -9.0}]
    }, "finish_reason": "stop"}]}),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(body_partial_json(serde_json::json!({"logprobs": 5})))
        .respond_with(sse_response(sse(&completion_events)))
        .mount(&server)
        .await;
    let mut s = settings(&server);
    s.logprobs = true;
    let b = OpenAiBackend::new(s).unwrap();
    let (_, finish) = collect(&b, chat()).await.unwrap();
    // Two tokens, one window: the mean of 30.01/5 and 10/5.
    let c = finish.confidence.unwrap();
    // Token confidences are kept as f32.
    assert!((c - (30.01 / 5.0 + 10.0 / 5.0) / 2.0).abs() < 1e-5, "{c}");
    let (_, finish) = collect(&b, Prompt::Completion("Q: 2+3?\nA:".into()))
        .await
        .unwrap();
    assert!((finish.confidence.unwrap() - 30.01 / 5.0).abs() < 1e-5);
}

/// Fails `failures` times with `status` (and Retry-After), then streams.
struct FlakyThenOk {
    failures: usize,
    status: u16,
    retry_after: Option<&'static str>,
    seen: Arc<std::sync::atomic::AtomicUsize>,
}

impl Respond for FlakyThenOk {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < self.failures {
            let mut r = ResponseTemplate::new(self.status).set_body_string("slow down");
            if let Some(ra) = self.retry_after {
                r = r.insert_header("retry-after", ra);
            }
            r
        } else {
            sse_response(chat_stream("The answer is 5."))
        }
    }
}

#[tokio::test]
async fn retries_429_honouring_retry_after_and_500() {
    for (status, retry_after) in [(429, Some("1")), (500, None), (503, None)] {
        let server = MockServer::start().await;
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        Mock::given(method("POST"))
            .respond_with(FlakyThenOk {
                failures: 2,
                status,
                retry_after,
                seen: seen.clone(),
            })
            .mount(&server)
            .await;
        let b = OpenAiBackend::new(settings(&server)).unwrap();
        let started = Instant::now();
        let (text, _) = collect(&b, chat()).await.unwrap();
        assert_eq!(text, "The answer is 5.");
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "status {status}"
        );
        assert_eq!((b.stats().sent(), b.stats().retries()), (3, 2));
        if retry_after.is_some() {
            assert!(
                started.elapsed() >= Duration::from_secs(2),
                "waited as told: {:?}",
                started.elapsed()
            );
        }
    }
}

#[tokio::test]
async fn gives_up_after_bounded_retries_with_status_and_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    let mut s = settings(&server);
    s.retry.max_retries = 2;
    let b = OpenAiBackend::new(s).unwrap();
    let err = collect(&b, chat()).await.unwrap_err();
    assert_eq!(
        err,
        BackendError::Http {
            status: 502,
            message: "bad gateway".into()
        }
    );
    assert_eq!(b.stats().sent(), 3);
}

#[tokio::test]
async fn unauthorized_and_unknown_model_are_clear_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})))
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let err = collect(&b, chat()).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Auth { status: 401, message } if message.contains("Incorrect API key")),
        "{err}"
    );
    assert_eq!(b.stats().sent(), 1);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(serde_json::json!({"error": "model \"nope\" not found"})),
        )
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let err = collect(&b, chat()).await.unwrap_err();
    assert_eq!(
        err,
        BackendError::NotFound("model \"nope\" not found".into())
    );
}

#[tokio::test]
async fn cut_stream_and_malformed_json_are_transient_errors() {
    let server = MockServer::start().await;
    let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The answer\"}}]}\n\n";
    Mock::given(method("POST"))
        .respond_with(sse_response(cut.into()))
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let err = collect(&b, chat()).await.unwrap_err();
    assert_eq!(err, BackendError::StreamCut);
    assert!(err.is_transient());

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_response("data: {not json\n\n".into()))
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let err = collect(&b, chat()).await.unwrap_err();
    assert!(matches!(err, BackendError::Malformed(_)), "{err}");
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut s = OpenAiSettings::new(format!("http://127.0.0.1:{port}/v1"), "m");
    s.retry.max_retries = 1;
    s.retry.base_delay = Duration::from_millis(1);
    let b = OpenAiBackend::new(s).unwrap();
    let err = collect(&b, chat()).await.unwrap_err();
    assert!(matches!(err, BackendError::Connect(_)), "{err}");
}

/// The engine over HTTP: a cut stream is sampled afresh, and N paths vote.
struct CutOnce(Arc<std::sync::atomic::AtomicUsize>);

impl Respond for CutOnce {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let seed = body["seed"].as_u64().unwrap();
        if seed == 1 && self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return sse_response(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The ans\"}}]}\n\n"
                    .into(),
            );
        }
        let answer = if seed.is_multiple_of(3) { 6 } else { 18 };
        sse_response(chat_stream(&format!(
            "16 - 3 - 4 = 9. 9 * 2 = {answer}. The answer is {answer}."
        )))
    }
}

#[tokio::test]
async fn engine_votes_over_http_and_resamples_cut_streams() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(CutOnce(Arc::default()))
        .mount(&server)
        .await;
    let b = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = 6;
    assert_eq!(t.strategy, Strategy::Cot);
    let query = t.query.clone().unwrap();
    let plan = Arc::new(RunPlan::new(&t, &query, promptlab::core::render::Mode::Chat).unwrap());
    let result = run(b, plan, None, CancellationToken::new()).await;
    assert_eq!(result.succeeded(), 6);
    assert_eq!(result.tally.winner.as_deref(), Some("18"));
    assert_eq!(
        result.tally.entry(Some("6")).unwrap().votes,
        2,
        "seeds 3 and 6"
    );
    assert_eq!(result.paths[0].resamples, 1);
    assert_eq!(
        result.paths[0].text(),
        "16 - 3 - 4 = 9. 9 * 2 = 18. The answer is 18."
    );
}

/// A reasoning model's reply: `thinking` in `field` (or inline in `content` when `field` is
/// "inline"), then `answer`; chunks of a few characters, so tags split across them; path
/// `index` 1 interleaved (n > 1 replies) must never leak into path 0.
fn reasoning_stream(field: &str, thinking: &str, answer: &str, finish: &str) -> String {
    let chunks = |text: &str| -> Vec<String> {
        text.chars()
            .collect::<Vec<_>>()
            .chunks(3)
            .map(|c| c.iter().collect())
            .collect()
    };
    let mut events = Vec::new();
    let mut delta = |key: &str, text: String| {
        events.push(serde_json::json!({"choices": [{"index": 0, "delta": {key: text}}]}));
        events.push(serde_json::json!({"choices": [{"index": 1, "delta": {key: "OTHER PATH The answer is 99."}}]}));
    };
    if field == "inline" {
        for c in chunks(&format!("<think>{thinking}</think>\n\n{answer}")) {
            delta("content", c);
        }
    } else {
        for c in chunks(thinking) {
            delta(field, c);
        }
        for c in chunks(answer) {
            delta("content", c);
        }
    }
    events
        .push(serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}));
    events.push(
        serde_json::json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 60,
        "completion_tokens_details": {"reasoning_tokens": 41}}}),
    );
    sse(&events)
}

/// The thinking has a decoy: a first guess of 41, corrected before the answer.
const DECOY: &str = "First guess: the answer is 41. No wait, 6 * 7 = 42, so 42.";

async fn run_reasoning(body: String, max_tokens: u32) -> promptlab::engine::RunResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    // One request per path: index 1 of each reply is another path's, never this one's.
    let mut s = settings(&server);
    s.server_n = ServerN::Off;
    let b = Arc::new(OpenAiBackend::new(s).unwrap());
    let (mut t, _) = resolve("gsm8k-direct").unwrap();
    t.sampling.n = 2;
    t.sampling.max_tokens = max_tokens;
    let plan =
        Arc::new(RunPlan::new(&t, "6 times 7?", promptlab::core::render::Mode::Chat).unwrap());
    run(b, plan, None, CancellationToken::new()).await
}

#[tokio::test]
async fn thinking_is_kept_apart_and_never_voted_on() {
    for field in ["reasoning", "reasoning_content", "inline"] {
        // The answer text has no trigger phrase: read with the thinking, the decoy's "the
        // answer is 41" would win.
        let r = run_reasoning(reasoning_stream(field, DECOY, "42", "stop"), 256).await;
        for p in &r.paths {
            assert_eq!(p.thinking(), DECOY, "{field}");
            assert_eq!(p.text().trim(), "42", "{field}");
            assert_eq!(
                p.answer.as_deref(),
                Some("42"),
                "{field}: read from the answer, not the thinking"
            );
            assert!(!p.text().contains("99"), "{field}: another index leaked in");
        }
        assert_eq!(r.tally.winner.as_deref(), Some("42"), "{field}");
        assert_eq!(
            r.paths[0].reasoning_tokens(),
            41,
            "{field}: the server's count"
        );
    }
}

#[tokio::test]
async fn a_think_block_cut_at_max_tokens_is_truncated_with_no_answer() {
    let r = run_reasoning(reasoning_stream("inline", DECOY, "", "length"), 64).await;
    let p = &r.paths[0];
    assert!(p.truncated() && p.truncated_in_thinking());
    assert_eq!(p.answer, None, "no answer was given; the decoy is not one");
    assert_eq!(r.tally.winner, None);
}

#[tokio::test]
async fn the_thinking_switch_and_effort_are_sent_as_servers_expect() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(serde_json::json!({
            "chat_template_kwargs": {"enable_thinking": false},
            "reasoning_effort": "high",
        })))
        .respond_with(sse_response(chat_stream("5")))
        .expect(1)
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let mut req = request(chat());
    req.thinking = Thinking::Off;
    req.reasoning_effort = Some(promptlab::core::template::Effort::High);
    let mut s = b.stream(req);
    while let Some(ev) = s.next().await {
        if matches!(ev.unwrap(), StreamEvent::Done(_)) {
            break;
        }
    }
    // Auto sends neither.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    let (text, _) = collect(&b, chat()).await.unwrap();
    assert!(
        !text.contains("chat_template_kwargs") && !text.contains("reasoning_effort"),
        "{text}"
    );
}

/// Replies with the request body as the text.
struct Echo;

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&req.body).replace(' ', "_");
        sse_response(chat_stream(&body))
    }
}

/// OpenAI's reasoning models refuse `max_tokens`; the backend asks again once with
/// `max_completion_tokens` and keeps using it.
struct WantsCompletionTokens;

impl Respond for WantsCompletionTokens {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        if body.get("max_tokens").is_some() {
            return ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}));
        }
        assert_eq!(body["max_completion_tokens"], 64);
        sse_response(chat_stream("The answer is 5."))
    }
}

#[tokio::test]
async fn max_completion_tokens_is_used_when_the_server_asks_for_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(WantsCompletionTokens)
        .expect(3)
        .mount(&server)
        .await;
    let b = OpenAiBackend::new(settings(&server)).unwrap();
    assert_eq!(collect(&b, chat()).await.unwrap().0, "The answer is 5.");
    // Remembered: the second request goes straight to max_completion_tokens.
    assert_eq!(collect(&b, chat()).await.unwrap().0, "The answer is 5.");
}

/// A server that cannot take concurrent requests (llama-cpp-python's default): a request that
/// arrives while another reply is still being sent gets a stream cut short.
struct OneAtATime {
    busy_until: std::sync::Mutex<Instant>,
    cut: Arc<std::sync::atomic::AtomicUsize>,
}

impl Respond for OneAtATime {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let mut busy = self.busy_until.lock().unwrap();
        if now < *busy {
            self.cut.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return sse_response(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"16 - 3\"}}]}\n\n".into(),
            );
        }
        let took = Duration::from_millis(120);
        *busy = now + took;
        sse_response(chat_stream("16 - 3 - 4 = 9. 9 * 2 = 18. The answer is 18.")).set_delay(took)
    }
}

#[tokio::test]
async fn a_server_that_cuts_concurrent_streams_gets_one_at_a_time_and_every_path_finishes() {
    let server = MockServer::start().await;
    let cut = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Mock::given(method("POST"))
        .respond_with(OneAtATime {
            busy_until: std::sync::Mutex::new(Instant::now()),
            cut: cut.clone(),
        })
        .mount(&server)
        .await;
    let b = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = 4;
    let query = t.query.clone().unwrap();
    let mut plan = RunPlan::new(&t, &query, promptlab::core::render::Mode::Chat).unwrap();
    plan.concurrency = 16;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let result = run(b, Arc::new(plan), Some(tx), CancellationToken::new()).await;
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the server did cut streams"
    );
    assert_eq!(
        result.succeeded(),
        4,
        "every path finishes: {:?}",
        result.paths.iter().map(|p| &p.error).collect::<Vec<_>>()
    );
    assert_eq!(result.tally.winner.as_deref(), Some("18"));
    let mut throttled = None;
    while let Ok(e) = rx.try_recv() {
        if let promptlab::engine::EngineEvent::Throttled { limit, .. } = e {
            throttled = Some(limit);
        }
    }
    assert_eq!(
        throttled,
        Some(1),
        "the run said so, and went one at a time"
    );
}

/// A server that honours `n`: each choice streams its own reply, chunks of the choices
/// interleaved, one usage for the whole request.
struct HonoursN;

impl Respond for HonoursN {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let n = body["n"].as_u64().unwrap_or(1) as usize;
        let mut events = Vec::new();
        for word in ["Path ", "{i}: ", "the answer is ", "{a}."] {
            for i in 0..n {
                let w = word
                    .replace("{i}", &i.to_string())
                    .replace("{a}", if i % 3 == 1 { "7" } else { "5" });
                events
                    .push(serde_json::json!({"choices": [{"index": i, "delta": {"content": w}}]}));
            }
        }
        let per_choice = body["messages"].to_string().contains("per choice");
        for i in 0..n {
            // llama.cpp's server: each choice's usage on its last chunk.
            let usage = per_choice
                .then(|| serde_json::json!({"prompt_tokens": 50, "completion_tokens": 4 + i}));
            events.push(serde_json::json!({"choices": [{"index": i, "delta": {}, "finish_reason": "stop"}], "usage": usage}));
        }
        if !per_choice {
            events.push(serde_json::json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 4 * n}}));
        }
        sse_response(sse(&events))
    }
}

async fn direct_run(b: Arc<OpenAiBackend>, n: u32) -> promptlab::engine::RunResult {
    let (mut t, _) = resolve("gsm8k-direct").unwrap();
    t.sampling.n = n;
    let plan = Arc::new(RunPlan::new(&t, "2+3?", promptlab::core::render::Mode::Chat).unwrap());
    run(b, plan, None, CancellationToken::new()).await
}

#[tokio::test]
async fn a_server_that_honours_n_gets_one_request_for_all_paths() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(HonoursN)
        .expect(1)
        .mount(&server)
        .await;
    let b = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let r = direct_run(b.clone(), 5).await;
    assert_eq!(r.succeeded(), 5);
    for p in &r.paths {
        assert!(
            p.text().starts_with(&format!("Path {}:", p.index)),
            "{:?}",
            p.text()
        );
    }
    assert_eq!(r.tally.winner.as_deref(), Some("5"));
    assert_eq!(r.tally.entry(Some("7")).unwrap().paths, vec![1, 4]);
    // The prompt was billed once.
    assert_eq!(r.usage.prompt_tokens, 50);
    assert_eq!(r.usage.completion_tokens, 20);
    let sent = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["n"], 5);
    assert_eq!(body["seed"], 1, "the batch is seeded as its first path");
    assert_eq!(b.request_stats().unwrap().0, 1);
}

#[tokio::test]
async fn a_usage_per_choice_is_each_paths_own() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(HonoursN)
        .mount(&server)
        .await;
    let b = Arc::new(OpenAiBackend::new(settings(&server)).unwrap());
    let (mut t, _) = resolve("gsm8k-direct").unwrap();
    t.sampling.n = 3;
    let plan = Arc::new(
        RunPlan::new(&t, "usage per choice?", promptlab::core::render::Mode::Chat).unwrap(),
    );
    let r = run(b, plan, None, CancellationToken::new()).await;
    let counts: Vec<u32> = r
        .paths
        .iter()
        .map(|p| p.usage().completion_tokens)
        .collect();
    assert_eq!(counts, vec![4, 5, 6]);
    assert!(r.paths.iter().all(|p| p.usage().prompt_tokens == 50));
}

#[tokio::test]
async fn a_server_that_ignores_n_is_remembered_and_gets_one_request_per_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_response(chat_stream("The answer is 5.")))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let memory = dir.path().join("server-n.json");
    let backend = || {
        let mut s = settings(&server);
        s.server_n_memory = Some(memory.clone());
        Arc::new(OpenAiBackend::new(s).unwrap())
    };
    let r = direct_run(backend(), 4).await;
    assert_eq!(
        r.succeeded(),
        4,
        "{:?}",
        r.paths.iter().map(|p| &p.error).collect::<Vec<_>>()
    );
    assert!(
        r.paths.iter().all(|p| p.resamples == 0),
        "a left-out path is no failure"
    );
    let sent = server.received_requests().await.unwrap();
    assert_eq!(
        sent.len(),
        4,
        "the batch, then one request per path it left out"
    );
    let seeds: Vec<u64> = sent[1..]
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["seed"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![2, 3, 4], "each alone with its own seed");
    let saved = std::fs::read_to_string(&memory).unwrap();
    assert!(saved.contains("test-model"), "{saved}");
    // A later process knows: no `n` at all.
    let r = direct_run(backend(), 4).await;
    assert_eq!(r.succeeded(), 4);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 8);
    assert!(sent[4..].iter().all(|r| {
        serde_json::from_slice::<serde_json::Value>(&r.body)
            .unwrap()
            .get("n")
            .is_none()
    }));
    // `on` asks again whatever was learned; `off` never asks.
    let mut s = settings(&server);
    s.server_n_memory = Some(memory.clone());
    s.server_n = ServerN::On;
    direct_run(Arc::new(OpenAiBackend::new(s).unwrap()), 2).await;
    let sent = server.received_requests().await.unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sent[8].body).unwrap()["n"],
        2
    );
    let mut s = settings(&server);
    s.server_n = ServerN::Off;
    direct_run(Arc::new(OpenAiBackend::new(s).unwrap()), 2).await;
    let sent = server.received_requests().await.unwrap();
    assert!(sent[10..].iter().all(|r| {
        serde_json::from_slice::<serde_json::Value>(&r.body)
            .unwrap()
            .get("n")
            .is_none()
    }));
}
