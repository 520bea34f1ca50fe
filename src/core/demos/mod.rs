//! Demonstrations under the microscope (issue 27): from a template and its active examples,
//! the example sets an analysis evaluates, and (`analysis`) what their paired scores say.
//!
//! - **Leave-one-out**: one set per active example, without it.
//! - **Label controls** (Min et al. 2022; Wei et al. 2023): gold labels (the template as
//!   written), random labels drawn with a seed from the examples' own label space (drawn
//!   again when every example drew its own label), no
//!   demonstrations at all, and for label templates flipped labels (two labels swapped; with
//!   more, each label replaced by the next in the label space, so none keeps its own).
//! - **Order** (Lu et al. 2022): K seeded permutations of the active examples.
//! - **Calibration** (Zhao et al. 2021), for `direct` templates whose answers are labels: the
//!   given examples with each option scored by its log-probability and calibrated against
//!   content-free inputs (`calibrate: content-free`; the plain pick comes from the same scores).
//! - **Selection** (Liu et al. 2021): each query's `k` nearest active examples (`select: knn`;
//!   the template's `k`, else 4, fewer than the active examples so that it selects).
//!
//! Every set keeps the instruction and the strategy; only the examples change (and, for the
//! calibration and selection sets, how answers are read or examples chosen), so a set is a
//! template whose examples are exactly the ones shown, in the order shown. A template that
//! selects by kNN is analysed with its whole pool shown; its kNN is the selection set.

mod analysis;
mod scoring;

pub use analysis::{
    Analysis, BestOrder, Contribution, ControlRow, Labels, OrderRow, OrderSpread, Report, Scored,
    analyse,
};
pub use scoring::{Calibration, Selection, mode_of};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::spec::answer::AnswerKind;
use super::spec::template::{Calibrate, DEFAULT_K, Example, Select, SelectBy, Strategy, Template};

/// Random orders evaluated unless asked otherwise.
pub const DEFAULT_ORDERS: usize = 8;

/// What an analysis builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Random permutations of the examples' order (0: no order analysis).
    pub orders: usize,
    /// Seeds the random labels, the permutations and the split of the order check.
    pub seed: u64,
    /// Sample every set's answers even where their options could be scored (`--sampled`).
    pub sampled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            orders: DEFAULT_ORDERS,
            seed: 1,
            sampled: false,
        }
    }
}

/// How an analysis reads its sets' answers: every set by its options' log-probabilities
/// (`calibrate: scored`; the calibration set calibrated), or sampled, and why when a label
/// template's could have been scored or was asked to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// The sets' `calibrate` (written as its `mode_of`: "scored options" or "sampled").
    #[serde(rename = "mode", serialize_with = "mode_name")]
    pub answers: Calibrate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

fn mode_name<S: serde::Serializer>(c: &Calibrate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mode_of(*c))
}

impl Reading {
    pub fn scored(&self) -> bool {
        self.answers == Calibrate::Scored
    }

    /// "answers: scored options (…)" or "answers: sampled (…)", for people.
    pub fn words(&self) -> String {
        let mode = mode_of(self.answers);
        match &self.why {
            Some(why) => format!("answers: {mode} ({why})"),
            None if self.scored() => format!(
                "answers: {mode} (each set's options by log-probability, nothing sampled; `--sampled` samples them)"
            ),
            None => format!("answers: {mode}"),
        }
    }
}

/// How the analysis of `t` with `s` reads its sets' answers: scored for a label template
/// (`calibratable`) on a backend that scores options, unless sampling was asked for.
pub fn reading(t: &Template, s: &Settings, backend_scores: bool) -> Reading {
    let sampled = |why: &str| Reading {
        answers: Calibrate::None,
        why: Some(why.into()),
    };
    if !t.calibrate.is_none() {
        return Reading {
            answers: t.calibrate,
            why: Some("the template's own `calibrate:`".into()),
        };
    }
    if !calibratable(t) {
        sampled(
            "only a `direct` template whose answers are labels (`choice`, or text labels that repeat) can be scored",
        )
    } else if s.sampled {
        sampled("asked for: --sampled")
    } else if !backend_scores {
        sampled(
            "this backend cannot score options by log-probability (the embedded model can; a server through completion prompts)",
        )
    } else {
        Reading {
            answers: Calibrate::Scored,
            why: None,
        }
    }
}

/// Why an analysis cannot be set up: its options, or a template with nothing to analyse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    #[error("orders={0}: give a whole number from 0 to 100")]
    Orders(String),
    #[error("`{0}`: the analysis takes orders=K and sampled")]
    Option(String),
    #[error("zero-shot-cot sends no examples: there are no demonstrations to analyse")]
    ZeroShotCot,
    #[error("the template has no active examples to analyse")]
    NoExamples,
}

