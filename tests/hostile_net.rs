//! What a server does to streams and time (issue 23, the network part), against the hostile
//! server of `tests/hostile/` and through the real binary: streams cut under load, endless
//! streams, silence, replies that are not what they claim, credentials in URLs.

mod common;
mod hostile;

use std::sync::Arc;
use std::time::Duration;

use common::{ok_json, promptlab};
use hostile::Hostile;
use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings, ServerN};
use promptlab::engine::{RunPlan, RunResult, run};
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A backend on misbehaviour `mode`, one request per path, every timeout `timeout`, quick
/// retries.
fn backend(server: &Hostile, mode: &str, timeout: Duration) -> Arc<OpenAiBackend> {
    let mut s = OpenAiSettings::new(server.url(mode), "m");
    s.server_n = ServerN::Off;
    s.timeouts.connect = timeout;
    s.timeouts.first_byte = timeout;
    s.timeouts.read = timeout;
    s.retry.base_delay = Duration::from_millis(5);
    Arc::new(OpenAiBackend::new(s).unwrap())
}

/// `n` paths of gsm8k-cot, at most `max_tokens` each.
async fn sample(backend: Arc<OpenAiBackend>, n: u32, max_tokens: u32) -> RunResult {
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = n;
    t.sampling.max_tokens = max_tokens;
    let plan = Arc::new(RunPlan::new(&t, "Eggs?", promptlab::core::render::Mode::Chat).unwrap());
    run(backend, plan, None, CancellationToken::new()).await
}

/// Completion requests the server saw.
fn completions(server: &Hostile) -> usize {
    server
        .seen()
        .iter()
        .filter(|r| r.path.ends_with("/completions"))
        .count()
}

/// The errors of the paths that did not answer, in a run's or an evaluation's JSON.
fn errors(paths: &[serde_json::Value]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p["error"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_server_that_cuts_streams_under_load_answers_every_path_of_a_run() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["run", "-n", "8", "--json"])
        .args(["--base-url", &server.url("crowded"), "--model", "m"])
        .output()
        .unwrap();
    let v = ok_json(&out);
    let paths = v["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 8);
    assert_eq!(errors(paths), Vec::<String>::new(), "every path answers");
    assert_eq!(v["answer"], "18");
    cut_and_said(&server, &out, "the server seems overloaded");
}

/// The server did cut streams, and the lowered concurrency was said (`said`).
fn cut_and_said(server: &Hostile, out: &std::process::Output, said: &str) {
    assert!(
        server.state.counter("cut") > 0,
        "the server did cut streams"
    );
    let stderr = stderr_of(out);
    assert!(stderr.contains(said), "{stderr}");
}

/// `eval -n 5` over 30 items at the default concurrency: all 150 samples answered.
fn eval_against_crowded(server_n: &str) {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["eval", "-t", "gsm8k-cot", "-d", "assets/sums.jsonl"])
        .args(["--limit", "30", "-n", "5", "--json", "--no-cache"])
        .args(["--base-url", &server.url("crowded"), "--model", "m"])
        .args(["--server-n", server_n])
        .output()
        .unwrap();
    let v = ok_json(&out);
    let variant = &v["variants"][0];
    let samples = &variant["samples"];
    let paths: Vec<serde_json::Value> = variant["per_item"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["paths"].as_array().unwrap().clone())
        .collect();
    let mut failures = errors(&paths);
    failures.dedup();
    assert_eq!(
        (samples["succeeded"].as_u64(), samples["failed"].as_u64()),
        (Some(150), Some(0)),
        "--server-n {server_n}: every sample answered; errors: {failures:?}"
    );
    cut_and_said(&server, &out, "concurrency was lowered");
}

#[test]
fn a_server_that_cuts_streams_under_load_answers_every_sample_of_an_eval() {
    eval_against_crowded("off");
}

#[test]
fn a_server_that_cuts_streams_under_load_answers_every_sample_of_an_eval_with_server_n() {
    eval_against_crowded("on");
}

// Endless streams.

#[test]
fn a_stream_that_ignores_max_tokens_is_cut_well_past_it_and_marked_truncated() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    for server_n in ["off", "on"] {
        let out = promptlab(&dirs)
            .args(["run", "-n", "2", "--max-tokens", "16", "--json"])
            .args(["--base-url", &server.url("endless"), "--model", "m"])
            .args(["--server-n", server_n])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let v = ok_json(&out);
        assert_eq!(v["samples"]["truncated"], 2, "--server-n {server_n}");
        for p in v["paths"].as_array().unwrap() {
            assert_eq!(p["finish_reason"], "length");
            assert_eq!(p["truncated"], true);
            // 16 tokens: cut after 2 * 16 + 16 chunks or 16 * 16 + 64 characters.
            let text = p["text"].as_str().unwrap();
            assert!(
                (200..=16 * 16 + 64 + 16).contains(&text.chars().count()),
                "{text}"
            );
        }
    }
}

