//! Every statistic against reference values computed once with scipy and statsmodels
//! (`scripts/stats-reference.py` → `tests/fixtures/stats-reference.json`), edge cases included.

use serde_json::Value;

use super::*;

const REFERENCE: &str = include_str!("../../../tests/fixtures/stats-reference.json");

fn reference() -> Value {
    serde_json::from_str(REFERENCE).expect("the reference fixture is JSON")
}

fn cases(name: &str) -> Vec<Value> {
    reference()[name].as_array().expect(name).clone()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn floats(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

#[track_caller]
fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (±{tol})"
    );
}

#[test]
fn z_is_the_normal_quantile() {
    close(z(LEVEL), f(&reference(), "z"), 1e-12, "z at 95%");
}

#[test]
fn wilson_matches_statsmodels_including_none_and_all_right() {
    for c in cases("wilson") {
        let i = wilson(u(&c, "k"), u(&c, "n"), LEVEL).expect("n > 0");
        close(i.low, f(&c, "low"), 1e-12, &format!("low of {c}"));
        close(i.high, f(&c, "high"), 1e-12, &format!("high of {c}"));
    }
    assert_eq!(wilson(0, 0, LEVEL), None, "no item, no interval");
    let e = proportion(9, 40, LEVEL).expect("40 items");
    close(e.value, 0.225, 1e-12, "9/40");
    close(e.se, (0.225f64 * 0.775 / 40.0).sqrt(), 1e-12, "binomial se");
    assert!(e.interval().contains(0.225) && e.interval().width() > 0.2);
}

#[test]
fn clustered_mean_matches_cluster_robust_ols() {
    for c in cases("clustered") {
        let scores = floats(&c, "scores");
        let e = mean_over_items(&scores, u(&c, "samples") as usize, LEVEL).expect("items");
        close(e.value, f(&c, "mean"), 1e-12, "mean");
        close(e.se, f(&c, "se"), 1e-12, &format!("se of {}", c["scores"]));
        close(e.low, f(&c, "low"), 1e-9, "low");
        close(e.high, f(&c, "high"), 1e-9, "high");
        assert_eq!(e.items, scores.len());
    }
    assert_eq!(mean_over_items(&[], 0, LEVEL), None);
}

#[test]
fn a_clustered_mean_of_0_1_scores_is_the_wilson_proportion() {
    let scores = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let e = mean_over_items(&scores, 10, LEVEL).expect("items");
    let p = proportion(4, 10, LEVEL).expect("items");
    close(e.se, p.se, 1e-12, "se");
    close(e.low, p.low, 1e-12, "low");
    close(e.high, p.high, 1e-12, "high");
}

#[test]
fn paired_binary_matches_mcnemar_and_newcombe() {
    for c in cases("paired") {
        let (both, b_only, a_only, neither) = (
            u(&c, "both") as usize,
            u(&c, "b_only") as usize,
            u(&c, "a_only") as usize,
            u(&c, "neither") as usize,
        );
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (n, x, y) in [
            (both, true, true),
            (b_only, false, true),
            (a_only, true, false),
            (neither, false, false),
        ] {
            a.extend(std::iter::repeat_n(x, n));
            b.extend(std::iter::repeat_n(y, n));
        }
        let got = paired_binary(&a, &b, LEVEL).expect("same items");
        let what = format!("table {both}/{b_only}/{a_only}/{neither}");
        close(got.diff, f(&c, "diff"), 1e-12, &format!("diff of {what}"));
        close(got.se, f(&c, "se"), 1e-12, &format!("se of {what}"));
        close(got.p, f(&c, "p"), 1e-10, &format!("McNemar p of {what}"));
        close(got.low, f(&c, "low"), 1e-9, &format!("low of {what}"));
        close(got.high, f(&c, "high"), 1e-9, &format!("high of {what}"));
        assert_eq!(
            got.test,
            Test::McNemar {
                b_only: b_only as u64,
                a_only: a_only as u64
            }
        );
        assert!(got.low <= got.diff && got.diff <= got.high, "{what}");
    }
}

#[test]
fn paired_edge_cases() {
    assert_eq!(paired_binary(&[], &[], LEVEL), None, "no item");
    assert_eq!(
        paired_binary(&[true], &[true, false], LEVEL),
        None,
        "not paired"
    );
    // No discordant item: no difference, p = 1, yet an interval of real width.
    let same = [true, false, true, true];
    let c = paired_binary(&same, &same, LEVEL).expect("paired");
    assert_eq!((c.diff, c.p, c.se), (0.0, 1.0, 0.0));
    assert!(c.low < 0.0 && c.high > 0.0);
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    assert_eq!(mcnemar_exact(5, 5), 1.0);
    close(
        mcnemar_exact(0, 6),
        2.0 / 64.0,
        1e-15,
        "6 discordant, all one way",
    );
}

