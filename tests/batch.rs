//! Batch files end to end: `eval --batch-out` writes one OpenAI batch request per sample the
//! cache lacks and sends nothing; `eval --batch-in` reads a batch output into the cache,
//! reports bad lines one by one and scores with no live request.

mod common;

use common::promptlab;

/// A server address nothing listens on: any request to it would fail the run.
fn nowhere() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/v1")
}

fn eval(dirs: &tempfile::TempDir, url: &str, extra: &[&str]) -> std::process::Output {
    promptlab(dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
            "--limit",
            "3",
        ])
        .args([
            "--base-url",
            url,
            "--model",
            "m",
            "-n",
            "2",
            "--retries",
            "0",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_batch_round_trip_scores_from_the_cache_and_reports_bad_lines() {
    let dirs = tempfile::tempdir().unwrap();
    let url = nowhere();
    let requests = dirs.path().join("requests.jsonl");
    let out = eval(&dirs, &url, &["--batch-out", requests.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&requests).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "3 items x 2 samples");
    for l in &lines {
        assert_eq!(l["method"], "POST");
        assert_eq!(l["url"], "/v1/chat/completions");
        assert_eq!(l["body"]["model"], "m");
        assert!(l["body"].get("stream").is_none(), "{l}");
        assert_eq!(l["custom_id"].as_str().unwrap().len(), 64);
    }
    let seeds: Vec<u64> = lines
        .iter()
        .map(|l| l["body"]["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, vec![1, 2, 1, 2, 1, 2]);

    // The batch output: each item's answer from its question, one line failed, plus an
    // unknown id, a repeated line and a broken one.
    let answer = |l: &serde_json::Value| -> String {
        let q = l["body"]["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string();
        if q.contains("4 apples") {
            "7"
        } else if q.contains("6 eggs") {
            "18"
        } else {
            "0"
        }
        .to_string()
    };
    let mut output = String::new();
    for (k, l) in lines.iter().enumerate() {
        let id = l["custom_id"].as_str().unwrap();
        let line = if k == 5 {
            serde_json::json!({"custom_id": id, "response": null, "error": {"code": "server_error", "message": "the model crashed"}})
        } else {
            serde_json::json!({"custom_id": id, "response": {"status_code": 200, "body": {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("The answer is {}.", answer(l))}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 5}
            }}, "error": null})
        };
        output.push_str(&line.to_string());
        output.push('\n');
        if k == 0 {
            output.push_str(&line.to_string());
            output.push('\n');
        }
    }
    output.push_str(&serde_json::json!({"custom_id": "f".repeat(64), "response": {"status_code": 200, "body": {}}}).to_string());
    output.push_str("\nnot json\n");
    let results = dirs.path().join("results.jsonl");
    std::fs::write(&results, output).unwrap();

    let out = eval(
        &dirs,
        &url,
        &["--batch-in", results.to_str().unwrap(), "--json"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("line 2: custom_id"), "the repeat: {err}");
    assert!(err.contains("again (first on line 1)"), "{err}");
    assert!(err.contains("line 7: failed: the model crashed"), "{err}");
    assert!(err.contains("is no sample of this evaluation"), "{err}");
    assert!(err.contains("line 9: not JSON"), "{err}");
    assert!(err.contains("read 5 samples"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let variant = &v["variants"][0];
    // Items 1 and 2 right from both samples; item 3's one sample says 0 (its target is not).
    assert_eq!(variant["per_item"][0]["correct"], true, "{variant}");
    assert_eq!(variant["per_item"][1]["correct"], true);
    assert_eq!(
        variant["per_item"][2]["failed"], 1,
        "the failed line's sample is missing"
    );
    assert!(
        v["requests"].is_null(),
        "no live request: {}",
        v["requests"]
    );
    let paths = variant["per_item"][0]["paths"].as_array().unwrap();
    assert!(paths.iter().all(|p| p["cached"] == true), "{paths:?}");

    // What is still missing is all a second batch asks for.
    let again = dirs.path().join("again.jsonl");
    let out = eval(&dirs, &url, &["--batch-out", again.to_str().unwrap()]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&again).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains(lines[5]["custom_id"].as_str().unwrap()));
}

#[test]
fn batch_files_take_one_call_strategies_only() {
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "zero-shot-cot",
            "-d",
            "assets/arith-mini.jsonl",
        ])
        .args(["--base-url", &nowhere(), "--model", "m", "--batch-out"])
        .arg(dirs.path().join("r.jsonl"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("one-call strategies"), "{err}");
}

/// A Files and Batches API on 127.0.0.1: keeps the uploaded input, says the batch is in
/// progress until `done`, then serves one reply per request (and one error line).
#[derive(Default)]
struct BatchApi {
    input: std::sync::Mutex<String>,
    done: std::sync::atomic::AtomicBool,
}

impl wiremock::Respond for BatchApi {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        use std::sync::atomic::Ordering;
        let path = req.url.path().to_string();
        let ok = |v: serde_json::Value| wiremock::ResponseTemplate::new(200).set_body_json(v);
        let ids = || -> Vec<String> {
            self.input
                .lock()
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v["custom_id"].as_str().map(str::to_string))
                .collect()
        };
        match (req.method.as_str(), path.as_str()) {
            ("POST", "/v1/files") => {
                *self.input.lock().unwrap() = String::from_utf8_lossy(&req.body).into_owned();
                ok(serde_json::json!({"id": "file-in", "object": "file", "purpose": "batch"}))
            }
            ("POST", "/v1/batches") => {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                assert_eq!(body["input_file_id"], "file-in");
                assert_eq!(body["endpoint"], "/v1/chat/completions");
                ok(serde_json::json!({"id": "batch_abc", "status": "validating"}))
            }
            ("GET", "/v1/batches/batch_abc") => {
                let total = ids().len();
                if self.done.load(Ordering::SeqCst) {
                    ok(serde_json::json!({"id": "batch_abc", "status": "completed",
                        "output_file_id": "file-out", "error_file_id": "file-err",
                        "request_counts": {"total": total, "completed": total - 1, "failed": 1}}))
                } else {
                    ok(
                        serde_json::json!({"id": "batch_abc", "status": "in_progress",
                        "request_counts": {"total": total, "completed": 0, "failed": 0}}),
                    )
                }
            }
            ("GET", "/v1/files/file-out/content") => {
                let ids = ids();
                let lines: Vec<String> = ids[..ids.len() - 1]
                    .iter()
                    .map(|id| {
                        serde_json::json!({"custom_id": id, "response": {"status_code": 200, "body": {
                            "choices": [{"index": 0, "message": {"content": "The answer is 7."}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 100, "completion_tokens": 5}}}, "error": null})
                        .to_string()
                    })
                    .collect();
                wiremock::ResponseTemplate::new(200).set_body_string(lines.join("\n"))
            }
            ("GET", "/v1/files/file-err/content") => {
                let last = ids().pop().unwrap();
                wiremock::ResponseTemplate::new(200).set_body_string(
                    serde_json::json!({"custom_id": last, "response": {"status_code": 500, "body": {"error": {"message": "overloaded"}}}, "error": null}).to_string(),
                )
            }
            _ => wiremock::ResponseTemplate::new(404),
        }
    }
}

async fn batch_api() -> (wiremock::MockServer, std::sync::Arc<BatchApi>) {
    let server = wiremock::MockServer::start().await;
    let api = std::sync::Arc::new(BatchApi::default());
    struct Shared(std::sync::Arc<BatchApi>);
    impl wiremock::Respond for Shared {
        fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
            self.0.respond(req)
        }
    }
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(Shared(api.clone()))
        .mount(&server)
        .await;
    (server, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_through_the_api_is_followed_downloaded_and_scored() {
    let (server, api) = batch_api().await;
    api.done.store(true, std::sync::atomic::Ordering::SeqCst);
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let out = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
            "--limit",
            "2",
        ])
        .args([
            "--base-url",
            &url,
            "--model",
            "m",
            "-n",
            "2",
            "--batch",
            "--json",
        ])
        .env("PROMPTLAB_BATCH_POLL", "0.05")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("submitted batch batch_abc (4 requests)"),
        "{err}"
    );
    assert!(
        err.contains("HTTP 500: overloaded"),
        "the error file's line is reported: {err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v["variants"][0]["per_item"].as_array().unwrap();
    assert_eq!(items[0]["correct"], true, "arith-1's target is 7");
    assert_eq!(
        items[1]["failed"], 1,
        "the failed request's sample is missing"
    );
    let asked = server.received_requests().await.unwrap();
    assert!(
        asked
            .iter()
            .all(|r| !r.url.path().ends_with("/chat/completions")),
        "no live request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_left_running_is_resumed_by_its_id() {
    let (server, api) = batch_api().await;
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let mut child = common::process(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
            "--limit",
            "2",
        ])
        .args([
            "--base-url",
            &url,
            "--model",
            "m",
            "-n",
            "2",
            "--batch",
            "--json",
        ])
        .env("PROMPTLAB_BATCH_POLL", "0.05")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let kept = dirs.path().join("data/batches/batch_abc.json");
    let started = std::time::Instant::now();
    while !kept.exists() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the batch was never submitted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Closed while the batch runs: it says how to pick it up.
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(err.contains("promptlab batch resume batch_abc"), "{err}");

    let out = promptlab(&dirs)
        .args(["batch", "status", "batch_abc"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("in_progress") && text.contains("0 of 4"),
        "{text}"
    );

    api.done.store(true, std::sync::atomic::Ordering::SeqCst);
    let out = promptlab(&dirs)
        .args(["batch", "resume", "batch_abc"])
        .env("PROMPTLAB_BATCH_POLL", "0.05")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["variants"][0]["per_item"][0]["correct"], true, "{v}");
}
