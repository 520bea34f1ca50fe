//! Sentence embeddings from a GGUF run by llama.cpp in process (`--embed-model`), for
//! free-form answers clustered by `embed`. The model runs on its own thread with a context
//! made for embeddings (mean pooling over the text's tokens); each distinct text is embedded
//! once and kept.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use tokio::sync::oneshot;

use super::error::LlamaError;
use super::model::check_gguf;
use super::worker::llama;
use crate::backend::{BackendError, Embedder};

/// Longest text embedded, in tokens (a free-form answer is a phrase or a sentence).
const MAX_TOKENS: usize = 512;

type Reply = oneshot::Sender<Result<Vec<f32>, BackendError>>;

#[derive(Debug)]
pub struct LocalEmbedder {
    path: PathBuf,
    requests: Mutex<std::sync::mpsc::Sender<(String, Reply)>>,
    kept: Arc<Mutex<HashMap<String, Vec<f32>>>>,
}

impl LocalEmbedder {
    /// Checks the file and starts the embedding thread, waiting until the model is loaded
    /// there: a file llama.cpp cannot load is refused with its reason, never left to fail each
    /// embedding (and the vote to fall back to word overlap) later.
    pub fn spawn(path: &Path, threads: i32) -> Result<Self, BackendError> {
        check_gguf(path, false)
            .map_err(|e| BackendError::Model(format!("embedding model: {e}")))?;
        let (tx, rx) = std::sync::mpsc::channel::<(String, Reply)>();
        let (ready_tx, ready) = std::sync::mpsc::sync_channel::<Result<(), LlamaError>>(1);
        let file = path.to_path_buf();
        std::thread::Builder::new()
            .name("promptlab-embed".into())
            .spawn(move || serve(&file, threads, rx, ready_tx))
            .map_err(|e| BackendError::Model(format!("cannot start the embedding thread: {e}")))?;
        ready
            .recv()
            .map_err(|_| BackendError::Model("the embedding thread has stopped".into()))?
            .map_err(|e| BackendError::Model(format!("embedding model: {e}")))?;
        Ok(LocalEmbedder {
            path: path.to_path_buf(),
            requests: Mutex::new(tx),
            kept: Arc::default(),
        })
    }
}

impl Embedder for LocalEmbedder {
    fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || "embedding model".into(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn embed(&self, text: &str) -> BoxFuture<'static, Result<Vec<f32>, BackendError>> {
        if let Some(v) = self.kept.lock().ok().and_then(|k| k.get(text).cloned()) {
            return futures::future::ready(Ok(v)).boxed();
        }
        let (tx, rx) = oneshot::channel();
        let sent = self
            .requests
            .lock()
            .map_err(|_| ())
            .and_then(|r| r.send((text.to_string(), tx)).map_err(|_| ()));
        let kept = self.kept.clone();
        let text = text.to_string();
        async move {
            sent.map_err(|()| BackendError::Model("the embedding thread has stopped".into()))?;
            let v = rx
                .await
                .map_err(|_| BackendError::Model("the embedding thread has stopped".into()))??;
            if let Ok(mut k) = kept.lock() {
                k.insert(text, v.clone());
            }
            Ok(v)
        }
        .boxed()
    }
}

fn serve(
    path: &Path,
    threads: i32,
    requests: std::sync::mpsc::Receiver<(String, Reply)>,
    ready: std::sync::mpsc::SyncSender<Result<(), LlamaError>>,
) {
    let loaded = llama().and_then(|backend| {
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|source| LlamaError::Embedding {
                path: path.to_path_buf(),
                source,
            })?;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(MAX_TOKENS as u32))
            .with_n_batch(MAX_TOKENS as u32)
            .with_n_ubatch(MAX_TOKENS as u32)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            .with_embeddings(true)
            .with_pooling_type(LlamaPoolingType::Mean);
        Ok((backend, model, params))
    });
    let (backend, model, params) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("{e}");
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(LlamaError::EmbeddingContext(e)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    for (text, reply) in requests {
        let result = (|| {
            let mut tokens = model.vocab().tokenize(text.as_bytes(), true, false);
            tokens.truncate(MAX_TOKENS);
            if tokens.is_empty() {
                return Err(BackendError::Invalid("nothing to embed".into()));
            }
            ctx.clear_kv_cache();
            let mut batch = LlamaBatch::new(tokens.len(), 1);
            for (i, t) in tokens.iter().enumerate() {
                batch
                    .add(*t, i as i32, &[0], true)
                    .map_err(|e| BackendError::Model(format!("embedding batch: {e}")))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| BackendError::Model(format!("embedding: {e}")))?;
            let v = ctx
                .embeddings_seq_ith(0)
                .map_err(|e| BackendError::Model(format!("no embedding came back: {e}")))?;
            Ok(v.to_vec())
        })();
        let _ = reply.send(result);
    }
}
