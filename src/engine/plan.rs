//! What an evaluation will cost and can show, before it samples: items × variants × N, the
//! model calls, the prompt tokens of the rendered prompts, the expected time from this
//! backend's last measured speed, and the smallest difference the items can detect.

use std::fmt;

use serde::Serialize;

use super::RunPlan;
use super::eval::Variant;
use super::report::SearchPlan;
use crate::core::render::Mode;
use crate::core::stats::{ALPHA, POWER, minimum_detectable, planning_sd, round_items};
use crate::core::template::{Strategy, Template};
use crate::store::dataset::Item;

/// Characters per token where no tokenizer is asked (English text with a BPE vocabulary).
pub const CHARS_PER_TOKEN: f64 = 4.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalPlan {
    pub items: usize,
    pub variants: usize,
    /// Samples per item, the most any variant draws (greedy sample included).
    pub samples: usize,
    /// Paths in all, and model calls at least (two-stage strategies make two per path).
    pub paths: usize,
    pub calls: usize,
    /// Prompt tokens of every path's first call, estimated from the rendered prompts at
    /// [`CHARS_PER_TOKEN`].
    pub prompt_tokens: u64,
    /// Expected seconds from this backend's last measured seconds per path (`None`: unknown).
    pub seconds: Option<f64>,
    /// The smallest difference between two variants the items detect (80% power, 5% level
    /// across the grid's comparisons, [`planning_sd`]).
    pub detectable: Option<f64>,
}

/// The plan of `variants` over `items`; `seconds_per_path` is the backend's last measured
/// speed, `greedy` adds the separate greedy sample.
pub fn eval_plan(
    variants: &[Variant],
    items: &[Item],
    greedy: bool,
    seconds_per_path: Option<f64>,
) -> EvalPlan {
    let (mut paths, mut calls, mut chars, mut samples) = (0usize, 0usize, 0f64, 0usize);
    for v in variants {
        let n = v.template.sampling.n as usize + usize::from(greedy);
        samples = samples.max(n);
        let stages = match v.template.strategy {
            Strategy::Direct | Strategy::Cot => 1,
            _ => 2,
        };
        for item in items {
            if let Ok(plan) = RunPlan::new(&v.template, &item.input, v.mode) {
                chars += (plan.first.prompt.char_len() * n) as f64;
            }
        }
        paths += items.len() * n;
        calls += items.len() * n * stages;
    }
    EvalPlan {
        items: items.len(),
        variants: variants.len(),
        samples,
        paths,
        calls,
        prompt_tokens: (chars / CHARS_PER_TOKEN).round() as u64,
        seconds: seconds_per_path.map(|s| s * paths as f64),
        detectable: detectable(items.len(), variants.len().saturating_sub(1)),
    }
}

/// The smallest paired difference `items` detect at 80% power, at the 5% level shared by
/// `comparisons` tests (Bonferroni, which Holm's first step is).
pub fn detectable(items: usize, comparisons: usize) -> Option<f64> {
    minimum_detectable(
        items as u64,
        planning_sd(),
        ALPHA / comparisons.max(1) as f64,
        POWER,
    )
}

/// Prompt tokens of `calls` scoring calls of a search: the mean prompt `template` renders for
/// `items` (candidates' instructions are about as long as the template's own), at
/// [`CHARS_PER_TOKEN`].
pub fn search_prompt_tokens<'a>(
    template: &Template,
    mode: Mode,
    items: impl Iterator<Item = &'a Item>,
    calls: usize,
) -> u64 {
    let lengths: Vec<usize> = items
        .filter_map(|item| RunPlan::new(template, &item.input, mode).ok())
        .map(|plan| plan.first.prompt.char_len())
        .collect();
    if lengths.is_empty() {
        return 0;
    }
    let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
    (mean * calls as f64 / CHARS_PER_TOKEN).round() as u64
}

