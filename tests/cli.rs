//! The `promptlab` binary end to end: templates, run (scripted and over HTTP), bad input.

mod common;

use common::{promptlab, scripted};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn templates_lists_the_shipped_ones() {
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs).arg("templates").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "gsm8k-cot",
        "gsm8k-direct",
        "zero-shot-cot",
        "sentiment",
        "last-letters",
        "date-understanding",
        "sums",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    let zs = text
        .lines()
        .find(|l| l.starts_with("zero-shot-cot"))
        .unwrap();
    assert_eq!(zs.matches("zero-shot-cot").count(), 2, "{zs}");
}

#[test]
fn run_prints_paths_tally_and_answer() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["-n", "5", "--seed", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("gsm8k-cot · cot · 5 paths · scripted demo-script"),
        "{text}"
    );
    assert!(text.contains("(no answer)"), "{text}");
    assert!(
        text.contains("Answer: 18  (agreement 60% [23, 88], 3/5)"),
        "the share with its interval: {text}"
    );
}

#[test]
fn run_json_is_one_object_with_the_documented_fields() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["-n", "5", "--seed", "0", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON object");
    for key in [
        "template",
        "strategy",
        "query",
        "prompt",
        "paths",
        "tally",
        "answer",
        "agreement",
        "usage",
        "elapsed_ms",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["answer"], "18");
    assert_eq!(v["strategy"], "cot");
    assert_eq!(v["paths"].as_array().unwrap().len(), 5);
    let p0 = &v["paths"][0];
    for key in [
        "index",
        "text",
        "answer",
        "finish_reason",
        "completion_tokens",
        "latency_ms",
        "error",
    ] {
        assert!(p0.get(key).is_some(), "path missing {key}");
    }
    assert_eq!(
        v["tally"][0],
        serde_json::json!({"answer": "18", "votes": 3, "share": 0.6, "paths": [0, 1, 3]})
    );
    assert_eq!(
        v["tally"].as_array().unwrap().last().unwrap()["answer"],
        serde_json::Value::Null
    );
    assert!(v["prompt"].as_str().unwrap().ends_with("Q: Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?\nA:"));
}

#[test]
fn zero_shot_cot_runs_both_stages() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["-t", "zero-shot-cot", "-n", "1", "--seed", "4", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v["paths"][0]["text"].as_str().unwrap();
    assert!(
        text.ends_with("\nTherefore, the answer (arabic numerals) is 18."),
        "{text}"
    );
    assert_eq!(v["answer"], "18");
}

#[test]
fn show_prompt_prints_exactly_the_prompt() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["--show-prompt", "-t", "sentiment", "-q", "Great film."])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(
        "Classify the sentiment of each movie review as positive or negative.\n\nQ: A gorgeous"
    ));
    assert!(text.ends_with("Q: Great film.\nA:\n"), "{text:?}");
}

#[test]
fn shots_keeps_the_first_k_examples_and_zero_none() {
    // A specialist is prompted as it was trained: without examples (`tune` says so).
    let dirs = tempfile::tempdir().unwrap();
    let prompt = |shots: &str| {
        let out = scripted(&dirs)
            .args(["--show-prompt", "-t", "sentiment", "-q", "Great film."])
            .args(["--shots", shots])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let none = prompt("0");
    assert_eq!(none.matches("Q: ").count(), 1, "{none:?}");
    assert!(none.ends_with("Q: Great film.\nA:\n"), "{none:?}");
    let one = prompt("1");
    assert_eq!(one.matches("Q: ").count(), 2, "{one:?}");
    let out = scripted(&dirs)
        .args(["--show-prompt", "-t", "sentiment", "--shots", "99"])
        .output()
        .unwrap();
    fails_with(out, "the template has 4 examples");
}

fn fails_with(out: std::process::Output, needle: &str) {
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("promptlab: "), "{err}");
    assert!(err.contains(needle), "{needle} in {err}");
}

