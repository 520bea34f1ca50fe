//! The model thread: loads the model, then admits jobs and decodes all live sequences together,
//! one token each per step. Everything llama.cpp lives here; nothing here touches tokio except
//! the unbounded senders it streams through (whose `send` never blocks).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::cells::{Span, used};

mod group;
use super::error::LlamaError;
use super::sampler::{PathSampler, Sampled};
use super::text::{Pushed, TextSink};
use super::{Counts, Job, LoadStatus, LocalSettings, ModelFacts, PathSender};
use crate::backend::{BackendError, Finish, StreamEvent, Usage};
use crate::core::confidence::Confidence;
use crate::core::render::{Prompt, Role};
use crate::core::vote::LogProb;

/// llama.cpp's backend can be initialised once per process; every model thread shares it.
pub(crate) fn llama() -> Result<&'static LlamaBackend, LlamaError> {
    static BACKEND: OnceLock<Result<LlamaBackend, llama_cpp_2::LlamaCppError>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init()
        })
        .as_ref()
        .map_err(LlamaError::Init)
}

fn set(status: &Mutex<LoadStatus>, s: LoadStatus) {
    if let Ok(mut g) = status.lock() {
        *g = s;
    }
}

pub(super) fn run(
    settings: LocalSettings,
    jobs: Receiver<Job>,
    status: Arc<Mutex<LoadStatus>>,
    counts: Arc<Counts>,
) {
    let loaded = llama().and_then(|backend| {
        let mut model =
            LlamaModel::load_from_file(backend, &settings.model_path, &LlamaModelParams::default())
                .map_err(|source| LlamaError::Model {
                    path: settings.model_path.clone(),
                    source,
                })?;
        let lora = match &settings.lora {
            Some(path) => {
                Some(
                    model
                        .lora_adapter_init(path)
                        .map_err(|source| LlamaError::Lora {
                            path: path.clone(),
                            source,
                        })?,
                )
            }
            None => None,
        };
        Ok((backend, model, lora))
    });
    let (backend, model, lora) = match loaded {
        Ok(x) => x,
        Err(e) => {
            let message = e.to_string();
            tracing::error!("{message}");
            set(&status, LoadStatus::Failed(message.clone()));
            for job in jobs {
                for out in job.outs {
                    let _ = out.send(Err(BackendError::Model(message.clone())));
                }
            }
            return;
        }
    };
    let facts = ModelFacts {
        description: model
            .meta_val_str("general.name")
            .unwrap_or_else(|_| "unknown".into()),
        n_ctx_train: model.n_ctx_train(),
        n_params: model.n_params(),
        size_bytes: model.size(),
        has_chat_template: model.chat_template(None).is_ok(),
    };
    tracing::info!(?facts, "model loaded");
    set(&status, LoadStatus::Ready(facts));
    let mut scheduler = Scheduler::new(&settings, backend, &model);
    scheduler.lora = lora;
    scheduler.counts = counts;
    scheduler.serve(jobs);
}

/// One path being decoded.
struct Seq {
    id: i32,
    job: u64,
    prompt_len: u32,
    /// The cells of the job's prompt (shared by its sequences).
    prompt: Rc<[Span]>,
    max_tokens: u32,
    out: PathSender,
    sampler: PathSampler,
    sink: TextSink,
    /// The position of `last`, the token to feed next.
    pos: i32,
    last: LlamaToken,
    generated: u32,
    logprob: f64,
    confidence: Confidence,
    done: bool,
}

/// Prompts kept evaluated at most (their cells and one sequence id each).
const KEEP: usize = 16;

/// After a job wakes the idle thread, more jobs arriving within `BURST_GAP` of each other
/// (for at most `BURST_MAX`) are taken with it.
const BURST_GAP: Duration = Duration::from_millis(2);
const BURST_MAX: Duration = Duration::from_millis(25);

