//! Option scoring on the embedded model: the prompt evaluated once, copied to one sequence per
//! option, and every option's tokens decoded in one batch with their logits kept; an option's
//! log-probability is the sum of its tokens' (log-softmax over the vocabulary). Nothing is
//! sampled. It runs on the model thread, between the scheduler's decode steps, in a small
//! context of its own (the scheduler's cells and kept prompts are not touched), which keeps
//! the last prompt scored so that the next evaluates only what follows their common prefix.

use std::num::NonZeroU32;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::LocalSettings;
use crate::backend::{BackendError, Scores};
use crate::core::render::Prompt;

/// Most options scored at once (one sequence each).
pub const MAX_OPTIONS: usize = 32;

/// One prompt's options to score, and where the scores go.
pub(crate) struct ScoreJob {
    pub prompt: Prompt,
    pub options: Vec<String>,
    pub reply: tokio::sync::oneshot::Sender<Result<Scores, BackendError>>,
}

/// A scoring's prompt tokens: sent, and evaluated (not found in the scoring context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spent {
    pub sent: u64,
    pub evaluated: u64,
}

/// The scoring context, made on first use and grown when a job needs more. The last prompt
/// scored stays evaluated on sequence 0: the next one (the next item of an evaluation, a
/// content-free input after the same examples) evaluates only what follows their common
/// prefix.
#[derive(Default)]
pub(super) struct Scorer<'m> {
    ctx: Option<LlamaContext<'m>>,
    capacity: u32,
    batch: u32,
    /// The tokens sequence 0 holds.
    kept: Vec<LlamaToken>,
}

impl<'m> Scorer<'m> {
    /// Scores `job` (its prompt's tokens as the worker tokenizes prompts) and sends the
    /// result (a closed reply is a cancelled job: nothing sent); the prompt tokens of a
    /// scoring done.
    pub fn run(
        &mut self,
        model: &'m LlamaModel,
        backend: &'m LlamaBackend,
        settings: &LocalSettings,
        lora: Option<&mut LlamaLoraAdapter>,
        job: ScoreJob,
        prompt: Result<Vec<LlamaToken>, BackendError>,
    ) -> Option<Spent> {
        if job.reply.is_closed() {
            return None;
        }
        let mut spent = None;
        let result = prompt.and_then(|p| {
            let (logprobs, evaluated) =
                self.score(model, backend, settings, lora, &p, &job.options)?;
            spent = Some(Spent {
                sent: p.len() as u64,
                evaluated: evaluated as u64,
            });
            Ok(Scores {
                logprobs,
                prompt_tokens: p.len() as u32,
            })
        });
        let _ = job.reply.send(result);
        spent
    }

