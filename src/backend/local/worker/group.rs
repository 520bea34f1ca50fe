//! Jobs admitted together start together: their prompts are made ready in as few llama.cpp
//! calls as possible. On a CPU shared with other work each call costs far more than its tokens
//! (every graph waits for all its threads at each of its barriers), so an evaluation's items,
//! or several example sets' items, are not evaluated one call each:
//!
//! 1. a prefix two or more of the jobs share beyond what is kept (an example set's instruction
//!    and examples) is evaluated once and kept, and every job then reuses it;
//! 2. the rest of every job's prompt (its question) goes into one batch, each on its own first
//!    sequence with its last token's logits, as many jobs a call as `n_batch` tokens hold.
//!
//! A job alone, or one whose rest is too long to share a call, starts as before (`prepare`).

use std::sync::atomic::Ordering;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::super::cells::{Span, best_reuse, clip, common_prefix};
use super::{Job, KEEP, KeptPrompt, Ready, Scheduler, fail_outs};
use crate::backend::BackendError;

/// A job taken into a group: its prompt's tokens and the sequences it decodes on.
pub(super) struct Starting {
    pub job: Job,
    pub tokens: Vec<LlamaToken>,
    pub ids: Vec<i32>,
}

/// A prefix the group's jobs share is evaluated once when it is at least this many tokens
/// longer than what the kept prompts already hold.
const MIN_SHARED: usize = 8;

/// What a kept prompt gives a job: all of it (an identical prompt, its logits too), or its
/// cells below `from` (copied onto the job's first sequence) and their spans.
pub(super) enum Reused {
    All(Ready),
    From(usize, Vec<Span>),
}

/// One job's rest to evaluate in the group's batch.
struct Rest {
    index: usize,
    from: usize,
    base: Vec<Span>,
}

