//! What a demonstrations analysis found (`engine::examples` fills it): the report, each set's
//! figures and what it cost, as `examples --json` prints it, and the same for people (the
//! terminal's text, `examples.md`'s headings and tables).

use std::fmt::Write as _;

use serde::Serialize;

use super::VariantResult;
use crate::core::demos::{
    self, Analysis, Calibration, Contribution, Kind, Labels, OrderSpread, Selection, mode_of,
};
use crate::core::display::visible;
use crate::core::evaluation::cell;
use crate::core::stats::{Estimate, points};

/// What the analysis found and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Analysed {
    pub report: demos::Report,
    pub sets: Vec<SetSummary>,
    pub prompt_tokens: PromptTokens,
    pub elapsed_ms: u64,
    /// Stopped before every set was scored (the report covers those that were).
    pub cancelled: bool,
    /// Every set's evaluation, as `eval` reports it (for `--out`).
    #[serde(skip)]
    pub results: Vec<VariantResult>,
}

/// One set's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    pub name: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// How its answers were read (`demos::mode_of`): "sampled", "scored options", …
    pub mode: String,
    pub accuracy: f64,
    pub unparsed_rate: f64,
    /// Paths sampled now and paths read from the sample cache.
    pub fresh: usize,
    pub cached: usize,
    /// The earlier set with exactly these examples, whose scores it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// Prompt tokens of the samples sent to the backend now, of those every set's samples would
/// send with nothing cached or shared.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PromptTokens {
    pub sent: u64,
    pub all_sets: u64,
}

/// An analysis with what it ran on: what `examples --json` prints and `examples.json` holds,
/// and the report for people under its title.
pub struct ExamplesRecord<'a> {
    pub analysed: &'a Analysed,
    pub dataset: &'a str,
    pub items: usize,
    pub template: &'a str,
    pub orders: usize,
    pub seed: u64,
}

impl ExamplesRecord<'_> {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "partial": self.analysed.cancelled,
            "provenance": super::provenance(&self.analysed.results),
            "dataset": self.dataset,
            "items": self.items,
            "template": self.template,
            "orders": self.orders,
            "seed": self.seed,
            "analysis": self.analysed,
        })
    }

    /// The template, the dataset, the items and the backend.
    pub fn title(&self) -> String {
        format!(
            "{} on {} · {} items · {}",
            self.template,
            self.dataset,
            self.items,
            self.analysed
                .results
                .first()
                .map_or_else(String::new, |r| r.backend.label()),
        )
    }

    /// The report for people (`markdown`: `examples.md`'s headings and tables).
    pub fn text(&self, markdown: bool) -> String {
        text(&self.title(), self.analysed, markdown)
    }
}

/// The report for people (`markdown`: headings and tables for `examples.md`).
pub fn text(title: &str, a: &Analysed, markdown: bool) -> String {
    let r = &a.report;
    let mut out = format!("{}\n\n", visible(title));
    let given = r.given.map_or("-".into(), |e| cell(&e));
    let _ = writeln!(out, "given set (gold labels, the given order): {given}");
    if let Some(reading) = &r.reading {
        let _ = writeln!(out, "{}", reading.words());
    }
    for analysis in &r.analyses {
        out.push('\n');
        match analysis {
            Analysis::LeaveOneOut { contributions } => {
                leave_one_out(&mut out, contributions, markdown)
            }
            Analysis::Labels(l) => labels(&mut out, l, markdown),
            Analysis::Order(o) => order(&mut out, o, markdown),
            Analysis::Calibration(c) => calibration(&mut out, c, markdown),
            Analysis::Selection(k) => selection(&mut out, k, markdown),
        }
    }
    let t = a.prompt_tokens;
    let _ = writeln!(
        out,
        "\nprompt tokens sent: {} (of {} for every set's samples; the rest came from the sample cache or a set with the same examples) · {:.1}s{}",
        t.sent,
        t.all_sets,
        a.elapsed_ms as f64 / 1000.0,
        if a.cancelled {
            " · stopped before the end"
        } else {
            ""
        }
    );
    out
}

fn heading(out: &mut String, title: &str, markdown: bool) {
    let _ = writeln!(out, "{}{title}", if markdown { "## " } else { "" });
    if markdown {
        out.push('\n');
    }
}

