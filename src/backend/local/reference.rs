//! What the trainer asks of llama.cpp, the engine that serves the adapter: the tokens it
//! would see (its own tokenizer and chat template, read from the same GGUF), and the logits it
//! computes after a sequence, with or without an adapter (the checks that candle's model is
//! llama.cpp's, and that a written adapter does what candle predicted).

use std::num::NonZeroU32;
use std::path::Path;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use super::error::LlamaError;
use super::worker::{llama, tokenize};
use crate::core::render::Prompt;

fn load(path: &Path, vocab_only: bool) -> Result<LlamaModel, LlamaError> {
    let backend = llama()?;
    let params = LlamaModelParams::default().with_vocab_only(vocab_only);
    LlamaModel::load_from_file(backend, path, &params).map_err(|source| LlamaError::Reference {
        path: path.to_path_buf(),
        source,
    })
}

/// The base model's tokenizer (llama.cpp's, loaded without weights).
pub struct Tokenizer {
    model: LlamaModel,
}

impl Tokenizer {
    pub fn open(path: &Path) -> Result<Tokenizer, LlamaError> {
        Ok(Tokenizer {
            model: load(path, true)?,
        })
    }

    /// One training sequence: the prompt's tokens as the backend sends them, then the
    /// answer's, ending where generation should stop (a completion's "\n\n" is in `answer`;
    /// a chat reply ends with the end-of-turn token). Returns the tokens and where the answer
    /// starts.
    pub fn sequence(&self, prompt: &Prompt, answer: &str) -> Result<(Vec<u32>, usize), LlamaError> {
        let vocab = self.model.vocab();
        let head = tokenize(&self.model, prompt)?;
        let tail = match prompt {
            Prompt::Completion(text) => {
                // Tokenized together, so the boundary splits as the model would read it.
                let whole = vocab.tokenize(format!("{text}{answer}").as_bytes(), true, false);
                match whole.strip_prefix(head.as_slice()) {
                    Some(rest) => rest.to_vec(),
                    None => vocab.tokenize(answer.as_bytes(), false, false),
                }
            }
            Prompt::Chat(_) => {
                let mut t = vocab.tokenize(answer.as_bytes(), false, false);
                t.push(vocab.eot());
                t
            }
        };
        let start = head.len();
        let tokens = head.iter().chain(&tail).map(|t| t.0 as u32).collect();
        Ok((tokens, start))
    }
}

/// llama.cpp's logits after the last of `tokens`, on `model_path` with `lora` applied at
/// scale 1 when given.
pub fn last_logits(
    model_path: &Path,
    lora: Option<&Path>,
    tokens: &[u32],
) -> Result<Vec<f32>, LlamaError> {
    let backend = llama()?;
    let mut model = load(model_path, false)?;
    let mut adapter = match lora {
        Some(path) => {
            Some(
                model
                    .lora_adapter_init(path)
                    .map_err(|source| LlamaError::Adapter {
                        path: path.to_path_buf(),
                        source,
                    })?,
            )
        }
        None => None,
    };
    let n = tokens.len().max(1);
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as i32);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new((n as u32).div_ceil(256) * 256))
        .with_n_batch(n as u32)
        .with_n_ubatch(n as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model
        .new_context(backend, params)
        .map_err(LlamaError::Context)?;
    if let Some(a) = adapter.as_mut() {
        ctx.lora_adapter_set(a, 1.0)
            .map_err(LlamaError::ApplyAdapter)?;
    }
    let mut batch = LlamaBatch::new(n, 1);
    for (i, &t) in tokens.iter().enumerate() {
        batch
            .add(LlamaToken(t as i32), i as i32, &[0], i + 1 == tokens.len())
            .map_err(LlamaError::Batch)?;
    }
    ctx.decode(&mut batch).map_err(LlamaError::Decode)?;
    Ok(ctx.get_logits_ith(tokens.len() as i32 - 1).to_vec())
}
