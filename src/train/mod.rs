//! LoRA training on the embedded model, in process (cargo feature `train`): a specialist
//! beside the prompted generalist.
//!
//! The base's own weights are read from its GGUF and dequantized (`weights`), so the adapter
//! matches the model that serves it; `model` is Gemma 3 as llama.cpp computes it, with LoRA
//! pairs on the chosen layers (`lora`) over frozen weights that never get a gradient
//! (`frozen`); `data` turns a template and a dataset's training split into token sequences
//! (llama.cpp's own tokenizer, `llama`), the loss scoring the answer tokens only; `trainer`
//! runs AdamW over packed batches; `adapter` writes the GGUF LoRA adapter llama.cpp loads
//! (its record beside it is `store::adapters`). `job` ties them together for `promptlab tune`.

pub mod adapter;
pub mod check;
pub mod data;
pub mod frozen;
pub mod job;
pub mod llama;
pub mod lora;
pub mod model;
pub mod trainer;
pub mod weights;

use std::path::Path;

use thiserror::Error;

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