/// A table under its head: in text each column padded to its widest cell (the last one
/// not), in markdown a pipe table (a `|` in a cell, from an example's text, escaped).
fn table(out: &mut String, head: &[&str], rows: &[Vec<String>], markdown: bool) {
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    let all = || std::iter::once(&head).chain(rows);
    if markdown {
        for (i, cells) in all().enumerate() {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
            if i == 0 {
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
            }
        }
        return;
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|c| {
            all()
                .map(|r| r.get(c).map_or(0, |x| x.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for cells in all() {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(x, w)| format!("{x:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }
}

fn estimate(e: Option<Estimate>) -> String {
    e.map_or("-".into(), |e| cell(&e))
}

fn leave_one_out(out: &mut String, cs: &[Contribution], markdown: bool) {
    heading(
        out,
        "Leave-one-out: each example's contribution (the given set minus the set without it, paired, 95% intervals, Holm across examples)",
        markdown,
    );
    let rows: Vec<Vec<String>> = cs
        .iter()
        .map(|c| {
            let example = format!(
                "{} → {}",
                crate::core::display::shorten(&visible(&c.input), 40),
                crate::core::display::shorten(&visible(&c.answer), 16)
            );
            let note = match (c.removal_helps, &c.verdict) {
                (true, Some(crate::core::stats::Verdict::Worse)) => {
                    "removing it helps (detectably)"
                }
                (true, _) => "removing it helps (not detectably)",
                (false, Some(crate::core::stats::Verdict::Better)) => "it helps (detectably)",
                _ => "",
            };
            vec![
                format!("{:>2}", c.example + 1),
                example,
                c.cell(),
                estimate(c.without),
                note.into(),
            ]
        })
        .collect();
    table(
        out,
        &["#", "example", "contribution", "without it", "note"],
        &rows,
        markdown,
    );
}

fn labels(out: &mut String, l: &Labels, markdown: bool) {
    heading(out, "Label controls (each against gold, paired)", markdown);
    let rows: Vec<Vec<String>> = l
        .rows
        .iter()
        .map(|r| {
            vec![
                r.control.name().to_string(),
                estimate(r.accuracy),
                format!("{:.1}%", r.unparsed_rate * 100.0),
                r.versus_gold
                    .map_or(String::new(), |p| paired_cell(Some(p))),
                r.words.clone(),
            ]
        })
        .collect();
    table(
        out,
        &["set", "accuracy", "unparsed", "against gold", "in words"],
        &rows,
        markdown,
    );
    let _ = writeln!(out, "\nverdict: {}", l.verdict);
}

fn order(out: &mut String, o: &OrderSpread, markdown: bool) {
    heading(out, "Order: the same examples in random orders", markdown);
    let mut rows = vec![vec!["given".to_string(), estimate(o.given), String::new()]];
    for (i, r) in o.orders.iter().enumerate() {
        let mark = [(o.min, "min"), (o.median, "median"), (o.max, "max")]
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, m)| *m)
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(vec![r.name.clone(), estimate(r.accuracy), mark]);
    }
    table(out, &["order", "accuracy", ""], &rows, markdown);
    let _ = writeln!(out, "\n{}", o.words);
}

fn paired_cell(p: Option<crate::core::stats::Paired>) -> String {
    p.map_or("-".into(), |p| {
        format!("{} [{}, {}]", points(p.diff), points(p.low), points(p.high))
    })
}

fn calibration(out: &mut String, c: &Calibration, markdown: bool) {
    heading(
        out,
        "Calibration: options scored by log-probability, before and after the content-free correction (paired, Holm across the two comparisons)",
        markdown,
    );
    if c.unavailable.is_some() {
        let _ = writeln!(out, "{}", c.words);
        return;
    }
    let given_mode = c.given_mode.as_str();
    let rows = [
        (
            "given set",
            given_mode,
            c.given,
            paired_cell(c.versus_given),
        ),
        (
            "plain",
            mode_of(crate::core::template::Calibrate::Scored),
            c.scored,
            paired_cell(c.versus_scored),
        ),
        (
            "calibrated",
            mode_of(crate::core::template::Calibrate::ContentFree),
            c.calibrated,
            String::new(),
        ),
    ];
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(name, mode, acc, diff)| vec![name.into(), mode.into(), estimate(acc), diff])
        .collect();
    table(
        out,
        &["answers", "mode", "accuracy", "calibrated minus it"],
        &rows,
        markdown,
    );
    let _ = writeln!(out, "\n{}", c.words);
}

fn selection(out: &mut String, k: &Selection, markdown: bool) {
    heading(
        out,
        &format!(
            "Selection: each query's {} nearest examples (by {}) against your fixed set (paired)",
            k.k, k.by
        ),
        markdown,
    );
    let rows = [
        vec!["fixed".to_string(), estimate(k.fixed), String::new()],
        vec![
            format!("kNN k={}", k.k),
            estimate(k.selected),
            paired_cell(k.paired),
        ],
    ];
    table(
        out,
        &["examples", "accuracy", "kNN minus fixed"],
        &rows,
        markdown,
    );
    let _ = writeln!(out, "\n{}", k.words);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pipe_in_a_cell_stays_in_its_markdown_cell() {
        let mut out = String::new();
        let rows = vec![vec!["A | B?".to_string(), "yes".to_string()]];
        super::table(&mut out, &["example", "answer"], &rows, true);
        assert_eq!(out, "| example | answer |\n|---|---|\n| A \\| B? | yes |\n");
        let mut text = String::new();
        super::table(&mut text, &["example", "answer"], &rows, false);
        assert_eq!(text, "  example  answer\n  A | B?   yes\n");
    }
}
