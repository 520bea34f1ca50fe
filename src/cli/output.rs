//! How a run is shown: a table for people, one JSON object for scripts.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::backend::BackendInfo;
use crate::core::display::{path_answer, shorten};
use crate::core::record::{PathRecord, RunRecord, RunResult, version};
use crate::core::render::Prompt;
use crate::core::template::Template;
use crate::engine::RunPlan;

/// Everything shown of one run, live or recorded.
pub struct Report<'a> {
    pub template: &'a Template,
    pub query: &'a str,
    pub prompt: &'a Prompt,
    pub stop: &'a [String],
    pub backend: &'a BackendInfo,
    pub result: &'a RunResult,
    /// The promptlab that made the run (`None`: recorded before versions were kept).
    pub promptlab: Option<String>,
}

impl<'a> Report<'a> {
    pub fn live(
        template: &'a Template,
        plan: &'a RunPlan,
        backend: &'a BackendInfo,
        result: &'a RunResult,
    ) -> Self {
        Report {
            template,
            query: &plan.query,
            prompt: &plan.first.prompt,
            stop: &plan.first.stop,
            backend,
            result,
            promptlab: Some(version()),
        }
    }

    pub fn recorded(r: &'a RunRecord) -> Self {
        Report {
            template: &r.template,
            query: &r.query,
            prompt: &r.prompt,
            stop: &r.stop,
            backend: &r.backend,
            result: &r.result,
            promptlab: r.promptlab.clone(),
        }
    }

    pub fn json(&self) -> Value {
        run_json(self)
    }

    pub fn table(&self, full: bool) -> String {
        run_table(self, full)
    }
}

/// The `run --json` object.
fn run_json(r: &Report<'_>) -> Value {
    let (template, backend, result) = (r.template, r.backend, r.result);
    #[derive(Serialize)]
    struct Row<'a> {
        answer: Option<&'a str>,
        votes: u32,
        share: f64,
        paths: &'a [usize],
        #[serde(skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        members: &'a [String],
        /// Votes a fallback read (the no-answer bucket: paths strict answers set aside).
        #[serde(skip_serializing_if = "is_zero")]
        fallback: u32,
    }
    fn is_zero(n: &u32) -> bool {
        *n == 0
    }
    let tally: Vec<Row<'_>> = result
        .tally
        .entries
        .iter()
        .map(|e| Row {
            answer: e.answer.as_deref(),
            votes: e.votes,
            share: e.share,
            paths: &e.paths,
            weight: e.weight,
            members: &e.members,
            fallback: e.fallback,
        })
        .collect();
    let paths: Vec<Value> = result.paths.iter().map(path_json).collect();
    let origin = result.origin();
    json!({
        "promptlab": r.promptlab,
        "template": template.name,
        "strategy": template.strategy,
        "mode": r.prompt.mode(),
        "backend": backend,
        "query": r.query,
        "prompt": r.prompt,
        "stop": r.stop,
        "sampling": template.sampling,
        "strict_answers": template.answer.strict,
        "paths": paths,
        "samples": {"fresh": origin.fresh, "cached": origin.cached, "truncated": result.truncated()},
        "tally": tally,
        "answer": result.tally.winner,
        "agreement": result.tally.agreement,
        "winner_share": result.tally.winner_share(),
        "weighted_answer": result.tally.weighted_winner,
        "confidence_answer": result.tally.confidence_winner,
        "filtered_answer": result.tally.filtered_winner,
        "clustering": result.tally.clustering,
        "selection": result.selection,
        "usage": result.usage,
        "elapsed_ms": result.elapsed_ms,
        "cancelled": result.cancelled,
        "early_stop": result.early_stop,
        "scored": result.scored,
    })
}

/// One path of `run --json`: its record, with the derived whole text, usage, finish reason
/// and truncation spelled out for scripts.
pub fn path_json(p: &PathRecord) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    let u = p.usage();
    v["text"] = json!(p.text());
    v["thinking"] = json!(p.thinking());
    v["reasoning_tokens"] = json!(p.reasoning_tokens());
    v["finish_reason"] = json!(p.finish_reason());
    v["truncated"] = json!(p.truncated());
    v["truncated_in_thinking"] = json!(p.truncated_in_thinking());
    v["prompt_tokens"] = json!(u.prompt_tokens);
    v["completion_tokens"] = json!(u.completion_tokens);
    v["logprob"] = json!(p.logprob());
    v["confidence"] = json!(p.confidence());
    v["steps"] = json!(p.steps());
    v
}