/// The faces carry it as text.
impl From<DemoError> for String {
    fn from(e: DemoError) -> String {
        e.to_string()
    }
}

/// The lab's form's orders: empty options (the default orders) or `orders=K` (and `sampled`,
/// `sampled_option`).
pub fn orders_option(options: &str) -> Result<usize, DemoError> {
    let mut orders = DEFAULT_ORDERS;
    for word in options.split_whitespace() {
        if word == "sampled" {
            continue;
        }
        match word.split_once('=') {
            Some(("orders", k)) => {
                orders = k
                    .parse()
                    .ok()
                    .filter(|k| *k <= 100)
                    .ok_or_else(|| DemoError::Orders(k.into()))?;
            }
            _ => return Err(DemoError::Option(word.into())),
        }
    }
    Ok(orders)
}

/// Whether the lab's form's options ask for sampled answers (the word `sampled`).
pub fn sampled_option(options: &str) -> bool {
    options.split_whitespace().any(|w| w == "sampled")
}

/// A label control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// The labels as written (the template itself).
    Gold,
    /// Each example's label drawn at random from the examples' label space.
    Random,
    /// No demonstrations at all.
    None,
    /// Every label replaced by another of the label space.
    Flipped,
}

impl Control {
    pub fn name(self) -> &'static str {
        match self {
            Control::Gold => "gold labels",
            Control::Random => "random labels",
            Control::None => "no examples",
            Control::Flipped => "flipped labels",
        }
    }
}

/// What one example set is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "set", rename_all = "snake_case")]
pub enum Kind {
    /// The template's active examples as written: gold labels, the given order; every other
    /// set is compared with it.
    Given,
    /// Without the example at this index of the template's `examples`.
    Without { example: usize },
    /// A label control other than gold (gold is `Given`).
    Labels { control: Control },
    /// The active examples in this order (indices into the template's `examples`).
    Order { order: Vec<usize> },
    /// The given examples, each option scored by its log-probability and calibrated against
    /// content-free inputs (the uncalibrated pick read from the same scores).
    Calibrated,
    /// Each query's `k` nearest active examples (kNN selection).
    Selected { k: usize },
}

/// One example set to evaluate: its name, what it is, and the template that shows it.
#[derive(Debug, Clone)]
pub struct DemoSet {
    pub name: String,
    pub kind: Kind,
    pub template: Template,
}

/// The label space of a template's active examples, in order of first appearance: its
/// `choices` when a `choice` template lists them, else the distinct answers. Labels compare
/// trimmed and case-folded.
pub fn label_space(t: &Template) -> Vec<String> {
    let mut space: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let s = s.trim();
        if !s.is_empty() && !space.iter().any(|x| same_label(x, s)) {
            space.push(s.to_string());
        }
    };
    if t.answer.kind == AnswerKind::Choice && !t.answer.choices.is_empty() {
        t.answer.choices.iter().for_each(|c| add(c));
    } else {
        t.active_examples().for_each(|e| add(&e.answer));
    }
    space
}

