//! Answers chosen by the options' log-probabilities (one forward pass, no sampling), and
//! contextual calibration (Zhao et al. 2021): the options are scored once more with
//! content-free inputs ("N/A", "", "[MASK]") in place of the query, their normalised
//! probabilities averaged into the bias `p_cf`, and the answer is the option with the largest
//! `p(option) / p_cf(option)` (the paper's `W = diag(p_cf)^-1`, `b = 0`).
//!
//! `setup` says what to score (each option's continuation, the content-free prompts);
//! `decide` turns the scores into the record of a scored run (`ScoredOptions`).

use serde::{Deserialize, Serialize};

use super::options::parse_options;
use super::render::render;
use super::spec::answer::AnswerKind;
use super::spec::prompt::{Mode, Rendered};
use super::spec::template::{Calibrate, Template};

/// The content-free inputs of Zhao et al. (2021), averaged.
pub const CONTENT_FREE: [&str; 3] = ["N/A", "", "[MASK]"];

/// What a scored run scores: each option's continuation after the query's prompt, and (for
/// `content-free`) the prompts with a content-free input in the query's place.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub calibrate: Calibrate,
    /// The text scored after the prompt, one per option (" plausible", " (B)"; no leading
    /// space after a chat prompt's opened turn).
    pub continuations: Vec<String>,
    pub content_free: Vec<Rendered>,
}

/// What a scored run found: the mode that produced its answer (options scored, not paths
/// sampled), every option's figures and the pick. Kept in the run's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredOptions {
    /// `scored` (argmax of the options' probabilities) or `content-free` (calibrated).
    pub calibrate: Calibrate,
    /// The continuations as scored.
    pub options: Vec<String>,
    /// Each continuation's total log-probability after the prompt.
    pub logprobs: Vec<f64>,
    /// Normalised over the options (a softmax of `logprobs`).
    pub probabilities: Vec<f64>,
    /// The content-free bias `p_cf` (`content-free` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_free: Vec<f64>,
    /// `probabilities / p_cf`, normalised (`content-free` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrated: Vec<f64>,
    /// The option of largest probability, before calibration.
    pub uncalibrated_pick: usize,
    /// The answer's option.
    pub pick: usize,
}

/// Why options could not be scored or decided.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrateError {
    #[error("calibrate: {0} needs a `choice` answer")]
    NeedsChoice(Calibrate),
    #[error(
        "calibrate: {0} needs the options: `choices` in the template, or a query that lists at least two"
    )]
    NeedsOptions(Calibrate),
    #[error("{got} scores for {options} options")]
    ScoreCount { got: usize, options: usize },
    #[error("the content-free inputs were not scored on every option")]
    ContentFreeUnscored,
}

impl From<CalibrateError> for String {
    fn from(e: CalibrateError) -> String {
        e.to_string()
    }
}

/// What to score for `template` and `query` (rendered in `mode` with the examples the query
/// gets), or `None` when the template samples its answers (`calibrate: none`).
pub fn setup(
    template: &Template,
    query: &str,
    mode: Mode,
) -> Result<Option<Setup>, CalibrateError> {
    if template.calibrate.is_none() {
        return Ok(None);
    }
    if template.answer.kind != AnswerKind::Choice {
        return Err(CalibrateError::NeedsChoice(template.calibrate));
    }
    let lead = match mode {
        Mode::Completion => " ",
        Mode::Chat => "",
    };
    let labels = &template.answer.choices;
    let listed = parse_options(query);
    let (answers, cf_queries): (Vec<String>, Vec<String>) = if !labels.is_empty() {
        let answers = labels.iter().map(|l| l.trim().to_string()).collect();
        (
            answers,
            CONTENT_FREE.iter().map(|s| s.to_string()).collect(),
        )
    } else if listed.len() >= 2 {
        // Letters, written as the examples write them ("(B)" or "B").
        let parens = template
            .active_examples()
            .any(|e| e.answer.trim().starts_with('('));
        let answers = listed
            .iter()
            .map(|(l, _)| {
                if parens {
                    format!("({l})")
                } else {
                    l.to_string()
                }
            })
            .collect();
        // The options stay listed, their texts content-free too.
        let cf = CONTENT_FREE
            .iter()
            .map(|cf| {
                let opts: Vec<String> = listed.iter().map(|(l, _)| format!("({l}) {cf}")).collect();
                format!("{cf}\n{}", opts.join(" ")).trim().to_string()
            })
            .collect();
        (answers, cf)
    } else {
        return Err(CalibrateError::NeedsOptions(template.calibrate));
    };
    let content_free = match template.calibrate {
        Calibrate::ContentFree => cf_queries
            .iter()
            .map(|q| render(template, q, mode))
            .collect(),
        Calibrate::None | Calibrate::Scored => Vec::new(),
    };
    Ok(Some(Setup {
        calibrate: template.calibrate,
        continuations: answers.iter().map(|a| format!("{lead}{a}")).collect(),
        content_free,
    }))
}

