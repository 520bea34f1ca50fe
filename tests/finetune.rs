//! `promptlab tune --base-url` against a mock of OpenAI's fine-tuning API on 127.0.0.1, through
//! the real binary: the training split uploaded in chat format, the job started and followed
//! (events, checkpoints), success registering the model, failure saying why, Ctrl-C leaving
//! the job running, `tune status|resume|cancel ID`, and no key written anywhere.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::promptlab;
use serde_json::{Value, json};

const KEY: &str = "sk-finetune-secret-1234";
const FT: &str = "ft:base-m:promptlab:abc123";

/// A fine-tuning server whose one job is in `state` (running, succeeded, failed, cancelled).
struct Api {
    state: Mutex<String>,
}

impl wiremock::Respond for Shared {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let ok = |v: Value| wiremock::ResponseTemplate::new(200).set_body_json(v);
        let state = self.0.state.lock().unwrap().clone();
        let job = |status: &str| {
            let mut j = json!({"id": "ftjob-1", "object": "fine_tuning.job", "model": "base-m",
                "status": status, "created_at": 1000, "training_file": "file-train"});
            match status {
                "succeeded" => {
                    j["fine_tuned_model"] = json!(FT);
                    j["finished_at"] = json!(1090);
                    j["trained_tokens"] = json!(5000);
                }
                "failed" => {
                    j["error"] = json!({"code": "invalid_training_file", "message": "line 3: too few messages"});
                }
                _ => {}
            }
            j
        };
        match (req.method.as_str(), req.url.path()) {
            ("POST", "/v1/files") => ok(json!({"id": "file-train", "purpose": "fine-tune"})),
            ("POST", "/v1/fine_tuning/jobs") => ok(job("validating_files")),
            ("GET", "/v1/fine_tuning/jobs/ftjob-1") => ok(job(&state)),
            ("POST", "/v1/fine_tuning/jobs/ftjob-1/cancel") => {
                *self.0.state.lock().unwrap() = "cancelled".into();
                ok(job("cancelled"))
            }
            ("GET", "/v1/fine_tuning/jobs/ftjob-1/events") => {
                ok(json!({"object": "list", "data": [
                {"id": "ev-3", "created_at": 3, "level": "info", "message": "Step 2/4: training loss=0.52",
                 "type": "metrics", "data": {"step": 2, "total_steps": 4, "train_loss": 0.52}},
                {"id": "ev-2", "created_at": 2, "level": "info", "message": "Fine-tuning job started"},
                {"id": "ev-1", "created_at": 1, "level": "info", "message": "Validating training file"},
            ], "has_more": false}))
            }
            ("GET", "/v1/fine_tuning/jobs/ftjob-1/checkpoints") => ok(json!({"data": [
                {"id": "ckpt-1", "fine_tuned_model_checkpoint": format!("{FT}:ckpt-step-2"), "step_number": 2}
            ]})),
            // Served models: every question answered 8 with a 50-token prompt.
            ("POST", "/v1/chat/completions") => wiremock::ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(format!(
                    "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
                    json!({"choices": [{"index": 0, "delta": {"content": "The answer is 8."}, "finish_reason": "stop"}]}),
                    json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 5}})
                )),
            _ => wiremock::ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"message": "no such route"}})),
        }
    }
}

struct Shared(Arc<Api>);

async fn api(state: &str) -> (wiremock::MockServer, Arc<Api>) {
    let server = wiremock::MockServer::start().await;
    let api = Arc::new(Api {
        state: Mutex::new(state.into()),
    });
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(Shared(api.clone()))
        .mount(&server)
        .await;
    (server, api)
}

fn tune(dirs: &tempfile::TempDir, url: &str) -> std::process::Command {
    let mut c = common::process(dirs);
    c.args(["tune", "-t", "sums", "-d", "assets/sums.jsonl"])
        .args(["--base-url", url, "--model", "base-m", "--api-key", KEY])
        .args(["--held-out", "10"])
        .env("PROMPTLAB_TUNE_POLL", "0.05");
    c
}

