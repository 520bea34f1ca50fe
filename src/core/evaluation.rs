//! An evaluation grid's statistics, computed once for every face (table, JSON, CSV, report,
//! chart, the lab): each variant's accuracies with their intervals and its maj@k curve with a
//! band; each variant against the baseline, paired on the items both answered (the majority
//! vote's 0/1 scores: McNemar's exact test, Newcombe's interval, Holm across the grid, a
//! verdict in words); each early-stop variant against the full self-consistency variant of the
//! same settings (the accuracy given up, with its interval, and the samples saved).

use std::collections::HashMap;

use serde::Serialize;

use super::stats::{
    self, Estimate, Interval, LEVEL, Paired, Verdict, holm, mean_over_items, paired_binary,
    proportion,
};

/// What one item scored under one variant.
#[derive(Debug, Clone, Default)]
pub struct ItemScore {
    pub id: String,
    pub first: bool,
    pub majority: bool,
    /// maj@k for k = 1..N (index k − 1), carried to N where an early stop settled.
    pub curve: Vec<f64>,
    pub confidence: Option<bool>,
    pub filtered: Option<bool>,
}

/// One variant as the statistics see it.
#[derive(Debug, Clone, Default)]
pub struct VariantScores {
    pub name: String,
    pub items: Vec<ItemScore>,
    /// Its settings but the early-stop rule: an early-stop variant is compared with the full
    /// self-consistency variant of the same key.
    pub key: String,
    pub early_stop: bool,
    pub samples_per_item: f64,
}

/// A variant's accuracies with their 95% intervals (`None`: no item, or not measured).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Intervals {
    pub first: Option<Estimate>,
    pub majority: Option<Estimate>,
    /// maj@N: the majority of every sample, averaged over its subsets (clustered by item).
    pub maj_at_n: Option<Estimate>,
    pub confidence: Option<Estimate>,
    pub filtered: Option<Estimate>,
    /// The maj@k curve's interval at each k (index k − 1): the chart's band.
    pub band: Vec<Interval>,
}

/// One variant against another on the items both answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versus {
    /// The variant compared against.
    pub against: String,
    #[serde(flatten)]
    pub paired: Paired,
    /// `paired.p` adjusted by Holm across the comparisons of the same kind in the grid.
    pub p_holm: f64,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// An early-stop variant against full self-consistency with the same settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EarlyStopVersus {
    #[serde(flatten)]
    pub versus: Versus,
    /// The share of full self-consistency's samples the rule did not draw.
    pub samples_saved: f64,
}

/// Everything the statistics say of one variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariantStats {
    pub intervals: Intervals,
    /// `None` for the baseline itself (and a variant sharing no item with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_baseline: Option<Versus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_full: Option<EarlyStopVersus>,
}

/// The baseline's index: the variant named `wanted`, else the first.
pub fn baseline_index(names: &[String], wanted: Option<&str>) -> Result<usize, NoBaseline> {
    match wanted {
        None => Ok(0),
        Some(w) => names.iter().position(|n| n == w).ok_or_else(|| NoBaseline {
            wanted: w.to_string(),
            names: names.join(", "),
        }),
    }
}

/// `--baseline` naming no variant of the grid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--baseline {wanted}: no variant of that name (the variants: {names})")]
pub struct NoBaseline {
    pub wanted: String,
    /// The variants' names, joined by ", ".
    pub names: String,
}

/// The faces carry it as text.
impl From<NoBaseline> for String {
    fn from(e: NoBaseline) -> String {
        e.to_string()
    }
}