/// A prompt kept evaluated for the next jobs: its cache cells under a sequence id of its own,
/// and its last logits. A job with the same tokens (the waves of one run, a run sampled again)
/// skips its evaluation; a job sharing a prefix with it (the next item of an evaluation, a
/// variant dropping one example) copies the prefix's cells and evaluates only the rest.
struct KeptPrompt {
    id: i32,
    tokens: Vec<LlamaToken>,
    logits: Vec<f32>,
    spans: Rc<[Span]>,
}

/// A prompt made ready on a job's first sequence: its last logits and the cells it sits in.
struct Ready {
    logits: Vec<f32>,
    spans: Rc<[Span]>,
}

struct Scheduler<'m> {
    settings: &'m LocalSettings,
    backend: &'m LlamaBackend,
    model: &'m LlamaModel,
    ctx: Option<LlamaContext<'m>>,
    capacity: u32,
    queue: VecDeque<Job>,
    active: Vec<Seq>,
    /// Most recently used first.
    kept: VecDeque<KeptPrompt>,
    free_ids: Vec<i32>,
    next_job: u64,
    /// Prompt evaluations so far (the ids of their `Span`s).
    next_seg: u64,
    /// An adapter applied to every context (a fine-tuned specialist on the base model).
    lora: Option<LlamaLoraAdapter>,
    scorer: super::score::Scorer<'m>,
    /// Prompt tokens sent and evaluated, for `Backend::prompt_tokens`.
    counts: Arc<Counts>,
}

impl<'m> Scheduler<'m> {
    fn new(settings: &'m LocalSettings, backend: &'m LlamaBackend, model: &'m LlamaModel) -> Self {
        Scheduler {
            settings,
            backend,
            model,
            ctx: None,
            capacity: 0,
            queue: VecDeque::new(),
            active: Vec::new(),
            kept: VecDeque::new(),
            free_ids: (0..settings.max_seqs as i32).rev().collect(),
            next_job: 0,
            next_seg: 0,
            lora: None,
            scorer: Default::default(),
            counts: Arc::default(),
        }
    }

    fn serve(mut self, jobs: Receiver<Job>) {
        loop {
            if self.active.is_empty() && self.queue.is_empty() {
                let idle = Instant::now();
                match jobs.recv() {
                    Ok(job) => self.queue.push_back(job),
                    Err(_) => return,
                }
                // An evaluation sends its items' jobs in a burst: wait for the rest of it, so
                // the context is sized for them together.
                let until = Instant::now() + BURST_MAX;
                while let Ok(job) = jobs.recv_timeout(BURST_GAP) {
                    self.queue.push_back(job);
                    if Instant::now() >= until {
                        break;
                    }
                }
                let waited = idle.elapsed().as_micros() as u64;
                self.counts.idle_us.fetch_add(waited, Ordering::Relaxed);
            }
            self.queue.extend(jobs.try_iter());
            let counts = self.counts.clone();
            Counts::timed(&counts.score_us, || self.score_waiting());
            Counts::timed(&counts.prompt_us, || self.admit());
            if !self.active.is_empty() {
                Counts::timed(&counts.decode_us, || self.step());
            }
        }
    }

    /// Option scoring jobs (`score.rs`) waiting run together, between decode steps; their
    /// prompt tokens are counted as the sampled jobs' are.
    fn score_waiting(&mut self) {
        let (jobs, rest): (VecDeque<Job>, VecDeque<Job>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|j| j.score.is_some());
        self.queue = rest;
        let (model, backend, settings) = (self.model, self.backend, self.settings);
        let jobs: Vec<_> = (jobs.into_iter().filter_map(|j| j.score))
            .map(|j| (tokenize(model, &j.prompt), j))
            .map(|(tokens, j)| (j, tokens))
            .collect();
        if !jobs.is_empty() {
            let counts = self.counts.clone();
            (self.scorer).run(model, backend, settings, self.lora.as_mut(), &counts, jobs);
        }
    }

