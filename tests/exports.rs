//! The files each job writes to `--out`, pinned byte for byte for a fixed input (golden files
//! in `tests/exports/`): an evaluation's items.jsonl, variants.csv, report.md and
//! accuracy.svg, the examples report's examples.json and examples.md, and the learning
//! curve's curve.svg and curve.json. Only what cannot repeat is masked: the promptlab version
//! and wall-clock times.
//!
//! `PROMPTLAB_BLESS=1 cargo test --test exports` rewrites the golden files (then read the diff).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use promptlab::backend::Backend;
use promptlab::backend::scripted::ScriptedBackend;
use promptlab::core::curve::{Scores, curve};
use promptlab::core::render::Mode;
use promptlab::engine::eval::{EvalOptions, Variant, VariantResult, eval_variant};
use promptlab::store::dataset::Item;
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/exports")
}

/// The embedded model a curve ran on, as its backend says.
fn base() -> promptlab::core::record::BackendInfo {
    promptlab::core::record::BackendInfo {
        fingerprint: Some("7142a490".into()),
        ..promptlab::core::record::BackendInfo::new(
            "local",
            "gemma-3-270m-q4_k_m",
            promptlab::core::render::Mode::Completion,
        )
    }
}

/// The promptlab version, the temporary folder and wall-clock times, masked.
fn masked(text: &str, tmp: &Path) -> String {
    let version = promptlab::core::record::version();
    let text = text
        .replace(&version, "VERSION")
        .replace(&tmp.display().to_string(), "TMP");
    let re = |p: &str| regex::Regex::new(p).unwrap();
    let text = re(r#""elapsed_ms": \d+"#).replace_all(&text, r#""elapsed_ms": 0"#);
    let text = re(r"· \d+\.\ds\b").replace_all(&text, "· 0.0s");
    text.into_owned()
}

/// Compares each written file with its golden file (or rewrites them when blessing).
fn check(dir: &Path, files: &[&str], golden: &str, tmp: &Path) {
    let bless = std::env::var_os("PROMPTLAB_BLESS").is_some();
    let golden = golden_dir().join(golden);
    for f in files {
        let written = std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let written = masked(&String::from_utf8(written).expect("UTF-8"), tmp);
        let path = golden.join(f);
        if bless {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &written).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (PROMPTLAB_BLESS=1 writes it)", path.display()));
        assert!(
            written == want,
            "{f} differs from {}:\n--- written\n{written}\n--- golden\n{want}",
            path.display()
        );
    }
}

fn items(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| Item {
            id: format!("q{i}"),
            input: format!("What is {i} + {i}?"),
            targets: vec![(2 * i).to_string()],
        })
        .collect()
}

async fn evaluated(name: &str, texts: &[&str], n: u32, data: &[Item]) -> VariantResult {
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = n;
    let backend: Arc<dyn Backend> = Arc::new(ScriptedBackend::from_texts(texts.iter().copied()));
    let v = Variant {
        name: name.into(),
        settings: serde_json::json!({"n": n.to_string()}),
        template: t,
        mode: Mode::Completion,
        backend,
    };
    let opts = EvalOptions::new(1, None, CancellationToken::new());
    let mut r = eval_variant(&v, data, &opts, Arc::new(|_: usize, _: usize| {})).await;
    // Wall-clock time is the one thing a fixed input does not fix.
    r.elapsed_ms = 1500;
    r.cost.seconds_per_item = 0.25;
    r
}

/// Two variants over six items: a baseline that answers well and one that answers badly,
/// with statistics filled in as `eval` fills them.
async fn evaluation() -> Vec<VariantResult> {
    let data = items(6);
    let good = [
        "0 + 0 = 0. The answer is 0.",
        "1 + 1 = 2. The answer is 2.",
        "The answer is 4.",
        "The answer is 6.",
        "Doubling gives 8. The answer is 8.",
        "I am not sure.",
    ];
    let bad = ["The answer is 1.", "Maybe 3", "The answer is 4."];
    let mut results = vec![
        evaluated("n=3 good", &good, 3, &data).await,
        evaluated("n=3 bad", &bad, 3, &data).await,
    ];
    promptlab::engine::grid::fill(&mut results, 0);
    results
}

const EVAL_FILES: [&str; 4] = ["items.jsonl", "variants.csv", "report.md", "accuracy.svg"];

fn write_evaluation(dir: &Path, results: &[VariantResult], partial: bool) {
    let provenance = promptlab::core::results::provenance(results);
    promptlab::store::exports::evaluation(dir, "sums", results, &provenance, partial).unwrap();
}

#[tokio::test]
async fn an_evaluations_files_keep_their_bytes() {
    let results = evaluation().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/new/folder");
    write_evaluation(&out, &results, false);
    check(&out, &EVAL_FILES, "eval", dir.path());
    // A stopped evaluation says so in its report and in every row.
    write_evaluation(&out, &results, true);
    check(
        &out,
        &["variants.csv", "report.md"],
        "eval-partial",
        dir.path(),
    );
}

#[test]
fn an_examples_reports_files_keep_their_bytes() {
    let dirs = tempfile::tempdir().unwrap();
    let out_dir = dirs.path().join("report");
    let out = common::key_example_analysis(&dirs, 8, &out_dir);
    common::ok_json(&out);
    check(
        &out_dir,
        &["examples.json", "examples.md"],
        "examples",
        dirs.path(),
    );
}

/// A learning curve over 10 held-out items at three sizes, the adapter overtaking the prompt.
fn a_curve() -> promptlab::core::curve::Curve {
    let bits = |s: &str| Some(s.bytes().map(|b| b == b'1').collect::<Vec<bool>>());
    curve(
        10,
        &[
            Scores {
                rows: 8,
                adapter: bits("1000010000"),
                prompt: bits("1101010010"),
            },
            Scores {
                rows: 16,
                adapter: bits("1101011010"),
                prompt: None,
            },
            Scores {
                rows: 32,
                adapter: bits("1111111011"),
                prompt: bits("1101010110"),
            },
        ],
    )
}

#[test]
fn a_learning_curves_files_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let result = a_curve();
    let held_out: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
    let record = promptlab::store::exports::CurveRecord {
        base: base(),
        template: "tickets",
        held_out: held_out.iter().map(String::as_str).collect(),
        seed: 7,
        curve: &result,
    };
    let out = dir.path().join("tickets-curve");
    promptlab::store::exports::curve(&out, &record).unwrap();
    check(&out, &["curve.svg", "curve.json"], "curve", dir.path());
}

#[tokio::test]
async fn an_export_in_the_way_of_a_file_fails_naming_the_folder_and_writes_nothing() {
    let results = evaluation().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // A folder where report.md would go: none of the four files is written.
    std::fs::create_dir(out.join("report.md")).unwrap();
    let provenance = promptlab::core::results::provenance(&results);
    let err = promptlab::store::exports::evaluation(&out, "sums", &results, &provenance, false)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&out.display().to_string()), "{err}");
    for f in ["items.jsonl", "variants.csv", "accuracy.svg"] {
        assert!(!out.join(f).exists(), "{f} was written");
    }
    // A file where the folder would go.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "mine").unwrap();
    let curve = a_curve();
    let record = promptlab::store::exports::CurveRecord {
        base: base(),
        template: "tickets",
        held_out: vec![],
        seed: 1,
        curve: &curve,
    };
    let err = promptlab::store::exports::curve(&file.join("curve"), &record)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a-file"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}
