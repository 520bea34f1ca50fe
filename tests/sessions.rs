//! Sessions end to end through the binary: exact replay, re-vote, crash safety of autosave,
//! bad files, and no secret ever written.

use std::process::{Command as Std, Stdio};
use std::time::Instant;

mod common;

use assert_cmd::Command;
use common::{promptlab, scripted};
use promptlab::store::session::{load_session, save_session};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn record_run(dirs: &tempfile::TempDir, session: &std::path::Path, extra: &[&str]) {
    let out = scripted(dirs)
        .args(["-n", "5", "--seed", "0", "--save"])
        .arg(session)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn replay_is_exact_and_stable() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("exp.yaml");
    record_run(&dirs, &s, &[]);
    record_run(&dirs, &s, &["--strategy", "direct", "-t", "gsm8k-direct"]);
    let a = stdout(promptlab(&dirs).arg("replay").arg(&s));
    let b = stdout(promptlab(&dirs).arg("replay").arg(&s));
    assert_eq!(a, b);
    assert!(
        a.contains("── run 1 of 2") && a.contains("── run 2 of 2"),
        "{a}"
    );
    assert!(
        a.contains("Answer: 18  (agreement 60% [23, 88], 3/5)"),
        "{a}"
    );

    let json = stdout(promptlab(&dirs).arg("replay").arg(&s).arg("--json"));
    let runs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run"], 1);
    assert_eq!(runs[1]["strategy"], "direct");
    // Replayed JSON carries what `run --json` does.
    let live: serde_json::Value = serde_json::from_str(&stdout(
        scripted(&dirs).args(["-n", "5", "--seed", "0", "--json"]),
    ))
    .unwrap();
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
    ] {
        assert_eq!(
            runs[0][key] == serde_json::Value::Null,
            live[key] == serde_json::Value::Null,
            "{key}"
        );
    }
    assert_eq!(runs[0]["tally"], live["tally"]);
    assert_eq!(runs[0]["prompt"], live["prompt"]);

    let one = stdout(promptlab(&dirs).arg("replay").arg(&s).args(["--run", "2"]));
    assert!(one.contains("── run 2 of 2") && !one.contains("── run 1"));
    let out = promptlab(&dirs)
        .arg("replay")
        .arg(&s)
        .args(["--run", "9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no run 9"));
}

#[test]
fn revote_offline_changes_tallies_and_can_write_them() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("exp.yaml");
    record_run(&dirs, &s, &[]);
    let text = stdout(promptlab(&dirs).arg("replay").arg(&s).args([
        "--kind",
        "regex",
        "--pattern",
        r"(\d+) dollars",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["answer"], "18", "only path 0 says 'N dollars'");
    assert_eq!(v["tally"][0]["votes"], 1);
    assert_eq!(
        load_session(&s).unwrap().runs[0]
            .result
            .tally
            .winner
            .as_deref(),
        Some("18")
    );
    stdout(
        promptlab(&dirs)
            .arg("replay")
            .arg(&s)
            .args(["--kind", "text", "--write"]),
    );
    let after = load_session(&s).unwrap();
    assert_eq!(after.runs[0].template.answer.kind.as_str(), "text");
    assert_eq!(
        after.runs[0].result.paths[4].answer.as_deref(),
        Some("ducks are birds and birds lay eggs at the market")
    );
}

#[test]
fn rerun_shows_recorded_and_new_tallies() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("exp.yaml");
    record_run(&dirs, &s, &[]);
    let text = stdout(promptlab(&dirs).arg("replay").arg(&s).args([
        "--rerun",
        "--backend",
        "scripted",
        "--script",
        "assets/demo-script.yaml",
    ]));
    assert!(text.contains("answer       recorded       now"), "{text}");
    assert!(text.contains("same answer: 18 → 18"), "{text}");
}

#[test]
fn bad_session_files_are_reported_and_left_alone() {
    let dirs = tempfile::tempdir().unwrap();
    let bad = dirs.path().join("bad.yaml");
    let broken = "version: 1\ncreated: x\nlab:\n  name: t\n  colour: red\n";
    std::fs::write(&bad, broken).unwrap();
    let out = promptlab(&dirs).arg("replay").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:5:3") && err.contains("colour"),
        "{err}"
    );
    // Appending to it fails the same way and leaves it byte for byte.
    let out = scripted(&dirs)
        .args(["-n", "2", "--save"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), broken);
    // A newer format is named as such.
    let newer = dirs.path().join("newer.yaml");
    std::fs::write(&newer, "version: 99\ncreated: x\nfuture: true\n").unwrap();
    let out = promptlab(&dirs).arg("replay").arg(&newer).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 99 is newer"));
    // Somewhere it cannot be written: a clear line, nothing else touched.
    let file = dirs.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let out = scripted(&dirs)
        .args(["-n", "2", "--save"])
        .arg(file.join("s.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .last()
            .map(|l| l.starts_with("promptlab: ")),
        Some(true)
    );
}

