//! Strict and flexible answers through the binary: how each answer was read, fallback votes
//! marked and counted, and strict answers setting them aside in `run` and `replay`.

mod common;

use common::{ok_json, promptlab, scripted};

/// A script whose paths mostly restate the question: their last number, 2, is read only by
/// the fallback; one path states 9.
fn restating_script(dirs: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dirs.path().join("restating.yaml");
    std::fs::write(
        &path,
        "model: restating\nresponses:\n\
         - text: \" She sells the remainder daily for $2 per fresh duck egg.\"\n\
         - text: \" She sells 16 - 7 = 9 eggs. The answer is 9.\"\n\
         - text: \" She sells the remainder daily for $2 per fresh duck egg.\"\n\
         - text: \" Her ducks lay 16 eggs a day, sold for $2 each.\"\n\
         - text: \" She bakes with 4.\"\n",
    )
    .unwrap();
    path
}

/// The no-answer bucket of a `run --json` tally.
fn no_answer(run: &serde_json::Value) -> &serde_json::Value {
    run["tally"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["answer"].is_null()))
        .expect("a no-answer bucket")
}

fn run_json(dirs: &tempfile::TempDir, extra: &[&str]) -> serde_json::Value {
    let script = restating_script(dirs);
    let out = promptlab(dirs)
        .args(["run", "--backend", "scripted", "--script"])
        .arg(&script)
        .args(["-n", "5", "--seed", "0", "--json"])
        .args(extra)
        .output()
        .unwrap();
    ok_json(&out)
}