#[test]
fn bootstrap_matches_scipy_within_simulation_error() {
    for c in cases("bootstrap") {
        let (a, b) = (floats(&c, "a"), floats(&c, "b"));
        let got = paired_bootstrap(&a, &b, 20_000, 11, LEVEL).expect("paired");
        close(got.diff, f(&c, "diff"), 1e-12, "diff");
        close(got.se, f(&c, "se"), 1e-12, "se");
        close(got.low, f(&c, "low"), 0.006, "percentile low");
        close(got.high, f(&c, "high"), 0.006, "percentile high");
        close(got.p, f(&c, "p"), 0.01, "bootstrap p");
        // The same seed gives the same figures.
        assert_eq!(Some(got), paired_bootstrap(&a, &b, 20_000, 11, LEVEL));
    }
    assert_eq!(paired_bootstrap(&[0.5], &[0.5, 1.0], 10, 1, LEVEL), None);
    assert_eq!(paired_bootstrap(&[0.5], &[0.5], 0, 1, LEVEL), None);
    let one = paired_bootstrap(&[0.2], &[0.6], 100, 1, LEVEL).expect("one item");
    close(one.diff, 0.4, 1e-12, "one item's difference");
    assert_eq!(
        (one.low, one.high),
        (one.diff, one.diff),
        "one item: no spread"
    );
}

#[test]
fn paired_picks_mcnemar_for_0_1_scores_and_the_bootstrap_otherwise() {
    let c = paired(&[1.0, 0.0, 1.0], &[1.0, 1.0, 1.0], 100, 3, LEVEL).expect("paired");
    assert!(matches!(
        c.test,
        Test::McNemar {
            b_only: 1,
            a_only: 0
        }
    ));
    let c = paired(&[0.5, 0.0, 1.0], &[1.0, 1.0, 1.0], 100, 3, LEVEL).expect("paired");
    assert_eq!(
        c.test,
        Test::Bootstrap {
            resamples: 100,
            seed: 3
        }
    );
}

#[test]
fn holm_matches_statsmodels() {
    for c in cases("holm") {
        let got = holm(&floats(&c, "p"));
        let want = floats(&c, "adjusted");
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            close(*g, *w, 1e-12, &format!("holm of {}", c["p"]));
        }
    }
}

#[test]
fn power_and_sizes_match_statsmodels() {
    for c in cases("power") {
        let (delta, sd, items, alpha, target) = (
            f(&c, "delta"),
            f(&c, "sd"),
            u(&c, "items"),
            f(&c, "alpha"),
            f(&c, "target"),
        );
        close(
            power(delta, sd, items, alpha),
            f(&c, "power"),
            1e-9,
            "power",
        );
        assert_eq!(
            items_needed(delta, sd, alpha, target),
            Some(u(&c, "items_needed")),
            "items needed for {c}"
        );
        let mde = minimum_detectable(items, sd, alpha, target).expect("items and spread");
        // statsmodels solves with its root finder's tolerance; ours bisects to the float.
        close(mde, f(&c, "minimum_detectable"), 1e-5, "minimum detectable");
    }
    assert_eq!(minimum_detectable(0, 0.5, ALPHA, POWER), None);
    assert_eq!(minimum_detectable(40, 0.0, ALPHA, POWER), None);
    assert_eq!(items_needed(0.0, 0.5, ALPHA, POWER), None);
    // The figure: 40 items tell apart differences of about 25 points.
    let mde = minimum_detectable(40, planning_sd(), ALPHA, POWER).expect("planned");
    assert!((0.2..0.3).contains(&mde), "{mde}");
}

#[test]
fn newcombe_unpaired_matches_statsmodels() {
    for c in cases("unpaired") {
        let i = newcombe_unpaired(
            u(&c, "k_a"),
            u(&c, "n_a"),
            u(&c, "k_b"),
            u(&c, "n_b"),
            LEVEL,
        )
        .expect("trials");
        close(i.low, f(&c, "low"), 1e-9, &format!("low of {c}"));
        close(i.high, f(&c, "high"), 1e-9, &format!("high of {c}"));
    }
    assert_eq!(newcombe_unpaired(1, 0, 1, 2, LEVEL), None);
}

#[test]
fn verdicts_in_words() {
    let better = paired_binary(&[false; 30], &[true; 30], LEVEL).expect("paired");
    assert_eq!(verdict(&better, better.p, 1), Verdict::Better);
    assert_eq!(verdict(&better, better.p, 1).to_string(), "better");
    let worse = paired_binary(&[true; 30], &[false; 30], LEVEL).expect("paired");
    assert_eq!(verdict(&worse, worse.p, 1), Verdict::Worse);
    // Identical variants: nothing to estimate the spread from, so the planning figure sizes it.
    let same = paired_binary(&[true, false], &[true, false], LEVEL).expect("paired");
    let v = verdict(&same, same.p, 1);
    assert_eq!(
        v,
        Verdict::NoDifference {
            detect: DETECT,
            items: items_needed(DETECT, planning_sd(), ALPHA, POWER)
        }
    );
    assert_eq!(
        v.to_string(),
        "no detectable difference: about 950 items would detect 5 points"
    );
    // Across three comparisons the same evidence needs more items.
    let Verdict::NoDifference {
        items: Some(one), ..
    } = verdict(&same, 1.0, 1)
    else {
        panic!()
    };
    let Verdict::NoDifference {
        items: Some(three), ..
    } = verdict(&same, 1.0, 3)
    else {
        panic!()
    };
    assert!(three > one);
    // A small p that Holm lifts above the level is no verdict of better.
    assert!(matches!(
        verdict(&better, 0.2, 4),
        Verdict::NoDifference { .. }
    ));
}

#[test]
fn items_and_points_read_as_people_say_them() {
    assert_eq!(round_items(38), 38);
    assert_eq!(round_items(942), 950);
    assert_eq!(round_items(1766), 1800);
    assert_eq!(points(0.125), "+12.5");
    assert_eq!(points(-0.03), "−3.0");
    assert_eq!(points(0.0001), "0.0");
}
