//! The template model: a reusable prompt recipe (instruction, few-shot examples, strategy,
//! answer kind, sampling defaults). Loading from YAML lives in `store::template`.

use serde::{Deserialize, Serialize};

use super::answer::AnswerSpec;
use super::error::SpecError;
use super::prompt::Mode;
use super::rule::Rule;

/// The template file format version this build reads and writes.
pub const TEMPLATE_VERSION: u32 = 1;

/// How the prompt asks for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Few-shot examples show answers only.
    #[default]
    Direct,
    /// Few-shot chain of thought (Wei et al. 2022): examples show a rationale, then
    /// "The answer is X."
    Cot,
    /// Zero-shot chain of thought (Kojima et al. 2022): "Let's think step by step.", then a
    /// second stage that extracts the answer from the reasoning.
    ZeroShotCot,
    /// Least-to-most (Zhou et al. 2022): decompose into sub-questions, then solve them in
    /// order, each with the answers before it; the last one is the question itself.
    LeastToMost,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::Direct,
        Strategy::Cot,
        Strategy::ZeroShotCot,
        Strategy::LeastToMost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::Cot => "cot",
            Strategy::ZeroShotCot => "zero-shot-cot",
            Strategy::LeastToMost => "least-to-most",
        }
    }

    /// The user's chain-of-thought switch: direct <-> cot. Zero-shot CoT switches back to direct.
    pub fn toggle_cot(self) -> Strategy {
        match self {
            Strategy::Direct => Strategy::Cot,
            Strategy::Cot | Strategy::ZeroShotCot | Strategy::LeastToMost => Strategy::Direct,
        }
    }

    /// The next strategy in the cycle direct -> cot -> zero-shot-cot -> least-to-most -> direct.
    pub fn cycle(self) -> Strategy {
        match self {
            Strategy::Direct => Strategy::Cot,
            Strategy::Cot => Strategy::ZeroShotCot,
            Strategy::ZeroShotCot => Strategy::LeastToMost,
            Strategy::LeastToMost => Strategy::Direct,
        }
    }

    /// The previous strategy in that cycle (`cycle` undone).
    pub fn cycle_back(self) -> Strategy {
        let mut s = self;
        while s.cycle() != self {
            s = s.cycle();
        }
        s
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                SpecError::unknown("strategy", s, "direct, cot, zero-shot-cot or least-to-most")
            })
    }
}

/// One few-shot example: the input, an optional rationale (shown under chain of thought) and
/// the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    pub answer: String,
    /// Switched-off examples stay in the template but are left out of the prompt.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Least-to-most solving exemplar: the sub-questions in order with their answers (the last
    /// one answers the input and ends "The answer is X.").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<SolveStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolveStep {
    pub question: String,
    pub answer: String,
}

/// A least-to-most decomposition exemplar: a problem and the sub-questions to answer before
/// the problem's own question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decomposition {
    pub input: String,
    pub subquestions: Vec<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Whether a reasoning model thinks before it answers: the chain-of-thought switch in the
/// language of models that think on their own. `auto` sends nothing (the server's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Thinking {
    #[default]
    Auto,
    On,
    Off,
}

/// How hard an OpenAI-style reasoning model thinks (`reasoning_effort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effort {
    Low,
    Medium,
    High,
}

impl Thinking {
    pub const ALL: [Thinking; 3] = [Thinking::Auto, Thinking::On, Thinking::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            Thinking::Auto => "auto",
            Thinking::On => "on",
            Thinking::Off => "off",
        }
    }

    fn is_auto(&self) -> bool {
        *self == Thinking::Auto
    }
}

impl Effort {
    pub const ALL: [Effort; 3] = [Effort::Low, Effort::Medium, Effort::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }
}

impl std::str::FromStr for Thinking {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Thinking::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| SpecError::unknown("thinking", s, "auto, on or off"))
    }
}

impl std::str::FromStr for Effort {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Effort::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| SpecError::unknown("reasoning effort", s, "low, medium or high"))
    }
}