/// kill -9 at random moments while runs are being appended: the file is always a whole,
/// loadable session, and completed runs are never lost.
#[test]
fn kill_9_during_autosave_never_corrupts() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("big.yaml");
    record_run(&dirs, &s, &[]);
    // A big session makes every save take a while, so kills land mid-write.
    let mut session = load_session(&s).unwrap();
    let run = session.runs[0].clone();
    session.runs = vec![run; 300];
    save_session(&s, &session).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("promptlab");
    let timed = Instant::now();
    record_run(&dirs, &s, &[]);
    let full = timed.elapsed();
    let mut runs = load_session(&s).unwrap().runs.len();
    let mut killed_mid_way = 0;
    for i in 0..25u64 {
        let mut child = Std::new(&bin)
            .args([
                "run",
                "--backend",
                "scripted",
                "--script",
                "assets/demo-script.yaml",
                "-n",
                "3",
                "--seed",
                "0",
                "--save",
            ])
            .arg(&s)
            .env("PROMPTLAB_CACHE_DIR", dirs.path().join("cache"))
            .env("PROMPTLAB_CONFIG_DIR", dirs.path().join("config"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the whole run, saving included.
        std::thread::sleep(full.mul_f64((i as f64 + 0.5) / 25.0));
        let _ = child.kill();
        let status = child.wait().unwrap();
        killed_mid_way += usize::from(!status.success());
        let now = load_session(&s)
            .unwrap_or_else(|e| panic!("kill {i} left a broken session: {e}"))
            .runs
            .len();
        assert!(now == runs || now == runs + 1, "runs went {runs} -> {now}");
        runs = now;
        let leftovers: Vec<_> = std::fs::read_dir(dirs.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        for l in leftovers {
            // A temp file may be left by a kill; it never replaces the session.
            let _ = std::fs::remove_file(l.path());
        }
    }
    assert!(
        killed_mid_way > 5,
        "the test killed runs in flight ({killed_mid_way})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_a_session_or_the_log() {
    let sentinel = "sk-sentinel-4f3a9c2e7d1b";
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
    let dirs = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dirs.path().join("config")).unwrap();
    std::fs::write(
        dirs.path().join("config/config.yaml"),
        format!("api_key: {sentinel}-config\n"),
    )
    .unwrap();
    let s = dirs.path().join("s.yaml");
    let url = format!("{}/v1", server.uri());
    let out = promptlab(&dirs)
        .args([
            "run",
            "--base-url",
            &url,
            "--model",
            "m",
            "-n",
            "2",
            "--save",
        ])
        .arg(&s)
        .env("OPENAI_API_KEY", sentinel)
        .env("PROMPTLAB_LOG", "trace")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests.iter().all(|r| r
            .headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().contains(sentinel))),
        "the key is sent"
    );
    let session = std::fs::read_to_string(&s).unwrap();
    let log = std::fs::read_to_string(dirs.path().join("cache/promptlab.log")).unwrap();
    assert!(!log.is_empty(), "trace logging wrote something");
    for (name, text) in [
        ("session", &session),
        ("log", &log),
        ("stdout", &String::from_utf8_lossy(&out.stdout).into_owned()),
    ] {
        assert!(
            !text.contains("sk-sentinel"),
            "the key leaked into the {name}"
        );
    }
}

#[test]
fn concurrent_saves_from_eight_processes_keep_eight_runs() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("same.yaml");
    let children: Vec<_> = (0..8)
        .map(|i| {
            common::process(&dirs)
                .args([
                    "run",
                    "--backend",
                    "scripted",
                    "--script",
                    "assets/demo-script.yaml",
                ])
                .args(["-n", "3", "--seed"])
                .arg(i.to_string())
                .arg("--save")
                .arg(&s)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let session = load_session(&s).unwrap();
    assert_eq!(session.runs.len(), 8, "no save lost another's run");
    let mut seeds: Vec<u64> = session
        .runs
        .iter()
        .map(|r| r.template.sampling.seed)
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, (0..8).collect::<Vec<u64>>());
    let left: Vec<_> = std::fs::read_dir(dirs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "same.yaml")
        .collect();
    assert!(
        left.iter().all(|n| !n.starts_with('.')),
        "no lock or temp files left beside the session: {left:?}"
    );
}