// Timeouts.

/// `run -n 1 FLAG 0.5` against `mode`: it fails with `message`, after one request (neither
/// HTTP retries, 4 by default, nor resamples wait the timeout out again).
fn times_out_once(mode: &str, flag: &str, message: &str) {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["run", "-n", "1", flag, "0.5"])
        .args(["--base-url", &server.url(mode), "--model", "m"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(stderr.contains(message), "{stderr}");
    assert_eq!(completions(&server), 1);
}

#[test]
fn a_server_that_sends_no_headers_fails_once_after_the_first_byte_timeout_named_with_its_flag() {
    times_out_once(
        "silent",
        "--first-byte-timeout",
        "the server stopped answering: no response headers within 0.5 s (--first-byte-timeout)",
    );
}

#[test]
fn a_stream_that_stalls_fails_once_after_the_read_timeout_named_with_its_flag() {
    times_out_once(
        "stall",
        "--read-timeout",
        "the server stopped answering: nothing arrived for 0.5 s mid-stream (--read-timeout)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stopped_answering_is_not_asked_again_for_every_path() {
    let server = Hostile::start().await;
    let backend = backend(&server, "silent", Duration::from_millis(300));
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = 8;
    let mut plan = RunPlan::new(&t, "Eggs?", promptlab::core::render::Mode::Chat).unwrap();
    plan.concurrency = 2;
    let result = run(backend, Arc::new(plan), None, CancellationToken::new()).await;
    assert_eq!(result.succeeded(), 0);
    // Two waited out the timeout; the six after them were not sent.
    assert_eq!(completions(&server), 2);
    let errors: Vec<&str> = result
        .paths
        .iter()
        .filter_map(|p| p.error.as_deref())
        .collect();
    let not_sent = "not sent: the server stopped answering: no response headers within 0.3 s";
    assert_eq!(
        errors.iter().filter(|e| e.starts_with(not_sent)).count(),
        6,
        "{errors:?}"
    );
    for p in result.paths.iter().filter(|p| p.stages.is_empty()) {
        assert!(!p.shared_request, "a path that sent nothing shares nothing");
    }
}

/// `n` paths against `mode`, whose first stream breaks: every path answers, and the broken
/// one was sampled again once.
async fn sampled_again_once(mode: &str, n: u32, timeout: Duration) {
    let server = Hostile::start().await;
    let result = sample(backend(&server, mode, timeout), n, 64).await;
    for p in &result.paths {
        assert!(p.succeeded(), "{mode}: {:?}", p.error);
        assert_eq!(p.answer.as_deref(), Some("18"));
    }
    let resamples: u32 = result.paths.iter().map(|p| p.resamples).sum();
    assert_eq!(resamples, 1, "{mode}");
    assert_eq!(completions(&server), n as usize + 1, "{mode}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stalls_while_the_server_answers_others_is_sampled_again() {
    sampled_again_once("stall-first", 3, Duration::from_millis(400)).await;
}

#[tokio::test]
async fn a_reset_stream_is_sampled_again() {
    sampled_again_once("reset-first", 1, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_stream_that_stalls_every_time_fails_with_its_reason_and_keeps_what_arrived() {
    let server = Hostile::start().await;
    let result = sample(backend(&server, "stall", Duration::from_millis(300)), 1, 64).await;
    let p = &result.paths[0];
    assert!(!p.succeeded());
    assert_eq!(
        p.error.as_deref(),
        Some("the server stopped answering: nothing arrived for 0.3 s mid-stream (--read-timeout)")
    );
    assert!(p.text().starts_with("The ans"), "{:?}", p.text());
    // Nothing else was heard from the server: asking again would only wait again.
    assert_eq!(p.resamples, 0);
    assert_eq!(completions(&server), 1);
}

#[tokio::test]
async fn a_long_stream_that_keeps_sending_is_never_cut() {
    let server = Hostile::start().await;
    // 8 words 100 ms apart: longer than every timeout, never silent for one.
    let result = sample(backend(&server, "slow", Duration::from_millis(300)), 1, 64).await;
    let p = &result.paths[0];
    assert!(p.succeeded(), "{:?}", p.error);
    assert_eq!(p.resamples, 0);
    assert!(p.latency_ms >= 700, "{}", p.latency_ms);
}

#[test]
fn a_timeout_of_zero_or_less_or_not_a_number_is_refused_with_one_line() {
    let dirs = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--read-timeout", "0"),
        ("--first-byte-timeout", "-1"),
        ("--connect-timeout", "soon"),
        ("--read-timeout", "NaN"),
    ] {
        let out = promptlab(&dirs)
            .args(["run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = stderr_of(&out);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!(
                "error: invalid value '{value}' for '{flag} <SECS>'"
            )),
            "{stderr}"
        );
    }
}

// Replies that are not what they claim.

/// `run -n 4` against `mode`, one request per path: it fails saying `expected`, and no line
/// calls the server overloaded.
fn refused(server: &Hostile, mode: &str, expected: &str) {
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["run", "-n", "4", "--server-n", "off"])
        .args(["--base-url", &server.url(mode), "--model", "m"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{mode}: {stderr}");
    assert!(stderr.contains(expected), "{mode}: {stderr}");
    assert!(!stderr.contains("overloaded"), "{mode}: {stderr}");
}

#[test]
fn a_page_or_a_whole_json_reply_is_reported_as_what_it_is_and_not_asked_again() {
    let (server, _rt) = Hostile::start_in_background();
    refused(
        &server,
        "html",
        "the server answered text/html; charset=utf-8, not a stream of events: <!DOCTYPE html> <html><head><title>Welcome to nginx!</title></head>",
    );
    refused(
        &server,
        "json",
        r#"the server answered application/json, not a stream of events: {"choices":"#,
    );
    // One request per path: the same page would come back.
    assert_eq!(completions(&server), 8);
}

#[test]
fn a_stream_without_choices_or_with_choices_nobody_asked_for_says_so() {
    let (server, _rt) = Hostile::start_in_background();
    refused(
        &server,
        "no-choices",
        "malformed response: the reply had no choices",
    );
    refused(
        &server,
        "index-7",
        "malformed response: choice index 7 when 1 was asked for",
    );
}

#[tokio::test]
async fn a_request_with_n_answered_at_another_index_says_how_many_were_asked_for() {
    use futures::StreamExt;
    use promptlab::backend::{Backend, BackendError, SampleRequest};
    let server = Hostile::start().await;
    let mut s = OpenAiSettings::new(server.url("index-7"), "m");
    s.server_n = ServerN::On;
    let b = OpenAiBackend::new(s).unwrap();
    let request = SampleRequest {
        prompt: promptlab::core::render::Prompt::Completion("2+3?".into()),
        stop: vec![],
        max_tokens: 16,
        temperature: 0.7,
        top_p: 1.0,
        top_k: 0,
        seed: 1,
        thinking: promptlab::core::template::Thinking::Auto,
        reasoning_effort: None,
    };
    let streams = b.stream_batch(request, 4).unwrap();
    for mut s in streams {
        let mut last = None;
        while let Some(ev) = s.next().await {
            last = Some(ev);
        }
        assert_eq!(
            last,
            Some(Err(BackendError::Malformed(
                "choice index 7 when 4 were asked for".into()
            )))
        );
    }
}

#[test]
fn a_401_from_models_says_authentication_failed() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["run", "--base-url", &server.url("auth")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!(
            "authentication failed (HTTP 401) at {}/models",
            server.url("auth")
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("--model"), "{stderr}");
}

// Credentials in URLs.

/// `url` with a user and the key `SECRETKEY` in it.
fn with_credentials(url: &str) -> String {
    url.replacen("http://", "http://user:SECRETKEY@", 1)
}

#[test]
fn a_base_url_with_credentials_is_never_printed_whole() {
    let (server, _rt) = Hostile::start_in_background();
    let closed = common::nowhere();
    let dirs = tempfile::tempdir().unwrap();
    for (url, model, expected) in [
        (
            closed.clone(),
            Some("m"),
            "cannot connect to the server at ",
        ),
        (closed.clone(), None, "cannot connect to the server at "),
        (
            server.url("auth"),
            Some("m"),
            "authentication failed (HTTP 401)",
        ),
        (server.url("auth"), None, "authentication failed (HTTP 401)"),
    ] {
        let mut cmd = promptlab(&dirs);
        cmd.args([
            "run",
            "--retries",
            "0",
            "--base-url",
            &with_credentials(&url),
        ]);
        if let Some(m) = model {
            cmd.args(["--model", m]);
        }
        let out = cmd.output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{url} {model:?}: {stderr}");
        assert!(!stderr.contains("SECRETKEY"), "{url} {model:?}: {stderr}");
        if expected.starts_with("cannot connect") {
            assert!(
                stderr.contains(&url),
                "the address without credentials: {stderr}"
            );
        }
    }
}

/// For checks by hand: `cargo test --test hostile_net -- --ignored --nocapture` serves every
/// mode for `HOSTILE_SECS` seconds (default 600) and prints its address.
#[test]
#[ignore]
fn serve_for_checks_by_hand() {
    let (server, _rt) = Hostile::start_in_background();
    println!("hostile server at http://{}/MODE/v1", server.addr);
    let secs = std::env::var("HOSTILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    std::thread::sleep(Duration::from_secs(secs));
}