/// The statistics of every variant of a grid (same order), against `baseline`.
pub fn grid(variants: &[VariantScores], baseline: usize) -> Vec<VariantStats> {
    let mut out: Vec<VariantStats> = variants
        .iter()
        .map(|v| VariantStats {
            intervals: intervals(&v.items),
            ..VariantStats::default()
        })
        .collect();
    let Some(base) = variants.get(baseline) else {
        return out;
    };
    let against_baseline: Vec<(usize, Paired)> = variants
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != baseline)
        .filter_map(|(i, v)| Some((i, pair(base, v)?)))
        .collect();
    for (i, versus) in family(&against_baseline, &base.name) {
        out[i].versus_baseline = Some(versus);
    }
    // Each early-stop variant against the full self-consistency variant of its settings.
    let mut full_of: Vec<(usize, usize, Paired)> = Vec::new();
    for (i, v) in variants.iter().enumerate().filter(|(_, v)| v.early_stop) {
        let partner = variants
            .iter()
            .position(|f| !f.early_stop && f.key == v.key);
        if let Some(f) = partner
            && let Some(p) = pair(&variants[f], v)
        {
            full_of.push((i, f, p));
        }
    }
    let p: Vec<f64> = full_of.iter().map(|(_, _, c)| c.p).collect();
    let adjusted = holm(&p);
    for ((i, f, paired), p_holm) in full_of.into_iter().zip(adjusted) {
        let full = &variants[f];
        out[i].versus_full = Some(EarlyStopVersus {
            versus: Versus {
                against: full.name.clone(),
                verdict: stats::verdict(&paired, p_holm, p.len()),
                paired,
                p_holm,
            },
            samples_saved: if full.samples_per_item > 0.0 {
                1.0 - variants[i].samples_per_item / full.samples_per_item
            } else {
                0.0
            },
        });
    }
    out
}

/// Holm-adjusted comparisons against `against`, with their verdicts.
fn family<'a>(
    comparisons: &'a [(usize, Paired)],
    against: &'a str,
) -> impl Iterator<Item = (usize, Versus)> + 'a {
    let p: Vec<f64> = comparisons.iter().map(|(_, c)| c.p).collect();
    let m = p.len();
    holm(&p)
        .into_iter()
        .zip(comparisons)
        .map(move |(p_holm, (i, paired))| {
            (
                *i,
                Versus {
                    against: against.to_string(),
                    paired: *paired,
                    p_holm,
                    verdict: stats::verdict(paired, p_holm, m),
                },
            )
        })
}

/// `b` against `a` on the majority vote of the items both answered (matched by id, in order
/// for repeated ids).
fn pair(a: &VariantScores, b: &VariantScores) -> Option<Paired> {
    let mut by_id: HashMap<&str, Vec<bool>> = HashMap::new();
    for it in a.items.iter().rev() {
        by_id.entry(&it.id).or_default().push(it.majority);
    }
    let (mut xa, mut xb) = (Vec::new(), Vec::new());
    for it in &b.items {
        if let Some(x) = by_id.get_mut(it.id.as_str()).and_then(Vec::pop) {
            xa.push(x);
            xb.push(it.majority);
        }
    }
    paired_binary(&xa, &xb, LEVEL)
}

/// A variant's accuracies with their intervals.
pub fn intervals(items: &[ItemScore]) -> Intervals {
    let n = items.len() as u64;
    let share = |right: &dyn Fn(&ItemScore) -> bool| {
        proportion(items.iter().filter(|i| right(i)).count() as u64, n, LEVEL)
    };
    let all = |get: &dyn Fn(&ItemScore) -> Option<bool>| -> Option<Estimate> {
        let v: Option<Vec<bool>> = items.iter().map(get).collect();
        v.and_then(|v| proportion(v.iter().filter(|x| **x).count() as u64, n, LEVEL))
    };
    let k_max = items.iter().map(|i| i.curve.len()).max().unwrap_or(0);
    let band: Vec<Estimate> = (0..k_max)
        .filter_map(|k| {
            let column: Vec<f64> = items
                .iter()
                .map(|i| i.curve.get(k).copied().unwrap_or(0.0))
                .collect();
            mean_over_items(&column, column.len() * (k + 1), LEVEL)
        })
        .collect();
    Intervals {
        first: share(&|i| i.first),
        majority: share(&|i| i.majority),
        maj_at_n: band.last().copied(),
        confidence: all(&|i| i.confidence),
        filtered: all(&|i| i.filtered),
        band: band.iter().map(Estimate::interval).collect(),
    }
}

/// "22.5% [12,38]": a share with its interval in whole percent, for table cells.
pub fn cell(e: &Estimate) -> String {
    format!(
        "{:.1}% [{:.0},{:.0}]",
        e.value * 100.0,
        e.low * 100.0,
        e.high * 100.0
    )
}

/// "22.5% [12.3, 37.5]": a share with its interval, in percent.
pub fn with_interval(e: &Estimate) -> String {
    format!(
        "{:.1}% [{:.1}, {:.1}]",
        e.value * 100.0,
        e.low * 100.0,
        e.high * 100.0
    )
}