#[test]
fn run_marks_fallback_votes_and_strict_answers_set_them_aside() {
    let dirs = tempfile::tempdir().unwrap();
    let flexible = run_json(&dirs, &[]);
    assert_eq!(flexible["answer"], "2");
    assert_eq!(flexible["strict_answers"], false);
    assert_eq!(flexible["paths"][0]["read"], "last-number");
    assert_eq!(flexible["paths"][1]["read"], "trigger");
    assert_eq!(flexible["tally"][0]["answer"], "2");
    assert_eq!(flexible["tally"][0]["fallback"], 3);
    let strict = run_json(&dirs, &["--strict-answers"]);
    assert_eq!(strict["answer"], "9");
    assert_eq!(strict["strict_answers"], true);
    let none = no_answer(&strict);
    assert_eq!(
        (none["votes"].as_u64(), none["fallback"].as_u64()),
        (Some(4), Some(4))
    );
    // The table marks them and says what the marks mean.
    let script = restating_script(&dirs);
    let out = promptlab(&dirs)
        .args(["run", "--backend", "scripted", "--script"])
        .arg(&script)
        .args(["-n", "5", "--seed", "0"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("  0  ~2 "), "{table}");
    assert!(table.contains("(~3)"), "{table}");
    assert!(
        table.contains("~ 4 of 5 votes read by the fallback"),
        "{table}"
    );
}

#[test]
fn a_template_can_ask_for_strict_answers_and_the_flag_can_turn_them_off() {
    let dirs = tempfile::tempdir().unwrap();
    let template = dirs.path().join("strict.yaml");
    let (mut t, _) = promptlab::store::template::resolve("gsm8k-cot").unwrap();
    t.answer.strict = true;
    promptlab::store::template::save_template(&template, &t).unwrap();
    let text = std::fs::read_to_string(&template).unwrap();
    assert!(text.contains("strict: true"), "{text}");
    let t = template.to_str().unwrap();
    assert_eq!(run_json(&dirs, &["-t", t])["answer"], "9");
    assert_eq!(
        run_json(&dirs, &["-t", t, "--strict-answers=false"])["answer"],
        "2"
    );
}

#[test]
fn replay_reads_old_sessions_again_and_re_votes_them_strictly() {
    let dirs = tempfile::tempdir().unwrap();
    let replay = |extra: &[&str]| {
        let out = promptlab(&dirs)
            .args([
                "replay",
                "sessions/gsm8k-gemma-270m.yaml",
                "--run",
                "1",
                "--json",
            ])
            .args(extra)
            .output()
            .unwrap();
        ok_json(&out)
    };
    // A format-1 session: its paths never recorded how they were read.
    let old = replay(&[]);
    let reads: Vec<&str> = old["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["read"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        reads.iter().filter(|r| **r == "last-number").count(),
        2,
        "{reads:?}"
    );
    assert_eq!(old["answer"], "16");
    let strict = replay(&["--strict-answers"]);
    assert_eq!(strict["strict_answers"], true);
    let none = no_answer(&strict);
    assert_eq!(none["fallback"], 2);
    // `--write` needs something to re-vote.
    let out = promptlab(&dirs)
        .args(["replay", "sessions/gsm8k-gemma-270m.yaml", "--write"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn the_strict_flag_is_offered_where_answers_are_read() {
    let dirs = tempfile::tempdir().unwrap();
    for cmd in ["run", "eval", "replay", "optimize", "tui"] {
        let out = promptlab(&dirs).args([cmd, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("--strict-answers"), "{cmd}: {help}");
    }
    // And `scripted` runs keep working without it.
    scripted(&dirs)
        .args(["-n", "1", "--json"])
        .assert()
        .success();
}

#[test]
fn evaluations_report_strict_and_flexible_accuracy_paired_on_the_items() {
    let dirs = tempfile::tempdir().unwrap();
    // Six items, all 18: two state it, three only end on it, one ends on another number.
    let data = dirs.path().join("eggs.jsonl");
    let mut lines = String::new();
    let mut script = String::from("model: eggs\nresponses:\n");
    let replies = [
        "So 9 * 2 = 18. The answer is 18.",
        "The answer is 18.",
        "She makes 9 * 2 = 18 dollars.",
        "9 eggs at $2 is 18",
        "That is 18 dollars a day.",
        "She keeps 7 of 16 eggs.",
    ];
    for (i, reply) in replies.iter().enumerate() {
        lines.push_str(&format!(
            "{{\"id\": \"e{i}\", \"input\": \"Question number {i}?\", \"target\": 18}}\n"
        ));
        script.push_str(&format!(
            "  - when: \"Question number {i}?\"\n    text: \" {reply}\"\n"
        ));
    }
    std::fs::write(&data, lines).unwrap();
    let script_path = dirs.path().join("eggs-script.yaml");
    std::fs::write(&script_path, script).unwrap();
    let out_dir = dirs.path().join("out");
    let eval = |extra: &[&str]| {
        promptlab(&dirs)
            .args([
                "eval",
                "-t",
                "gsm8k-direct",
                "--backend",
                "scripted",
                "--script",
            ])
            .arg(&script_path)
            .arg("-d")
            .arg(&data)
            .args(["-n", "1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = eval(&["--json", "--out", out_dir.to_str().unwrap()]);
    let v = ok_json(&out);
    let sf = &v["variants"][0]["strict_flexible"];
    assert_eq!(sf["strict"]["value"].as_f64(), Some(2.0 / 6.0), "{sf}");
    assert_eq!(sf["flexible"]["value"].as_f64(), Some(5.0 / 6.0), "{sf}");
    assert_eq!(sf["paired"]["test"]["b_only"], 3, "{sf}");
    assert_eq!(sf["paired"]["test"]["a_only"], 0, "{sf}");
    assert!(
        (sf["paired"]["p"].as_f64().unwrap() - 0.25).abs() < 1e-9,
        "exact: 2 · 0.5^3"
    );
    assert_eq!(
        v["variants"][0]["accuracy_majority"].as_f64(),
        Some(5.0 / 6.0)
    );
    let csv = std::fs::read_to_string(out_dir.join("variants.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("accuracy_strict,accuracy_flexible")
    );
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        report.contains("## Strict and flexible answers"),
        "{report}"
    );
    // With strict answers the evaluation's own accuracy is the strict one.
    let out = eval(&["--strict-answers", "--no-cache"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("33.3%"), "{table}");
    assert!(table.contains("strict 33.3% ["), "{table}");
}