    fn score(
        &mut self,
        model: &'m LlamaModel,
        backend: &'m LlamaBackend,
        settings: &LocalSettings,
        lora: Option<&mut LlamaLoraAdapter>,
        prompt: &[LlamaToken],
        options: &[String],
    ) -> Result<(Vec<f64>, usize), BackendError> {
        if options.is_empty() || options.len() > MAX_OPTIONS {
            return Err(BackendError::Invalid(format!(
                "between 1 and {MAX_OPTIONS} options can be scored, got {}",
                options.len()
            )));
        }
        let vocab = model.vocab();
        let options: Vec<Vec<LlamaToken>> = options
            .iter()
            .map(|o| vocab.tokenize(o.as_bytes(), false, false))
            .collect();
        if let Some(i) = options.iter().position(Vec::is_empty) {
            return Err(BackendError::Invalid(format!("option {} is empty", i + 1)));
        }
        let option_tokens: usize = options.iter().map(Vec::len).sum();
        let need = (prompt.len() + option_tokens) as u32;
        if need > model.n_ctx_train() {
            return Err(BackendError::Invalid(format!(
                "the prompt and its options ({need} tokens) exceed the model's context of {} tokens",
                model.n_ctx_train()
            )));
        }
        // A new context holds nothing: `context` forgets what was kept.
        self.context(model, backend, settings, lora, need, option_tokens as u32)?;
        let kept = std::mem::take(&mut self.kept);
        let ctx = self
            .ctx
            .as_mut()
            .ok_or_else(|| BackendError::Model("no scoring context".into()))?;
        // What sequence 0 holds of this prompt (all but its last token at most: its logits
        // are needed); the rest of it is removed. Nothing kept (a failed scoring leaves
        // nothing kept): the whole cache is cleared.
        let from = super::cells::common_prefix(&kept, prompt).min(prompt.len() - 1);
        let from = match ctx.clear_kv_cache_seq(Some(0), Some(from as u32), None) {
            Ok(true) if from > 0 => from,
            _ => {
                ctx.clear_kv_cache();
                0
            }
        };
        let failed =
            |e: &dyn std::fmt::Display| BackendError::Model(format!("scoring failed: {e}"));
        // The prompt, on sequence 0, its last logits kept.
        let chunk = settings.n_batch.max(1) as usize;
        let mut batch = LlamaBatch::new(chunk.max(option_tokens), 1);
        for (c, part) in prompt[from..].chunks(chunk).enumerate() {
            batch.clear();
            for (i, t) in part.iter().enumerate() {
                let pos = from + c * chunk + i;
                batch
                    .add(*t, pos as i32, &[0], pos == prompt.len() - 1)
                    .map_err(|e| failed(&e))?;
            }
            ctx.decode(&mut batch).map_err(|e| failed(&e))?;
        }
        let first = log_softmax(ctx.get_logits_ith(batch.n_tokens() - 1));
        for j in 1..options.len() {
            let _ = ctx.kv_cache_seq_cp(0, j as i32, None, None);
        }
        // Every option's tokens in one batch, each on its own sequence.
        batch.clear();
        let mut at = Vec::with_capacity(options.len());
        for (j, toks) in options.iter().enumerate() {
            at.push(batch.n_tokens());
            for (i, t) in toks.iter().enumerate() {
                let last = i + 1 == toks.len();
                batch
                    .add(*t, (prompt.len() + i) as i32, &[j as i32], !last)
                    .map_err(|e| failed(&e))?;
            }
        }
        // Options of one token each need nothing past the prompt's logits.
        if options.iter().any(|t| t.len() > 1) {
            ctx.decode(&mut batch).map_err(|e| failed(&e))?;
        }
        let scores = options
            .iter()
            .zip(at)
            .map(|(toks, start)| {
                let mut sum = f64::from(first[toks[0].0 as usize]);
                for i in 1..toks.len() {
                    let lp = log_softmax(ctx.get_logits_ith(start + i as i32 - 1));
                    sum += f64::from(lp[toks[i].0 as usize]);
                }
                sum
            })
            .collect();
        // Sequence 0 keeps the prompt (option 0's tokens removed); the others are cleared.
        for j in 1..options.len() {
            let _ = ctx.clear_kv_cache_seq(Some(j as u32), None, None);
        }
        match ctx.clear_kv_cache_seq(Some(0), Some(prompt.len() as u32), None) {
            Ok(true) => self.kept = prompt.to_vec(),
            _ => ctx.clear_kv_cache(),
        }
        Ok((scores, prompt.len() - from))
    }

    /// A context with room for `need` cells and `batch` tokens at once, and enough sequences.
    fn context(
        &mut self,
        model: &'m LlamaModel,
        backend: &'m LlamaBackend,
        settings: &LocalSettings,
        lora: Option<&mut LlamaLoraAdapter>,
        need: u32,
        batch: u32,
    ) -> Result<&mut LlamaContext<'m>, BackendError> {
        let batch = batch.max(settings.n_batch);
        if self.ctx.is_none() || need > self.capacity || batch > self.batch {
            self.ctx = None;
            self.kept.clear();
            let capacity = need.max(2048).div_ceil(1024) * 1024;
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(capacity))
                .with_n_batch(batch)
                .with_n_ubatch(batch)
                .with_n_seq_max(MAX_OPTIONS as u32)
                .with_n_threads(settings.threads)
                .with_n_threads_batch(settings.threads)
                .with_kv_unified(true);
            let mut ctx = model.new_context(backend, params).map_err(|e| {
                BackendError::Model(format!("cannot create a scoring context: {e}"))
            })?;
            if let Some(adapter) = lora {
                ctx.lora_adapter_set(adapter, 1.0).map_err(|e| {
                    BackendError::Model(format!("cannot apply the LoRA adapter: {e}"))
                })?;
            }
            self.ctx = Some(ctx);
            self.capacity = capacity;
            self.batch = batch;
        }
        self.ctx
            .as_mut()
            .ok_or_else(|| BackendError::Model("no scoring context".into()))
    }
}

/// Log-probabilities over the vocabulary from logits.
fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let top = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|l| f64::from(l - top).exp()).sum();
    let log_sum = sum.ln() as f32;
    logits.iter().map(|l| l - top - log_sum).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_softmax_is_normalised() {
        let lp = super::log_softmax(&[1.0, 2.0, 3.0]);
        let total: f32 = lp.iter().map(|x| x.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
        assert!(lp[2] > lp[1] && lp[1] > lp[0]);
    }
}
