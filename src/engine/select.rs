//! kNN example selection with embeddings: the query's and each pool example's sentence
//! embedding (the embedder free-form voting uses; it embeds each text once), handed to
//! `core::select::choose`. Without an embedder, or when one fails, `choose` compares
//! content words.

use crate::backend::Embedder;
use crate::core::select::{choose, embedding_similarities, pool};
use crate::core::template::Template;

/// `template` with the examples `query` gets (unchanged unless it selects by `knn`).
pub async fn by_embeddings(
    template: Template,
    query: &str,
    embedder: Option<&dyn Embedder>,
) -> Template {
    let (Some(pool), Some(embedder)) = (pool(&template), embedder) else {
        return template;
    };
    let similarities = async {
        let q = embedder.embed(query.trim()).await.ok()?;
        let mut all = Vec::with_capacity(pool.len());
        for text in &pool {
            all.push(embedder.embed(text.trim()).await.ok()?);
        }
        Some(embedding_similarities(&all, &q))
    }
    .await;
    if similarities.is_none() {
        tracing::warn!("kNN selection: the embedder failed; examples chosen by content words");
    }
    choose(&template, query, similarities)
}