impl fmt::Display for SearchPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan: {} candidates × {} round{} raced on {} × {} sample{}, held-out check on {} · up to {} model calls (+{} held-out) · ≈{} prompt tokens (estimated at {CHARS_PER_TOKEN} characters a token), ≤{} generated · ",
            self.candidates,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            items(self.dev, "dev item"),
            self.samples,
            if self.samples == 1 { "" } else { "s" },
            items(self.held, "item"),
            self.planned_calls,
            self.held_calls,
            round_items(self.prompt_tokens),
            round_items(self.max_tokens as u64),
        )?;
        match self.seconds {
            Some(s) => write!(
                f,
                "about {} at this backend's last measured speed",
                duration(s)
            )?,
            None => f.write_str("expected time: speed unknown")?,
        }
        if let Some(b) = self.budget {
            write!(f, " · stopping at the budget of {b} calls")?;
        }
        if let Some(d) = self.detectable_dev {
            write!(
                f,
                " · {} tell a candidate from the leader only if they differ by {}",
                items(self.dev, "dev item"),
                points(d)
            )?;
        }
        if let Some(d) = self.detectable_held {
            write!(
                f,
                ", {} the winner from yours by {}",
                items(self.held, "held-out item"),
                points(d)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for EvalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plan: {} items × {} variant{} × {} sample{} = {} paths ({}{} model calls) · ≈{} prompt tokens (estimated at {CHARS_PER_TOKEN} characters a token) · ",
            self.items,
            self.variants,
            if self.variants == 1 { "" } else { "s" },
            self.samples,
            if self.samples == 1 { "" } else { "s" },
            self.paths,
            if self.calls > self.paths {
                "at least "
            } else {
                ""
            },
            self.calls,
            round_items(self.prompt_tokens),
        )?;
        match self.seconds {
            Some(s) => write!(
                f,
                "about {} at this backend's last measured speed (less for cached samples)",
                duration(s)
            )?,
            None => f.write_str("expected time: speed unknown")?,
        }
        match self.detectable {
            Some(d) if d >= 1.0 => write!(
                f,
                " · {} cannot tell any two variants apart reliably",
                items(self.items, "item")
            ),
            Some(d) => write!(
                f,
                " · {} can only tell apart differences of about {:.0} points",
                items(self.items, "item"),
                d * 100.0
            ),
            None => Ok(()),
        }
    }
}

/// "1 item", "40 items".
fn items(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A detectable difference in words: "about 25 points", or none below 100.
fn points(d: f64) -> String {
    if d >= 1.0 {
        "more than 100 points (no difference can be shown)".into()
    } else {
        format!("about {:.0} points", d * 100.0)
    }
}

/// "45s", "3 min", "1.5 h".
fn duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0}s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_line_says_what_40_items_can_show() {
        let plan = EvalPlan {
            items: 40,
            variants: 2,
            samples: 5,
            paths: 400,
            calls: 400,
            prompt_tokens: 52_310,
            seconds: Some(190.0),
            detectable: minimum_detectable(40, planning_sd(), ALPHA, POWER),
        };
        assert_eq!(
            plan.to_string(),
            "plan: 40 items × 2 variants × 5 samples = 400 paths (400 model calls) · ≈53000 prompt tokens (estimated at 4 characters a token) · about 3 min at this backend's last measured speed (less for cached samples) · 40 items can only tell apart differences of about 24 points"
        );
        let unknown = EvalPlan {
            seconds: None,
            ..plan
        };
        assert!(unknown.to_string().contains("expected time: speed unknown"));
    }

    #[test]
    fn a_plan_too_small_to_show_anything_says_so() {
        let d = detectable(2, 1);
        assert!(d.unwrap() >= 1.0, "{d:?}");
        let plan = EvalPlan {
            items: 2,
            variants: 2,
            samples: 1,
            paths: 4,
            calls: 6,
            prompt_tokens: 100,
            seconds: None,
            detectable: d,
        };
        assert!(
            plan.to_string()
                .ends_with("2 items cannot tell any two variants apart reliably"),
            "{plan}"
        );
        assert_eq!(points(0.254), "about 25 points");
        assert!(points(1.3).starts_with("more than 100 points"));
    }
}
