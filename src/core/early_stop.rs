//! Adaptive self-consistency: when to stop sampling because the vote is settled.
//!
//! - `beta[:CONF]` (Adaptive-Consistency, Aggarwal et al. 2023): with the leader's votes `a`
//!   and the runner-up's `b`, the probability that the leader is the true majority under a
//!   uniform prior is `1 - I_0.5(a+1, b+1)`; stop when it reaches CONF (default 0.95). With
//!   three or more answers the probability that the leader beats *every* other answer is
//!   bounded from below by the union bound `1 - Σ_j I_0.5(a+1, c_j+1)` (each pair's share under
//!   the Dirichlet posterior is Beta-distributed), which equals the two-answer form when there
//!   are two answers: the rule never stops earlier than the exact Dirichlet form would.
//! - `esc[:W]` (Early-Stopping Self-Consistency, Li et al. 2024): stop when the last W answers
//!   are one and the same (default W = 5).
//!
//! Answers are read in path index order (sample order, seed + i), never arrival order, so the
//! same samples always stop at the same point and an offline simulation reproduces a live run.
//! Unparsed and failed paths never count for a leader. No rule stops before 3 answers.

use serde::{Deserialize, Serialize};

pub use super::spec::rule::Rule;

/// No rule stops with fewer parsed answers than this.
pub const MIN_ANSWERS: usize = 3;

/// What a rule says of the answers so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub settled: bool,
    /// `beta`: the probability that the leader stays the leader (a lower bound with three or
    /// more answers); `esc`: the share of the window that agrees with its last answer.
    pub probability: Option<f64>,
}

impl Rule {
    /// Whether the vote over `answers` (finished paths in index order; `None`: no answer) is
    /// settled.
    pub fn check<S: AsRef<str>>(&self, answers: &[Option<S>]) -> Check {
        let parsed = answers.iter().filter(|a| a.is_some()).count();
        let (settled, probability) = match self {
            Rule::None => (false, None),
            Rule::Beta { confidence } => {
                let p = leader_probability(&counts(answers));
                (p.is_some_and(|p| p >= *confidence), p)
            }
            Rule::Esc { window } => {
                let tail = &answers[answers.len().saturating_sub(*window)..];
                let last = tail.last().and_then(|a| a.as_ref().map(AsRef::as_ref));
                let agree = tail
                    .iter()
                    .filter(|a| last.is_some() && a.as_ref().map(AsRef::as_ref) == last)
                    .count();
                let share = (!tail.is_empty()).then(|| agree as f64 / *window as f64);
                (tail.len() == *window && agree == *window, share)
            }
        };
        Check {
            settled: settled && parsed >= MIN_ANSWERS,
            probability,
        }
    }

    /// The fewest more answers after which the rule could stop (if they all agreed with the
    /// leader); `max` when it never stops. The engine keeps no more samples than this in
    /// flight.
    pub fn needed<S: AsRef<str>>(&self, answers: &[Option<S>], max: usize) -> usize {
        if self.is_none() {
            return max;
        }
        if self.check(answers).settled {
            return 0;
        }
        // The fewest over every answer seen (any of them could be the one that settles it).
        let seen = counts(answers);
        let candidates: Vec<&str> = match seen.is_empty() {
            true => vec![""],
            false => seen.iter().map(|(a, _)| *a).collect(),
        };
        let so_far: Vec<Option<&str>> = answers
            .iter()
            .map(|a| a.as_ref().map(AsRef::as_ref))
            .collect();
        candidates
            .into_iter()
            .map(|c| {
                let mut more = so_far.clone();
                (1..=max)
                    .find(|_| {
                        more.push(Some(c));
                        self.check(&more).settled
                    })
                    .unwrap_or(max)
            })
            .min()
            .unwrap_or(max)
    }
}

