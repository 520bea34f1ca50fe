//! The files a job writes to the folder its `--out` names, composed from core's records and
//! written all-or-nothing (`atomic::write_all_atomic`): a full disk or a folder in the way
//! leaves no half-written export. One writer per job:
//!
//! - an evaluation (`eval --out`): items.jsonl (one line per item and variant), variants.csv
//!   (one row per variant, every figure as a plain number), report.md (the table, the
//!   comparisons in words, the maj@k curves), accuracy.svg (accuracy against samples);
//! - the demonstrations analysis (`examples --out`): examples.json and examples.md;
//! - the learning curve (`tune --curve`): curve.svg and curve.json beside its adapters;
//! - an evaluation's batch input (`eval --batch-out FILE`), one request line per sample.
//!
//! Every file says what produced it (`core::results::provenance`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::atomic::write_all_atomic;
use super::error::StoreError;
use crate::core::curve::Curve;
use crate::core::record::BackendInfo;
use crate::core::results::examples::ExamplesRecord;
use crate::core::results::table::{maj_at_k_line, scored_line, what_if_line};
use crate::core::results::{VariantResult, columns, comparison_heading, comparison_lines};
use crate::core::results::{chart_series, provenance_line};

mod variants;

/// Creates the folder `dir` (and its parents) for a job's files.
pub fn folder(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))
}

/// An error writing into `dir`, named by the folder ("out/: No space left on device").
fn io(dir: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: dir.display().to_string(),
        source,
    }
}

/// Writes `files` (names in `dir`) all or none, creating `dir` first.
fn write_all(dir: &Path, files: Vec<(&str, Vec<u8>)>) -> Result<(), StoreError> {
    folder(dir)?;
    let files: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|(name, bytes)| (dir.join(name), bytes))
        .collect();
    write_all_atomic(&files).map_err(|e| io(dir, e))
}

/// An evaluation's files: items.jsonl, variants.csv, report.md and accuracy.svg in `dir`
/// (created if missing). `partial`: stopped before every item was sampled, said in the report
/// and in every row.
pub fn evaluation(
    dir: &Path,
    dataset: &str,
    results: &[VariantResult],
    provenance: &Value,
    partial: bool,
) -> Result<(), StoreError> {
    let chart = crate::core::chart::svg(
        &format!("{dataset}: accuracy against samples per item"),
        &chart_series(results),
    );
    let variants = variants::csv_bytes(results, partial).map_err(|e| io(dir, e))?;
    write_all(
        dir,
        vec![
            ("items.jsonl", items_jsonl(results).into_bytes()),
            ("variants.csv", variants),
            (
                "report.md",
                report_md(dataset, results, provenance, partial).into_bytes(),
            ),
            ("accuracy.svg", chart.into_bytes()),
        ],
    )
}

/// items.jsonl: one line per item of each variant, its answers and whether they were right.
fn items_jsonl(results: &[VariantResult]) -> String {
    let mut items = String::new();
    for r in results {
        for i in &r.per_item {
            let v: Value = json!({"variant": r.name, "backend": r.backend.label(), "fresh": i.all_paths().filter(|p| !p.cached).count(), "cached": i.all_paths().filter(|p| p.cached).count(), "id": i.id, "target": i.target, "answers": i.answers, "majority": i.majority, "correct": i.correct, "first_correct": i.first_correct, "maj_at_k": i.maj_at_k, "readings": i.readings});
            let _ = writeln!(items, "{v}");
        }
    }
    items
}