#[test]
fn bad_templates_fail_with_one_clear_line() {
    let dirs = tempfile::tempdir().unwrap();
    let bad = dirs.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: bad\nexamples: []\nstrategy: cot\ncolour: blue\n",
    )
    .unwrap();
    let out = scripted(&dirs)
        .args(["-t", bad.to_str().unwrap()])
        .output()
        .unwrap();
    fails_with(out, "bad.yaml:4:1: unknown field `colour`");
    let out = scripted(&dirs)
        .args(["-t", "no-such-template"])
        .output()
        .unwrap();
    fails_with(out, "no template named `no-such-template`");
}

#[test]
fn absurd_n_fails_before_any_sampling() {
    let dirs = tempfile::tempdir().unwrap();
    fails_with(
        scripted(&dirs).args(["-n", "0"]).output().unwrap(),
        "n must be between 1 and 64",
    );
    fails_with(
        scripted(&dirs).args(["-n", "100000"]).output().unwrap(),
        "n must be between 1 and 64",
    );
}

#[test]
fn unreachable_server_fails_with_one_line() {
    let dirs = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let out = promptlab(&dirs)
        .args(["run", "--base-url", &url, "--model", "m", "--retries", "0"])
        .output()
        .unwrap();
    fails_with(out, "cannot connect to the server");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_against_a_server_and_401() {
    let server = MockServer::start().await;
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The answer is 18.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": [{"id": "served-model"}]})),
        )
        .mount(&server)
        .await;
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let out = promptlab(&dirs)
        .args(["run", "--base-url", &url, "-n", "3", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["backend"]["model"], "served-model",
        "discovered from /models"
    );
    assert_eq!(v["answer"], "18");
    assert_eq!(v["agreement"], 1.0);
    // Not llama.cpp's server: none of its extras.
    let posts = server.received_requests().await.unwrap();
    assert!(
        posts
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .all(|r| {
                serde_json::from_slice::<serde_json::Value>(&r.body)
                    .unwrap()
                    .get("cache_prompt")
                    .is_none()
            })
    );

    let denied = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"error": {"message": "bad key"}})),
        )
        .mount(&denied)
        .await;
    let url = format!("{}/v1", denied.uri());
    let out = promptlab(&dirs)
        .args(["run", "--base-url", &url, "--model", "m", "-n", "2"])
        .env("OPENAI_API_KEY", "sk-sentinel")
        .output()
        .unwrap();
    fails_with(out, "authentication failed (HTTP 401): bad key");
}

#[tokio::test(flavor = "multi_thread")]
async fn llama_cpp_servers_are_asked_to_keep_the_prompt_cached_and_for_top_candidates() {
    let server = MockServer::start().await;
    let body = "data: {\"choices\":[{\"index\":0,\"text\":\" 18\",\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/props"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "default_generation_settings": {"n_ctx": 4096},
            "build_info": "b6000-abcdef"
        })))
        .mount(&server)
        .await;
    let dirs = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let out = promptlab(&dirs)
        .args([
            "run",
            "-t",
            "gsm8k-direct",
            "--base-url",
            &url,
            "--model",
            "m",
            "-n",
            "2",
        ])
        .args([
            "--mode",
            "completion",
            "--logprobs",
            "--server-n",
            "off",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let posts: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(posts.len(), 2);
    for p in &posts {
        assert_eq!(p["cache_prompt"], true, "{p}");
        assert_eq!(p["n_probs"], 5, "{p}");
        assert!(p.get("n").is_none(), "--server-n off: {p}");
    }
}

#[test]
fn least_to_most_paths_carry_their_steps() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["-t", "least-to-most-math", "-n", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["strategy"], "least-to-most");
    assert_eq!(v["answer"], "18");
    let steps = v["paths"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        steps[0]["question"],
        "How many eggs does Janet sell each day?"
    );
    assert_eq!(steps[0]["answer"], "9");
    assert!(
        steps[1]["text"]
            .as_str()
            .unwrap()
            .ends_with("The answer is 18.")
    );
}

