//! What an evaluation will cost and can show, before it samples: the backend, items ×
//! variants × N, the model calls and the scoring passes of `calibrate:` variants, the prompt
//! tokens of the rendered prompts and (for a backend that reuses evaluated prompts, the
//! embedded one) the share it is expected to evaluate, the expected time from this backend's
//! last measured speed, and the smallest difference the items can detect.

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

/// Prompts the embedded backend keeps evaluated (`backend::local`'s worker keeps 16): a
/// prompt sharing a prefix with one of them evaluates only the rest.
pub const KEPT_PROMPTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalPlan {
    /// The backends' labels (one, unless the grid varies the model).
    pub backend: String,
    pub items: usize,
    pub variants: usize,
    /// Samples per item, the most any variant draws (greedy sample included).
    pub samples: usize,
    /// Paths in all, and model calls at least (two-stage strategies make two per path).
    pub paths: usize,
    pub calls: usize,
    /// Scoring passes of `calibrate:` variants (nothing sampled): one per item, and one per
    /// content-free prompt, shared by the items.
    pub scoring: usize,
    /// Prompt tokens of every path's first call and every scoring pass, estimated from the
    /// rendered prompts at [`CHARS_PER_TOKEN`].
    pub prompt_tokens: u64,
    /// Of those, the tokens a backend that reuses evaluated prompts (`Backend::prompt_tokens`
    /// counts them: the embedded one) is expected to evaluate: a prompt sampled N times once,
    /// a prefix shared with one of the last [`KEPT_PROMPTS`] not again (scoring passes too).
    /// `None`: the backend evaluates what it is sent, as far as is known.
    pub evaluated_tokens: Option<u64>,
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
    let mut scoring = 0usize;
    let mut reuse = Reuse::default();
    let mut backends: Vec<String> = Vec::new();
    for v in variants {
        let label = v.backend.info().label();
        if !backends.contains(&label) {
            backends.push(label);
        }
        if !v.template.calibrate.is_none() {
            let s = scoring_plan(v, items);
            scoring += s.passes;
            for (p, len) in s.prompts {
                chars += len as f64;
                reuse.prompt(p);
            }
            continue;
        }
        let n = v.template.sampling.n as usize + usize::from(greedy);
        samples = samples.max(n);
        let stages = match v.template.strategy {
            Strategy::Direct | Strategy::Cot => 1,
            _ => 2,
        };
        for item in items {
            if let Ok(plan) = RunPlan::new(&v.template, &item.input, v.mode) {
                chars += (plan.first.prompt.char_len() * n) as f64;
                reuse.prompt(plan.first.prompt.to_string());
            }
        }
        paths += items.len() * n;
        calls += items.len() * n * stages;
    }
    let reuses = variants
        .first()
        .is_some_and(|v| v.backend.prompt_tokens().is_some());
    let tokens = |c: f64| (c / CHARS_PER_TOKEN).round() as u64;
    EvalPlan {
        backend: backends.join(", "),
        items: items.len(),
        variants: variants.len(),
        samples,
        paths,
        calls,
        scoring,
        prompt_tokens: tokens(chars),
        evaluated_tokens: reuses.then(|| tokens(reuse.evaluated as f64)),
        seconds: seconds_per_path
            .filter(|_| paths > 0)
            .map(|s| s * paths as f64),
        detectable: detectable(items.len(), variants.len().saturating_sub(1)),
    }
}

/// A `calibrate:` variant's scoring passes and their prompts.
struct Scoring {
    passes: usize,
    /// Each prompt and its characters.
    prompts: Vec<(String, usize)>,
}

fn scoring_plan(v: &Variant, items: &[Item]) -> Scoring {
    let mut s = Scoring {
        passes: 0,
        prompts: Vec::new(),
    };
    let mut content_free = false;
    for item in items {
        let Ok(plan) = RunPlan::new(&v.template, &item.input, v.mode) else {
            continue;
        };
        s.passes += 1;
        let p = &plan.first.prompt;
        s.prompts.push((p.to_string(), p.char_len()));
        // The content-free prompts are the same for every item: scored once.
        if let Some(setup) = plan.scoring.as_ref().filter(|_| !content_free) {
            content_free = true;
            s.passes += setup.content_free.len();
            s.prompts.extend(
                (setup.content_free.iter()).map(|r| (r.prompt.to_string(), r.prompt.char_len())),
            );
        }
    }
    s
}

/// The characters a backend that keeps its last [`KEPT_PROMPTS`] prompts evaluated evaluates.
#[derive(Default)]
struct Reuse {
    kept: std::collections::VecDeque<String>,
    evaluated: usize,
}

impl Reuse {
    /// A sampled prompt (its N samples share one evaluation) or a scored one: only what
    /// follows its longest shared prefix with a kept prompt.
    fn prompt(&mut self, p: String) {
        let shared = self
            .kept
            .iter()
            .map(|k| common_prefix(k, &p))
            .max()
            .unwrap_or(0);
        self.evaluated += p.chars().count() - shared;
        if self.kept.len() == KEPT_PROMPTS {
            self.kept.pop_front();
        }
        self.kept.push_back(p);
    }
}