/// report.md: the figures (accuracies with their intervals), the comparisons in words, the
/// maj@k curves and any what-if.
fn report_md(
    dataset: &str,
    results: &[VariantResult],
    provenance: &Value,
    partial: bool,
) -> String {
    let columns = columns(results);
    let mut md = format!(
        "# Evaluation: {dataset}{}\n\nProduced by {}.\n\n| variant | {} |\n|---|{}\n",
        if partial {
            " (PARTIAL: stopped before every item was sampled)"
        } else {
            ""
        },
        provenance_line(provenance, results),
        columns.head.join(" | "),
        "---|".repeat(columns.head.len())
    );
    for (r, row) in results.iter().zip(&columns.rows) {
        let _ = writeln!(md, "| {} | {} |", r.name, row.join(" | "));
    }
    md.push_str("\nAccuracies carry their 95% intervals (Wilson; maj@N clustered by item).\n");
    if let Some(heading) = comparison_heading(results) {
        let _ = writeln!(md, "\n## Comparisons\n\nCompared {heading}:\n");
        for (name, line) in comparison_lines(results) {
            let _ = writeln!(md, "- **{name}**: {line}");
        }
    }
    md.push_str("\n## maj@k\n\n");
    for r in results {
        let _ = writeln!(md, "- **{}**: {}", r.name, maj_at_k_line(r, ", "));
    }
    if results.iter().any(|r| r.strict_flexible.is_some()) {
        md.push_str("\n## Strict and flexible answers\n\n");
        for r in results {
            if let Some(sf) = &r.strict_flexible {
                let _ = writeln!(md, "- **{}**: {}", r.name, sf.describe());
            }
        }
    }
    let items = results.first().map_or(0, |r| r.per_item.len());
    for r in results {
        if let Some(line) = what_if_line(r, items) {
            let _ = writeln!(md, "\n## What-if: {}\n\n{line}", r.name);
        }
    }
    for r in results {
        if let Some(line) = scored_line(r) {
            let _ = writeln!(md, "\n## Mode: {}\n\n{line}", r.name);
        }
    }
    md
}

/// The demonstrations analysis' files in `dir` (created if missing): examples.json (the
/// record, pretty-printed) and examples.md (the report for people with headings and tables).
pub fn examples(dir: &Path, record: &ExamplesRecord) -> Result<(), StoreError> {
    let markdown = format!("# Examples analysis\n\n{}", record.text(true));
    write_all(
        dir,
        vec![
            (
                "examples.json",
                format!("{:#}\n", record.json()).into_bytes(),
            ),
            ("examples.md", markdown.into_bytes()),
        ],
    )
}

/// A learning curve as `tune --curve` records it: what produced it (promptlab and the base
/// model both arms ran on), the template, the held-out items it was scored on, the seed of
/// its subsets, and the curve.
pub struct CurveRecord<'a> {
    pub base: BackendInfo,
    pub template: &'a str,
    pub held_out: Vec<&'a str>,
    pub seed: u64,
    pub curve: &'a Curve,
}

impl CurveRecord<'_> {
    /// The record as curve.json holds it (and `tune --curve --json` prints it).
    pub fn json(&self) -> Value {
        json!({
            "provenance": {
                "promptlab": crate::core::record::version(),
                "base": self.base,
            },
            "template": self.template,
            "held_out": self.held_out,
            "seed": self.seed,
            "curve": self.curve,
        })
    }
}

/// A learning curve's files in `dir` (created if missing): curve.svg (the adapter's and the
/// prompt's accuracy against labelled rows) and curve.json (`record`).
pub fn curve(dir: &Path, record: &CurveRecord) -> Result<(), StoreError> {
    let title = format!("{}: LoRA adapter against few-shot prompt", record.template);
    write_all(
        dir,
        vec![
            ("curve.svg", record.curve.svg(&title).into_bytes()),
            ("curve.json", format!("{:#}\n", record.json()).into_bytes()),
        ],
    )
}

/// `eval --batch-out FILE`: the requests a batch runner is to send (`engine::batch::requests`),
/// written atomically to `path`.
pub fn batch_requests(path: &Path, text: &str) -> Result<(), StoreError> {
    super::atomic::write_atomic(path, text.as_bytes()).map_err(StoreError::io(path))
}