fn ape_fixture(dirs: &tempfile::TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = dirs.path().join("ape.yaml");
    std::fs::write(
        &script,
        "responses:\n  - when: \"The instruction was to\"\n    text: \" add the two numbers\"\n  - when: \"The instruction was to\"\n    text: \" double it\"\n  - when: \"Generate a variation\"\n    text: \" Sum the two numbers.\"\n  - text: \" The answer is 4.\"\n",
    )
    .unwrap();
    let data = dirs.path().join("d.jsonl");
    let lines: String = (0..8)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"input\": \"What is 2 + 2? ({i})\", \"target\": {}}}\n",
                if i % 2 == 0 { 4 } else { 5 }
            )
        })
        .collect();
    std::fs::write(&data, lines).unwrap();
    (script, data)
}

/// `promptlab optimize --json` on the scripted fixture: 3 proposals, 4 dev items, plus `extra`.
fn optimize(
    dirs: &tempfile::TempDir,
    out_t: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let (script, data) = ape_fixture(dirs);
    promptlab(dirs)
        .args([
            "optimize",
            "-t",
            "gsm8k-direct",
            "--backend",
            "scripted",
            "--candidates",
            "3",
            "--dev",
            "4",
            "--json",
        ])
        .args(extra)
        .arg("--script")
        .arg(&script)
        .arg("-d")
        .arg(&data)
        .arg("--out")
        .arg(out_t)
        .output()
        .unwrap()
}

