//! Free-form answers end to end: the similarity against the hand-labelled pairs, `run`,
//! `eval` and `replay` with answer kind `free`.

mod common;

use common::{ok_json, promptlab, scripted};
use promptlab::core::free::{DEFAULT_SIMILARITY, Words, overlap};

/// Overlap's agreement with the hand labels of `tests/fixtures/free-pairs.jsonl` stays at
/// the goal (F1 ≥ 0.85 at the default similarity); `cargo bench --bench free_vote` prints the
/// figures beside Jaccard, Dice and embeddings.
#[test]
fn overlap_agrees_with_the_hand_labels() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/free-pairs.jsonl"
    ))
    .unwrap();
    let (mut tp, mut fp, mut fneg, mut n) = (0.0, 0.0, 0.0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let q = Words::of(v["question"].as_str().unwrap());
        let a = Words::of(v["a"].as_str().unwrap()).answering(&q);
        let b = Words::of(v["b"].as_str().unwrap()).answering(&q);
        let same = overlap(&a, &b) >= DEFAULT_SIMILARITY;
        match (same, v["same"].as_bool().unwrap()) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            (false, false) => {}
        }
        n += 1;
    }
    assert!(n >= 200, "{n} labelled pairs");
    let (p, r) = (tp / (tp + fp), tp / (tp + fneg));
    let f1 = 2.0 * p * r / (p + r);
    assert!(f1 >= 0.85, "F1 {f1:.3} (precision {p:.3}, recall {r:.3})");
}

/// The trivia template with one piece of its text replaced, written into `dirs`.
fn trivia_with(dirs: &tempfile::TempDir, from: &str, to: &str) -> std::path::PathBuf {
    let t = dirs.path().join("trivia-variant.yaml");
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates/trivia.yaml"
    ))
    .unwrap();
    assert!(yaml.contains(from), "{from}");
    std::fs::write(&t, yaml.replace(from, to)).unwrap();
    t
}

/// `promptlab run` of `template` on the demo script; stdout, stderr and success.
fn run_scripted(dirs: &tempfile::TempDir, template: &std::path::Path) -> (String, String, bool) {
    let out = scripted(dirs).arg("-t").arg(template).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn run_votes_free_form_answers_by_cluster() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["-t", "trivia", "--json"])
        .output()
        .unwrap();
    let v = ok_json(&out);
    // Five scripted replies over eight paths: "Michelangelo", "It was painted by
    // Michelangelo." and "Michelangelo Buonarroti" are one vote of five.
    assert_eq!(v["tally"][0]["votes"], 5, "{}", v["tally"]);
    assert_eq!(v["tally"][0]["members"].as_array().unwrap().len(), 3);
    assert_eq!(v["clustering"]["rule"], "overlap");
    assert_eq!(v["clustering"]["similarity"], 0.7);
    assert!(v["answer"].as_str().unwrap().contains("michelangelo"));
}

#[test]
fn usc_picks_through_the_selector_and_says_so() {
    let dirs = tempfile::tempdir().unwrap();
    let t = trivia_with(&dirs, "cluster: overlap", "cluster: usc");
    let (text, err, ok) = run_scripted(&dirs, &t);
    assert!(ok, "{err}");
    assert!(
        text.contains("Selector (usc, 8 responses): \"1\" → path 0"),
        "{text}"
    );
    assert!(text.contains("the selector picks the winner"), "{text}");
}

