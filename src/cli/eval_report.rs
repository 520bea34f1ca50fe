//! How an evaluation is shown to people: the table (each accuracy with its interval, each
//! variant against the baseline) and its lines. Every figure is one the engine and
//! `core::evaluation` computed; the files of `eval --out` are written by `store::exports`.

use std::fmt::Write as _;

use crate::core::results::table::{maj_at_k_line, scored_line, what_if_line};
use crate::core::results::{
    VariantResult, columns, comparison_heading, comparison_lines, pct, provenance, provenance_line,
};

/// The side-by-side table for people, then each variant's maj@k curve.
pub fn table(dataset: &str, items: usize, results: &[VariantResult]) -> String {
    let w = results
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let columns = columns(results);
    let mut out = format!(
        "{dataset} · {items} items · {}\n\n{:<w$}",
        provenance_line(&provenance(results), results),
        "variant"
    );
    for (c, cw) in columns.head.iter().zip(&columns.widths) {
        let _ = write!(out, "  {c:>cw$}");
    }
    out.push('\n');
    for (r, row) in results.iter().zip(&columns.rows) {
        let _ = write!(out, "{:<w$}", r.name);
        for (c, cw) in row.iter().zip(&columns.widths) {
            let _ = write!(out, "  {c:>cw$}");
        }
        if r.samples.failed > 0 {
            let _ = write!(out, "  ({} samples failed)", r.samples.failed);
        }
        out.push('\n');
    }
    out.push('\n');
    // Accuracies carry their 95% intervals; each variant against the baseline, in words.
    if let Some(heading) = comparison_heading(results) {
        let _ = writeln!(out, "Compared {heading}:");
        for (name, line) in comparison_lines(results) {
            let _ = writeln!(out, "  {name:<w$}  {line}");
        }
        out.push('\n');
    }
    // DeepConf: where every path has a confidence, its two votes.
    for r in results {
        if let (Some(c), Some(f)) = (r.accuracy_confidence, r.accuracy_filtered) {
            let _ = writeln!(
                out,
                "confidence {:<w$}  confidence-weighted {} · the most confident half {} (majority {})",
                r.name,
                pct(c),
                pct(f),
                pct(r.accuracy_majority)
            );
        }
    }
    // Free-form answers: what decided that two answers (and an answer and a target) agree.
    for r in results {
        if let Some(f) = r.free_vote {
            let _ = writeln!(
                out,
                "free-form {:<w$}  answers clustered and scored by {} ≥ {}{}",
                r.name,
                if f.rule == crate::core::free::ClusterRule::Embed {
                    "embed"
                } else {
                    "overlap"
                },
                f.similarity,
                if f.rule == crate::core::free::ClusterRule::Usc {
                    " (usc picks the winner)"
                } else {
                    ""
                }
            );
        }
    }
    // Reasoning models: how much of the completion went into thinking.
    for r in results.iter().filter(|r| r.reasoning_tokens > 0) {
        let _ = writeln!(
            out,
            "thinking {:<w$}  {} of {} completion tokens",
            r.name, r.reasoning_tokens, r.usage.completion_tokens
        );
    }
    // The embedded model: prompt tokens evaluated, the rest reused from kept prompts.
    for r in results {
        if let Some(p) = r.prompt_tokens.filter(|p| p.sent > 0) {
            let _ = writeln!(
                out,
                "prompt tokens {:<w$}  {} evaluated of {} sent ({:.0}% reused)",
                r.name,
                p.evaluated,
                p.sent,
                100.0 * (p.sent - p.evaluated.min(p.sent)) as f64 / p.sent as f64
            );
        }
    }
    for r in results.iter().filter(|r| r.maj_at_k.len() > 1) {
        let _ = writeln!(out, "maj@k {:<w$}  {}", r.name, maj_at_k_line(r, " "));
    }
    // What the fallback reading adds: strict and flexible answers on the same items.
    for r in results {
        if let Some(sf) = &r.strict_flexible {
            let _ = writeln!(out, "answers {:<w$}  {}", r.name, sf.describe());
        }
    }
    for r in results {
        if let Some(line) = what_if_line(r, items) {
            let _ = writeln!(out, "what-if {:<w$}  {line}", r.name);
        }
    }
    for r in results {
        if let Some(line) = scored_line(r) {
            let _ = writeln!(out, "mode {:<w$}  {line}", r.name);
        }
    }
    out
}
