//! What the example sets' scores say, paired on the same items (`core::stats`): each example's
//! contribution, the label controls with a verdict in words, the order spread and the best
//! order checked on items it was not chosen on.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::scoring::{
    Calibration, Selection, adjust, calibration, detected, selection, share, size,
};
use super::{Control, Kind};
use crate::core::spec::template::{Example, Template};
use crate::core::stats::{self, Estimate, LEVEL, Paired, Verdict, paired_binary, points};

/// One example set's scores: right or not per item (the majority vote), in the dataset's
/// order, and the share of its samples whose answer could not be read.
#[derive(Debug, Clone)]
pub struct Scored {
    pub name: String,
    pub kind: Kind,
    pub correct: Vec<bool>,
    pub unparsed_rate: f64,
    /// A calibrated set: whether the options' plain argmax (before calibration, from the same
    /// scores) was right, per item.
    pub uncalibrated: Option<Vec<bool>>,
    /// Why no item of the set could be scored (the first item's error), when none could.
    pub error: Option<String>,
}

impl Scored {
    pub fn new(name: &str, kind: Kind, correct: Vec<bool>, unparsed_rate: f64) -> Scored {
        Scored {
            name: name.into(),
            kind,
            correct,
            unparsed_rate,
            uncalibrated: None,
            error: None,
        }
    }
}

/// An analysis's findings: leave-one-out, the label controls, the orders, calibration (each
/// option scored by its log-probability, before and after the content-free correction) and
/// selection (kNN examples against the fixed set), each paired on the same items.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The template's examples as analysed (the lab shows the contributions until they change).
    pub examples: Vec<Example>,
    pub items: usize,
    /// The given set (gold labels, the given order): what every other set is compared with.
    pub given: Option<Estimate>,
    /// How the sets' answers were read (scored options or sampled, and why); the engine
    /// fills it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading: Option<super::Reading>,
    pub analyses: Vec<Analysis>,
}

impl Report {
    /// Leave-one-out: what each example adds.
    pub fn contributions(&self) -> Option<&[Contribution]> {
        self.analyses.iter().find_map(|a| match a {
            Analysis::LeaveOneOut { contributions } => Some(contributions.as_slice()),
            _ => None,
        })
    }

    /// The label controls, when the analysis ran them.
    pub fn labels(&self) -> Option<&Labels> {
        self.analyses.iter().find_map(|a| match a {
            Analysis::Labels(l) => Some(l.as_ref()),
            _ => None,
        })
    }

    /// The orders' spread, when orders were evaluated.
    pub fn order(&self) -> Option<&OrderSpread> {
        self.analyses.iter().find_map(|a| match a {
            Analysis::Order(o) => Some(o.as_ref()),
            _ => None,
        })
    }

