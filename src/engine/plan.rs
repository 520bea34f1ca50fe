//! What an evaluation will cost and can show, before it samples: items × variants × N, the
//! model calls, the prompt tokens of the rendered prompts, the expected time from this
//! backend's last measured speed, and the smallest difference the items can detect.

use std::fmt;

use serde::Serialize;

use super::RunPlan;
use super::eval::Variant;
use crate::core::stats::{ALPHA, POWER, minimum_detectable, planning_sd, round_items};
use crate::core::template::Strategy;
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
    let comparisons = variants.len().saturating_sub(1).max(1);
    EvalPlan {
        items: items.len(),
        variants: variants.len(),
        samples,
        paths,
        calls,
        prompt_tokens: (chars / CHARS_PER_TOKEN).round() as u64,
        seconds: seconds_per_path.map(|s| s * paths as f64),
        detectable: minimum_detectable(
            items.len() as u64,
            planning_sd(),
            ALPHA / comparisons as f64,
            POWER,
        ),
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
            Some(d) => write!(
                f,
                " · {} items can only tell apart differences of about {:.0} points",
                self.items,
                d * 100.0
            ),
            None => Ok(()),
        }
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
}