fn same_label(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Whether the template's answers are labels: a `choice` template, or `text` answers where a
/// label repeats among the examples. Only then do flipped labels mean something.
pub fn is_label_template(t: &Template) -> bool {
    let space = label_space(t);
    match t.answer.kind {
        AnswerKind::Choice => space.len() >= 2,
        AnswerKind::Text => space.len() >= 2 && space.len() < t.active_examples().count(),
        _ => false,
    }
}

/// Why a template cannot be analysed, if it cannot.
pub fn check(t: &Template) -> Result<(), DemoError> {
    if t.strategy == Strategy::ZeroShotCot {
        return Err(DemoError::ZeroShotCot);
    }
    if t.active_examples().next().is_none() {
        return Err(DemoError::NoExamples);
    }
    Ok(())
}

/// Every example set of the analysis, the given one first, then leave-one-out (in the
/// examples' order), the label controls, and the orders.
pub fn sets(t: &Template, s: &Settings, backend_scores: bool) -> Result<Vec<DemoSet>, DemoError> {
    check(t)?;
    let active: Vec<usize> = (0..t.examples.len())
        .filter(|&i| t.examples[i].enabled)
        .collect();
    let space = label_space(t);
    let scored = reading(t, s, backend_scores).scored();
    let with = |examples: Vec<Example>| {
        let mut v = t.clone();
        v.examples = examples;
        v.select = None;
        if scored {
            v = options_scored(v, &space, Calibrate::Scored);
        }
        v
    };
    let pick = |order: &[usize]| -> Vec<Example> {
        order.iter().map(|&i| t.examples[i].clone()).collect()
    };
    let mut out = vec![DemoSet {
        name: "given".into(),
        kind: Kind::Given,
        template: with(pick(&active)),
    }];
    for &i in &active {
        let rest: Vec<usize> = active.iter().copied().filter(|&j| j != i).collect();
        out.push(DemoSet {
            name: format!("without #{}", i + 1),
            kind: Kind::Without { example: i },
            template: with(pick(&rest)),
        });
    }
    let mut rng = StdRng::seed_from_u64(s.seed);
    if space.len() >= 2 {
        // A draw that gave every example its own label again controls nothing: drawn anew.
        let gold = pick(&active);
        let mut random = gold.clone();
        for _ in 0..100 {
            for (e, g) in random.iter_mut().zip(&gold) {
                e.answer = space[rng.random_range(0..space.len())].clone();
                if same_label(&e.answer, &g.answer) {
                    e.answer = g.answer.clone();
                }
            }
            if random != gold {
                break;
            }
        }
        out.push(labels(Control::Random, with(random)));
    }
    out.push(labels(Control::None, with(Vec::new())));
    if is_label_template(t) {
        let flipped = pick(&active)
            .into_iter()
            .map(|mut e| {
                e.answer = flip(&space, &e.answer);
                e
            })
            .collect();
        out.push(labels(Control::Flipped, with(flipped)));
    }
    for order in permutations(&active, s.orders, &mut rng) {
        let shown: Vec<String> = order.iter().map(|i| (i + 1).to_string()).collect();
        out.push(DemoSet {
            name: format!("order {}", shown.join(" ")),
            template: with(pick(&order)),
            kind: Kind::Order { order },
        });
    }
    if calibratable(t) {
        let c = options_scored(with(pick(&active)), &space, Calibrate::ContentFree);
        out.push(DemoSet {
            name: "calibrated (scored options)".into(),
            kind: Kind::Calibrated,
            template: c,
        });
    }
    if let Some(k) = knn_k(t) {
        let mut v = with(pick(&active));
        v.select = Some(Select {
            by: SelectBy::Knn,
            k,
        });
        out.push(DemoSet {
            name: format!("kNN k={k}"),
            kind: Kind::Selected { k },
            template: v,
        });
    }
    Ok(out)
}

/// `t` with its answers read by scoring options (`how`); text labels are scored as the options
/// of the examples' label space `space`.
fn options_scored(mut t: Template, space: &[String], how: Calibrate) -> Template {
    t.calibrate = how;
    if t.answer.kind != AnswerKind::Choice {
        t.answer.kind = AnswerKind::Choice;
        t.answer.choices = space.to_vec();
    }
    t
}

/// Whether the calibration set applies: a `direct` template (options are scored right after
/// the question) whose answers are labels (`choice`, or text labels that repeat).
pub fn calibratable(t: &Template) -> bool {
    t.strategy == Strategy::Direct && (t.answer.kind == AnswerKind::Choice || is_label_template(t))
}

/// The `k` of the selection set: the template's own (`select: knn`), else 4, at most one fewer
/// than the active examples (so that it selects); `None` with fewer than two.
pub fn knn_k(t: &Template) -> Option<usize> {
    let active = t.active_examples().count();
    let k = Select::knn(t.select).unwrap_or(DEFAULT_K);
    Some(k.min(active.checked_sub(1)?)).filter(|k| *k >= 1)
}

fn labels(control: Control, template: Template) -> DemoSet {
    DemoSet {
        name: control.name().into(),
        kind: Kind::Labels { control },
        template,
    }
}

/// The label after `label` in the label space (the last wraps to the first): two labels
/// swap. A label outside the space stays.
pub fn flip(space: &[String], label: &str) -> String {
    match space.iter().position(|x| same_label(x, label)) {
        Some(k) => space[(k + 1) % space.len()].clone(),
        None => label.to_string(),
    }
}

/// Up to `k` distinct orders of `items` other than the given one, drawn by shuffling (all of
/// them when there are fewer than `k`).
fn permutations(items: &[usize], k: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let possible = (1..=items.len()).try_fold(1usize, |acc, n| acc.checked_mul(n));
    let want = match possible {
        Some(p) => k.min(p - 1),
        None => k,
    };
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut tries = 0;
    while out.len() < want && tries < 1000 * want.max(1) {
        tries += 1;
        let mut order = items.to_vec();
        order.shuffle(rng);
        if order != items && !out.contains(&order) {
            out.push(order);
        }
    }
    out
}

#[cfg(test)]
mod tests;