/// Probabilities normalised over the options (a softmax of log-probabilities). A `-inf`
/// option gets 0; all `-inf` (or none) gives a uniform share.
pub fn normalise(logprobs: &[f64]) -> Vec<f64> {
    let top = logprobs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        let n = logprobs.len().max(1) as f64;
        return vec![1.0 / n; logprobs.len()];
    }
    let e: Vec<f64> = logprobs.iter().map(|l| (l - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|x| x / sum).collect()
}

/// The content-free bias: the mean of each content-free input's normalised probabilities.
pub fn bias(content_free: &[Vec<f64>]) -> Option<Vec<f64>> {
    let n = content_free.first()?.len();
    if content_free.iter().any(|r| r.len() != n) {
        return None;
    }
    let rows: Vec<Vec<f64>> = content_free.iter().map(|r| normalise(r)).collect();
    Some(
        (0..n)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64)
            .collect(),
    )
}

/// `p / p_cf`, normalised: the calibrated probabilities (an option the content-free inputs
/// give no probability at all keeps its own, unscaled).
pub fn calibrated(p: &[f64], p_cf: &[f64]) -> Vec<f64> {
    let q: Vec<f64> = p
        .iter()
        .zip(p_cf)
        .map(|(p, cf)| if *cf > 0.0 { p / cf } else { *p })
        .collect();
    let sum: f64 = q.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        q.iter().map(|x| x / sum).collect()
    } else {
        p.to_vec()
    }
}

/// The index of the largest value (the first of equals).
pub fn argmax(values: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, v) in values.iter().enumerate() {
        if best.is_none_or(|b| *v > values[b]) {
            best = Some(i);
        }
    }
    best
}

