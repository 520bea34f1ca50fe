//! What can keep llama.cpp from loading or running a model, in the words users read.

use std::path::PathBuf;

use llama_cpp_2::llama_batch::BatchAddError;
use llama_cpp_2::{
    DecodeError, LlamaContextLoadError, LlamaCppError, LlamaLoraAdapterInitError,
    LlamaLoraAdapterRemoveError, LlamaLoraAdapterSetError, LlamaModelLoadError,
};
use thiserror::Error;

use crate::backend::BackendError;

/// What llama.cpp refused while loading or running a model.
#[derive(Debug, Error)]
pub enum LlamaError {
    #[error("cannot initialise llama.cpp: {0}")]
    Init(&'static LlamaCppError),
    /// The model the backend serves.
    #[error(
        "llama.cpp could not load {} ({source}): an unknown architecture or a corrupt file",
        path.display()
    )]
    Model {
        path: PathBuf,
        source: LlamaModelLoadError,
    },
    #[error(
        "llama.cpp could not load the LoRA adapter {} ({source}): not an adapter of this model?",
        path.display()
    )]
    Lora {
        path: PathBuf,
        source: LlamaLoraAdapterInitError,
    },
    /// An embedding model.
    #[error("llama.cpp could not load {} ({source})", path.display())]
    Embedding {
        path: PathBuf,
        source: LlamaModelLoadError,
    },
    #[error("cannot create an embedding context: {0}")]
    EmbeddingContext(LlamaContextLoadError),
    /// A model loaded for the trainer's checks (`reference`).
    #[error("llama.cpp cannot load {}: {source}", path.display())]
    Reference {
        path: PathBuf,
        source: LlamaModelLoadError,
    },
    #[error("llama.cpp cannot load the adapter {}: {source}", path.display())]
    Adapter {
        path: PathBuf,
        source: LlamaLoraAdapterInitError,
    },
    #[error("llama.cpp context: {0}")]
    Context(LlamaContextLoadError),
    #[error("llama.cpp cannot apply the adapter: {0}")]
    ApplyAdapter(LlamaLoraAdapterSetError),
    #[error("llama.cpp cannot remove the adapter: {0}")]
    RemoveAdapter(LlamaLoraAdapterRemoveError),
    #[error("llama.cpp batch: {0}")]
    Batch(BatchAddError),
    #[error("llama.cpp decode: {0}")]
    Decode(DecodeError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<LlamaError> for String {
    fn from(e: LlamaError) -> String {
        e.to_string()
    }
}