    /// Calibration, for a template it applies to.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.analyses.iter().find_map(|a| match a {
            Analysis::Calibration(c) => Some(c.as_ref()),
            _ => None,
        })
    }

    /// kNN selection against the fixed set, for a template it applies to.
    pub fn selection(&self) -> Option<&Selection> {
        self.analyses.iter().find_map(|a| match a {
            Analysis::Selection(s) => Some(s.as_ref()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "analysis", rename_all = "snake_case")]
pub enum Analysis {
    LeaveOneOut { contributions: Vec<Contribution> },
    Labels(Box<Labels>),
    Order(Box<OrderSpread>),
    Calibration(Box<Calibration>),
    Selection(Box<Selection>),
}

/// What one example adds: the given set's accuracy minus the accuracy without it, paired on
/// the items (positive: it helps).
#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    /// Its index in the template's `examples`.
    pub example: usize,
    pub input: String,
    pub answer: String,
    pub without: Option<Estimate>,
    /// `b` the given set, `a` the set without it: `diff` is the contribution.
    pub paired: Option<Paired>,
    /// McNemar's p adjusted by Holm across the examples.
    pub p_holm: Option<f64>,
    pub verdict: Option<Verdict>,
    /// Removing it scored higher than keeping it.
    pub removal_helps: bool,
}

impl Contribution {
    /// The contribution in points and its interval ("+12.5 [−3.0, +28.0]").
    pub fn cell(&self) -> String {
        self.paired.map_or_else(
            || "-".into(),
            |p| format!("{} [{}, {}]", points(p.diff), points(p.low), points(p.high)),
        )
    }
}

/// The label controls, each against gold, and what they say together.
#[derive(Debug, Clone, Serialize)]
pub struct Labels {
    pub rows: Vec<ControlRow>,
    /// Whether the model reads the labels: random or flipped labels detectably worse than
    /// gold (`None`: neither control could be run).
    pub reads_labels: Option<bool>,
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    pub control: Control,
    pub accuracy: Option<Estimate>,
    pub unparsed_rate: f64,
    /// `b` this control, `a` gold (none for gold itself).
    pub versus_gold: Option<Paired>,
    /// Adjusted by Holm across the controls.
    pub p_holm: Option<f64>,
    pub words: String,
}

/// The spread of accuracy over random orders of the same examples.
#[derive(Debug, Clone, Serialize)]
pub struct OrderSpread {
    pub given: Option<Estimate>,
    pub orders: Vec<OrderRow>,
    /// Indices into `orders`: the lowest, the median (the lower of two) and the highest.
    pub min: usize,
    pub median: usize,
    pub max: usize,
    pub best: Option<BestOrder>,
    pub words: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderRow {
    pub name: String,
    pub order: Vec<usize>,
    pub accuracy: Option<Estimate>,
}

/// The best order chosen on one half of the items and checked, paired against the given
/// order, on the other half.
#[derive(Debug, Clone, Serialize)]
pub struct BestOrder {
    pub name: String,
    pub order: Vec<usize>,
    /// Items it was chosen on, and its accuracy there.
    pub chosen_on: usize,
    pub chosen_accuracy: f64,
    /// On the other half: `b` the best order, `a` the given order.
    pub confirm: Option<Paired>,
    /// Detectably better than the given order on the items it was not chosen on.
    pub confirmed: bool,
    pub words: String,
}

/// The analysis of the scored sets (the given set among them): leave-one-out, the label
/// controls, the orders, calibration and selection; `seed` splits the items for the order
/// check; `by_embeddings`: the kNN set chose its examples by embeddings (else content words).
pub fn analyse(t: &Template, scored: &[Scored], seed: u64, by_embeddings: bool) -> Report {
    let given = scored.iter().find(|s| s.kind == Kind::Given);
    let items = given.map_or(0, |g| g.correct.len());
    let mut analyses = Vec::new();
    if let Some(g) = given {
        let loo = leave_one_out(t, g, scored);
        if !loo.is_empty() {
            analyses.push(Analysis::LeaveOneOut { contributions: loo });
        }
        analyses.push(Analysis::Labels(Box::new(labels(g, scored))));
        if let Some(o) = order(g, scored, seed) {
            analyses.push(Analysis::Order(Box::new(o)));
        }
        if let Some(c) = scored.iter().find(|s| s.kind == Kind::Calibrated) {
            analyses.push(Analysis::Calibration(Box::new(calibration(
                t,
                &g.correct,
                &c.correct,
                c.uncalibrated.as_deref(),
                c.error.as_deref(),
            ))));
        }
        let knn = scored.iter().find_map(|s| match s.kind {
            Kind::Selected { k } => Some((k, s)),
            _ => None,
        });
        if let Some((k, s)) = knn {
            let by = if by_embeddings {
                "embeddings"
            } else {
                "content words"
            };
            analyses.push(Analysis::Selection(Box::new(selection(
                k,
                by,
                &g.correct,
                &s.correct,
                s.error.as_deref(),
            ))));
        }
    }
    Report {
        examples: t.examples.clone(),
        items,
        given: given.and_then(|g| share(&g.correct)),
        reading: None,
        analyses,
    }
}

fn leave_one_out(t: &Template, given: &Scored, scored: &[Scored]) -> Vec<Contribution> {
    let without: Vec<(usize, &Scored)> = scored
        .iter()
        .filter_map(|s| match s.kind {
            Kind::Without { example } => Some((example, s)),
            _ => None,
        })
        .collect();
    let pairs: Vec<Option<Paired>> = without
        .iter()
        .map(|(_, s)| paired_binary(&s.correct, &given.correct, LEVEL))
        .collect();
    let adjusted = adjust(&pairs);
    without
        .iter()
        .zip(pairs)
        .zip(adjusted)
        .map(|(((example, s), paired), p_holm)| {
            let e = &t.examples[*example];
            Contribution {
                example: *example,
                input: e.input.clone(),
                answer: e.answer.clone(),
                without: share(&s.correct),
                paired,
                p_holm,
                verdict: paired
                    .zip(p_holm)
                    .map(|(p, h)| stats::verdict(&p, h, without.len())),
                removal_helps: paired.is_some_and(|p| p.diff < 0.0),
            }
        })
        .collect()
}

fn labels(given: &Scored, scored: &[Scored]) -> Labels {
    let controls: Vec<(Control, &Scored)> = scored
        .iter()
        .filter_map(|s| match s.kind {
            Kind::Labels { control } => Some((control, s)),
            _ => None,
        })
        .collect();
    let pairs: Vec<Option<Paired>> = controls
        .iter()
        .map(|(_, s)| paired_binary(&given.correct, &s.correct, LEVEL))
        .collect();
    let adjusted = adjust(&pairs);
    let mut rows = vec![ControlRow {
        control: Control::Gold,
        accuracy: share(&given.correct),
        unparsed_rate: given.unparsed_rate,
        versus_gold: None,
        p_holm: None,
        words: "the labels as written".into(),
    }];
    for (((control, s), paired), p_holm) in controls.iter().zip(&pairs).zip(&adjusted) {
        rows.push(ControlRow {
            control: *control,
            accuracy: share(&s.correct),
            unparsed_rate: s.unparsed_rate,
            versus_gold: *paired,
            p_holm: *p_holm,
            words: paired.zip(*p_holm).map_or_else(
                || "no items to compare".into(),
                |(p, h)| words(*control, &p, h),
            ),
        });
    }
    let (reads_labels, verdict) = label_verdict(&rows);
    Labels {
        rows,
        reads_labels,
        verdict,
    }
}

/// One control against gold, in words: "… score 30 points lower [−45.0, −15.0] than gold",
/// "… within 2 points [−4.0, +6.0] of gold".
fn words(control: Control, p: &Paired, p_holm: f64) -> String {
    let (n, iv) = size(p);
    let way = if p.diff < 0.0 { "lower" } else { "higher" };
    let moved = format!("{n} {way} {iv}");
    let within = format!("within {n} {iv}");
    match (control, detected(p, p_holm), p.diff < 0.0) {
        (Control::Random, true, true) => {
            format!("this model reads your labels: random labels score {moved} than gold")
        }
        (Control::Random, true, false) => {
            format!("random labels score {moved} than gold: check your labels")
        }
        (Control::Random, false, _) => {
            format!("this model does not read your labels: random labels score {within} of gold")
        }
        (Control::Flipped, true, true) => {
            format!("this model reads your labels: flipped labels score {moved} than gold")
        }
        (Control::Flipped, true, false) => {
            format!("flipped labels score {moved} than gold: are your labels the right way round?")
        }
        (Control::Flipped, false, _) => {
            format!("this model does not follow flipped labels: they score {within} of gold")
        }
        (Control::None, true, true) => {
            format!("your examples help: without them the model scores {moved}")
        }
        (Control::None, true, false) => {
            format!("your examples hurt: without them the model scores {moved}")
        }
        (Control::None, false, _) => {
            format!("no detectable difference without examples: they score {within} of gold")
        }
        (Control::Gold, ..) => "the labels as written".into(),
    }
}

/// Reads the labels when random or flipped labels score detectably lower than gold; does not
/// when neither does. The sentence is the control that decided (random first).
fn label_verdict(rows: &[ControlRow]) -> (Option<bool>, String) {
    let label_rows: Vec<&ControlRow> = rows
        .iter()
        .filter(|r| matches!(r.control, Control::Random | Control::Flipped))
        .filter(|r| r.versus_gold.is_some() && r.p_holm.is_some())
        .collect();
    if label_rows.is_empty() {
        return (
            None,
            "no label control: the examples have fewer than two labels".into(),
        );
    }
    let lower = |r: &&&ControlRow| match (r.versus_gold, r.p_holm) {
        (Some(p), Some(h)) => detected(&p, h) && p.diff < 0.0,
        _ => false,
    };
    match label_rows.iter().find(lower) {
        Some(r) => (Some(true), r.words.clone()),
        None => (Some(false), label_rows[0].words.clone()),
    }
}

fn order(given: &Scored, scored: &[Scored], seed: u64) -> Option<OrderSpread> {
    let orders: Vec<(&Scored, &Vec<usize>)> = scored
        .iter()
        .filter_map(|s| match &s.kind {
            Kind::Order { order } => Some((s, order)),
            _ => None,
        })
        .collect();
    if orders.is_empty() {
        return None;
    }
    let rows: Vec<OrderRow> = orders
        .iter()
        .map(|(s, o)| OrderRow {
            name: s.name.clone(),
            order: (*o).clone(),
            accuracy: share(&s.correct),
        })
        .collect();
    let acc = |i: usize| rows[i].accuracy.map_or(0.0, |e| e.value);
    let mut ranked: Vec<usize> = (0..rows.len()).collect();
    ranked.sort_by(|&a, &b| acc(a).total_cmp(&acc(b)).then(a.cmp(&b)));
    let (min, max) = (ranked[0], ranked[ranked.len() - 1]);
    let median = ranked[(ranked.len() - 1) / 2];
    let best = best_order(given, &orders, seed);
    let cell = |e: Option<Estimate>| e.map_or("-".into(), |e| crate::core::evaluation::cell(&e));
    let mut words = format!(
        "over {} random orders accuracy runs from {} to {} (median {}); the given order scores {}",
        rows.len(),
        cell(rows[min].accuracy),
        cell(rows[max].accuracy),
        cell(rows[median].accuracy),
        cell(share(&given.correct)),
    );
    if let Some(b) = &best {
        words = format!("{words}; {}", b.words);
    }
    Some(OrderSpread {
        given: share(&given.correct),
        orders: rows,
        min,
        median,
        max,
        best,
        words,
    })
}

/// The items split in two by a seeded shuffle: the first half chooses, the second confirms.
pub fn split(items: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..items).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let confirm = idx.split_off(items / 2);
    (idx, confirm)
}

fn best_order(given: &Scored, orders: &[(&Scored, &Vec<usize>)], seed: u64) -> Option<BestOrder> {
    let n = given.correct.len();
    if n < 2 || orders.iter().any(|(s, _)| s.correct.len() != n) {
        return None;
    }
    let (choose, confirm) = split(n, seed);
    let on = |c: &[bool], idx: &[usize]| -> Vec<bool> { idx.iter().map(|&i| c[i]).collect() };
    let right = |c: &[bool]| c.iter().filter(|x| **x).count();
    // The first of the highest on the choosing half.
    let (s, order) = orders
        .iter()
        .rev()
        .max_by_key(|(s, _)| right(&on(&s.correct, &choose)))?;
    let chosen_accuracy = right(&on(&s.correct, &choose)) as f64 / choose.len() as f64;
    let confirm_pair = paired_binary(
        &on(&given.correct, &confirm),
        &on(&s.correct, &confirm),
        LEVEL,
    );
    let confirmed = confirm_pair.is_some_and(|p| detected(&p, p.p) && p.diff > 0.0);
    let against = match &confirm_pair {
        Some(p) if p.diff == 0.0 => format!(
            "it scores the same as the given order [{}, {}]",
            points(p.low),
            points(p.high)
        ),
        Some(p) => {
            let (n, iv) = size(p);
            let way = if p.diff > 0.0 { "higher" } else { "lower" };
            format!("it scores {n} {way} {iv} than the given order")
        }
        None => "it could not be compared".into(),
    };
    let words = format!(
        "the best order ({}) scored {:.0}% on the {} items it was chosen on; on the other {} {against}: {}",
        s.name,
        chosen_accuracy * 100.0,
        choose.len(),
        confirm.len(),
        if confirmed {
            "confirmed, use it"
        } else {
            "not confirmed, keep yours"
        }
    );
    Some(BestOrder {
        name: s.name.clone(),
        order: (*order).clone(),
        chosen_on: choose.len(),
        chosen_accuracy,
        confirm: confirm_pair,
        confirmed,
        words,
    })
}