/// The table for people.
fn run_table(r: &Report<'_>, full: bool) -> String {
    let (template, backend, result) = (r.template, r.backend, r.result);
    let mut out = String::new();
    let n = result.paths.len();
    let origin = result.origin();
    let _ = writeln!(
        out,
        "{} · {} · {} path{}{}{} · {}",
        template.name,
        template.strategy,
        n,
        if n == 1 { "" } else { "s" },
        if origin.cached > 0 {
            format!(" ({} cached)", origin.cached)
        } else {
            String::new()
        },
        if template.answer.strict {
            " · strict answers"
        } else {
            ""
        },
        backend.label()
    );
    let _ = writeln!(out, "Q: {}\n", shorten(r.query, 110));
    let aw = path_rows(&mut out, result, full);
    let tally = &result.tally;
    tally_lines(&mut out, tally, aw, template.answer.strict);
    vote_extras(&mut out, result);
    let stopped = result.paths.iter().filter(|p| p.stopped()).count();
    let failed = n - result.succeeded() - stopped;
    let truncated = result.truncated();
    let reasoning: u32 = result.paths.iter().map(PathRecord::reasoning_tokens).sum();
    let _ = writeln!(
        out,
        "{} prompt + {} completion tokens{} · {:.1}s{}{}{}",
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        if reasoning > 0 {
            format!(" ({reasoning} thinking)")
        } else {
            String::new()
        },
        result.elapsed_ms as f64 / 1000.0,
        if failed > 0 {
            format!(" · {failed} failed")
        } else {
            String::new()
        },
        if truncated > 0 {
            format!(" · {truncated} cut at max tokens (✂)")
        } else {
            String::new()
        },
        if result.cancelled {
            " · cancelled"
        } else {
            ""
        },
    );
    if let Some(e) = &result.early_stop {
        let stopped = match stopped {
            0 => String::new(),
            k => format!(" · {k} stopped mid-way"),
        };
        let _ = writeln!(out, "{}{stopped}", e.describe());
    }
    if let Some(s) = &result.scored {
        scored_lines(&mut out, s);
    }
    let _ = writeln!(
        out,
        "made by {}",
        r.promptlab
            .as_deref()
            .unwrap_or("a promptlab that did not record its version")
    );
    out
}

/// A scored run's options: each one's probability (and the content-free bias and the
/// calibrated share), the pick marked; the answer came from these, not from sampled paths.
fn scored_lines(out: &mut String, s: &crate::core::calibrate::ScoredOptions) {
    let calibrated = !s.calibrated.is_empty();
    let _ = writeln!(
        out,
        "answer from the options' log-probabilities ({}; one forward pass, no sampling)",
        if calibrated {
            "content-free calibration"
        } else {
            "not calibrated"
        }
    );
    for (i, o) in s.options.iter().enumerate() {
        let mark = if i == s.pick { "▶" } else { " " };
        let mut line = format!(
            "  {mark} {:<20} p {:>5.1}%",
            crate::core::display::visible(o.trim()),
            s.probabilities[i] * 100.0
        );
        if calibrated {
            line.push_str(&format!(
                "  content-free {:>5.1}%  calibrated {:>5.1}%",
                s.content_free[i] * 100.0,
                s.calibrated[i] * 100.0
            ));
        }
        let _ = writeln!(out, "{line}");
    }
}

/// The tally for people: each answer's bar, votes, share, paths and fallback votes, then the
/// answer with its share's interval and what the fallback marks mean.
fn tally_lines(out: &mut String, tally: &crate::core::vote::Tally, aw: usize, strict: bool) {
    let _ = writeln!(out, "\nTally ({} voted)", tally.voted);
    let max_votes = tally
        .entries
        .iter()
        .map(|e| e.votes)
        .max()
        .unwrap_or(1)
        .max(1);
    for e in &tally.entries {
        let label = e.answer.clone().unwrap_or_else(|| "(no answer)".into());
        let bar = "█".repeat(((e.votes * 24).div_ceil(max_votes)) as usize);
        let paths: Vec<String> = e.paths.iter().map(|i| i.to_string()).collect();
        let weight = e
            .weight
            .map(|w| format!("  weight {w:.3}"))
            .unwrap_or_default();
        let fallback = match e.fallback {
            0 => String::new(),
            n => format!("  (~{n})"),
        };
        let _ = writeln!(
            out,
            "  {:<aw$}  {bar:<24} {:>2}  {:>3.0}%  paths {}{fallback}{weight}",
            shorten(&label, aw),
            e.votes,
            e.share * 100.0,
            paths.join(",")
        );
        let others: Vec<String> = e
            .members
            .iter()
            .filter(|m| Some(*m) != e.answer.as_ref())
            .map(|m| format!("\"{}\"", shorten(&crate::core::display::visible(m), 60)))
            .collect();
        if !others.is_empty() {
            let _ = writeln!(out, "    also: {}", others.join(", "));
        }
    }
    match &tally.winner {
        Some(w) => {
            let votes = tally.entry(Some(w)).map_or(0, |e| e.votes);
            let share = tally
                .winner_share()
                .map_or_else(String::new, |s| s.describe());
            let w = crate::core::display::visible(w);
            let _ = writeln!(
                out,
                "\nAnswer: {w}  (agreement {share}, {votes}/{})",
                tally.voted
            );
        }
        None => {
            let _ = writeln!(out, "\nAnswer: none (no path gave a parsable answer)");
        }
    }
    if let Some(note) = crate::core::display::fallback_note(tally, strict) {
        let _ = writeln!(out, "{note}");
    }
}