    /// KV cells the live sequences may still need: the cells of the jobs' prompts and of the
    /// prompts kept (a shared prefix once), plus every live sequence's full generation budget.
    fn reserved(&self) -> u32 {
        let mut jobs: Vec<(u64, &[Span])> =
            self.active.iter().map(|s| (s.job, &*s.prompt)).collect();
        jobs.dedup_by_key(|j| j.0);
        let prompts = jobs.iter().map(|j| j.1);
        used(prompts.chain(self.kept.iter().map(|k| &*k.spans)))
            + self.active.iter().map(|s| s.max_tokens).sum::<u32>()
    }

    /// The cells to allocate for the queue: the first job's `need`, and the queued jobs after
    /// it while their sequences add up to `batch_seqs` (an evaluation's items then decode
    /// together), each counted with a prompt as long as the first's; within `max_ctx`.
    fn demand(&self, prompt_len: u32, need: u32) -> u32 {
        let mut seqs = 0;
        let mut cells = 0;
        for job in &self.queue {
            let n = job.outs.len() as u32;
            if seqs > 0 && seqs + n > self.settings.batch_seqs {
                break;
            }
            seqs += n;
            cells += prompt_len + n * job.request.max_tokens;
        }
        // Room for one kept prompt besides.
        (cells + prompt_len)
            .max(need)
            .min(self.settings.max_ctx.max(need))
    }

    /// Forgets the least recently used kept prompt (`false`: none was kept).
    fn evict(&mut self) -> bool {
        let Some(k) = self.kept.pop_back() else {
            return false;
        };
        if let Some(ctx) = self.ctx.as_mut() {
            let _ = ctx.clear_kv_cache_seq(Some(k.id as u32), None, None);
        }
        self.free_ids.push(k.id);
        true
    }

    /// Starts queued jobs, in order, while they fit: their prompts evaluated together
    /// (`group`).
    fn admit(&mut self) {
        let mut group: Vec<group::Starting> = Vec::new();
        // Cells the jobs taken into the group will need.
        let mut pending = 0;
        while let Some(job) = self.queue.front() {
            let live = job.outs.iter().filter(|o| !o.is_closed()).count();
            if live == 0 {
                self.queue.pop_front();
                continue;
            }
            let tokens = match self.tokenize(&job.request.prompt) {
                Ok(t) => t,
                Err(e) => {
                    fail_job(self.queue.pop_front(), &e);
                    continue;
                }
            };
            let n = job.outs.len() as u32;
            let prompt_len = tokens.len() as u32;
            let max_tokens = job.request.max_tokens;
            let n_ctx_train = self.model.n_ctx_train();
            if prompt_len + max_tokens > n_ctx_train {
                let e = BackendError::Invalid(format!(
                    "the prompt ({prompt_len} tokens) plus max tokens ({max_tokens}) exceed the model's context of {n_ctx_train} tokens"
                ));
                fail_job(self.queue.pop_front(), &e);
                continue;
            }
            if n > self.settings.max_seqs {
                let e = BackendError::Invalid(format!(
                    "at most {} paths at once, asked for {n}",
                    self.settings.max_seqs
                ));
                fail_job(self.queue.pop_front(), &e);
                continue;
            }
            let need = prompt_len + n * max_tokens;
            if need > self.settings.max_ctx {
                let e = BackendError::Invalid(format!(
                    "{n} paths of up to {max_tokens} tokens on a {prompt_len}-token prompt need {need} cache cells, more than {} allowed; lower N or max tokens",
                    self.settings.max_ctx
                ));
                fail_job(self.queue.pop_front(), &e);
                continue;
            }
            // With nothing decoding, a context too small for the queue's first jobs grows.
            if self.active.is_empty() && group.is_empty() {
                let want = self.demand(prompt_len, need);
                if want > self.capacity
                    && let Err(e) = self.grow_context(want)
                {
                    fail_job(self.queue.pop_front(), &e);
                    continue;
                }
            }
            let fits = |s: &Self| {
                s.free_ids.len() as u32 >= n && s.reserved() + pending + need <= s.capacity
            };
            // Kept prompts give way to a job that would not fit otherwise.
            while !fits(self) && self.evict() {}
            if !fits(self) {
                if !self.active.is_empty() || !group.is_empty() {
                    break; // wait for running paths to finish
                }
                let e = BackendError::Model(format!(
                    "no room for {need} cache cells in a context of {}",
                    self.capacity
                ));
                fail_job(self.queue.pop_front(), &e);
                continue;
            }
            let Some(job) = self.queue.pop_front() else {
                break;
            };
            pending += need;
            let ids: Vec<i32> = (0..n).filter_map(|_| self.free_ids.pop()).collect();
            group.push(group::Starting { job, tokens, ids });
        }
        self.start_group(group);
    }