impl Scheduler<'_> {
    /// Puts on `ids` what the kept prompts hold of `tokens` (the kept prompt used becomes the
    /// most recently used).
    pub(super) fn reuse(&mut self, tokens: &[LlamaToken], ids: &[i32]) -> Reused {
        let found = best_reuse(self.kept.iter().map(|k| k.tokens.as_slice()), tokens);
        let (Some((at, from)), Some(ctx)) = (found, self.ctx.as_mut()) else {
            return Reused::From(0, Vec::new());
        };
        let kept = self.kept.remove(at).expect("found");
        self.kept.push_front(kept);
        let kept = &self.kept[0];
        if from == tokens.len() {
            for &id in ids {
                let _ = ctx.kv_cache_seq_cp(kept.id, id, None, None);
            }
            return Reused::All(Ready {
                logits: kept.logits.clone(),
                spans: kept.spans.clone(),
            });
        }
        let _ = ctx.kv_cache_seq_cp(kept.id, ids[0], None, Some(from as u32));
        Reused::From(from, clip(&kept.spans, from as u32))
    }

    /// Starts the admitted jobs: shared prefixes once, then every rest in shared calls.
    pub(super) fn start_group(&mut self, group: Vec<Starting>) {
        if group.len() <= 1 {
            for s in group {
                self.start(s.job, &s.tokens, s.ids);
            }
            return;
        }
        self.share_prefixes(&group);
        let half = self.settings.n_batch as usize / 2;
        let mut readies: Vec<Option<Result<Ready, BackendError>>> =
            group.iter().map(|_| None).collect();
        let mut rests = Vec::new();
        for (index, s) in group.iter().enumerate() {
            let sent = s.tokens.len() as u64;
            self.counts.sent.fetch_add(sent, Ordering::Relaxed);
            readies[index] = match self.reuse(&s.tokens, &s.ids) {
                Reused::All(ready) => Some(Ok(ready)),
                Reused::From(from, base) if s.tokens.len() - from <= half => {
                    rests.push(Rest { index, from, base });
                    None
                }
                Reused::From(from, base) => Some(self.evaluate(&s.tokens, from, base, &s.ids)),
            };
        }
        self.evaluate_rests(&group, rests, &mut readies);
        for (s, ready) in group.into_iter().zip(readies) {
            let ready =
                ready.unwrap_or_else(|| Err(BackendError::Model("prompt not evaluated".into())));
            match ready {
                Ok(r) => self.begin(s.job, &s.tokens, s.ids, r),
                Err(e) => {
                    if let Some(ctx) = self.ctx.as_mut() {
                        for &id in &s.ids {
                            let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                        }
                    }
                    self.free_ids.extend(s.ids);
                    fail_outs(s.job.outs, &e);
                }
            }
        }
    }

    /// Keeps, evaluated once, every prefix two jobs of the group share beyond what is kept.
    fn share_prefixes(&mut self, group: &[Starting]) {
        for (i, s) in group.iter().enumerate() {
            let kept = best_reuse(self.kept.iter().map(|k| k.tokens.as_slice()), &s.tokens)
                .map_or(0, |r| r.1);
            let shared = group
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| common_prefix(&o.tokens, &s.tokens))
                .max()
                .unwrap_or(0)
                .min(s.tokens.len().saturating_sub(1));
            if shared >= kept + MIN_SHARED {
                self.keep_prefix(&s.tokens[..shared]);
            }
        }
    }

    /// Evaluates `tokens` on a sequence of its own (from what is kept of them) and keeps it.
    fn keep_prefix(&mut self, tokens: &[LlamaToken]) {
        let Some(id) = self.free_ids.pop() else {
            return;
        };
        let (from, base) = match self.reuse(tokens, &[id]) {
            Reused::From(from, base) => (from, base),
            Reused::All(_) => (tokens.len(), Vec::new()),
        };
        let chunk = self.settings.n_batch as usize;
        let Some(ctx) = self.ctx.as_mut().filter(|_| from < tokens.len()) else {
            if let Some(ctx) = self.ctx.as_mut() {
                let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
            }
            self.free_ids.push(id);
            return;
        };
        let mut batch = LlamaBatch::new(chunk, 1);
        let mut logits = Vec::new();
        for (c, part) in tokens[from..].chunks(chunk).enumerate() {
            batch.clear();
            for (i, t) in part.iter().enumerate() {
                let pos = from + c * chunk + i;
                let last = pos == tokens.len() - 1;
                if batch.add(*t, pos as i32, &[id], last).is_err() {
                    break;
                }
            }
            if ctx.decode(&mut batch).is_err() {
                let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                self.free_ids.push(id);
                return;
            }
            if from + (c + 1) * chunk >= tokens.len() {
                logits = ctx.get_logits_ith(batch.n_tokens() - 1).to_vec();
            }
        }
        let evaluated = (tokens.len() - from) as u64;
        self.counts
            .evaluated
            .fetch_add(evaluated, Ordering::Relaxed);
        let mut spans = base;
        spans.push(self.new_span(from, tokens.len()));
        self.kept.push_front(KeptPrompt {
            id,
            tokens: tokens.to_vec(),
            logits,
            spans: spans.into(),
        });
        if self.kept.len() > KEEP {
            self.evict();
        }
    }

    fn new_span(&mut self, from: usize, end: usize) -> Span {
        self.next_seg += 1;
        Span {
            seg: self.next_seg - 1,
            start: from as u32,
            end: end as u32,
        }
    }

    /// Evaluates the rests, as many a call as `n_batch` tokens hold, each on its job's first
    /// sequence (copied to the others), its last logits kept.
    fn evaluate_rests(
        &mut self,
        group: &[Starting],
        rests: Vec<Rest>,
        readies: &mut [Option<Result<Ready, BackendError>>],
    ) {
        let cap = self.settings.n_batch as usize;
        let mut batch = LlamaBatch::new(cap, 1);
        let mut rests = rests.into_iter().peekable();
        while rests.peek().is_some() {
            let mut call: Vec<(Rest, i32)> = Vec::new();
            batch.clear();
            while let Some(r) = rests.next_if(|r| {
                batch.n_tokens() as usize + group[r.index].tokens.len() - r.from <= cap
            }) {
                let s = &group[r.index];
                let len = s.tokens.len();
                for (pos, t) in s.tokens.iter().enumerate().skip(r.from) {
                    let _ = batch.add(*t, pos as i32, &[s.ids[0]], pos == len - 1);
                }
                call.push((r, batch.n_tokens() - 1));
            }
            let Some(ctx) = self.ctx.as_mut() else { return };
            if let Err(e) = ctx.decode(&mut batch) {
                let e = BackendError::Model(format!("prompt evaluation failed: {e}"));
                for (r, _) in call {
                    readies[r.index] = Some(Err(e.clone()));
                }
                continue;
            }
            for (r, at) in call {
                let s = &group[r.index];
                let ctx = self.ctx.as_mut().expect("checked");
                let logits = ctx.get_logits_ith(at).to_vec();
                for &id in &s.ids[1..] {
                    let _ = ctx.kv_cache_seq_cp(s.ids[0], id, None, None);
                }
                let evaluated = (s.tokens.len() - r.from) as u64;
                self.counts
                    .evaluated
                    .fetch_add(evaluated, Ordering::Relaxed);
                let mut spans = r.base;
                spans.push(self.new_span(r.from, s.tokens.len()));
                readies[r.index] = Some(Ok(Ready {
                    logits,
                    spans: spans.into(),
                }));
            }
        }
    }
}