/// Parsed answers with their votes, most first; ties by the earliest first vote.
fn counts<S: AsRef<str>>(answers: &[Option<S>]) -> Vec<(&str, usize)> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for a in answers.iter().flatten() {
        match counts.iter_mut().find(|(x, _)| *x == a.as_ref()) {
            Some((_, n)) => *n += 1,
            None => counts.push((a.as_ref(), 1)),
        }
    }
    // A stable sort keeps first-vote order among equal counts.
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// `1 - Σ_j I_0.5(a+1, c_j+1)` over the leader's rivals (at least 0; `None` with no answer).
fn leader_probability(counts: &[(&str, usize)]) -> Option<f64> {
    let (_, a) = *counts.first()?;
    let rivals: Vec<usize> = match &counts[1..] {
        [] => vec![0],
        rest => rest.iter().map(|(_, c)| *c).collect(),
    };
    let doubt: f64 = rivals.iter().map(|&b| beta_half(a + 1, b + 1)).sum();
    Some((1.0 - doubt).max(0.0))
}

/// The regularised incomplete beta function at one half, `I_0.5(α, β)`, for whole α, β ≥ 1:
/// the chance of at least α heads in α+β-1 fair coin flips.
pub fn beta_half(alpha: usize, beta: usize) -> f64 {
    let m = alpha + beta - 1;
    // P(X = j) for X ~ Binomial(m, 1/2), summed for j >= alpha, built term by term.
    let mut term = 0.5f64.powi(m as i32);
    let mut sum = 0.0;
    for j in 0..=m {
        if j >= alpha {
            sum += term;
        }
        term *= (m - j) as f64 / (j + 1) as f64;
    }
    sum.min(1.0)
}

/// Where a run stopped, for its record and `run --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStop {
    pub rule: Rule,
    pub threshold: Option<f64>,
    /// Paths whose answers the rule read (finished, in index order) when it stopped, or all
    /// finished paths when it never did.
    pub samples_used: usize,
    /// The most the run would have sampled (`-n`).
    pub max: usize,
    pub settled: bool,
    /// What the rule last said (see `Check::probability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl EarlyStop {
    /// One line for people: "early stop beta:0.95: settled after 4 of 20 paths (P 0.969)".
    pub fn describe(&self) -> String {
        let p = self
            .probability
            .map(|p| format!(", {} {p:.3}", self.rule.measure()))
            .unwrap_or_default();
        if self.settled {
            format!(
                "early stop {}: settled after {} of {} paths{p}",
                self.rule, self.samples_used, self.max
            )
        } else {
            format!(
                "early stop {}: not settled, {} of {} paths read{p}",
                self.rule, self.samples_used, self.max
            )
        }
    }
}

/// Where the rule stops over `answers` in this order: the number of answers read, and whether
/// it settled (else all of them were read). The offline what-if and the live engine agree.
pub fn stop_point<S: AsRef<str>>(rule: &Rule, answers: &[Option<S>]) -> (usize, bool) {
    for k in 1..=answers.len() {
        if rule.check(&answers[..k]).settled {
            return (k, true);
        }
    }
    (answers.len(), false)
}

/// What an early-stop rule would have done on samples already drawn: each item's answers
/// replayed in `orders` random orders (seeded), as Li et al. 2024 measured ESC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulated {
    pub rule: Rule,
    pub orders: usize,
    pub seed: u64,
    /// Items replayed (those with all their samples at hand).
    pub items: usize,
    /// Expected majority accuracy and samples per item under the rule.
    pub accuracy: f64,
    pub samples_per_item: f64,
    /// The same items with every sample voting (full self-consistency).
    pub full_accuracy: f64,
    pub full_samples_per_item: f64,
}