/// "Δ −5.0 [−19.6, +9.9] pts · McNemar p 0.58 (Holm 0.58; 3 gained, 5 lost) · no detectable
/// difference: about 950 items would detect 5 points".
pub fn describe(v: &Versus) -> String {
    let p = &v.paired;
    let holm = if (v.p_holm - p.p).abs() > 1e-12 {
        format!(", Holm {}", p_value(v.p_holm))
    } else {
        String::new()
    };
    let test = match p.test {
        stats::Test::McNemar { b_only, a_only } => format!(
            "McNemar p {}{holm} ({b_only} gained, {a_only} lost)",
            p_value(p.p)
        ),
        stats::Test::Bootstrap { resamples, .. } => {
            format!("bootstrap p {} ({resamples} resamples{holm})", p_value(p.p))
        }
    };
    format!(
        "Δ {} [{}, {}] pts · {test} · {}",
        stats::points(p.diff),
        stats::points(p.low),
        stats::points(p.high),
        v.verdict
    )
}

/// One line on a finished grid, by the comparisons rather than the point estimates: the
/// variants detectably better than the baseline (the largest difference first), else that none
/// is, naming the highest so it is not read as a winner.
pub fn headline(variants: &[(&str, &VariantStats)]) -> String {
    let majority = |s: &VariantStats| s.intervals.majority.map_or(0.0, |e| e.value);
    let Some(&(first, _)) = variants.first() else {
        return "no variant was scored".into();
    };
    let compared: Vec<(&str, &Versus)> = variants
        .iter()
        .filter_map(|(n, s)| Some((*n, s.versus_baseline.as_ref()?)))
        .collect();
    let Some(baseline) = compared.first().map(|(_, v)| v.against.clone()) else {
        let (name, s) = variants[0];
        return match s.intervals.majority {
            Some(e) if variants.len() == 1 => format!("{name} at {} (majority)", with_interval(&e)),
            _ => format!("{first}: no comparison (no item in common with the baseline)"),
        };
    };
    let mut better: Vec<&(&str, &Versus)> = compared
        .iter()
        .filter(|(_, v)| v.verdict == Verdict::Better)
        .collect();
    better.sort_by(|a, b| b.1.paired.diff.total_cmp(&a.1.paired.diff));
    if let Some((name, v)) = better.first() {
        return format!(
            "{name} is better than the baseline {baseline} (Δ {} pts, Holm p {}){}",
            stats::points(v.paired.diff),
            p_value(v.p_holm),
            match better.len() {
                1 => String::new(),
                k => format!("; {} more are better too", k - 1),
            }
        );
    }
    let highest = variants
        .iter()
        .max_by(|a, b| majority(a.1).total_cmp(&majority(b.1)))
        .map_or(first, |(n, _)| *n);
    format!(
        "no variant is detectably better than the baseline {baseline} (the highest, {highest}, is within the noise)"
    )
}