/// The characters two texts share from their start.
fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
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
        if !self.backend.is_empty() {
            write!(f, "plan on {}: ", self.backend)?;
        } else {
            f.write_str("plan: ")?;
        }
        write!(
            f,
            "{} items × {} variant{}",
            self.items,
            self.variants,
            if self.variants == 1 { "" } else { "s" },
        )?;
        if self.paths > 0 || self.scoring == 0 {
            write!(
                f,
                " × {} sample{} = {} paths ({}{} model calls)",
                self.samples,
                if self.samples == 1 { "" } else { "s" },
                self.paths,
                if self.calls > self.paths {
                    "at least "
                } else {
                    ""
                },
                self.calls,
            )?;
        }
        if self.scoring > 0 {
            write!(
                f,
                "{}{} scoring pass{} (options by log-probability, nothing sampled)",
                if self.paths > 0 { " + " } else { ": " },
                self.scoring,
                if self.scoring == 1 { "" } else { "es" }
            )?;
        }
        write!(f, " · ≈{} prompt tokens", round_items(self.prompt_tokens))?;
        if let Some(e) = self.evaluated_tokens {
            let share = e as f64 / self.prompt_tokens.max(1) as f64;
            write!(
                f,
                ", ≈{} evaluated ({:.0}%: shared prefixes and the N samples of a prompt are evaluated once)",
                round_items(e),
                share * 100.0
            )?;
        }
        write!(f, " (estimated at {CHARS_PER_TOKEN} characters a token) · ")?;
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
            backend: "local gemma-3-270m".into(),
            items: 40,
            variants: 2,
            samples: 5,
            paths: 400,
            calls: 400,
            scoring: 0,
            prompt_tokens: 52_310,
            evaluated_tokens: None,
            seconds: Some(190.0),
            detectable: minimum_detectable(40, planning_sd(), ALPHA, POWER),
        };
        assert_eq!(
            plan.to_string(),
            "plan on local gemma-3-270m: 40 items × 2 variants × 5 samples = 400 paths (400 model calls) · ≈53000 prompt tokens (estimated at 4 characters a token) · about 3 min at this backend's last measured speed (less for cached samples) · 40 items can only tell apart differences of about 24 points"
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
            backend: String::new(),
            items: 2,
            variants: 2,
            samples: 1,
            paths: 4,
            calls: 6,
            scoring: 0,
            prompt_tokens: 100,
            evaluated_tokens: None,
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

    /// A backend that counts the prompt tokens it evaluates (as the embedded one does).
    struct Reusing;

    impl crate::backend::Backend for Reusing {
        fn info(&self) -> crate::backend::BackendInfo {
            crate::backend::BackendInfo::new("local", "reusing", Mode::Completion)
        }
        fn prompt_tokens(&self) -> Option<crate::backend::PromptTokens> {
            Some(Default::default())
        }
        fn stream(&self, r: crate::backend::SampleRequest) -> crate::backend::SampleStream {
            crate::backend::scripted::ScriptedBackend::from_texts(["x"]).stream(r)
        }
    }

    fn variant(t: &Template, backend: std::sync::Arc<dyn crate::backend::Backend>) -> Variant {
        Variant {
            name: "v".into(),
            settings: serde_json::json!({}),
            template: t.clone(),
            mode: Mode::Completion,
            backend,
        }
    }

    #[test]
    fn scored_variants_count_passes_and_a_reusing_backend_evaluates_a_share() {
        let mut t = crate::store::template::resolve("sentiment").unwrap().0;
        t.strategy = Strategy::Direct;
        t.sampling.n = 5;
        let items: Vec<Item> = (0..10)
            .map(|i| Item {
                id: i.to_string(),
                input: format!("Review {i}: a fine film."),
                targets: vec!["positive".into()],
            })
            .collect();
        let reusing: std::sync::Arc<dyn crate::backend::Backend> = std::sync::Arc::new(Reusing);
        let sampled = eval_plan(&[variant(&t, reusing.clone())], &items, false, Some(1.0));
        assert_eq!((sampled.paths, sampled.scoring), (50, 0));
        let e = sampled.evaluated_tokens.unwrap();
        // Five samples share one evaluation, and the items share the instruction and examples.
        assert!(e * 5 < sampled.prompt_tokens, "{sampled}");
        assert!(
            sampled.to_string().starts_with("plan on local reusing: "),
            "{sampled}"
        );
        assert!(sampled.to_string().contains("evaluated ("), "{sampled}");
        // A scripted backend is sent what it evaluates: no estimate of a share.
        let script: std::sync::Arc<dyn crate::backend::Backend> =
            std::sync::Arc::new(crate::backend::scripted::ScriptedBackend::from_texts(["x"]));
        assert_eq!(
            eval_plan(&[variant(&t, script)], &items, false, None).evaluated_tokens,
            None
        );
        // Calibrated: one scoring pass per item and one per content-free prompt, no paths; the
        // prompts counted once each, not N times, and the items' shared examples evaluated once.
        let mut cal = t.clone();
        cal.calibrate = crate::core::template::Calibrate::ContentFree;
        cal.answer = crate::core::spec::answer::AnswerSpec {
            choices: vec!["positive".into(), "negative".into()],
            ..crate::core::spec::answer::AnswerSpec::of(
                crate::core::spec::answer::AnswerKind::Choice,
            )
        };
        let scored = eval_plan(&[variant(&cal, reusing.clone())], &items, false, Some(1.0));
        assert_eq!((scored.paths, scored.calls, scored.scoring), (0, 0, 13));
        assert!(
            scored.prompt_tokens * 3 < sampled.prompt_tokens,
            "{scored} / {sampled}"
        );
        let e = scored.evaluated_tokens.unwrap();
        assert!(e * 2 < scored.prompt_tokens, "{scored}");
        assert!(
            scored
                .to_string()
                .starts_with("plan on local reusing: 10 items × 1 variant: 13 scoring passes"),
            "{scored}"
        );
        assert_eq!(scored.seconds, None, "no measured speed for scoring passes");
        let both = eval_plan(
            &[variant(&t, reusing.clone()), variant(&cal, reusing)],
            &items,
            false,
            None,
        );
        assert!(
            both.to_string()
                .contains("(50 model calls) + 13 scoring passes"),
            "{both}"
        );
    }
}
