//! Option scoring on the embedded model: nothing is sampled; an option's log-probability is the
//! sum of its tokens' (log-softmax over the vocabulary). It runs on the model thread, between
//! the scheduler's decode steps, in a small context of its own (the scheduler's cells and kept
//! prompts are not touched).
//!
//! Score jobs waiting together run together, as few llama.cpp calls as their tokens allow (on
//! a CPU shared with other work a call costs far more than its tokens: every graph waits for
//! all its threads at each of its barriers):
//!
//! 1. the jobs are grouped by the prefix they share (a template's instruction and examples:
//!    an example set's items); each group's prefix is put on a kept sequence (the one that
//!    holds most of it, so only the rest is evaluated) and on one sequence per option of its
//!    jobs;
//! 2. each job's rest (its question) goes on its options' sequences, its last token's logits
//!    read (every option's first token);
//! 3. every option's other tokens go on its own sequence, each read for the next.
//!
//! Steps 1 and 2 go into the same call (as many as the tokens need, `chunk`), each token on
//! every sequence it belongs to; step 3 into the next.
//!
//! A batch holds at most `MAX_SEQS` sequences. A job's own error (too many options, an empty
//! one, too long for the model) fails only that job; a job whose reply is closed (cancelled)
//! is dropped unscored. The last `KEPT` groups' prefixes stay for the next batches.

use std::num::NonZeroU32;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use std::sync::atomic::Ordering;

use super::cells::common_prefix;
use super::{Counts, LocalSettings};
use crate::backend::{BackendError, Scores};
use crate::core::render::Prompt;

/// Most options scored for one prompt (one sequence each).
pub const MAX_OPTIONS: usize = 32;

/// Prefixes kept evaluated between batches, each on a sequence of its own (0 to `KEPT`).
const KEPT: usize = 8;

/// Most sequences a scoring batch holds: the kept prefixes' and one per option of every job.
pub const MAX_SEQS: usize = KEPT + 64;

/// A batch stops taking jobs once their prompts and options add up to this many tokens (a
/// job alone may need more, up to the model's context).
const MAX_BATCH_CELLS: usize = 16_384;

/// Tokens a scoring call holds at most: a batch's questions and options in one call where
/// they fit (each call costs far more than its tokens on a shared CPU).
fn chunk(settings: &LocalSettings) -> u32 {
    settings.n_batch.max(2048)
}

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

/// A job checked: its prompt's and its options' tokens.
struct Checked {
    job: ScoreJob,
    prompt: Vec<LlamaToken>,
    options: Vec<Vec<LlamaToken>>,
}

impl Checked {
    fn cells(&self) -> usize {
        self.prompt.len() + self.options.iter().map(Vec::len).sum::<usize>()
    }
}

/// One token of a call: where it goes, and what its logits are read for.
struct Tok {
    token: LlamaToken,
    pos: i32,
    seqs: Vec<i32>,
    read: Read,
}

#[derive(Clone, Copy)]
enum Read {
    Nothing,
    /// A job's last prompt token: every option's first token (job index in the batch).
    First(usize),
    /// Option `option` of job `job`: the log-probability of its next token, `next`.
    Next {
        job: usize,
        option: usize,
        next: LlamaToken,
    },
}

/// The scoring context, made on first use and grown when a batch needs more. The prefixes of
/// the last batches stay evaluated, each on its own sequence: the next batch (the next items
/// of an evaluation, a content-free input after the same examples, the items of the example
/// sets an analysis has in flight) evaluates only what follows them.
#[derive(Default)]
pub(super) struct Scorer<'m> {
    ctx: Option<LlamaContext<'m>>,
    capacity: u32,
    /// The tokens each kept sequence holds (`KEPT` of them), and when each was last used.
    kept: Vec<Vec<LlamaToken>>,
    used: Vec<u64>,
    tick: u64,
}

/// Jobs of a batch sharing a prefix: its length, and the jobs (indices into the batch).
struct Group {
    prefix: usize,
    jobs: Vec<usize>,
}

