//! What the trainer asks of llama.cpp, the engine that serves the adapter: the tokens it
//! would see (its own tokenizer and chat template, read from the same GGUF), and the logits it
//! computes after a sequence, with or without an adapter (the checks that candle's model is
//! llama.cpp's, and that a written adapter does what candle predicted), and how fast it
//! decodes with an adapter against without one (`decode_rounds`, for the benchmark).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
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

/// What `decode_rounds` decodes: `paths` sequences after `prompt`, `steps` greedy tokens each,
/// `rounds` times per arm (the base, then each adapter).
pub struct DecodeRounds<'a> {
    pub prompt: &'a Prompt,
    pub paths: usize,
    pub steps: usize,
    pub rounds: usize,
}

/// One arm of one round: `arm` 0 is the base, `i` the adapter `i - 1`; `tokens` decoded one
/// step at a time (the prompt not counted) in `secs`.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub round: usize,
    pub arm: usize,
    pub tokens: usize,
    pub secs: f64,
}

/// How fast llama.cpp decodes with each of `adapters` and without one. One model is loaded
/// and one context made, as the embedded backend makes them (every core, a unified KV cache),
/// so only the adapter differs between arms; the arms of a round run back to back (the base
/// first in even rounds, last in odd ones), so a machine whose speed drifts slows both alike.
/// Each block clears the cache, evaluates the prompt for every path, then times the decode
/// steps alone (each path's next token its argmax). `each` hears every block as it ends.
/// Returns how long llama.cpp took to load each adapter.
pub fn decode_rounds(
    model_path: &Path,
    adapters: &[PathBuf],
    r: &DecodeRounds,
    mut each: impl FnMut(&Block),
) -> Result<Vec<Duration>, LlamaError> {
    let backend = llama()?;
    let mut model = load(model_path, false)?;
    let mut loads = Vec::new();
    let mut loaded: Vec<LlamaLoraAdapter> = Vec::new();
    for path in adapters {
        let t = Instant::now();
        let a = model
            .lora_adapter_init(path)
            .map_err(|source| LlamaError::Adapter {
                path: path.clone(),
                source,
            })?;
        loads.push(t.elapsed());
        loaded.push(a);
    }
    let prompt = tokenize(&model, r.prompt)?;
    let paths = r.paths.max(1);
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as i32);
    let cells = ((prompt.len() + r.steps) * paths) as u32;
    let batch_size = (prompt.len() * paths).max(paths) as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(cells.div_ceil(256) * 256))
        .with_n_batch(batch_size)
        .with_n_ubatch(batch_size)
        .with_n_seq_max(paths as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_kv_unified(true);
    let mut ctx = model
        .new_context(backend, params)
        .map_err(LlamaError::Context)?;
    let arms = loaded.len() + 1;
    for round in 0..r.rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..arms).collect()
        } else {
            (0..arms).rev().collect()
        };
        for arm in order {
            match arm {
                0 => {
                    if let Some(a) = loaded.first_mut() {
                        ctx.lora_adapter_remove(a)
                            .map_err(LlamaError::RemoveAdapter)?;
                    }
                }
                i => ctx
                    .lora_adapter_set(&mut loaded[i - 1], 1.0)
                    .map_err(LlamaError::ApplyAdapter)?,
            }
            let secs = decode_block(&mut ctx, &prompt, paths, r.steps)?;
            each(&Block {
                round,
                arm,
                tokens: paths * r.steps,
                secs,
            });
        }
    }
    Ok(loads)
}

/// One block of `decode_rounds`: the seconds its `steps` decode steps took.
fn decode_block(
    ctx: &mut LlamaContext,
    prompt: &[LlamaToken],
    paths: usize,
    steps: usize,
) -> Result<f64, LlamaError> {
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(prompt.len() * paths, paths as i32);
    for s in 0..paths {
        for (i, &t) in prompt.iter().enumerate() {
            batch
                .add(t, i as i32, &[s as i32], i + 1 == prompt.len())
                .map_err(LlamaError::Batch)?;
        }
    }
    ctx.decode(&mut batch).map_err(LlamaError::Decode)?;
    let argmax = |ctx: &LlamaContext, i: usize| {
        let logits = ctx.get_logits_ith(i as i32);
        let best = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b]));
        LlamaToken(best.unwrap_or(0) as i32)
    };
    let mut next: Vec<LlamaToken> = (0..paths)
        .map(|s| argmax(ctx, (s + 1) * prompt.len() - 1))
        .collect();
    let started = Instant::now();
    for step in 0..steps {
        batch.clear();
        for (s, &t) in next.iter().enumerate() {
            batch
                .add(t, (prompt.len() + step) as i32, &[s as i32], true)
                .map_err(LlamaError::Batch)?;
        }
        ctx.decode(&mut batch).map_err(LlamaError::Decode)?;
        next = (0..paths).map(|s| argmax(ctx, s)).collect();
    }
    Ok(started.elapsed().as_secs_f64())
}
