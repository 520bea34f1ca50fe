//! Evaluation metrics over sampled answers: accuracy of the first sample, of the majority
//! vote, and the maj@k curve for k = 1..N from one sweep of N samples (Wang et al. 2022,
//! Fig. 2): for each k, the expected accuracy of a majority vote over a random k-subset of
//! the N samples. Exact over all subsets when there are few, else an average over a fixed,
//! seeded set of random subsets, so the curve is the same on every run.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use super::vote::Tally;

/// Subsets enumerated exactly up to this many; beyond, this many random subsets are averaged.
pub const MAX_SUBSETS: usize = 2000;

/// Whether the majority of `answers` (in sample order; `None` = unparsed) is correct.
pub fn majority_correct(answers: &[Option<&str>], accepted: &[String]) -> bool {
    Tally::of_answers(answers)
        .winner
        .is_some_and(|w| accepted.contains(&w))
}

/// maj@k for k = 1..=answers.len() for one item (index k-1).
pub fn maj_at_k(answers: &[Option<&str>], accepted: &[String]) -> Vec<f64> {
    let n = answers.len();
    (1..=n)
        .map(|k| {
            let subsets = binomial(n, k);
            if subsets <= MAX_SUBSETS as u128 {
                let mut hits = 0usize;
                let mut count = 0usize;
                for_each_combination(n, k, &mut |idx| {
                    let pick: Vec<Option<&str>> = idx.iter().map(|&i| answers[i]).collect();
                    hits += usize::from(majority_correct(&pick, accepted));
                    count += 1;
                });
                hits as f64 / count as f64
            } else {
                let mut rng = StdRng::seed_from_u64(0x5eed ^ (n as u64) << 8 ^ k as u64);
                let hits = (0..MAX_SUBSETS)
                    .filter(|_| {
                        let mut idx = sample(&mut rng, n, k).into_vec();
                        idx.sort_unstable();
                        let pick: Vec<Option<&str>> = idx.iter().map(|&i| answers[i]).collect();
                        majority_correct(&pick, accepted)
                    })
                    .count();
                hits as f64 / MAX_SUBSETS as f64
            }
        })
        .collect()
}

fn binomial(n: usize, k: usize) -> u128 {
    let k = k.min(n - k);
    (0..k).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
}

/// Calls `f` with every increasing k-combination of 0..n.
fn for_each_combination(n: usize, k: usize, f: &mut dyn FnMut(&[usize])) {
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        f(&idx);
        let Some(i) = (0..k).rev().find(|&i| idx[i] != i + n - k) else {
            return;
        };
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn maj_at_1_is_the_mean_accuracy_and_maj_at_n_the_vote() {
        let answers = [Some("18"), Some("20"), Some("18"), None];
        let curve = maj_at_k(&answers, &acc(&["18"]));
        assert_eq!(curve.len(), 4);
        assert!((curve[0] - 0.5).abs() < 1e-12, "2 of 4 samples are right");
        assert_eq!(curve[3], 1.0, "the vote over all four is 18");
        // k = 2: pairs {18,20} tie -> first (path order) wins.
        // pairs: (0,1)=18 ✓ (0,2)=18 ✓ (0,3)=18 ✓ (1,2)=20 ✗ (1,3)=20 ✗ (2,3)=18 ✓ -> 4/6
        assert!((curve[1] - 4.0 / 6.0).abs() < 1e-12, "{curve:?}");
    }

    #[test]
    fn large_n_is_sampled_deterministically() {
        let answers: Vec<Option<&str>> = (0..40)
            .map(|i| Some(if i % 3 == 0 { "a" } else { "b" }))
            .collect();
        let a = maj_at_k(&answers, &acc(&["b"]));
        let b = maj_at_k(&answers, &acc(&["b"]));
        assert_eq!(a, b);
        assert!(a[39] == 1.0 && a[0] > 0.6 && a[0] < 0.7);
        assert!(
            a[20] > a[0],
            "more votes, more accuracy when most samples are right"
        );
    }

    #[test]
    fn combinations_are_all_visited() {
        let mut seen = 0;
        for_each_combination(5, 2, &mut |_| seen += 1);
        assert_eq!(seen, 10);
        assert_eq!(binomial(40, 20), 137_846_528_820);
    }

    #[test]
    fn several_accepted_answers() {
        assert!(majority_correct(&[Some("nyc")], &acc(&["new york", "nyc"])));
        assert!(!majority_correct(&[None], &acc(&["x"])));
    }
}
