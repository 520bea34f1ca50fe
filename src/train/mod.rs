//! LoRA training on the embedded model, in process (cargo feature `train`): a specialist
//! beside the prompted generalist.
//!
//! The base's own weights are read from its GGUF and dequantized (`weights`), so the adapter
//! matches the model that serves it; `model` is Gemma 3 as llama.cpp computes it, with LoRA
//! pairs on the chosen layers (`lora`) over frozen weights that never get a gradient
//! (`frozen`); `data` turns a template and a dataset's training split into token sequences
//! (llama.cpp's own tokenizer, through `Reference`), the loss scoring the answer tokens only; `trainer`
//! runs AdamW over packed batches; `adapter` writes the GGUF LoRA adapter llama.cpp loads
//! (its record beside it is `store::adapters`). `job` ties them together for `promptlab tune`.

pub mod adapter;
pub mod attention;
pub mod check;
pub mod data;
pub mod frozen;
pub mod job;
pub mod lora;
pub mod model;
pub mod trainer;
pub mod weights;

use std::path::Path;

use thiserror::Error;

use crate::core::render::Prompt;

/// What the reference engine (llama.cpp) reports when it fails, kept whole with its sources:
/// `train` does not depend on the backend that defines it.
pub type ReferenceError = Box<dyn std::error::Error + Send + Sync>;

/// What a tune asks of llama.cpp, the engine that serves the adapter, handed in by the caller
/// (`app::training::Llama`, built on `backend::local::reference`): the tokens it would see,
/// and its logits after a sequence with or without an adapter (the check of the written
/// adapter). `train` itself never uses a backend.
pub trait Reference {
    /// The base model's tokenizer (llama.cpp's, loaded without weights).
    fn tokenizer(&self, model_path: &Path) -> Result<Box<dyn Tokenize>, ReferenceError>;
    /// llama.cpp's logits after the last of `tokens`, on `model_path` with `lora` applied at
    /// scale 1 when given.
    fn last_logits(
        &self,
        model_path: &Path,
        lora: Option<&Path>,
        tokens: &[u32],
    ) -> Result<Vec<f32>, ReferenceError>;
}

/// A tokenizer as the backend tokenizes.
pub trait Tokenize {
    /// One training sequence: the prompt's tokens as the backend sends them, then the
    /// answer's, ending where generation should stop. Returns the tokens and where the answer
    /// starts.
    fn sequence(&self, prompt: &Prompt, answer: &str) -> Result<(Vec<u32>, usize), ReferenceError>;
}

#[derive(Debug, Error)]
pub enum TrainError {
    /// The model cannot be trained here (another architecture).
    #[error("{0}")]
    Unsupported(String),
    /// The model or adapter file could not be read as expected.
    #[error("{0}")]
    Model(String),
    /// The data cannot train an adapter (too few rows, nothing to score).
    #[error("{0}")]
    Data(String),
    /// llama.cpp (tokenizing, loading the base or the adapter, its logits) failed.
    #[error(transparent)]
    Reference(ReferenceError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

impl TrainError {
    pub fn io(path: &Path, source: std::io::Error) -> TrainError {
        TrainError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
