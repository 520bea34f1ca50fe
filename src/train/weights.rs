//! The base model's weights, read from its GGUF and dequantized to f32, with the dimensions
//! the file's own metadata gives. Only Gemma 3 is trainable: its graph is the one
//! `train::model` computes (llama.cpp's `models/gemma3.cpp`, which serves the adapter).
//!
//! Two facts of llama.cpp's converter matter here: tensors keep llama.cpp's names
//! (`blk.N.attn_q.weight`, …), and Gemma's RMSNorm weights are stored with 1.0 already added,
//! so a norm multiplies by the stored weight as it is (Hugging Face's `gemma3` adds 1.0 itself).

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{DType, Device, Tensor};

use super::TrainError;

/// The architecture `train::model` implements.
pub const ARCHITECTURE: &str = "gemma3";

/// Gemma 3's dimensions and constants, as the GGUF states them.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub vocab: usize,
    pub hidden: usize,
    pub layers: usize,
    pub ff: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rms_eps: f64,
    /// RoPE base of the global layers, and of the sliding-window ones.
    pub rope_base: f64,
    pub rope_base_local: f64,
    /// Linear RoPE scaling of the global layers (positions multiplied by this).
    pub rope_scale: f64,
    /// Keys a sliding-window layer sees: query position - key position < window.
    pub sliding_window: usize,
    /// Every `pattern`-th layer is global, the others slide (llama.cpp's `set_swa_pattern`).
    pub sliding_pattern: usize,
    /// tanh soft-capping of the logits (0: none).
    pub final_softcap: f64,
}

impl Config {
    /// Whether layer `i` attends through a sliding window (as llama.cpp's `is_swa`).
    pub fn is_sliding(&self, i: usize) -> bool {
        self.sliding_window > 0
            && (self.sliding_pattern == 0 || i % self.sliding_pattern < self.sliding_pattern - 1)
    }

    /// Reads the dimensions from a GGUF's metadata; another architecture is refused.
    pub fn from_metadata(meta: &HashMap<String, Value>) -> Result<Config, TrainError> {
        let arch = meta
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if arch != ARCHITECTURE {
            return Err(TrainError::Unsupported(format!(
                "the model's architecture is {arch:?}; promptlab trains Gemma 3 (gemma3) only"
            )));
        }
        let key = |k: &str| format!("{ARCHITECTURE}.{k}");
        let int = |k: &str| -> Result<usize, TrainError> {
            meta.get(&key(k))
                .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
                .map(|v| v as usize)
                .ok_or_else(|| TrainError::Model(format!("the GGUF lacks {}", key(k))))
        };
        let float = |k: &str| -> Option<f64> {
            meta.get(&key(k))
                .and_then(|v| v.to_f32().ok().map(f64::from).or(v.to_f64().ok()))
        };
        let hidden = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let head_dim = int("attention.key_length").unwrap_or(hidden / heads.max(1));
        let scaling_linear = meta
            .get(&key("rope.scaling.type"))
            .and_then(|v| v.to_string().ok())
            .is_some_and(|t| t == "linear");
        let vocab = meta
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .map(Vec::len)
            .unwrap_or(0);
        Ok(Config {
            vocab,
            hidden,
            layers: int("block_count")?,
            ff: int("feed_forward_length")?,
            heads,
            kv_heads: int("attention.head_count_kv").unwrap_or(heads),
            head_dim,
            rms_eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
            rope_base: float("rope.freq_base").unwrap_or(1_000_000.0),
            rope_base_local: float("rope.freq_base_swa").unwrap_or(10_000.0),
            rope_scale: match float("rope.scaling.factor") {
                Some(f) if scaling_linear && f > 0.0 => 1.0 / f,
                _ => 1.0,
            },
            sliding_window: int("attention.sliding_window").unwrap_or(0),
            sliding_pattern: int("attention.sliding_window_pattern").unwrap_or(6),
            final_softcap: float("final_logit_softcapping").unwrap_or(0.0),
        })
    }
}

/// A GGUF opened for reading: its metadata and where its tensors are.
pub struct Gguf {
    file: std::fs::File,
    content: Content,
    pub config: Config,
}

impl Gguf {
    pub fn open(path: &Path) -> Result<Gguf, TrainError> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| TrainError::Model(format!("{}: {e}", path.display())))?;
        let content = Content::read(&mut file).map_err(|e| {
            TrainError::Model(format!("{}: not a readable GGUF: {e}", path.display()))
        })?;
        let config = Config::from_metadata(&content.metadata)?;
        Ok(Gguf {
            file,
            content,
            config,
        })
    }

    /// One tensor, dequantized to f32, in candle's (row-major) shape: a weight is [out, in].
    pub fn tensor(&mut self, name: &str) -> Result<Tensor, TrainError> {
        read_tensor(&self.content, &mut self.file, name)
    }
}

fn read_tensor<R: Read + Seek>(
    content: &Content,
    reader: &mut R,
    name: &str,
) -> Result<Tensor, TrainError> {
    let q = content
        .tensor(reader, name, &Device::Cpu)
        .map_err(|e| TrainError::Model(format!("tensor {name}: {e}")))?;
    q.dequantize(&Device::Cpu)
        .and_then(|t| t.to_dtype(DType::F32))
        .map_err(|e| TrainError::Model(format!("tensor {name}: {e}")))
}