fn record(dirs: &tempfile::TempDir) -> PathBuf {
    dirs.path().join("data/finetunes/ftjob-1.json")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn no_key_written(dirs: &tempfile::TempDir) {
    for f in files_under(dirs.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} holds the key",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_tune_uploads_the_split_follows_the_job_and_registers_the_model() {
    let (server, _api) = api("succeeded").await;
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let out = tune(&dirs, &url).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("started fine-tuning job ftjob-1") && err.contains("tune resume ftjob-1"),
        "{err}"
    );
    assert!(
        err.contains("Validating training file") && err.contains("Fine-tuning job started"),
        "events are shown: {err}"
    );
    assert!(
        !err.contains("Step 2/4"),
        "metrics go to the bar, not the log"
    );
    assert!(
        text.contains(&format!("into {FT} in 90 s, 5000 tokens trained")),
        "{text}"
    );
    assert!(text.contains("ckpt-step-2"), "{text}");
    assert!(
        text.contains(&format!("--vary model=base-m,{FT}")),
        "{text}"
    );

    let asked = server.received_requests().await.unwrap();
    assert!(
        asked
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == format!("Bearer {KEY}").as_str()),
        "the key goes with every request"
    );
    // The upload: purpose fine-tune, the 50 training rows as conversations answered the way
    // the template (cot) writes its answers, none of its examples.
    let upload = asked.iter().find(|r| r.url.path() == "/v1/files").unwrap();
    let body = String::from_utf8_lossy(&upload.body);
    assert!(
        body.contains("name=\"purpose\"\r\n\r\nfine-tune\r\n"),
        "{body}"
    );
    let rows: Vec<Value> = body
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 50, "60 rows, 10 held out");
    for r in &rows {
        let m = r["messages"].as_array().unwrap();
        assert_eq!(m.last().unwrap()["role"], "assistant");
        let answer = m.last().unwrap()["content"].as_str().unwrap();
        assert!(answer.starts_with("The answer is "), "{r}");
        assert!(!r.to_string().contains("23 plus 45"), "no examples: {r}");
    }
    let create = asked
        .iter()
        .find(|r| r.url.path() == "/v1/fine_tuning/jobs")
        .unwrap();
    let create: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(create["model"], "base-m");
    assert_eq!(create["training_file"], "file-train");
    assert_eq!(create["seed"], 1);

    // The record: 0600, the model it made, the held-out rows beside it (never trained on).
    let path = record(&dirs);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(kept["status"], "succeeded");
    assert_eq!(kept["fine_tuned_model"], FT);
    assert_eq!(kept["training_seconds"], 90.0);
    assert_eq!(kept["base_url"], url);
    let held = kept["held_out"].as_array().unwrap();
    assert_eq!(held.len(), 10);
    let held_file =
        std::fs::read_to_string(dirs.path().join("data/finetunes/ftjob-1-held-out.jsonl")).unwrap();
    assert_eq!(held_file.lines().count(), 10);
    for l in held_file.lines() {
        let row: Value = serde_json::from_str(l).unwrap();
        let input = row["input"].as_str().unwrap();
        assert!(
            !body.contains(&format!("\"{input}\"")) && !body.contains(input),
            "held-out row {input} was uploaded"
        );
    }

    // `model list` shows it under its base, with the variant line.
    let out = promptlab(&dirs)
        .args(["model", "list", "--json"])
        .output()
        .unwrap();
    let v = common::ok_json(&out);
    assert_eq!(v["fine_tuned"][0]["fine_tuned_model"], FT, "{v}");
    let out = promptlab(&dirs).args(["model", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("base-m at http://127.0.0.1") && text.contains(&format!("+ {FT}")),
        "{text}"
    );

    // Base and fine-tuned model side by side on the held-out rows: the cost columns say what
    // a query sent and, for the specialist, how long the job took.
    let held_path = dirs.path().join("data/finetunes/ftjob-1-held-out.jsonl");
    let out = promptlab(&dirs)
        .args(["eval", "-t", "sums", "-d", held_path.to_str().unwrap()])
        .args(["--base-url", &url, "--model", "base-m", "--api-key", KEY])
        .args(["--vary", &format!("model=base-m,{FT}"), "-n", "1", "--json"])
        .output()
        .unwrap();
    let v = common::ok_json(&out);
    let variants = v["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "{v}");
    for r in variants {
        assert_eq!(r["cost"]["prompt_tokens_per_query"], 50.0, "{r}");
        assert!(r["cost"]["seconds_per_item"].as_f64().unwrap() >= 0.0);
    }
    assert!(variants[0]["cost"].get("training_seconds").is_none(), "{v}");
    assert_eq!(variants[1]["cost"]["training_seconds"], 90.0, "{v}");
    let out = promptlab(&dirs)
        .args(["eval", "-t", "sums", "-d", held_path.to_str().unwrap()])
        .args(["--base-url", &url, "--model", "base-m", "--api-key", KEY])
        .args(["--vary", &format!("model=base-m,{FT}"), "-n", "1"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("prompt/q") && table.contains("training") && table.contains("1m30s"),
        "{table}"
    );
    no_key_written(&dirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_says_why_and_too_few_rows_are_refused() {
    let (server, _api) = api("failed").await;
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let out = tune(&dirs, &url).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("fine-tuning job ftjob-1 failed: line 3: too few messages"),
        "{err}"
    );
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(record(&dirs)).unwrap()).unwrap();
    assert_eq!(kept["status"], "failed");
    assert_eq!(kept["error"], "line 3: too few messages");

    // Too few training rows: refused before anything is sent.
    let before = server.received_requests().await.unwrap().len();
    let out = common::process(&dirs)
        .args(["tune", "-t", "sums", "-d", "assets/arith-mini.jsonl"])
        .args(["--base-url", &url, "--model", "base-m", "--held-out", "5"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("needs at least 10"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), before);
    // A flag of the in-process trainer is refused, not ignored.
    let out = tune(&dirs, &url).args(["--rank", "4"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rank is for a tune in process"));
    no_key_written(&dirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_leaves_the_job_running_and_status_resume_and_cancel_find_it() {
    let (server, api) = api("running").await;
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let mut child = tune(&dirs, &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !record(&dirs).exists() {
        assert!(started.elapsed().as_secs() < 30, "the job never started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(err.contains("promptlab tune resume ftjob-1"), "{err}");
    let asked = server.received_requests().await.unwrap();
    assert!(
        asked.iter().all(|r| !r.url.path().ends_with("/cancel")),
        "Ctrl-C cancels nothing at the server"
    );
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(record(&dirs)).unwrap()).unwrap();
    assert_eq!(kept["status"], "running");

    // Status: from the record's server, with this command's key.
    let out = promptlab(&dirs)
        .args(["tune", "status", "ftjob-1", "--api-key", KEY])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("fine-tuning job ftjob-1 at http://127.0.0.1")
            && text.contains(": running")
            && text.contains("Fine-tuning job started"),
        "{text}"
    );

    // The job ends meanwhile: resume follows it to its model.
    *api.state.lock().unwrap() = "succeeded".into();
    let out = promptlab(&dirs)
        .args(["tune", "resume", "ftjob-1"])
        .env("PROMPTLAB_TUNE_POLL", "0.05")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(FT));

    // Cancel asks the server; a resume then says the job was cancelled.
    *api.state.lock().unwrap() = "running".into();
    let out = promptlab(&dirs)
        .args(["tune", "cancel", "ftjob-1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ftjob-1: cancelled"));
    let out = promptlab(&dirs)
        .args(["tune", "resume", "ftjob-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("was cancelled"));

    // An id that is no job of this machine, or no name at all.
    let out = promptlab(&dirs)
        .args(["tune", "status", "ftjob-2"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no fine-tuning job ftjob-2"));
    let out = promptlab(&dirs)
        .args(["tune", "status", "../../x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the fine-tuning job id"));
    no_key_written(&dirs);
}