#[test]
fn embed_without_a_model_and_bad_similarities_are_one_clear_error_each() {
    let cases = [
        (
            "cluster: overlap",
            "cluster: embed",
            "needs an embedding model: give --embed-model",
        ),
        (
            "similarity: 0.7",
            "similarity: 1.5",
            "answer similarity 1.5 is out of range",
        ),
    ];
    for (from, to, says) in cases {
        let dirs = tempfile::tempdir().unwrap();
        let (_, err, ok) = run_scripted(&dirs, &trivia_with(&dirs, from, to));
        assert!(!ok && err.contains(says), "{to}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn eval_scores_free_form_answers_against_paraphrased_targets() {
    let dirs = tempfile::tempdir().unwrap();
    let data = dirs.path().join("qa.jsonl");
    std::fs::write(
        &data,
        concat!(
            "{\"id\": \"a\", \"input\": \"Who wrote Pride and Prejudice?\", \"target\": [\"Jane Austen\", \"Austen\"]}\n",
            "{\"id\": \"b\", \"input\": \"What is the capital of Australia?\", \"target\": \"Canberra\"}\n",
        ),
    )
    .unwrap();
    let script = dirs.path().join("script.yaml");
    std::fs::write(
        &script,
        r#"responses:
  - when: "Q: Who wrote Pride and Prejudice?\nA:"
    text: " It was written by Jane Austen."
  - when: "Q: Who wrote Pride and Prejudice?\nA:"
    text: " Charlotte Brontë"
  - when: "Q: Who wrote Pride and Prejudice?\nA:"
    text: " Austen"
  - when: "Q: What is the capital of Australia?\nA:"
    text: " Sydney"
  - when: "Q: What is the capital of Australia?\nA:"
    text: " The capital is Sydney."
  - when: "Q: What is the capital of Australia?\nA:"
    text: " Canberra"
"#,
    )
    .unwrap();
    let out = promptlab(&dirs)
        .args(["eval", "-t", "trivia", "-d"])
        .arg(&data)
        .args(["--backend", "scripted", "--script"])
        .arg(&script)
        .args(["-n", "3", "--no-cache", "--json"])
        .output()
        .unwrap();
    let v = ok_json(&out);
    let variant = &v["variants"][0];
    assert_eq!(variant["free_vote"]["rule"], "overlap", "{variant}");
    assert_eq!(variant["free_vote"]["similarity"], 0.7);
    let items = variant["per_item"].as_array().unwrap();
    // Austen twice in other words: right. Sydney twice in other words: wrong.
    assert_eq!(items[0]["correct"], true, "{}", items[0]);
    assert_eq!(items[1]["correct"], false, "{}", items[1]);
    assert_eq!(variant["accuracy_majority"], 0.5);
}

#[test]
fn replay_re_votes_a_recorded_run_as_free_form_offline() {
    let dirs = tempfile::tempdir().unwrap();
    let session = dirs.path().join("s.yaml");
    let out = scripted(&dirs)
        .args(["-t", "trivia", "--save"])
        .arg(&session)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Exact text: the three wordings of Michelangelo are three answers.
    let out = promptlab(&dirs)
        .args(["replay", "--kind", "text", "--json"])
        .arg(&session)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["tally"][0]["votes"].as_u64().unwrap() < 5,
        "{}",
        v["tally"]
    );
    // Free at a strict similarity, then the default: written back into the session.
    let out = promptlab(&dirs)
        .args([
            "replay",
            "--kind",
            "free",
            "--similarity",
            "0.7",
            "--write",
            "--json",
        ])
        .arg(&session)
        .output()
        .unwrap();
    let v = ok_json(&out);
    assert_eq!(v["tally"][0]["votes"], 5, "{}", v["tally"]);
    let saved = std::fs::read_to_string(&session).unwrap();
    assert!(saved.contains("kind: free"), "{saved}");
    assert!(saved.contains("similarity: 0.7"), "{saved}");
    // USC cannot re-vote offline without a recorded pick: it says so and votes by overlap.
    let out = promptlab(&dirs)
        .args(["replay", "--kind", "free", "--cluster", "usc"])
        .arg(&session)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("usc: no selector reply recorded (it needs the model)"),
        "{text}"
    );
}

#[test]
fn an_embedding_model_llama_cpp_cannot_load_is_refused_with_its_reason() {
    let dirs = tempfile::tempdir().unwrap();
    let t = trivia_with(&dirs, "cluster: overlap", "cluster: embed");
    // The magic of a GGUF, then nothing a loader can read.
    let junk = dirs.path().join("junk.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend([0u8; 60]);
    std::fs::write(&junk, bytes).unwrap();
    let out = scripted(&dirs)
        .arg("-t")
        .arg(&t)
        .arg("--embed-model")
        .arg(&junk)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("could not load"), "the loader's reason: {err}");
    assert!(err.contains("junk.gguf"), "{err}");
}