/// Replays `items` (each: its answers in sample order, and the accepted answers) under `rule`.
pub fn simulate(
    rule: &Rule,
    items: &[(Vec<Option<String>>, Vec<String>)],
    orders: usize,
    seed: u64,
) -> Simulated {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let orders = orders.max(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // Counted whole, divided once.
    let (mut correct, mut samples, mut full_correct, mut full_samples) = (0, 0, 0, 0);
    for (answers, accepted) in items {
        let refs: Vec<Option<&str>> = answers.iter().map(Option::as_deref).collect();
        full_correct += usize::from(super::metrics::majority_correct(&refs, accepted));
        full_samples += refs.len();
        let mut order = refs.clone();
        for _ in 0..orders {
            order.shuffle(&mut rng);
            let (k, _) = stop_point(rule, &order);
            samples += k;
            correct += usize::from(super::metrics::majority_correct(&order[..k], accepted));
        }
    }
    let n = items.len().max(1) as f64;
    let runs = n * orders as f64;
    Simulated {
        rule: *rule,
        orders,
        seed,
        items: items.len(),
        accuracy: correct as f64 / runs,
        samples_per_item: samples as f64 / runs,
        full_accuracy: full_correct as f64 / n,
        full_samples_per_item: full_samples as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(xs: &[&str]) -> Vec<Option<String>> {
        xs.iter()
            .map(|x| (!x.is_empty()).then(|| x.to_string()))
            .collect()
    }

    #[test]
    fn beta_half_matches_the_closed_forms() {
        // I_0.5(a, 1) = 0.5^a; I_0.5(1, b) = 1 - 0.5^b; I_0.5(a, a) = 0.5 by symmetry.
        for k in 1..10 {
            assert!((beta_half(k, 1) - 0.5f64.powi(k as i32)).abs() < 1e-12);
            assert!((beta_half(1, k) - (1.0 - 0.5f64.powi(k as i32))).abs() < 1e-12);
            assert!((beta_half(k, k) - 0.5).abs() < 1e-12);
        }
        // I_0.5(4, 2) = P(Bin(5, .5) >= 4) = 6/32.
        assert!((beta_half(4, 2) - 6.0 / 32.0).abs() < 1e-12);
        // Symmetry: I_x(a, b) = 1 - I_(1-x)(b, a).
        assert!((beta_half(7, 3) - (1.0 - beta_half(3, 7))).abs() < 1e-12);
    }

    #[test]
    fn beta_stops_a_unanimous_vote_after_four_and_never_before_three() {
        let rule: Rule = "beta".parse().unwrap();
        // 1 - 0.5^4 = 0.9375 < 0.95; 1 - 0.5^5 = 0.96875.
        assert!(!rule.check(&a(&["7", "7", "7"])).settled);
        assert!(rule.check(&a(&["7", "7", "7", "7"])).settled);
        let p = rule.check(&a(&["7", "7", "7", "7"])).probability.unwrap();
        assert!((p - 0.96875).abs() < 1e-12);
        // A lax confidence would stop at two, but three answers come first.
        let lax: Rule = "beta:0.6".parse().unwrap();
        assert!(!lax.check(&a(&["7", "7"])).settled);
        assert!(lax.check(&a(&["7", "7", "7"])).settled);
    }

    #[test]
    fn beta_uses_the_two_leading_counts_and_unparsed_paths_never_count() {
        let rule: Rule = "beta:0.95".parse().unwrap();
        // a = 5, b = 1: 1 - I_0.5(6, 2) = 1 - P(Bin(7) >= 6) = 1 - 8/128.
        let p = rule
            .check(&a(&["7", "7", "", "8", "7", "", "7", "7"]))
            .probability
            .unwrap();
        assert!((p - (1.0 - 8.0 / 128.0)).abs() < 1e-12);
        // Unparsed paths alone never settle anything.
        assert!(!rule.check(&a(&["", "", "", "", "", ""])).settled);
        assert_eq!(rule.check(&a(&["", ""])).probability, None);
        // A tie is a coin flip.
        let tie = rule.check(&a(&["7", "8", "7", "8"])).probability.unwrap();
        assert!((tie - 0.5).abs() < 1e-12);
    }

    #[test]
    fn beta_with_three_answers_is_a_bound_below_the_two_answer_form() {
        let rule: Rule = "beta".parse().unwrap();
        let two = rule.check(&a(&["7", "7", "7", "7", "7", "8"])).probability;
        let three = rule
            .check(&a(&["7", "7", "7", "7", "7", "8", "9"]))
            .probability;
        let (two, three) = (two.unwrap(), three.unwrap());
        assert!(three < two, "{three} {two}");
        let expected = 1.0 - beta_half(6, 2) - beta_half(6, 2);
        assert!((three - expected).abs() < 1e-12);
    }

    #[test]
    fn esc_stops_when_the_last_window_agrees() {
        let rule: Rule = "esc:3".parse().unwrap();
        assert!(!rule.check(&a(&["7", "8", "7", "7"])).settled);
        assert!(rule.check(&a(&["8", "7", "7", "7"])).settled);
        // An unparsed path breaks the window.
        assert!(!rule.check(&a(&["7", "", "7", "7"])).settled);
        assert!(!rule.check(&a(&["", "", ""])).settled);
        let five: Rule = "esc".parse().unwrap();
        assert_eq!(five, Rule::Esc { window: 5 });
        assert!(!five.check(&a(&["7", "7", "7", "7"])).settled);
    }

    #[test]
    fn needed_is_the_fewest_agreeing_answers_that_could_settle() {
        let beta: Rule = "beta".parse().unwrap();
        let none: Vec<Option<String>> = vec![];
        assert_eq!(beta.needed(&none, 20), 4);
        assert_eq!(beta.needed(&a(&["7", "7", "7"]), 20), 1);
        assert_eq!(beta.needed(&a(&["7", "7", "7", "7"]), 20), 0);
        // 1 vs 1: the leader needs a clear lead.
        let k = beta.needed(&a(&["7", "8"]), 20);
        let mut more = a(&["7", "8"]);
        more.extend(std::iter::repeat_n(Some("7".to_string()), k));
        assert!(beta.check(&more).settled);
        more.pop();
        assert!(!beta.check(&more).settled);
        let esc: Rule = "esc:4".parse().unwrap();
        assert_eq!(esc.needed(&none, 20), 4);
        assert_eq!(esc.needed(&a(&["8", "7", "7"]), 20), 2);
        // The last answer may settle it sooner than the leader.
        assert_eq!(esc.needed(&a(&["7", "7", "8"]), 20), 3);
        assert_eq!(Rule::None.needed(&none, 20), 20);
        // Never more than the most a run samples.
        assert_eq!(esc.needed(&none, 3), 3);
    }

    #[test]
    fn stop_point_reads_answers_in_order() {
        let beta: Rule = "beta".parse().unwrap();
        assert_eq!(
            stop_point(&beta, &a(&["7", "7", "7", "7", "8", "8"])),
            (4, true)
        );
        assert_eq!(stop_point(&beta, &a(&["7", "8", "7", "8"])), (4, false));
    }

    #[test]
    fn the_simulation_reproduces_the_rule_on_each_order_and_costs_nothing_without_a_rule() {
        let beta: Rule = "beta".parse().unwrap();
        let unanimous = (a(&["7"; 20]), vec!["7".to_string()]);
        let s = simulate(&beta, std::slice::from_ref(&unanimous), 5, 1);
        // Every order of a unanimous vote stops at the fourth answer, like a live run.
        assert_eq!(s.samples_per_item, 4.0);
        assert_eq!(
            (s.accuracy, s.full_accuracy, s.full_samples_per_item),
            (1.0, 1.0, 20.0)
        );
        let none = simulate(&Rule::None, std::slice::from_ref(&unanimous), 3, 1);
        assert_eq!(none.samples_per_item, 20.0);
        // A split vote: the rule reads more, and a fixed seed gives the same figures.
        let split = (
            a(&["7", "8", "7", "8", "7", "", "7", "8", "7", "7"]),
            vec!["7".to_string()],
        );
        let x = simulate(&beta, std::slice::from_ref(&split), 50, 9);
        assert_eq!(x, simulate(&beta, std::slice::from_ref(&split), 50, 9));
        assert!(x.samples_per_item > 4.0 && x.samples_per_item <= 10.0);
        assert_eq!(x.full_accuracy, 1.0);
        assert!(x.accuracy <= 1.0);
    }

    #[test]
    fn rules_read_and_write_the_same_text_and_bad_ones_say_why_in_one_line() {
        for s in ["none", "beta:0.95", "beta:0.9", "esc:5", "esc:8"] {
            assert_eq!(s.parse::<Rule>().unwrap().to_string(), s);
        }
        for bad in [
            "beta:1.5", "beta:x", "esc:1", "esc:0.5", "vote", "none:3", "",
        ] {
            let e = bad.parse::<Rule>().unwrap_err().to_string();
            assert!(e.starts_with(&format!("early-stop rule `{bad}`")), "{e}");
            assert!(!e.contains('\n'));
        }
    }
}