/// The header and one row per path (each path's whole text under it with `full`); returns the
/// answer column's width, which the tally shares.
fn path_rows(out: &mut String, result: &RunResult, full: bool) -> usize {
    let answers = result.paths.iter().map(|p| path_answer(p).chars().count());
    let labels = result
        .tally
        .entries
        .iter()
        .map(|e| e.answer.as_ref().map_or(11, |a| a.chars().count()));
    let aw = answers.chain(labels).max().unwrap_or(6).clamp(6, 16);
    // A reasoning model's paths get a column for the tokens spent thinking.
    let thinks = result.paths.iter().any(|p| !p.thinking().is_empty());
    let think_head = if thinks {
        format!("{:>6}  ", "think")
    } else {
        String::new()
    };
    let _ = writeln!(
        *out,
        "{:>3}  {:<aw$}  {:>6}  {think_head}{:>7}  text",
        "#", "answer", "tokens", "time"
    );
    for p in &result.paths {
        let full_text = p.text();
        let text = match &p.error {
            Some(e) if full_text.is_empty() => format!("error: {e}"),
            Some(e) => format!("error: {e} · {}", shorten(&full_text, 60)),
            None if p.truncated_in_thinking() => {
                "(cut at max tokens while thinking: no answer)".into()
            }
            None => shorten(&full_text, 80),
        };
        let think = if thinks {
            format!("{:>6}  ", p.reasoning_tokens())
        } else {
            String::new()
        };
        let _ = writeln!(
            *out,
            "{:>3}  {:<aw$}  {:>6}  {think}{:>6.1}s  {}",
            p.index,
            shorten(&path_answer(p), aw),
            p.completion_tokens(),
            p.latency_ms as f64 / 1000.0,
            text
        );
        if full {
            let thinking = p.thinking();
            for line in crate::core::display::visible(thinking.trim()).lines() {
                let _ = writeln!(*out, "       ┆ {line}");
            }
            for line in crate::core::display::visible(full_text.trim()).lines() {
                let _ = writeln!(*out, "       │ {line}");
            }
        }
    }
    aw
}

/// What the vote adds beyond the tally: free-form clusters, the selector's choice, the
/// probability- and confidence-weighted answers.
fn vote_extras(out: &mut String, result: &RunResult) {
    let tally = &result.tally;
    if let Some(c) = &tally.clustering {
        let clusters = tally.entries.iter().filter(|e| e.answer.is_some()).count();
        let _ = writeln!(
            *out,
            "Free-form vote: {}, dispersion {:.2} bits{}",
            c.describe(clusters),
            c.dispersion,
            c.fallback()
        );
    }
    if let Some(sel) = &result.selection {
        let said = match (&sel.error, sel.chosen) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(p)) => format!(
                "\"{}\" → path {p}",
                shorten(&crate::core::display::visible(sel.reply.trim()), 60)
            ),
            (None, None) => format!(
                "\"{}\" (names no response)",
                shorten(&crate::core::display::visible(sel.reply.trim()), 60)
            ),
        };
        let _ = writeln!(
            *out,
            "Selector (usc, {} responses): {said}",
            sel.responses.len()
        );
    }
    if let Some(w) = &tally.weighted_winner {
        let w = crate::core::display::visible(w);
        let _ = writeln!(*out, "Probability-weighted answer: {w}");
    }
    if let (Some(c), Some(f)) = (&tally.confidence_winner, &tally.filtered_winner) {
        let _ = writeln!(
            *out,
            "Confidence-weighted answer: {} · the most confident {:.0}% vote: {}",
            crate::core::display::visible(c),
            crate::core::vote::CONFIDENT_SHARE * 100.0,
            crate::core::display::visible(f)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_flattens_and_cuts() {
        assert_eq!(shorten("a\n b   c", 10), "a b c");
        assert_eq!(shorten("abcdefghijk", 5), "abcd…");
    }
}