#[test]
fn optimize_races_checks_on_held_out_and_writes_only_a_winner_shown_better() {
    let dirs = tempfile::tempdir().unwrap();
    let out_t = dirs.path().join("best.yaml");
    let out = optimize(&dirs, &out_t, &["--rounds", "2", "--keep", "1"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("plan: 3 candidates × 2 rounds raced on 4 dev items"),
        "the budget is told first: {err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let board = v["leaderboard"].as_array().unwrap();
    let names: Vec<&str> = board
        .iter()
        .map(|c| c["instruction"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Sum the two numbers."),
        "round 2 varied the best: {names:?}"
    );
    assert!(
        names.len() >= 3,
        "the candidates and your instruction: {names:?}"
    );
    assert_eq!(board.iter().filter(|c| c["seed"] == true).count(), 1);
    assert_eq!(v["held_out"]["items"], 4);
    assert!(v["calls"].as_u64().unwrap() <= v["planned_calls"].as_u64().unwrap());
    // Every instruction answers alike: the winner cannot be told apart from yours, so it is
    // not written as better (this test wrote it before the held-out check was a paired test).
    assert_eq!(v["better"], false);
    assert!(
        v["verdict"]
            .as_str()
            .unwrap()
            .starts_with("no detectable improvement over your instruction on 4 held-out items"),
        "{}",
        v["verdict"]
    );
    assert!(v["template"].is_null() && !out_t.exists());
    // --force writes it anyway, marked as such.
    let out = optimize(&dirs, &out_t, &["--rounds", "2", "--keep", "1", "--force"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written = promptlab::store::template::load_template_file(&out_t).unwrap();
    assert_eq!(written.instruction.as_deref(), v["best"].as_str());
    assert!(
        written.description.contains("no detectable improvement"),
        "{}",
        written.description
    );
}

#[test]
fn optimize_plan_says_what_its_items_can_tell_apart_and_samples_nothing() {
    let dirs = tempfile::tempdir().unwrap();
    let out = optimize(&dirs, &dirs.path().join("t.yaml"), &["--plan"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("plan: 3 candidates × 2 rounds raced on 4 dev items × 1 sample, held-out check on 4 items"), "{err}");
    assert!(err.contains("prompt tokens (estimated"), "{err}");
    assert!(
        err.contains("4 dev items tell a candidate from the leader only if they differ by about"),
        "{err}"
    );
    assert!(
        err.contains("4 held-out items the winner from yours by about"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing sampled, nothing reported");
    assert!(!err.contains("round 1"), "no round ran: {err}");
}

#[test]
fn optimize_stops_at_its_budget() {
    let dirs = tempfile::tempdir().unwrap();
    let out = optimize(
        &dirs,
        &dirs.path().join("t.yaml"),
        &["--rounds", "3", "--budget", "8"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["budget_reached"], true);
    assert!(v["calls"].as_u64().unwrap() <= 8);
}

#[test]
fn model_text_cannot_drive_the_terminal_but_json_stays_exact() {
    let dirs = tempfile::tempdir().unwrap();
    let script = dirs.path().join("evil.yaml");
    std::fs::write(
        &script,
        "responses:\n  - text: \"\\e]0;pwned\\a\\e[2J gone\\rThe answer is 7.\"\n",
    )
    .unwrap();
    let session = dirs.path().join("s.yaml");
    let base = |extra: &[&str]| {
        let mut c = promptlab(&dirs);
        c.args(["run", "--backend", "scripted", "--script"])
            .arg(&script)
            .args(["-n", "2", "--full", "-q", "What is \u{1b}[31m3 + 4?"])
            .args(extra);
        c.output().unwrap()
    };
    let out = base(&["--save", session.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}') && !table.contains('\r'),
        "{table:?}"
    );
    assert!(
        table.contains("\\x1b]0;pwned\\x07") && table.contains("\\r"),
        "{table}"
    );
    let replay = promptlab(&dirs)
        .arg("replay")
        .arg(&session)
        .arg("--full")
        .output()
        .unwrap();
    let replay = String::from_utf8(replay.stdout).unwrap();
    assert!(
        !replay.contains('\u{1b}') && replay.contains("\\x1b[2J"),
        "{replay:?}"
    );
    let json = base(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        v["paths"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("\u{1b}]0;pwned\u{7}")
    );
    assert_eq!(v["answer"], "7");
}

#[cfg(unix)]
#[test]
fn a_fifo_as_dataset_session_or_template_is_refused_at_once() {
    let dirs = tempfile::tempdir().unwrap();
    let tdir = dirs.path().join("templates");
    std::fs::create_dir_all(&tdir).unwrap();
    let fifo = tdir.join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let quick = std::time::Duration::from_secs(20);
    let out = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-cot",
            "--backend",
            "scripted",
            "--script",
            "assets/demo-script.yaml",
            "-d",
        ])
        .arg(&fifo)
        .timeout(quick)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("not a regular file"),
        "{}",
        stderr_of(&out)
    );
    let out = promptlab(&dirs)
        .arg("replay")
        .arg(&fifo)
        .timeout(quick)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let out = promptlab(&dirs)
        .arg("templates")
        .env("PROMPTLAB_TEMPLATES", &tdir)
        .timeout(quick)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the listing finishes: {}",
        stderr_of(&out)
    );
}

#[test]
fn optimize_never_overwrites_without_force() {
    let dirs = tempfile::tempdir().unwrap();
    let out_t = dirs.path().join("notes.yaml");
    std::fs::write(&out_t, "my notes\n").unwrap();
    let out = optimize(&dirs, &out_t, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("--force"), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out_t).unwrap(), "my notes\n");
    let out = optimize(&dirs, &out_t, &["--force"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(promptlab::store::template::load_template_file(&out_t).is_ok());
}

#[test]
fn save_targets_are_checked_before_sampling() {
    let dirs = tempfile::tempdir().unwrap();
    let notes = dirs.path().join("notes.yaml");
    std::fs::write(&notes, "just: notes\n").unwrap();
    for target in [dirs.path().to_path_buf(), notes.clone()] {
        let out = scripted(&dirs).arg("--save").arg(&target).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(out.stdout.is_empty(), "nothing sampled or printed");
        assert_eq!(stderr_of(&out).lines().count(), 1, "{}", stderr_of(&out));
    }
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "just: notes\n");
}

#[test]
fn a_revote_that_would_lose_every_answer_is_refused_and_the_file_kept() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("s.yaml");
    let out = scripted(&dirs).arg("--save").arg(&s).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let before = std::fs::read(&s).unwrap();
    let out = promptlab(&dirs)
        .arg("replay")
        .arg(&s)
        .args(["--kind", "choice", "--write"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("--choices"), "{}", stderr_of(&out));
    assert_eq!(std::fs::read(&s).unwrap(), before);
}

#[test]
fn an_eval_that_got_nothing_says_why() {
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-cot",
            "-d",
            "assets/arith-mini.jsonl",
            "--limit",
            "2",
        ])
        .args([
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--retries",
            "0",
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("cannot connect"),
        "{}",
        stderr_of(&out)
    );
}

#[cfg(unix)]
#[test]
fn a_run_stopped_with_ctrl_c_exits_130_and_says_it_was_cancelled() {
    let dirs = tempfile::tempdir().unwrap();
    let script = dirs.path().join("slow.yaml");
    std::fs::write(
        &script,
        "responses:\n  - text: \"one two three four five six seven eight nine ten The answer is 7.\"\n    delay_ms: 400\n",
    )
    .unwrap();
    let child = common::process(&dirs)
        .args([
            "run",
            "--backend",
            "scripted",
            "-n",
            "2",
            "--json",
            "-q",
            "x",
            "--script",
        ])
        .arg(&script)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cancelled"], true);
}

#[test]
fn a_flag_the_chosen_backend_would_ignore_is_refused() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["--base-url", "http://127.0.0.1:9/v1"])
        .output()
        .unwrap();
    fails_with(out, "--base-url does not apply to the scripted backend");
    let out = promptlab(&dirs)
        .args([
            "run",
            "--backend",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ])
        .args(["--script", "assets/demo-script.yaml"])
        .output()
        .unwrap();
    fails_with(out, "--script does not apply to the openai backend");
}

/// A reasoning model's thinking is recorded apart from its answer and never voted on; the
/// thinking switch is a variant like any other.
#[test]
fn reasoning_models_think_apart_and_thinking_is_a_variant() {
    let dirs = tempfile::tempdir().unwrap();
    let run = |query: &str| {
        let out = promptlab(&dirs)
            .args([
                "run",
                "-t",
                "gsm8k-direct",
                "-n",
                "2",
                "--json",
                "-q",
                query,
            ])
            .args([
                "--backend",
                "scripted",
                "--script",
                "assets/reasoning-script.yaml",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // Apart (a reasoning field) and inline (<think> tags): the same record.
    for (query, answer) in [
        ("Tom has 4 apples and buys 3 more.", "7"),
        ("A box holds 6 eggs. 3 boxes?", "18"),
    ] {
        let v = run(query);
        assert_eq!(v["answer"], answer, "{v}");
        for p in v["paths"].as_array().unwrap() {
            assert_eq!(p["text"], answer);
            assert!(p["thinking"].as_str().unwrap().len() > 20, "{p}");
            assert!(!p["text"].as_str().unwrap().contains("think"));
        }
    }
    // Switched off, the same model answers at once, and wrongly.
    let out = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
            "-n",
            "1",
        ])
        .args([
            "--backend",
            "scripted",
            "--script",
            "assets/reasoning-script.yaml",
        ])
        .args(["--vary", "thinking=off,on", "--no-cache", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let variants = v["variants"].as_array().unwrap();
    let (off, on) = (&variants[0], &variants[1]);
    assert_eq!(off["name"], "thinking=off");
    assert!(
        on["accuracy_majority"].as_f64() > off["accuracy_majority"].as_f64(),
        "{v}"
    );
    assert_eq!(off["reasoning_tokens"], 0);
    assert!(on["reasoning_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn model_list_shows_the_ggufs_of_promptlab_ollama_and_lm_studio() {
    let dirs = tempfile::tempdir().unwrap();
    let home = dirs.path().join("home");
    let write = |p: std::path::PathBuf, bytes: &[u8]| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    write(dirs.path().join("cache/models/mine.gguf"), b"GGUF");
    write(home.join(".ollama/models/blobs/sha256-aa"), b"GGUF blob");
    write(
        home.join(".ollama/models/manifests/registry.ollama.ai/library/qwen3/0.6b"),
        br#"{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:aa"}]}"#,
    );
    write(
        home.join(".lmstudio/models/org/repo/small.gguf"),
        b"GGUF lms",
    );
    let out = promptlab(&dirs)
        .env("HOME", &home)
        .env_remove("OLLAMA_MODELS")
        .args(["model", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "mine.gguf",
        "qwen3:0.6b",
        "ollama",
        "org/repo/small.gguf",
        "lm-studio",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let out = promptlab(&dirs)
        .env("HOME", &home)
        .env_remove("OLLAMA_MODELS")
        .args(["model", "list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"].as_array().unwrap().len(), 3);
    assert_eq!(v["models"][1]["source"], "ollama");
}