/// The record of a scored run from the query's scores and (for `content-free`) each
/// content-free input's.
pub fn decide(
    setup: &Setup,
    logprobs: Vec<f64>,
    content_free: &[Vec<f64>],
) -> Result<ScoredOptions, CalibrateError> {
    if logprobs.len() != setup.continuations.len() || logprobs.is_empty() {
        return Err(CalibrateError::ScoreCount {
            got: logprobs.len(),
            options: setup.continuations.len(),
        });
    }
    let probabilities = normalise(&logprobs);
    let uncalibrated_pick = argmax(&probabilities).unwrap_or(0);
    let (p_cf, cal) = match setup.calibrate {
        Calibrate::ContentFree => {
            let p_cf = bias(content_free)
                .filter(|b| b.len() == probabilities.len())
                .ok_or(CalibrateError::ContentFreeUnscored)?;
            let cal = calibrated(&probabilities, &p_cf);
            (p_cf, cal)
        }
        Calibrate::None | Calibrate::Scored => (Vec::new(), Vec::new()),
    };
    let pick = if cal.is_empty() {
        uncalibrated_pick
    } else {
        argmax(&cal).unwrap_or(uncalibrated_pick)
    };
    Ok(ScoredOptions {
        calibrate: setup.calibrate,
        options: setup.continuations.clone(),
        logprobs,
        probabilities,
        content_free: p_cf,
        calibrated: cal,
        uncalibrated_pick,
        pick,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::spec::answer::AnswerSpec;
    use proptest::prelude::*;

    fn labels_template(calibrate: Calibrate) -> Template {
        let mut t = crate::store::template::resolve("gsm8k-cot").unwrap().0;
        t.strategy = crate::core::template::Strategy::Direct;
        t.answer = AnswerSpec {
            choices: vec!["plausible".into(), "implausible".into()],
            ..AnswerSpec::of(AnswerKind::Choice)
        };
        t.calibrate = calibrate;
        t
    }

    #[test]
    fn a_bias_towards_one_label_is_divided_out() {
        let setup = setup(
            &labels_template(Calibrate::ContentFree),
            "Is it?",
            Mode::Completion,
        )
        .unwrap()
        .unwrap();
        assert_eq!(setup.continuations, [" plausible", " implausible"]);
        assert_eq!(setup.content_free.len(), 3);
        // The model says "plausible" 0.7 to 0.3 here, but says it 0.8 to 0.2 with no content.
        let (p, cf) = ((0.7f64).ln(), (0.3f64).ln());
        let cfs = vec![vec![(0.8f64).ln(), (0.2f64).ln()]; 3];
        let s = decide(&setup, vec![p, cf], &cfs).unwrap();
        assert_eq!(s.uncalibrated_pick, 0);
        assert_eq!(s.pick, 1, "0.7/0.8 < 0.3/0.2");
        assert!((s.content_free[0] - 0.8).abs() < 1e-9);
        assert!((s.calibrated.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // Scored without calibration: the biased pick, no bias recorded.
        let plain = super::setup(&labels_template(Calibrate::Scored), "Is it?", Mode::Chat)
            .unwrap()
            .unwrap();
        assert_eq!(plain.continuations, ["plausible", "implausible"]);
        assert!(plain.content_free.is_empty());
        let s = decide(&plain, vec![p, cf], &[]).unwrap();
        assert_eq!((s.pick, s.content_free.len()), (0, 0));
        assert!(decide(&plain, vec![p], &[]).is_err());
    }

    #[test]
    fn listed_options_are_scored_by_letter_and_kept_in_the_content_free_inputs() {
        let mut t = labels_template(Calibrate::ContentFree);
        t.answer.choices.clear();
        let s = setup(&t, "Which? (A) red (B) blue", Mode::Completion)
            .unwrap()
            .unwrap();
        assert_eq!(s.continuations, [" A", " B"]);
        let crate::core::spec::prompt::Prompt::Completion(p) = &s.content_free[0].prompt else {
            panic!()
        };
        assert!(p.ends_with("Q: N/A\n(A) N/A (B) N/A\nA:"), "{p}");
        assert!(setup(&t, "Which colour?", Mode::Completion).is_err());
        t.calibrate = Calibrate::None;
        assert_eq!(setup(&t, "Which colour?", Mode::Completion), Ok(None));
    }

    proptest! {
        #[test]
        fn normalised_probabilities_sum_to_one_and_keep_the_order(
            l in prop::collection::vec(-50.0f64..0.0, 1..8)
        ) {
            let p = normalise(&l);
            prop_assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            prop_assert_eq!(argmax(&p), argmax(&l));
        }

        #[test]
        fn a_uniform_bias_changes_nothing_and_the_bias_itself_comes_out_uniform(
            l in prop::collection::vec(-20.0f64..0.0, 2..6)
        ) {
            let p = normalise(&l);
            let n = p.len();
            let flat = vec![1.0 / n as f64; n];
            let c = calibrated(&p, &flat);
            for (a, b) in c.iter().zip(&p) {
                prop_assert!((a - b).abs() < 1e-9);
            }
            // Calibrating the content-free input by itself leaves no option preferred.
            let cf = bias(std::slice::from_ref(&l)).unwrap();
            let own = calibrated(&cf, &cf);
            for x in own {
                prop_assert!((x - 1.0 / n as f64).abs() < 1e-9);
            }
        }

        #[test]
        fn calibration_is_invariant_to_scaling_the_bias(
            l in prop::collection::vec(-20.0f64..0.0, 2..6),
            b in prop::collection::vec(0.05f64..1.0, 6),
            s in 0.1f64..10.0,
        ) {
            let p = normalise(&l);
            let b = &b[..p.len()];
            let scaled: Vec<f64> = b.iter().map(|x| x * s).collect();
            let (x, y) = (calibrated(&p, b), calibrated(&p, &scaled));
            for (a, c) in x.iter().zip(&y) {
                prop_assert!((a - c).abs() < 1e-9);
            }
        }
    }
}
