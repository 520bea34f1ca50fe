//! The accepted answers of a free-form evaluation item: the targets, and every label alike
//! one of them under the answer spec's rule and similarity.

use crate::backend::Embedder;
use crate::core::extract::AnswerSpec;
use crate::core::free::{self, ClusterRule};
use crate::core::record::PathRecord;

/// The labels among `answers` that are alike one of the targets under the spec's rule and
/// similarity (the targets themselves included): the accepted answers of a free-form item.
/// `embed` compares embeddings where the embedder gives them, else overlap; `usc` compares by
/// overlap (its selector picks a path, it does not judge likeness).
pub(super) async fn free_accepted(
    spec: &AnswerSpec,
    embedder: Option<&dyn Embedder>,
    question: &str,
    paths: &[&PathRecord],
    answers: &[Option<String>],
    targets: &[String],
) -> Vec<String> {
    let threshold = spec.similarity();
    let question = free::Words::of(question);
    let mut target_embeddings = Vec::new();
    if let (ClusterRule::Embed, Some(e)) = (spec.cluster(), embedder) {
        for t in targets {
            target_embeddings.push(e.embed(t).await.ok());
        }
    }
    let mut accepted: Vec<String> = targets.to_vec();
    for (label, path) in answers.iter().zip(paths) {
        let Some(label) = label else { continue };
        if accepted.contains(label) {
            continue;
        }
        // The label's own path (a label is the answer of one of the paths).
        let own = paths
            .iter()
            .find(|p| p.voted_answer() == Some(label.as_str()))
            .unwrap_or(path);
        let words = free::Words::of(label).answering(&question);
        let alike = targets.iter().enumerate().any(|(k, t)| {
            let target = free::Words::of(t).answering(&question);
            let embedded = (
                own.embedding.as_deref(),
                target_embeddings.get(k).and_then(Option::as_ref),
            );
            match embedded {
                _ if free::numbers_differ(&words, &target) => false,
                (Some(a), Some(b)) => free::cosine(a, b) >= threshold,
                _ => free::overlap(&words, &target) >= threshold,
            }
        });
        if alike {
            accepted.push(label.clone());
        }
    }
    accepted
}
