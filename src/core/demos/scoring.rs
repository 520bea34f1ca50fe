//! The calibration and selection analyses: accuracy before and after contextual calibration
//! (options scored by their log-probabilities, Zhao et al. 2021), and kNN-selected examples
//! against the fixed set (Liu et al. 2021), each paired on the same items, in words.

use serde::Serialize;

use crate::core::spec::template::{Calibrate, Template};
use crate::core::stats::{
    self, ALPHA, Estimate, LEVEL, Paired, Verdict, holm, paired_binary, points, proportion,
};

/// How a figure was produced: sampled answers (the majority of the template's N samples), or
/// options scored by their log-probabilities (one forward pass, nothing sampled), plain or
/// calibrated against content-free inputs.
pub fn mode_of(c: Calibrate) -> &'static str {
    match c {
        Calibrate::None => "sampled",
        Calibrate::Scored => "scored options",
        Calibrate::ContentFree => "scored options, calibrated",
    }
}

/// Accuracy before and after contextual calibration, from the same option scores, and the
/// given set's (in its own mode) for reference.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// The given set's accuracy and how it was produced (`mode_of` the template's `calibrate`).
    pub given: Option<Estimate>,
    pub given_mode: String,
    /// The options' plain argmax (mode: scored options).
    pub scored: Option<Estimate>,
    /// After the content-free correction (mode: scored options, calibrated).
    pub calibrated: Option<Estimate>,
    /// `b` calibrated, `a` scored: what calibration changes.
    pub versus_scored: Option<Paired>,
    /// `b` calibrated, `a` the given set.
    pub versus_given: Option<Paired>,
    /// Both comparisons adjusted by Holm.
    pub p_holm: Option<f64>,
    pub p_holm_given: Option<f64>,
    pub verdict: Option<Verdict>,
    /// Why calibration could not be measured (the backend cannot score options, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    pub words: String,
}

/// kNN selection against the fixed set (the given one), paired.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    pub k: usize,
    /// "embeddings" or "content words".
    pub by: String,
    pub fixed: Option<Estimate>,
    pub selected: Option<Estimate>,
    /// `b` kNN, `a` fixed.
    pub paired: Option<Paired>,
    pub verdict: Option<Verdict>,
    pub words: String,
}

/// "12 points higher [+3.0, +21.0] than `other`", "within 2 points [−4.0, +6.0] of `other`".
fn against(p: &Paired, detected: bool, other: &str) -> String {
    let (n, iv) = size(p);
    match (detected, p.diff < 0.0) {
        (true, true) => format!("{n} lower {iv} than {other}"),
        (true, false) => format!("{n} higher {iv} than {other}"),
        (false, _) => format!("within {n} {iv} of {other}"),
    }
}

pub(super) fn calibration(
    t: &Template,
    given: &[bool],
    correct: &[bool],
    uncalibrated: Option<&[bool]>,
    error: Option<&str>,
) -> Calibration {
    let given_mode = mode_of(t.calibrate).to_string();
    let mut out = Calibration {
        given: share(given),
        given_mode: given_mode.clone(),
        scored: None,
        calibrated: None,
        versus_scored: None,
        versus_given: None,
        p_holm: None,
        p_holm_given: None,
        verdict: None,
        unavailable: None,
        words: String::new(),
    };
    let uncalibrated = match (error, uncalibrated) {
        (Some(e), _) => {
            out.words = format!("calibration not measured: {e}");
            out.unavailable = Some(e.to_string());
            return out;
        }
        (None, None) => {
            let why = "the options were not scored".to_string();
            out.words = format!("calibration not measured: {why}");
            out.unavailable = Some(why);
            return out;
        }
        (None, Some(u)) => u,
    };
    out.scored = share(uncalibrated);
    out.calibrated = share(correct);
    let pairs = [
        paired_binary(uncalibrated, correct, LEVEL),
        paired_binary(given, correct, LEVEL),
    ];
    let adjusted = adjust(&pairs);
    (out.versus_scored, out.versus_given) = (pairs[0], pairs[1]);
    (out.p_holm, out.p_holm_given) = (adjusted[0], adjusted[1]);
    out.verdict = pairs[0]
        .zip(adjusted[0])
        .map(|(p, h)| stats::verdict(&p, h, 2));
    let Some((p, h)) = pairs[0].zip(adjusted[0]) else {
        out.words = "calibration not measured: no items to compare".into();
        return out;
    };
    let head = match (detected(&p, h), p.diff < 0.0) {
        (true, false) => "calibration helps",
        (true, true) => "calibration hurts",
        (false, _) => "no detectable effect of calibration",
    };
    out.words = format!(
        "{head}: calibrated options score {} (both scored by log-probability)",
        against(&p, detected(&p, h), "the plain option scores")
    );
    let versus_given = pairs[1].zip(adjusted[1]);
    if let Some((p, h)) = versus_given.filter(|_| t.calibrate != Calibrate::ContentFree) {
        let yours = format!("your template's {given_mode} answers");
        out.words = format!(
            "{}; they score {}",
            out.words,
            against(&p, detected(&p, h), &yours)
        );
    }
    out
}

pub(super) fn selection(
    k: usize,
    by: &str,
    fixed: &[bool],
    selected: &[bool],
    error: Option<&str>,
) -> Selection {
    let paired = paired_binary(fixed, selected, LEVEL);
    let verdict = paired.map(|p| stats::verdict(&p, p.p, 1));
    let words = match (error, paired) {
        (Some(e), _) => format!("kNN selection not measured: {e}"),
        (None, None) => "kNN selection not measured: no items to compare".into(),
        (None, Some(p)) => {
            let found = detected(&p, p.p);
            let tail = match (found, p.diff < 0.0) {
                (true, false) => "choose each query's examples by similarity",
                (true, true) => "keep your fixed examples",
                (false, _) => "no detectable difference: keep your fixed examples",
            };
            format!(
                "each query's {k} nearest examples (by {by}) score {}: {tail}",
                against(&p, found, "your fixed examples")
            )
        }
    };
    Selection {
        k,
        by: by.into(),
        fixed: share(fixed),
        selected: share(selected),
        paired,
        verdict,
        words,
    }
}

pub(super) fn share(correct: &[bool]) -> Option<Estimate> {
    let right = correct.iter().filter(|c| **c).count() as u64;
    proportion(right, correct.len() as u64, LEVEL)
}

/// Holm's adjustment over the comparisons that could be made.
pub(super) fn adjust(pairs: &[Option<Paired>]) -> Vec<Option<f64>> {
    let ps: Vec<f64> = pairs.iter().flatten().map(|p| p.p).collect();
    let mut adjusted = holm(&ps).into_iter();
    pairs
        .iter()
        .map(|p| p.and_then(|_| adjusted.next()))
        .collect()
}

/// Whether a comparison is detectable after its adjustment.
pub(super) fn detected(p: &Paired, p_holm: f64) -> bool {
    p_holm < ALPHA && p.diff != 0.0
}

/// A difference's size in points ("12 points") and its interval ("[−4.0, +6.0]").
pub(super) fn size(p: &Paired) -> (String, String) {
    (
        format!("{:.0} points", (p.diff * 100.0).abs()),
        format!("[{}, {}]", points(p.low), points(p.high)),
    )
}