/// Groups the first of `prompts` that fit in one batch by the prefix each shares most with
/// another of them or with a prefix kept (`kept`): an example set's items share their
/// instruction and examples, and only the question is left to each; at most `KEPT` groups,
/// the jobs after the last that fits wait for the next batch.
fn groups(prompts: &[&[LlamaToken]], kept: &[Vec<LlamaToken>]) -> Vec<Group> {
    let own = |j: usize| {
        let p = prompts[j];
        let others = (0..prompts.len())
            .filter(|&k| k != j)
            .map(|k| common_prefix(prompts[k], p));
        let kept = kept.iter().map(|k| common_prefix(k, p));
        others.chain(kept).max().unwrap_or(0).min(p.len() - 1)
    };
    let mut groups: Vec<Group> = Vec::new();
    for j in 0..prompts.len() {
        let prefix = own(j);
        let p = &prompts[j][..prefix];
        let same = groups
            .iter()
            .position(|g| g.prefix == prefix && &prompts[g.jobs[0]][..prefix] == p);
        match same {
            Some(g) => groups[g].jobs.push(j),
            None if groups.len() < KEPT => groups.push(Group {
                prefix,
                jobs: vec![j],
            }),
            None => break,
        }
    }
    // A job alone keeps all of its prompt but the last token: the next job like it (the next
    // item, sent after this one) then evaluates only its own question.
    for g in groups.iter_mut().filter(|g| g.jobs.len() == 1) {
        g.prefix = prompts[g.jobs[0]].len() - 1;
    }
    groups
}

fn failed(e: &dyn std::fmt::Display) -> BackendError {
    BackendError::Model(format!("scoring failed: {e}"))
}