/// How a `choice` answer is chosen: from sampled paths (`none`), or from the options'
/// log-probabilities under one forward pass (`scored`), divided by the content-free bias
/// (`content-free`: Zhao et al. 2021's contextual calibration; `core::calibrate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Calibrate {
    #[default]
    None,
    Scored,
    ContentFree,
}

impl Calibrate {
    pub const ALL: [Calibrate; 3] = [Calibrate::None, Calibrate::Scored, Calibrate::ContentFree];

    pub fn as_str(self) -> &'static str {
        match self {
            Calibrate::None => "none",
            Calibrate::Scored => "scored",
            Calibrate::ContentFree => "content-free",
        }
    }

    pub fn is_none(&self) -> bool {
        *self == Calibrate::None
    }
}

impl std::fmt::Display for Calibrate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Calibrate {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Calibrate::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| SpecError::unknown("calibrate", s, "none, scored or content-free"))
    }
}

/// How each query's examples are picked from the template's (active) examples: all of them
/// as written (`fixed`), or the `k` most similar to the query (`knn`, Liu et al. 2021; by
/// embeddings with an embedding model, else by content words; `core::select`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(deny_unknown_fields)]
pub struct Select {
    pub by: SelectBy,
    #[serde(default = "default_k")]
    pub k: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum SelectBy {
    Fixed,
    Knn,
}

/// Examples a `knn` selection picks when the template does not say.
pub const DEFAULT_K: usize = 4;

fn default_k() -> usize {
    DEFAULT_K
}

impl Select {
    /// `fixed`, `knn` (k from `current`, else 4) or `knn:K`.
    pub fn parse(s: &str, current: Option<Select>) -> Result<Option<Select>, SpecError> {
        let k_now = current.map_or(DEFAULT_K, |c| c.k);
        match s.split_once(':') {
            None if s == "fixed" => Ok(None),
            None if s == "knn" => Ok(Some(Select {
                by: SelectBy::Knn,
                k: k_now,
            })),
            Some(("knn", k)) => match k.trim().parse::<usize>() {
                Ok(k) if k >= 1 => Ok(Some(Select {
                    by: SelectBy::Knn,
                    k,
                })),
                _ => Err(SpecError::SelectK(s.to_string())),
            },
            _ => Err(SpecError::unknown("selection", s, "fixed, knn or knn:K")),
        }
    }

    /// Whether it picks by similarity (`knn`).
    pub fn knn(select: Option<Select>) -> Option<usize> {
        select.filter(|s| s.by == SelectBy::Knn).map(|s| s.k)
    }
}

/// Sampling settings. `n` is the self-consistency vote count; path `i` samples with `seed + i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sampling {
    pub n: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: u32,
    pub max_tokens: u32,
    pub seed: u64,
    /// Reasoning models: think or not (`auto`: the server's default).
    #[serde(skip_serializing_if = "Thinking::is_auto")]
    pub thinking: Thinking,
    /// Reasoning models: `reasoning_effort` (absent: the server's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<Effort>,
    /// Adaptive self-consistency: stop sampling once the vote is settled (`n` stays the most).
    #[serde(skip_serializing_if = "Rule::is_none")]
    pub early_stop: Rule,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            n: 5,
            temperature: 0.7,
            top_p: 0.95,
            top_k: 40,
            max_tokens: 256,
            seed: 1,
            thinking: Thinking::Auto,
            reasoning_effort: None,
            early_stop: Rule::None,
        }
    }
}

/// Largest vote count accepted anywhere (CLI, TUI, templates).
pub const MAX_N: u32 = 64;
/// Largest top-k accepted (0 switches it off); more candidates than this never matter.
pub const MAX_TOP_K: u32 = 1000;
/// Largest completion length accepted.
pub const MAX_TOKENS: u32 = 32_768;