#[test]
fn a_large_session_saves_loads_and_grows() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("big.yaml");
    record_run(&dirs, &s, &[]);
    let mut session = load_session(&s).unwrap();
    let mut run = session.runs[0].clone();
    let path = run.result.paths[0].clone();
    run.result.paths = (0..64)
        .map(|i| {
            let mut p = path.clone();
            p.index = i;
            p
        })
        .collect();
    session.runs = vec![run; 200];
    save_session(&s, &session).unwrap();
    // Far past the YAML reader's default node budget (250,000): still readable, and the CLI
    // can append to it and replay it.
    let back = load_session(&s).unwrap();
    assert_eq!(back.runs.len(), 200);
    record_run(&dirs, &s, &[]);
    assert_eq!(load_session(&s).unwrap().runs.len(), 201);
    stdout(promptlab(&dirs).args(["replay", "--run", "201"]).arg(&s));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_stderr_the_cache_exports_or_echoed_errors() {
    let sentinel = "sk-sentinel-77aa21";
    let good = MockServer::start().await;
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The answer is 2.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&good)
        .await;
    // A proxy that echoes the Authorization header in its error.
    let echo = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            "{{\"error\":{{\"message\":\"bad key Bearer {sentinel}\"}}}}"
        )))
        .mount(&echo)
        .await;
    let dirs = tempfile::tempdir().unwrap();
    let out_dir = dirs.path().join("out");
    let eval = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-cot",
            "-d",
            "assets/arith-mini.jsonl",
            "--limit",
            "2",
            "-n",
            "2",
        ])
        .args([
            "--base-url",
            &format!("{}/v1", good.uri()),
            "--model",
            "m",
            "--json",
            "--out",
        ])
        .arg(&out_dir)
        .env("OPENAI_API_KEY", sentinel)
        .env("PROMPTLAB_LOG", "trace")
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let failed = promptlab(&dirs)
        .args(["run", "-t", "gsm8k-cot", "-n", "1", "--retries", "0"])
        .args(["--base-url", &format!("{}/v1", echo.uri()), "--model", "m"])
        .env("OPENAI_API_KEY", sentinel)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let failed_err = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert!(failed_err.contains("[redacted]"), "{failed_err}");
    let mut places = vec![
        (
            "eval stdout",
            String::from_utf8_lossy(&eval.stdout).into_owned(),
        ),
        (
            "eval stderr",
            String::from_utf8_lossy(&eval.stderr).into_owned(),
        ),
        ("echoed error", failed_err),
        (
            "cache",
            std::fs::read_to_string(dirs.path().join("cache/samples/samples.jsonl")).unwrap(),
        ),
        (
            "log",
            std::fs::read_to_string(dirs.path().join("cache/promptlab.log")).unwrap(),
        ),
    ];
    for f in ["items.jsonl", "variants.csv", "report.md"] {
        places.push((f, std::fs::read_to_string(out_dir.join(f)).unwrap()));
    }
    for (name, text) in places {
        assert!(!text.contains(sentinel), "the key leaked into the {name}");
    }
}

/// The lab writes its whole session (`save_merged`); runs a `promptlab run --save` appended
/// to the same file since the lab read it are kept, after the lab's own, and handed back.
#[test]
fn a_lab_save_keeps_runs_the_cli_appended_meanwhile() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("shared.yaml");
    let out = common::scripted(&dirs)
        .arg("--save")
        .arg(&s)
        .output()
        .unwrap();
    assert!(out.status.success());
    // The lab opens it, re-votes its run and records one of its own.
    let mut lab = load_session(&s).unwrap();
    let revoted = lab.runs[0]
        .revote(&promptlab::core::extract::AnswerSpec::of(
            promptlab::core::extract::AnswerKind::Text,
        ))
        .unwrap();
    lab.runs[0] = revoted.clone();
    let mut mine = lab.runs[0].clone();
    mine.timestamp = "2099-01-01T00:00:00Z".into();
    lab.runs.push(mine);
    // Meanwhile the CLI appends two.
    for seed in ["5", "6"] {
        let out = common::scripted(&dirs)
            .args(["--seed", seed, "--save"])
            .arg(&s)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let taken = promptlab::store::session::save_merged(&s, &mut lab).unwrap();
    assert_eq!(
        taken.len(),
        2,
        "the two CLI runs, not the re-voted one again"
    );
    let on_disk = load_session(&s).unwrap();
    assert_eq!(on_disk.runs.len(), 4);
    assert_eq!(on_disk.runs[0], revoted, "the lab's re-vote stands");
    assert_eq!(on_disk.runs[1].timestamp, "2099-01-01T00:00:00Z");
    let seeds: Vec<u64> = on_disk.runs[2..]
        .iter()
        .map(|r| r.template.sampling.seed)
        .collect();
    assert_eq!(seeds, vec![5, 6]);
    // A second save takes in nothing more.
    assert!(
        promptlab::store::session::save_merged(&s, &mut lab)
            .unwrap()
            .is_empty()
    );
}

/// A file there that is not a session is never overwritten by a merge save.
#[test]
fn a_merge_save_leaves_a_foreign_file_alone() {
    let dirs = tempfile::tempdir().unwrap();
    let notes = dirs.path().join("notes.yaml");
    std::fs::write(&notes, "just: notes\n").unwrap();
    let (t, _) = promptlab::store::template::resolve("gsm8k-cot").unwrap();
    let mut s = promptlab::store::session::Session::new(t);
    assert!(promptlab::store::session::save_merged(&notes, &mut s).is_err());
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "just: notes\n");
}
