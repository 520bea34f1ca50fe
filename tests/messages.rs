//! Messages that said the wrong thing (issue 23, misleading messages), through the binary.

mod common;

use common::{nowhere, ok_json, promptlab};

/// `eval` of three arithmetic items against a server nobody runs (nothing may be sent), plus
/// `extra`.
fn eval(dirs: &tempfile::TempDir, server: &str, extra: &[&str]) -> std::process::Output {
    promptlab(dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
        ])
        .args([
            "--limit",
            "3",
            "-n",
            "1",
            "--base-url",
            server,
            "--model",
            "m",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn batch_outputs_that_hold_nothing_or_failures_say_so() {
    let dirs = tempfile::tempdir().unwrap();
    let server = nowhere();
    let requests = dirs.path().join("requests.jsonl");
    let out = eval(&dirs, &server, &["--batch-out", requests.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = std::fs::read_to_string(&requests)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["custom_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3);

    // An empty file is refused for what it is.
    let empty = dirs.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    let out = eval(&dirs, &server, &["--batch-in", empty.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the batch output is empty"), "{err}");
    assert!(!err.contains("simulate-early-stop"), "{err}");

    // A failed line, a string status code, a status code that is no number.
    let reply = serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "The answer is 2."}, "finish_reason": "stop"}]});
    let lines = [
        serde_json::json!({"custom_id": ids[0], "response": null, "error": {"message": "quota"}}),
        serde_json::json!({"custom_id": ids[1], "response": {"status_code": "200", "body": reply}}),
        serde_json::json!({"custom_id": ids[2], "response": {"status_code": "ok", "body": reply}}),
    ];
    let output = dirs.path().join("output.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&output, text).unwrap();
    let out = eval(
        &dirs,
        &server,
        &["--batch-in", output.to_str().unwrap(), "--json"],
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let v = ok_json(&out);
    assert!(err.contains("line 1: failed: quota"), "{err}");
    assert!(!err.contains("HTTP 0"), "{err}");
    assert!(err.contains("status_code \"ok\" is not a number"), "{err}");
    assert!(
        err.contains("read 1 samples"),
        "the string \"200\" is read: {err}"
    );
    let samples = &v["variants"][0]["samples"];
    assert_eq!(samples["fresh"], 0, "nothing was sent: {samples}");
    assert_eq!(samples["cached"], 1, "{samples}");
    assert_eq!(samples["failed"], 2, "{samples}");
}

#[test]
fn replay_recomputes_an_impossible_tally_and_says_so() {
    let dirs = tempfile::tempdir().unwrap();
    let session = dirs.path().join("s.yaml");
    let out = common::scripted(&dirs)
        .arg("--save")
        .arg(&session)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&session).unwrap();
    let edited = text
        .replacen("winner: \"18\"", "winner: \"99\"", 1)
        .replacen("agreement: 0.6", "agreement: .nan", 1)
        .replacen("share: 0.2", "share: -3.0", 1)
        .replacen("- index: 4", "- index: 4294967295", 1);
    assert_ne!(edited, text);
    std::fs::write(&session, edited).unwrap();
    let out = promptlab(&dirs)
        .arg("replay")
        .arg(&session)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("was inconsistent: run 1: "), "{stderr}");
    assert!(stderr.contains("recomputed"), "{stderr}");
    for bad in ["99", "NaN", "-300", "4294967295"] {
        assert!(!stdout.contains(bad), "{bad} shown:\n{stdout}");
    }
    let v = ok_json(
        &promptlab(&dirs)
            .args(["replay", "--json"])
            .arg(&session)
            .output()
            .unwrap(),
    );
    assert_eq!(v["answer"], "18");
}