impl Sampling {
    /// Checks the ranges a backend would otherwise reject late or silently clamp.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.n == 0 || self.n > MAX_N {
            return Err(SpecError::range(
                "n",
                format!("between 1 and {MAX_N}"),
                self.n,
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(SpecError::range(
                "temperature",
                "between 0 and 2".into(),
                self.temperature,
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SpecError::range("top_p", "in (0, 1]".into(), self.top_p));
        }
        if self.top_k > MAX_TOP_K {
            return Err(SpecError::range(
                "top_k",
                format!("between 0 (off) and {MAX_TOP_K}"),
                self.top_k,
            ));
        }
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS {
            return Err(SpecError::range(
                "max_tokens",
                format!("between 1 and {MAX_TOKENS}"),
                self.max_tokens,
            ));
        }
        Ok(())
    }
}

/// A prompt recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default = "version_one")]
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Least-to-most decomposition exemplars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decomposition: Vec<Decomposition>,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub answer: AnswerSpec,
    #[serde(default)]
    pub sampling: Sampling,
    /// Chat or completion rendering; when absent the backend decides (base models: completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The default query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// More queries a user can pick from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// `choice` answers from the options' log-probabilities, calibrated or not (default
    /// `none`: sampled paths vote).
    #[serde(default, skip_serializing_if = "Calibrate::is_none")]
    pub calibrate: Calibrate,
    /// Each query's examples picked from `examples` (absent: all active ones, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Select>,
}

fn version_one() -> u32 {
    TEMPLATE_VERSION
}

impl Template {
    /// The examples that go into the prompt.
    pub fn active_examples(&self) -> impl Iterator<Item = &Example> {
        self.examples.iter().filter(|e| e.enabled)
    }

    /// Checks what serde cannot: version, ranges, and what the strategy needs.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version > TEMPLATE_VERSION {
            return Err(SpecError::Version {
                found: self.version,
                reads: TEMPLATE_VERSION,
            });
        }
        if self.name.trim().is_empty() {
            return Err(SpecError::NoName);
        }
        self.sampling
            .validate()
            .map_err(|e| SpecError::Sampling(Box::new(e)))?;
        self.answer.validate()?;
        if self.strategy == Strategy::LeastToMost && self.decomposition.is_empty() {
            return Err(SpecError::NoDecomposition);
        }
        if !self.calibrate.is_none() {
            if self.answer.kind != super::answer::AnswerKind::Choice {
                return Err(SpecError::CalibrateKind {
                    calibrate: self.calibrate.as_str(),
                    kind: self.answer.kind.as_str(),
                });
            }
            if self.strategy != Strategy::Direct {
                return Err(SpecError::CalibrateStrategy {
                    calibrate: self.calibrate.as_str(),
                    strategy: self.strategy.as_str(),
                });
            }
        }
        if let Some(s) = self.select
            && s.k == 0
        {
            return Err(SpecError::ZeroK);
        }
        if self.strategy == Strategy::Cot
            && let Some(i) = self.active_examples().position(|e| e.rationale.is_none())
        {
            return Err(SpecError::NoRationale(i + 1));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cot_switch_flips_direct_and_cot() {
        assert_eq!(Strategy::Direct.toggle_cot(), Strategy::Cot);
        assert_eq!(Strategy::Cot.toggle_cot(), Strategy::Direct);
        assert_eq!(Strategy::ZeroShotCot.toggle_cot(), Strategy::Direct);
    }

    #[test]
    fn strategy_cycle_visits_all() {
        let mut s = Strategy::Direct;
        let mut seen = vec![];
        for _ in 0..Strategy::ALL.len() {
            seen.push(s);
            s = s.cycle();
        }
        assert_eq!(s, Strategy::Direct);
        assert_eq!(seen, Strategy::ALL);
    }

    #[test]
    fn sampling_rejects_zero_and_huge_n() {
        let mut s = Sampling {
            n: 0,
            ..Sampling::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("between 1 and 64")
        );
        s.n = 10_000;
        assert!(s.validate().is_err());
        s.n = 64;
        assert!(s.validate().is_ok());
    }
}

/// One difference between two prompt set-ups: what, before, after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub what: String,
    pub before: String,
    pub after: String,
}