impl<'m> Scorer<'m> {
    /// Scores `jobs` (each with its prompt's tokens as the worker tokenizes prompts) and sends
    /// each its result, counted in `counts` first; a closed reply is a cancelled job: dropped,
    /// nothing sent.
    pub fn run(
        &mut self,
        model: &'m LlamaModel,
        backend: &'m LlamaBackend,
        settings: &LocalSettings,
        mut lora: Option<&mut LlamaLoraAdapter>,
        counts: &Counts,
        jobs: Vec<(ScoreJob, Result<Vec<LlamaToken>, BackendError>)>,
    ) {
        let mut ready = Vec::new();
        for (job, prompt) in jobs {
            if job.reply.is_closed() {
                continue;
            }
            match prompt.and_then(|p| check(model, p, &job.options)) {
                Ok((prompt, options)) => ready.push(Checked {
                    job,
                    prompt,
                    options,
                }),
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
        while !ready.is_empty() {
            let (mut seqs, mut cells, mut take) = (KEPT, 0, 0);
            for c in &ready {
                let (s, n) = (c.options.len(), c.cells());
                if take > 0 && (seqs + s > MAX_SEQS || cells + n > MAX_BATCH_CELLS) {
                    break;
                }
                (seqs, cells, take) = (seqs + s, cells + n, take + 1);
            }
            let prompts: Vec<&[LlamaToken]> =
                ready[..take].iter().map(|c| c.prompt.as_slice()).collect();
            let groups = groups(&prompts, &self.kept);
            let take: usize = groups.iter().map(|g| g.jobs.len()).sum();
            let batch: Vec<Checked> = ready.drain(..take).collect();
            match self.score(
                model,
                backend,
                settings,
                lora.as_deref_mut(),
                &batch,
                &groups,
            ) {
                Ok((scores, evaluated, calls)) => {
                    counts.score_calls.fetch_add(calls, Ordering::Relaxed);
                    for ((c, logprobs), evaluated) in batch.into_iter().zip(scores).zip(evaluated) {
                        let sent = c.prompt.len();
                        counts.scored(Spent {
                            sent: sent as u64,
                            evaluated: evaluated as u64,
                        });
                        let _ = c.job.reply.send(Ok(Scores {
                            logprobs,
                            prompt_tokens: sent as u32,
                        }));
                    }
                }
                Err(e) => {
                    for c in batch {
                        let _ = c.job.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// Every job's options' log-probabilities, the prompt tokens each evaluated (a group's
    /// prefix counted with its first job), and the calls made.
    #[allow(clippy::type_complexity)]
    fn score(
        &mut self,
        model: &'m LlamaModel,
        backend: &'m LlamaBackend,
        settings: &LocalSettings,
        lora: Option<&mut LlamaLoraAdapter>,
        batch: &[Checked],
        groups: &[Group],
    ) -> Result<(Vec<Vec<f64>>, Vec<usize>, u64), BackendError> {
        let prefixes: usize = groups.iter().map(|g| g.prefix).sum();
        let rest: usize = groups
            .iter()
            .flat_map(|g| g.jobs.iter().map(move |&j| batch[j].cells() - g.prefix))
            .sum();
        let kept: usize = self.kept.iter().map(Vec::len).sum();
        // A new context holds nothing: `context` forgets what was kept.
        self.context(
            model,
            backend,
            settings,
            lora,
            (kept + prefixes + rest) as u32,
        )?;
        self.kept.resize(KEPT, Vec::new());
        self.used.resize(KEPT, 0);
        // Each group's sequence: the kept one sharing most of its prefix (of equals, the least
        // recently used), not another group's.
        let mut slots: Vec<usize> = Vec::with_capacity(groups.len());
        for g in groups {
            let prefix = &batch[g.jobs[0]].prompt[..g.prefix];
            let slot = (0..KEPT)
                .filter(|s| !slots.contains(s))
                .max_by_key(|&s| {
                    let n = common_prefix(&self.kept[s], prefix);
                    (n, std::cmp::Reverse(self.used[s]))
                })
                .unwrap_or(0);
            slots.push(slot);
        }
        let ctx = self
            .ctx
            .as_mut()
            .ok_or_else(|| BackendError::Model("no scoring context".into()))?;
        let result = run_batch(
            ctx,
            chunk(settings) as usize,
            batch,
            groups,
            &slots,
            &self.kept,
        );
        // The option sequences are cleared; each group's sequence keeps its prefix.
        match &result {
            Ok(_) => {
                for s in KEPT..MAX_SEQS {
                    let _ = ctx.clear_kv_cache_seq(Some(s as u32), None, None);
                }
                self.tick += 1;
                for (g, &slot) in groups.iter().zip(&slots) {
                    self.kept[slot] = batch[g.jobs[0]].prompt[..g.prefix].to_vec();
                    self.used[slot] = self.tick;
                }
            }
            Err(_) => {
                ctx.clear_kv_cache();
                self.kept.iter_mut().for_each(Vec::clear);
            }
        }
        result
    }

    /// A context with room for `need` cells and `MAX_SEQS` sequences.
    fn context(
        &mut self,
        model: &'m LlamaModel,
        backend: &'m LlamaBackend,
        settings: &LocalSettings,
        lora: Option<&mut LlamaLoraAdapter>,
        need: u32,
    ) -> Result<(), BackendError> {
        if self.ctx.is_some() && need <= self.capacity {
            return Ok(());
        }
        self.ctx = None;
        self.kept.iter_mut().for_each(Vec::clear);
        let capacity = need.max(2048).div_ceil(1024) * 1024;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(capacity))
            .with_n_batch(chunk(settings))
            .with_n_ubatch(chunk(settings))
            .with_n_seq_max(MAX_SEQS as u32)
            .with_n_threads(settings.threads)
            .with_n_threads_batch(settings.threads)
            .with_kv_unified(true);
        let mut ctx = model
            .new_context(backend, params)
            .map_err(|e| BackendError::Model(format!("cannot create a scoring context: {e}")))?;
        if let Some(adapter) = lora {
            ctx.lora_adapter_set(adapter, 1.0)
                .map_err(|e| BackendError::Model(format!("cannot apply the LoRA adapter: {e}")))?;
        }
        self.ctx = Some(ctx);
        self.capacity = capacity;
        Ok(())
    }
}

/// A job's options tokenized, or why it cannot be scored.
#[allow(clippy::type_complexity)]
fn check(
    model: &LlamaModel,
    prompt: Vec<LlamaToken>,
    options: &[String],
) -> Result<(Vec<LlamaToken>, Vec<Vec<LlamaToken>>), BackendError> {
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
    let need = prompt.len() + options.iter().map(Vec::len).sum::<usize>();
    if prompt.is_empty() || need > model.n_ctx_train() as usize {
        return Err(BackendError::Invalid(format!(
            "the prompt and its options ({need} tokens) exceed the model's context of {} tokens",
            model.n_ctx_train()
        )));
    }
    Ok((prompt, options))
}

/// Scores a batch (see the module's steps) on `ctx`, group `g` on sequence `slots[g]`, which
/// holds `kept[slots[g]]`; leaves each group's prefix on its sequence. The prefixes and the
/// rests go into the same calls, each token on every sequence it belongs to, then the
/// options' tokens: two calls when they fit.
#[allow(clippy::type_complexity)]
fn run_batch(
    ctx: &mut LlamaContext<'_>,
    chunk: usize,
    batch: &[Checked],
    groups: &[Group],
    slots: &[usize],
    kept: &[Vec<LlamaToken>],
) -> Result<(Vec<Vec<f64>>, Vec<usize>, u64), BackendError> {
    // Each job's first option sequence.
    let mut base = vec![0i32; batch.len()];
    let mut next = KEPT as i32;
    let mut evaluated: Vec<usize> = vec![0; batch.len()];
    let mut toks: Vec<Tok> = Vec::new();
    for (g, &slot) in groups.iter().zip(slots) {
        let prefix = &batch[g.jobs[0]].prompt[..g.prefix];
        let first = next;
        for &j in &g.jobs {
            base[j] = next;
            next += batch[j].options.len() as i32;
        }
        // What the group's sequence holds of its prefix stays, copied to its options'.
        let from = common_prefix(&kept[slot], prefix);
        let seq = slot as i32;
        let from = match ctx.clear_kv_cache_seq(Some(slot as u32), Some(from as u32), None) {
            Ok(true) => from,
            _ => {
                let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
                0
            }
        };
        if from > 0 {
            for s in first..next {
                ctx.kv_cache_seq_cp(seq, s, None, None)
                    .map_err(|e| failed(&e))?;
            }
        }
        // 1. The rest of the prefix, on the group's sequence and its options'.
        let seqs: Vec<i32> = std::iter::once(seq).chain(first..next).collect();
        toks.extend((from..g.prefix).map(|pos| Tok {
            token: prefix[pos],
            pos: pos as i32,
            seqs: seqs.clone(),
            read: Read::Nothing,
        }));
        evaluated[g.jobs[0]] += g.prefix - from;
        // 2. Each job's rest, on its options' sequences; its last token's logits read.
        for &j in &g.jobs {
            let c = &batch[j];
            let len = c.prompt.len();
            let seqs: Vec<i32> = (base[j]..base[j] + c.options.len() as i32).collect();
            evaluated[j] += len - g.prefix;
            toks.extend((g.prefix..len).map(|pos| Tok {
                token: c.prompt[pos],
                pos: pos as i32,
                seqs: seqs.clone(),
                read: if pos + 1 == len {
                    Read::First(j)
                } else {
                    Read::Nothing
                },
            }));
        }
    }
    // 3. Each option's tokens but its last, on its own sequence, each read for the next: a
    // call of their own (in the prompts' call they score up to 0.5 away from a job alone,
    // llama.cpp's kernels rounding differently with the call's shape).
    let mut options = Vec::new();
    for (j, c) in batch.iter().enumerate() {
        let len = c.prompt.len();
        for (o, option) in c.options.iter().enumerate() {
            let seq = base[j] + o as i32;
            options.extend(option.windows(2).enumerate().map(|(i, w)| Tok {
                token: w[0],
                pos: (len + i) as i32,
                seqs: vec![seq],
                read: Read::Next {
                    job: j,
                    option: o,
                    next: w[1],
                },
            }));
        }
    }
    let mut scores: Vec<Vec<f64>> = batch.iter().map(|c| vec![0.0; c.options.len()]).collect();
    let mut read = |read: Read, logits: &[f32]| match read {
        Read::Nothing => {}
        Read::First(j) => {
            let lse = log_sum_exp(logits);
            for (o, option) in batch[j].options.iter().enumerate() {
                scores[j][o] += f64::from(logits[option[0].0 as usize] - lse);
            }
        }
        Read::Next { job, option, next } => {
            let lp = logits[next.0 as usize] - log_sum_exp(logits);
            scores[job][option] += f64::from(lp);
        }
    };
    let calls = decode(ctx, chunk, &toks, &mut read)? + decode(ctx, chunk, &options, &mut read)?;
    Ok((scores, evaluated, calls))
}

/// Decodes `toks` in calls of at most `chunk` tokens, handing each token's logits that are
/// read to `read`; the calls made.
fn decode(
    ctx: &mut LlamaContext<'_>,
    chunk: usize,
    toks: &[Tok],
    read: &mut impl FnMut(Read, &[f32]),
) -> Result<u64, BackendError> {
    let mut batch = LlamaBatch::new(chunk, MAX_SEQS as i32);
    let mut calls = 0;
    for part in toks.chunks(chunk) {
        batch.clear();
        for t in part {
            let logits = !matches!(t.read, Read::Nothing);
            batch
                .add(t.token, t.pos, &t.seqs, logits)
                .map_err(|e| failed(&e))?;
        }
        ctx.decode(&mut batch).map_err(|e| failed(&e))?;
        calls += 1;
        for (i, t) in part.iter().enumerate() {
            if !matches!(t.read, Read::Nothing) {
                read(t.read, ctx.get_logits_ith(i as i32));
            }
        }
    }
    Ok(calls)
}

/// The log of the sum of the exponentials of `logits`: a token's log-probability is its logit
/// minus this.
fn log_sum_exp(logits: &[f32]) -> f32 {
    let top = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|l| f64::from(l - top).exp()).sum();
    top + sum.ln() as f32
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_probabilities_from_log_sum_exp_are_normalised() {
        let logits = [1.0, 2.0, 3.0];
        let lse = super::log_sum_exp(&logits);
        let total: f32 = logits.iter().map(|l| (l - lse).exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
        // Large logits do not overflow.
        assert!(super::log_sum_exp(&[1000.0, 1000.0]).is_finite());
    }
}
