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
    let none = strict["tally"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["answer"].is_null())
        .unwrap();
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
    let none = strict["tally"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["answer"].is_null())
        .unwrap();
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