    /// (Re)creates the context with room for `need` cells; only called with no live sequence.
    fn grow_context(&mut self, need: u32) -> Result<(), BackendError> {
        while self.evict() {}
        self.ctx = None;
        let capacity = need.max(self.settings.min_ctx).div_ceil(1024) * 1024;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(capacity))
            .with_n_batch(self.settings.n_batch)
            .with_n_ubatch(self.settings.n_batch)
            .with_n_seq_max(self.settings.max_seqs)
            .with_n_threads(self.settings.threads)
            .with_n_threads_batch(self.settings.threads)
            .with_kv_unified(true);
        let mut ctx = self.model.new_context(self.backend, params).map_err(|e| {
            BackendError::Model(format!("cannot create a context of {capacity} tokens: {e}"))
        })?;
        if let Some(adapter) = self.lora.as_mut() {
            ctx.lora_adapter_set(adapter, 1.0)
                .map_err(|e| BackendError::Model(format!("cannot apply the LoRA adapter: {e}")))?;
        }
        tracing::info!(capacity, "context created");
        self.ctx = Some(ctx);
        self.capacity = capacity;
        Ok(())
    }

    fn tokenize(&self, prompt: &Prompt) -> Result<Vec<LlamaToken>, BackendError> {
        tokenize(self.model, prompt)
    }

    /// Makes the prompt ready on the job's sequences and samples every sequence's first token
    /// from its last logits.
    fn start(&mut self, job: Job, tokens: &[LlamaToken], ids: Vec<i32>) {
        match self.prepare(tokens, &ids) {
            Ok(ready) => self.begin(job, tokens, ids, ready),
            Err(e) => {
                self.free_ids.extend(ids);
                fail_outs(job.outs, &e);
            }
        }
    }

    /// Puts `tokens` evaluated on every sequence of `ids`: from the kept prompt sharing the
    /// longest prefix with them (all of an identical one, logits included), the rest evaluated
    /// on the first sequence and its cells shared with the others.
    fn prepare(&mut self, tokens: &[LlamaToken], ids: &[i32]) -> Result<Ready, BackendError> {
        if self.ctx.is_none() {
            return Err(BackendError::Model("no context".into()));
        }
        self.counts
            .sent
            .fetch_add(tokens.len() as u64, Ordering::Relaxed);
        match self.reuse(tokens, ids) {
            group::Reused::All(ready) => Ok(ready),
            group::Reused::From(from, base) => self.evaluate(tokens, from, base, ids),
        }
    }

    /// Evaluates `tokens[from..]` on the first of `ids` (whose cells hold `base`, the first
    /// `from` tokens), shares the cells with the others and keeps them for the next jobs; the
    /// last position's logits.
    fn evaluate(
        &mut self,
        tokens: &[LlamaToken],
        from: usize,
        base: Vec<Span>,
        ids: &[i32],
    ) -> Result<Ready, BackendError> {
        let holder = self.free_ids.pop();
        let ctx = self
            .ctx
            .as_mut()
            .ok_or(BackendError::Model("no context".into()))?;
        let first = ids[0];
        let chunk_len = self.settings.n_batch as usize;
        let mut batch = LlamaBatch::new(chunk_len, 1);
        let mut last_index = 0;
        for (c, chunk) in tokens[from..].chunks(chunk_len).enumerate() {
            batch.clear();
            for (i, t) in chunk.iter().enumerate() {
                let pos = from + c * chunk_len + i;
                if batch
                    .add(*t, pos as i32, &[first], pos == tokens.len() - 1)
                    .is_err()
                {
                    break;
                }
                last_index = i as i32;
            }
            if let Err(e) = ctx.decode(&mut batch) {
                let _ = ctx.clear_kv_cache_seq(Some(first as u32), None, None);
                self.free_ids.extend(holder);
                return Err(BackendError::Model(format!(
                    "prompt evaluation failed: {e}"
                )));
            }
        }
        self.counts
            .evaluated
            .fetch_add((tokens.len() - from) as u64, Ordering::Relaxed);
        for &id in ids[1..].iter().chain(&holder) {
            let _ = ctx.kv_cache_seq_cp(first, id, None, None);
        }
        let logits = ctx.get_logits_ith(last_index).to_vec();
        let mut spans = base;
        spans.push(Span {
            seg: self.next_seg,
            start: from as u32,
            end: tokens.len() as u32,
        });
        self.next_seg += 1;
        let spans: Rc<[Span]> = spans.into();
        if let Some(id) = holder {
            self.kept.push_front(KeptPrompt {
                id,
                tokens: tokens.to_vec(),
                logits: logits.clone(),
                spans: spans.clone(),
            });
            if self.kept.len() > KEEP {
                self.evict();
            }
        }
        Ok(Ready { logits, spans })
    }

    /// Starts the job's sequences on a prompt made ready: each samples its first token from
    /// its last logits with its own seed.
    fn begin(&mut self, job: Job, tokens: &[LlamaToken], ids: Vec<i32>, ready: Ready) {
        let r = &job.request;
        let job_id = self.next_job;
        self.next_job += 1;
        let vocab = self.model.vocab();
        let prompt: Vec<i32> = tokens.iter().map(|t| t.0).collect();
        for (i, (out, id)) in job.outs.into_iter().zip(ids).enumerate() {
            let mut seq = Seq {
                id,
                job: job_id,
                prompt_len: tokens.len() as u32,
                prompt: ready.spans.clone(),
                max_tokens: r.max_tokens,
                out,
                sampler: PathSampler::new(
                    super::sampler::path_seed(r.seed.wrapping_add(i as u64), &prompt),
                    r.temperature,
                    r.top_p,
                    r.top_k,
                ),
                sink: TextSink::new(&r.stop),
                pos: tokens.len() as i32,
                last: LlamaToken(0),
                generated: 0,
                logprob: 0.0,
                confidence: Confidence::default(),
                done: false,
            };
            let s = seq.sampler.sample(&ready.logits);
            seq.accept(&vocab, s);
            self.active.push(seq);
        }
        self.retire();
    }

    /// One decode step: one token for every live sequence.
    fn step(&mut self) {
        let Some(ctx) = self.ctx.as_mut() else { return };
        let mut batch = LlamaBatch::new(self.active.len(), 1);
        for s in &self.active {
            if batch.add(s.last, s.pos, &[s.id], true).is_err() {
                break;
            }
        }
        if let Err(e) = ctx.decode(&mut batch) {
            let e = BackendError::Model(format!("decoding failed: {e}"));
            for s in &mut self.active {
                let _ = s.out.send(Err(e.clone()));
                s.done = true;
            }
            self.retire();
            return;
        }
        let width = batch.n_tokens() as u64;
        self.counts.steps.fetch_add(1, Ordering::Relaxed);
        self.counts.decoded.fetch_add(width, Ordering::Relaxed);
        self.counts.widest.fetch_max(width, Ordering::Relaxed);
        let vocab = self.model.vocab();
        for (i, s) in self.active.iter_mut().enumerate() {
            let sampled = s.sampler.sample(ctx.get_logits_ith(i as i32));
            s.pos += 1;
            s.accept(&vocab, sampled);
        }
        self.retire();
    }

    /// Removes finished or cancelled sequences and frees their cache.
    fn retire(&mut self) {
        let Some(ctx) = self.ctx.as_mut() else { return };
        let free_ids = &mut self.free_ids;
        self.active.retain(|s| {
            let keep = !s.done && !s.out.is_closed();
            if !keep {
                let _ = ctx.clear_kv_cache_seq(Some(s.id as u32), None, None);
                free_ids.push(s.id);
            }
            keep
        });
    }
}