/// A p-value as people read it: "0.031", "<0.001", "1".
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else if p >= 0.9995 {
        "1".into()
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(name: &str, majority: &[bool]) -> VariantScores {
        VariantScores {
            name: name.into(),
            key: name.into(),
            items: majority
                .iter()
                .enumerate()
                .map(|(i, &m)| ItemScore {
                    id: i.to_string(),
                    first: m,
                    majority: m,
                    curve: vec![f64::from(u8::from(m))],
                    ..ItemScore::default()
                })
                .collect(),
            ..VariantScores::default()
        }
    }

    #[test]
    fn the_baseline_has_no_comparison_and_the_others_are_paired_with_it() {
        let a = variant("a", &[true, false, true, false, true, false, true, false]);
        let b = variant("b", &[true, true, true, true, true, true, true, false]);
        let s = grid(&[a.clone(), b], 0);
        assert!(s[0].versus_baseline.is_none());
        let v = s[1].versus_baseline.as_ref().expect("paired");
        assert_eq!(v.against, "a");
        assert_eq!(v.paired.diff, 3.0 / 8.0);
        assert_eq!(
            v.paired.test,
            stats::Test::McNemar {
                b_only: 3,
                a_only: 0
            }
        );
        assert_eq!(v.p_holm, v.paired.p, "one comparison: nothing to adjust");
        let majority = s[0].intervals.majority.expect("items");
        assert_eq!(majority.value, 0.5);
        assert!(majority.low < 0.5 && majority.high > 0.5);
        // A later baseline by name.
        let names = ["a".to_string(), "b".to_string()];
        assert_eq!(baseline_index(&names, Some("b")), Ok(1));
        assert!(baseline_index(&names, Some("c")).is_err());
        let s = grid(&[a, variant("b", &[true; 8])], 1);
        assert!(s[1].versus_baseline.is_none() && s[0].versus_baseline.is_some());
    }

    #[test]
    fn items_pair_by_id_not_by_position() {
        let a = variant("a", &[true, false, false]);
        let mut b = variant("b", &[false, false, true]);
        b.items.reverse(); // ids 2, 1, 0 with majority true, false, false
        b.items.remove(1);
        let v = grid(&[a, b], 0)[1].versus_baseline.clone().expect("paired");
        assert_eq!(v.paired.items, 2);
        // Item 0: a right, b wrong; item 2: a wrong, b right.
        assert_eq!(
            v.paired.test,
            stats::Test::McNemar {
                b_only: 1,
                a_only: 1
            }
        );
    }

    #[test]
    fn holm_adjusts_across_the_grid() {
        let base = variant("a", &[false; 30]);
        let strong = variant("b", &[true; 30]);
        let mut some = vec![false; 30];
        some[..8].fill(true);
        let s = grid(&[base, strong, variant("c", &some)], 0);
        let b = s[1].versus_baseline.as_ref().expect("b");
        let c = s[2].versus_baseline.as_ref().expect("c");
        assert!(b.p_holm >= b.paired.p && c.p_holm >= c.paired.p);
        assert_eq!(
            b.p_holm,
            (2.0 * b.paired.p).min(1.0),
            "the smallest p doubles"
        );
        assert_eq!(b.verdict, Verdict::Better);
        assert!(describe(b).starts_with("Δ +100.0 [+"), "{}", describe(b));
    }

    #[test]
    fn an_early_stop_variant_is_compared_with_full_self_consistency() {
        let mut full = variant("full", &[true, true, false, true]);
        full.key = "k".into();
        full.samples_per_item = 10.0;
        let mut early = variant("early", &[true, true, false, false]);
        early.key = "k".into();
        early.early_stop = true;
        early.samples_per_item = 4.0;
        let s = grid(&[full, early], 0);
        let e = s[1].versus_full.as_ref().expect("paired with full");
        assert_eq!(e.versus.against, "full");
        assert_eq!(e.versus.paired.diff, -0.25);
        assert!((e.samples_saved - 0.6).abs() < 1e-12);
        assert!(s[0].versus_full.is_none());
    }

    #[test]
    fn the_band_follows_the_curve() {
        let mut v = variant("a", &[true, false, true, true]);
        for (i, it) in v.items.iter_mut().enumerate() {
            it.curve = vec![0.5, 0.25 * i as f64];
        }
        let iv = intervals(&v.items);
        assert_eq!(iv.band.len(), 2);
        let at_n = iv.maj_at_n.expect("curve");
        assert!((at_n.value - 0.375).abs() < 1e-12);
        assert_eq!(iv.band[1], at_n.interval());
        assert!(iv.band[0].contains(0.5));
        assert!(iv.confidence.is_none(), "no item had confidences");
    }

    #[test]
    fn the_headline_goes_by_the_comparison_not_the_highest_figure() {
        let base = variant("a", &[true, false, true, false, true, false, true, false]);
        let near = variant("b", &[true, true, true, false, true, false, true, false]);
        let s = grid(&[base.clone(), near], 0);
        let named = [("a", &s[0]), ("b", &s[1])];
        assert_eq!(
            headline(&named),
            "no variant is detectably better than the baseline a (the highest, b, is within the noise)"
        );
        let strong = variant("c", &[true; 8]);
        let mut weak = variant("a", &[false; 8]);
        weak.items.extend(base.items.iter().map(|i| ItemScore {
            id: format!("x{}", i.id),
            majority: false,
            ..i.clone()
        }));
        let mut strong16 = strong.clone();
        strong16
            .items
            .extend(strong.items.iter().map(|i| ItemScore {
                id: format!("x{}", i.id),
                ..i.clone()
            }));
        let s = grid(&[weak, strong16], 0);
        let line = headline(&[("a", &s[0]), ("c", &s[1])]);
        assert!(
            line.starts_with("c is better than the baseline a (Δ +100.0 pts"),
            "{line}"
        );
        let one = grid(&[variant("solo", &[true, false])], 0);
        assert!(headline(&[("solo", &one[0])]).starts_with("solo at 50.0% ["));
    }

    #[test]
    fn p_values_read_plainly() {
        assert_eq!(p_value(0.0001), "<0.001");
        assert_eq!(p_value(0.03125), "0.031");
        assert_eq!(p_value(1.0), "1");
    }
}
