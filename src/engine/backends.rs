//! Where a face gets its backends without knowing how they are built: `Backends` is what the
//! composition root (`app::backend`) hands `cli`'s commands and the lab, and `grid` is the one
//! backend per (model, adapter) pair of a `--vary model=…,lora=…` evaluation.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::backend::{Backend, Embedder};
use crate::core::extract::AnswerSpec;

/// A backend, or why it could not be built.
pub type Built = Result<Arc<dyn Backend>, BackendsError>;

/// Why no backend (or embedder, or server) could be given.
#[derive(Debug, thiserror::Error)]
pub enum BackendsError {
    /// A flag or a config setting that does not hold, or a backend that would not start, in
    /// the words of the composition root that builds them (the engine does not know how).
    #[error(transparent)]
    Setup(Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "--vary model needs a backend with models (a server's, or GGUF files for the local one): the scripted backend has none, so every model would get the same script's samples"
    )]
    NoModels,
}

/// The composition root words its refusals as text.
impl From<String> for BackendsError {
    fn from(e: String) -> BackendsError {
        BackendsError::Setup(e.into())
    }
}

/// The faces carry it as text.
impl From<BackendsError> for String {
    fn from(e: BackendsError) -> String {
        e.to_string()
    }
}

/// The server batches go to, and its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Server {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

/// Builds backends the way the flags and the config file say. Every method gives the error of
/// a flag or a config setting that does not hold (a face asks only when it needs a backend).
pub trait Backends: Send + Sync {
    /// The configured backend with `model` (a server's model or a GGUF file: `""` keeps the
    /// configured one) and `lora` (an adapter file, `none` for none: `""` keeps the
    /// configured one).
    fn build(&self, model: &str, lora: &str) -> BoxFuture<'static, Built>;
    /// Whether the backend has models to choose from (a script has none).
    fn has_models(&self) -> Result<bool, BackendsError>;
    /// The embedder free-form answers need when `spec` clusters them by `embed`; `None` for
    /// any other answer spec.
    fn embedder(&self, spec: &AnswerSpec) -> Result<Option<Arc<dyn Embedder>>, BackendsError>;
    /// The embedder kNN example selection compares queries and examples with, when one is
    /// given (`None`: selection compares content words).
    fn knn_embedder(&self) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        Ok(None)
    }
    /// The embedder `spec` needs, else kNN selection's when `knn`.
    fn embedder_or_knn(
        &self,
        spec: &AnswerSpec,
        knn: bool,
    ) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        match self.embedder(spec)? {
            None if knn => self.knn_embedder(),
            e => Ok(e),
        }
    }
    /// The server a batch is sent to, with its key.
    fn server(&self) -> Result<Server, BackendsError>;
}

/// One backend per (model, lora) pair of the grid (`""` is the configured one of each).
pub type Grid = BTreeMap<(String, String), Arc<dyn Backend>>;

/// The backends of every (model, lora) pair `vary` names, each built once; `current` stands
/// for the pair that varies neither (the lab's backend, which may be a model picked since).
pub async fn grid(
    backends: &dyn Backends,
    vary: &[(String, Vec<String>)],
    current: Option<&Arc<dyn Backend>>,
) -> Result<Grid, BackendsError> {
    let values = |key: &str| {
        vary.iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| vec![String::new()], |(_, v)| v.clone())
    };
    let models = values("model");
    // A script has no model: every label would get the same script's samples.
    if models.len() > 1 && !backends.has_models()? {
        return Err(BackendsError::NoModels);
    }
    let mut out = Grid::new();
    for m in &models {
        for l in values("lora") {
            let backend = match current {
                Some(b) if m.is_empty() && l.is_empty() => b.clone(),
                _ => backends.build(m, &l).await?,
            };
            out.insert((m.clone(), l), backend);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::FutureExt;

    use super::*;
    use crate::backend::scripted::{Script, ScriptedBackend};

    /// Builds scripted backends and notes what it was asked for.
    struct Noting {
        asked: Arc<Mutex<Vec<(String, String)>>>,
        models: bool,
    }

    impl Backends for Noting {
        fn build(&self, model: &str, lora: &str) -> BoxFuture<'static, Built> {
            self.asked
                .lock()
                .unwrap()
                .push((model.to_string(), lora.to_string()));
            async {
                Ok(Arc::new(ScriptedBackend::new(Script {
                    model: None,
                    responses: vec![],
                })) as Arc<dyn Backend>)
            }
            .boxed()
        }
        fn has_models(&self) -> Result<bool, BackendsError> {
            Ok(self.models)
        }
        fn embedder(&self, _: &AnswerSpec) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
            Ok(None)
        }
        fn server(&self) -> Result<Server, BackendsError> {
            Ok(Server::default())
        }
    }

    fn vary(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[tokio::test]
    async fn every_model_and_adapter_pair_is_built_once() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let b = Noting {
            asked: asked.clone(),
            models: true,
        };
        let g = grid(
            &b,
            &vary(&[("model", &["a", "b"]), ("lora", &["x", "none"])]),
            None,
        )
        .await
        .unwrap();
        let keys: Vec<(String, String)> = g.keys().cloned().collect();
        assert_eq!(keys.len(), 4);
        assert_eq!(asked.lock().unwrap().len(), 4);
        assert!(keys.contains(&("b".into(), "none".into())));
    }

    #[tokio::test]
    async fn the_current_backend_stands_for_the_pair_that_varies_nothing() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let b = Noting {
            asked: asked.clone(),
            models: true,
        };
        let current: Arc<dyn Backend> = Arc::new(ScriptedBackend::new(Script {
            model: None,
            responses: vec![],
        }));
        let g = grid(&b, &vary(&[("temperature", &["0", "1"])]), Some(&current))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&g[&(String::new(), String::new())], &current));
        assert!(asked.lock().unwrap().is_empty());
        let g = grid(&b, &vary(&[("model", &["a", "b"])]), Some(&current))
            .await
            .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(asked.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn models_are_not_varied_on_a_backend_without_models() {
        let b = Noting {
            asked: Arc::default(),
            models: false,
        };
        let Err(e) = grid(&b, &vary(&[("model", &["a", "b"])]), None).await else {
            panic!("two models on a backend without models")
        };
        assert!(
            e.to_string().contains("the scripted backend has none"),
            "{e}"
        );
        // One model is a label, not a comparison.
        assert!(grid(&b, &vary(&[("model", &["a"])]), None).await.is_ok());
    }
}