impl Seq {
    /// Takes a sampled token: end of generation, stop string, length limit, or more text.
    fn accept(&mut self, vocab: &llama_cpp_2::vocab::LlamaVocab<'_>, sampled: Sampled) {
        let token = LlamaToken(sampled.token);
        if vocab.is_eog(token) {
            let rest = self.sink.finish();
            self.send_text(rest);
            self.finish("stop");
            return;
        }
        self.generated += 1;
        self.logprob += sampled.logprob;
        if let Some(c) = sampled.confidence {
            self.confidence.push(c);
        }
        self.last = token;
        match self.sink.push(&vocab.token_to_piece(token, false, None)) {
            Pushed::Text(t) => self.send_text(t),
            Pushed::Stopped(t) => {
                self.send_text(t);
                self.finish("stop");
                return;
            }
        }
        if self.generated >= self.max_tokens {
            let rest = self.sink.finish();
            self.send_text(rest);
            self.finish("length");
        }
    }

    fn send_text(&mut self, text: String) {
        if !text.is_empty() && self.out.send(Ok(StreamEvent::Text(text))).is_err() {
            self.done = true;
        }
    }

    fn finish(&mut self, reason: &str) {
        let finish = Finish {
            reasoning_tokens: 0,
            reason: reason.into(),
            usage: Usage {
                prompt_tokens: self.prompt_len,
                completion_tokens: self.generated,
            },
            logprob: (self.generated > 0).then_some(LogProb {
                sum: self.logprob,
                tokens: self.generated,
            }),
            confidence: self.confidence.finish(),
        };
        let _ = self.out.send(Ok(StreamEvent::Done(finish)));
        self.done = true;
    }
}