/// What changed from `a` to `b` (with their queries): instruction, examples, strategy,
/// sampling, mode, answer kind, query. Examples are matched by input.
pub fn diff(a: &Template, a_query: &str, b: &Template, b_query: &str) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |what: &str, before: String, after: String| {
        if before != after {
            out.push(Change {
                what: what.into(),
                before,
                after,
            });
        }
    };
    push(
        "instruction",
        a.instruction.clone().unwrap_or_default(),
        b.instruction.clone().unwrap_or_default(),
    );
    push(
        "query",
        a_query.trim().to_string(),
        b_query.trim().to_string(),
    );
    push("strategy", a.strategy.to_string(), b.strategy.to_string());
    push("N", a.sampling.n.to_string(), b.sampling.n.to_string());
    push(
        "temperature",
        format!("{:.2}", a.sampling.temperature),
        format!("{:.2}", b.sampling.temperature),
    );
    push(
        "top-p",
        format!("{:.2}", a.sampling.top_p),
        format!("{:.2}", b.sampling.top_p),
    );
    push(
        "top-k",
        a.sampling.top_k.to_string(),
        b.sampling.top_k.to_string(),
    );
    push(
        "max tokens",
        a.sampling.max_tokens.to_string(),
        b.sampling.max_tokens.to_string(),
    );
    push(
        "seed",
        a.sampling.seed.to_string(),
        b.sampling.seed.to_string(),
    );
    push("mode", format!("{:?}", a.mode), format!("{:?}", b.mode));
    push(
        "answer",
        a.answer.kind.as_str().to_string(),
        b.answer.kind.as_str().to_string(),
    );
    let active = |t: &Template| t.active_examples().count();
    push(
        "active examples",
        format!("{} of {}", active(a), a.examples.len()),
        format!("{} of {}", active(b), b.examples.len()),
    );
    for e in &b.examples {
        match a.examples.iter().find(|x| x.input == e.input) {
            None => push("example added", String::new(), e.input.clone()),
            Some(old) if old.enabled != e.enabled => {
                let state = |on: bool| if on { "on" } else { "off" }.to_string();
                push(
                    &format!("example \"{}\"", short(&e.input)),
                    state(old.enabled),
                    state(e.enabled),
                );
            }
            Some(old) if old.rationale != e.rationale || old.answer != e.answer => push(
                &format!("example \"{}\"", short(&e.input)),
                format!(
                    "{} → {}",
                    old.rationale.clone().unwrap_or_default(),
                    old.answer
                ),
                format!("{} → {}", e.rationale.clone().unwrap_or_default(), e.answer),
            ),
            Some(_) => {}
        }
    }
    for e in &a.examples {
        if !b.examples.iter().any(|x| x.input == e.input) {
            push("example removed", e.input.clone(), String::new());
        }
    }
    out
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(30).collect();
    format!("{s}…")
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    #[test]
    fn reports_what_changed() {
        let ex = |i: &str, on: bool| Example {
            input: i.into(),
            rationale: None,
            answer: "1".into(),
            enabled: on,
            steps: vec![],
        };
        let a = Template {
            version: 1,
            name: "a".into(),
            description: String::new(),
            instruction: None,
            examples: vec![ex("one", true), ex("two", true)],
            decomposition: vec![],
            strategy: Strategy::Direct,
            answer: AnswerSpec::default(),
            sampling: Sampling::default(),
            mode: None,
            query: None,
            queries: vec![],
            calibrate: Default::default(),
            select: None,
        };
        let mut b = a.clone();
        b.strategy = Strategy::Cot;
        b.sampling.n = 10;
        b.examples[1].enabled = false;
        b.examples.push(ex("three", true));
        let d = diff(&a, "q", &b, "q");
        let whats: Vec<&str> = d.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "strategy",
                "N",
                "active examples",
                "example \"two…\"",
                "example added"
            ]
        );
        assert_eq!(d[0].before, "direct");
        assert_eq!(d[0].after, "cot");
        assert!(diff(&a, "q", &a, "q").is_empty());
    }
}
