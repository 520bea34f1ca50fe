//! Each query's examples picked from the template's pool (its active examples) by similarity
//! to the query: kNN selection (Liu et al. 2021). Similarities come from sentence embeddings
//! when an embedding model is loaded (the caller computes them), else from content words
//! (`free::dice` of `free::Words`: no model needed). The `k` nearest are shown least similar
//! first, so the nearest stands right before the query, as Liu et al. order them.

use super::free::{Words, cosine, dice};
use super::spec::template::{Select, Template};

/// The indices of the `k` largest similarities, the largest last (equals: the earlier
/// example counts as nearer).
pub fn nearest(similarities: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..similarities.len()).collect();
    order.sort_by(|&a, &b| {
        similarities[b]
            .partial_cmp(&similarities[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    order.truncate(k);
    order.reverse();
    order
}

/// Similarity of each text to the query by content words (Dice's share of shared words).
pub fn word_similarities(pool: &[&str], query: &str) -> Vec<f64> {
    let q = Words::of(query);
    pool.iter().map(|t| dice(&Words::of(t), &q)).collect()
}

/// Similarity of each embedding to the query's (cosine).
pub fn embedding_similarities(pool: &[Vec<f32>], query: &[f32]) -> Vec<f64> {
    pool.iter().map(|e| cosine(e, query)).collect()
}

/// The inputs of the pool a `knn` template picks from (its active examples), or `None` when
/// the template shows its examples as written.
pub fn pool(template: &Template) -> Option<Vec<&str>> {
    Select::knn(template.select)?;
    Some(
        template
            .active_examples()
            .map(|e| e.input.as_str())
            .collect(),
    )
}

/// `template` with the examples `query` gets: for `knn`, the `k` most similar of its active
/// examples (by `similarities` over `pool(template)`, or by content words when `None` or of
/// the wrong length), nearest last, and no selection left to make; otherwise as it is.
pub fn choose(template: &Template, query: &str, similarities: Option<Vec<f64>>) -> Template {
    let (Some(k), Some(pool)) = (Select::knn(template.select), pool(template)) else {
        return template.clone();
    };
    let sims = similarities
        .filter(|s| s.len() == pool.len())
        .unwrap_or_else(|| word_similarities(&pool, query));
    let active: Vec<_> = template.active_examples().cloned().collect();
    let mut t = template.clone();
    t.examples = nearest(&sims, k)
        .into_iter()
        .map(|i| active[i].clone())
        .collect();
    t.select = None;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::spec::template::{Example, SelectBy};
    use proptest::prelude::*;

    fn example(input: &str, answer: &str) -> Example {
        Example {
            input: input.into(),
            rationale: None,
            answer: answer.into(),
            enabled: true,
            steps: vec![],
        }
    }

    fn pool_template(k: usize) -> Template {
        let mut t = crate::store::template::resolve("gsm8k-cot").unwrap().0;
        t.strategy = crate::core::template::Strategy::Direct;
        t.examples = vec![
            example(
                "The goalie blocked the penalty kick in the final minute.",
                "plausible",
            ),
            example(
                "The violinist tuned her strings before the concert.",
                "plausible",
            ),
            example(
                "The striker scored a penalty kick with his left foot.",
                "plausible",
            ),
            example(
                "The pianist played the concert in a minor key.",
                "plausible",
            ),
            example("The chef seasoned the soup with fresh basil.", "plausible"),
        ];
        t.examples.push(Example {
            enabled: false,
            ..example("The goalie kicked the penalty into the concert hall.", "x")
        });
        t.select = Some(Select {
            by: SelectBy::Knn,
            k,
        });
        t
    }

    #[test]
    fn the_known_neighbours_are_picked_nearest_last() {
        let t = pool_template(2);
        let chosen = choose(&t, "Did the goalie save the penalty kick?", None);
        let inputs: Vec<&str> = chosen.examples.iter().map(|e| e.input.as_str()).collect();
        assert_eq!(
            inputs,
            [
                "The striker scored a penalty kick with his left foot.",
                "The goalie blocked the penalty kick in the final minute.",
            ],
            "football for a football question, the switched-off example never"
        );
        assert_eq!(chosen.select, None);
        let music = choose(&t, "Which concert did the pianist play?", None);
        assert_eq!(
            music.examples.last().unwrap().input,
            "The pianist played the concert in a minor key."
        );
        // Embedding similarities, when given, decide instead.
        let by_embedding = choose(&t, "anything", Some(vec![0.1, 0.2, 0.3, 0.4, 0.9]));
        assert_eq!(by_embedding.examples[1].input, t.examples[4].input);
        assert_eq!(by_embedding.examples[0].input, t.examples[3].input);
        // Fixed: the template as written.
        let mut fixed = t.clone();
        fixed.select = None;
        assert_eq!(choose(&fixed, "goalie", None), fixed);
    }

    proptest! {
        #[test]
        fn nearest_takes_the_k_largest_in_rising_order(
            s in prop::collection::vec(-1.0f64..1.0, 0..12), k in 0usize..14
        ) {
            let picked = nearest(&s, k);
            prop_assert_eq!(picked.len(), k.min(s.len()));
            for w in picked.windows(2) {
                prop_assert!(s[w[0]] <= s[w[1]]);
            }
            let lowest = picked.first().map(|&i| s[i]);
            if let Some(low) = lowest {
                let left_out = (0..s.len()).filter(|i| !picked.contains(i));
                for i in left_out {
                    prop_assert!(s[i] <= low);
                }
            }
        }
    }
}