/// A prompt's tokens as the model sees them: a completion with BOS, a chat through the model's
/// own chat template (the assistant's turn opened).
pub(crate) fn tokenize(
    model: &LlamaModel,
    prompt: &Prompt,
) -> Result<Vec<LlamaToken>, BackendError> {
    let vocab = model.vocab();
    let tokens = match prompt {
        Prompt::Completion(text) => vocab.tokenize(text.as_bytes(), true, false),
        Prompt::Chat(messages) => {
            let template = model.chat_template(None).map_err(|_| {
                BackendError::Invalid(
                    "this model has no chat template; use --mode completion".into(),
                )
            })?;
            let chat = messages
                .iter()
                .map(|m| {
                    let role = match m.role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    LlamaChatMessage::new(role.into(), m.content.clone())
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| BackendError::Invalid(format!("chat message: {e}")))?;
            let text = model
                .apply_chat_template(&template, &chat, true)
                .map_err(|e| {
                    BackendError::Invalid(format!("cannot apply the model's chat template: {e}"))
                })?;
            vocab.tokenize(text.as_bytes(), false, true)
        }
    };
    if tokens.is_empty() {
        return Err(BackendError::Invalid("the prompt is empty".into()));
    }
    Ok(tokens)
}

fn fail_outs(outs: Vec<PathSender>, e: &BackendError) {
    for out in outs {
        let _ = out.send(Err(e.clone()));
    }
}

fn fail_job(job: Option<Job>, e: &BackendError) {
    if let Some(job) = job {
        fail_outs(job.outs, e);
    }
}
