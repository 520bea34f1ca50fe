//! The embedded model: llama.cpp in process (crate `llama-cpp-2`), on its own thread.
//!
//! The model thread loads the model in the background and then runs a small continuous-batching
//! scheduler: every decode step holds one token for each live sequence of every admitted job.
//! N paths of one prompt are one job: the prompt is evaluated once, its KV cache copied to the
//! N sequences, and all N decode together, each with its own sampler (seed + i). Tokens stream
//! to each path as they are produced; paths that stop leave the batch; dropping a path's stream
//! cancels it within one decode step. Jobs that do not fit the context yet wait their turn;
//! jobs that do decode together (an evaluation's items: the context is sized for the queue's
//! first jobs, up to `batch_seqs` sequences). The last prompts evaluated are kept: a job
//! sharing a prefix with one copies the prefix's cells and evaluates only the rest
//! (`cells`), and `Backend::prompt_tokens` counts the prompt tokens sent and evaluated.

mod cells;
pub mod embed;
pub mod error;
pub mod model;
pub mod reference;
pub mod sampler;
pub mod score;
pub mod text;
pub(crate) mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, stream};
use tokio::sync::mpsc;

use super::{
    Backend, BackendError, BackendInfo, PromptTokens, Readiness, SampleRequest, SampleStream,
    StreamEvent,
};
use crate::core::render::Mode;

#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub model_path: PathBuf,
    /// A LoRA adapter GGUF applied on top of the model.
    pub lora: Option<PathBuf>,
    /// CPU threads for llama.cpp (default: all cores; llama.cpp's own default is 4).
    pub threads: i32,
    /// Smallest context (KV cells) to allocate; grows on demand up to what a job needs.
    pub min_ctx: u32,
    /// Largest context allocated (bounds memory: N paths x max tokens must fit).
    pub max_ctx: u32,
    /// Most sequences decoded at once.
    pub max_seqs: u32,
    /// Sequences the context is sized to decode together when jobs queue up (an evaluation's
    /// items): llama.cpp decodes more tokens per second with 32 sequences than with 8.
    pub batch_seqs: u32,
    /// Tokens per prompt-evaluation chunk.
    pub n_batch: u32,
    /// The model file is where the embedded model belongs (`store::models::is_default_model`):
    /// a missing or truncated file there gets the hint to fetch it.
    pub embedded: bool,
    /// The model the LoRA adapter was trained on, as its record says (`store::adapters`): an
    /// adapter trained on another model file is refused.
    pub lora_base: Option<AdapterBase>,
}

/// The base model an adapter was trained on: its file name and content fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterBase {
    pub file: String,
    pub fingerprint: String,
}

impl LocalSettings {
    pub fn new(model_path: PathBuf) -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as i32);
        LocalSettings {
            model_path,
            lora: None,
            threads,
            min_ctx: 4096,
            max_ctx: 65_536,
            max_seqs: crate::core::template::MAX_N,
            batch_seqs: 32,
            n_batch: 512,
            embedded: false,
            lora_base: None,
        }
    }
}

/// The model thread's state, for `promptlab model` and the lab's header.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadStatus {
    Loading,
    Ready(ModelFacts),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    pub description: String,
    pub n_ctx_train: u32,
    pub n_params: u64,
    pub size_bytes: u64,
    pub has_chat_template: bool,
}

type PathSender = mpsc::UnboundedSender<Result<StreamEvent, BackendError>>;

/// Prompt tokens the model thread was sent (once per job) and those it evaluated; decode steps
/// and the tokens they decoded; option scoring passes and their llama.cpp calls; where its time went (microseconds).
#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    evaluated: AtomicU64,
    steps: AtomicU64,
    decoded: AtomicU64,
    widest: AtomicU64,
    scores: AtomicU64,
    score_calls: AtomicU64,
    prompt_us: AtomicU64,
    decode_us: AtomicU64,
    score_us: AtomicU64,
    idle_us: AtomicU64,
}

impl Counts {
    /// One option scoring done, with its prompt tokens.
    fn scored(&self, n: score::Spent) {
        self.scores.fetch_add(1, Ordering::Relaxed);
        self.sent.fetch_add(n.sent, Ordering::Relaxed);
        self.evaluated.fetch_add(n.evaluated, Ordering::Relaxed);
    }

    /// Runs `f`, adding the time it took to `counter`.
    fn timed<T>(counter: &AtomicU64, f: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let out = f();
        counter.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        out
    }
}

/// Decode steps so far and the tokens they decoded (one per live sequence): their ratio is how
/// many sequences decoded together on average; `widest`, the most in one step. Option scoring
/// passes, and the model thread's time (milliseconds) in prompt evaluation, decode steps,
/// option scoring, and waiting with nothing to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoding {
    pub steps: u64,
    pub tokens: u64,
    pub widest: u64,
    pub scores: u64,
    /// llama.cpp calls the scoring passes made (passes waiting together share their calls).
    pub score_calls: u64,
    pub prompt_ms: u64,
    pub decode_ms: u64,
    pub score_ms: u64,
    pub idle_ms: u64,
}

/// One prompt, sampled `outs.len()` times (sequence i with seed + i).
struct Job {
    request: SampleRequest,
    outs: Vec<PathSender>,
    /// Options to score instead (`score.rs`; `outs` is then empty).
    score: Option<score::ScoreJob>,
}

pub struct LocalBackend {
    jobs: std::sync::mpsc::Sender<Job>,
    status: Arc<Mutex<LoadStatus>>,
    info: BackendInfo,
    adapter: Option<PathBuf>,
    counts: Arc<Counts>,
}

impl LocalBackend {
    /// Checks the file and starts the model thread; loading goes on in the background.
    pub fn spawn(settings: LocalSettings) -> Result<Self, BackendError> {
        model::check_gguf(&settings.model_path, settings.embedded)
            .map_err(|e| BackendError::Model(e.to_string()))?;
        if let Some(lora) = &settings.lora {
            model::check_gguf(lora, false)
                .map_err(|e| BackendError::Model(format!("LoRA adapter: {e}")))?;
        }
        let stem = |p: &std::path::Path| {
            p.file_stem()
                .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
        };
        // The model file and the adapter, by content: two `model.gguf` in different folders,
        // or a file replaced in place, never share cached samples.
        let print = |p: &std::path::Path| {
            super::fingerprint_file(p)
                .map_err(|e| BackendError::Model(format!("{}: cannot read: {e}", p.display())))
        };
        let mut fingerprint = print(&settings.model_path)?;
        if let Some(l) = &settings.lora {
            // An adapter promptlab trained says which base it belongs to.
            if let Some(base) = settings.lora_base.as_ref()
                && base.fingerprint != fingerprint
            {
                return Err(BackendError::Model(format!(
                    "{} was trained on {} (another model file); it cannot run on this one",
                    l.display(),
                    base.file
                )));
            }
            fingerprint = super::digest(format!("{fingerprint}+{}", print(l)?).as_bytes());
        }
        let info = BackendInfo {
            fingerprint: Some(fingerprint),
            // Every path carries full-vocabulary log-probabilities.
            logprobs: true,
            ..BackendInfo::new(
                "local",
                match &settings.lora {
                    Some(l) => format!("{}+{}", stem(&settings.model_path), stem(l)),
                    None => stem(&settings.model_path),
                },
                if model::looks_instruction_tuned(&settings.model_path) {
                    Mode::Chat
                } else {
                    Mode::Completion
                },
            )
        };
        let adapter = settings.lora.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let status = Arc::new(Mutex::new(LoadStatus::Loading));
        let thread_status = status.clone();
        let counts = Arc::new(Counts::default());
        let thread_counts = counts.clone();
        std::thread::Builder::new()
            .name("promptlab-model".into())
            .spawn(move || worker::run(settings, rx, thread_status, thread_counts))
            .map_err(|e| BackendError::Model(format!("cannot start the model thread: {e}")))?;
        Ok(LocalBackend {
            jobs: tx,
            status,
            info,
            adapter,
            counts,
        })
    }

    pub fn decoding(&self) -> Decoding {
        let c = &self.counts;
        let ms = |x: &AtomicU64| x.load(Ordering::Relaxed) / 1000;
        Decoding {
            steps: c.steps.load(Ordering::Relaxed),
            tokens: c.decoded.load(Ordering::Relaxed),
            widest: c.widest.load(Ordering::Relaxed),
            scores: c.scores.load(Ordering::Relaxed),
            score_calls: c.score_calls.load(Ordering::Relaxed),
            prompt_ms: ms(&c.prompt_us),
            decode_ms: ms(&c.decode_us),
            score_ms: ms(&c.score_us),
            idle_ms: ms(&c.idle_us),
        }
    }

    pub fn status(&self) -> LoadStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| LoadStatus::Failed("model thread panicked".into()))
    }

    fn submit(&self, request: SampleRequest, n: usize) -> Vec<SampleStream> {
        let mut outs = Vec::with_capacity(n);
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::unbounded_channel();
            outs.push(tx);
            streams.push(
                stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
                    .boxed(),
            );
        }
        if let Err(std::sync::mpsc::SendError(job)) = self.jobs.send(Job {
            request,
            outs,
            score: None,
        }) {
            for out in job.outs {
                let _ = out.send(Err(BackendError::Model(
                    "the model thread has stopped".into(),
                )));
            }
        }
        streams
    }
}

impl Backend for LocalBackend {
    fn info(&self) -> BackendInfo {
        self.info.clone()
    }

    fn readiness(&self) -> Readiness {
        match self.status() {
            LoadStatus::Loading => Readiness::Preparing("loading model…".into()),
            LoadStatus::Ready(_) => Readiness::Ready,
            LoadStatus::Failed(e) => Readiness::Failed(e),
        }
    }

    fn stream(&self, request: SampleRequest) -> SampleStream {
        self.submit(request, 1)
            .pop()
            .unwrap_or_else(|| stream::empty().boxed())
    }

    fn decodes_in_lockstep(&self) -> bool {
        true
    }

    fn prompt_tokens(&self) -> Option<PromptTokens> {
        Some(PromptTokens {
            sent: self.counts.sent.load(Ordering::Relaxed),
            evaluated: self.counts.evaluated.load(Ordering::Relaxed),
        })
    }

    fn stream_batch(&self, request: SampleRequest, n: usize) -> Option<Vec<SampleStream>> {
        Some(self.submit(request, n))
    }

    fn adapter(&self) -> Option<PathBuf> {
        self.adapter.clone()
    }

    /// Chat prompts too: the scorer renders them with the model's chat template.
    fn scores_options(&self, _mode: Mode) -> bool {
        true
    }

    /// One forward pass over the prompt and the options (`score.rs`), on the model thread.
    fn score(
        &self,
        prompt: &crate::core::render::Prompt,
        continuations: &[String],
    ) -> Option<super::ScoreFuture> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            request: SampleRequest {
                prompt: prompt.clone(),
                stop: vec![],
                max_tokens: 0,
                temperature: 0.0,
                top_p: 1.0,
                top_k: 0,
                seed: 0,
                thinking: Default::default(),
                reasoning_effort: None,
            },
            outs: vec![],
            score: Some(score::ScoreJob {
                prompt: prompt.clone(),
                options: continuations.to_vec(),
                reply,
            }),
        };
        let sent = self.jobs.send(job).is_ok();
        Some(Box::pin(async move {
            let stopped = || {
                BackendError::Model(
                    "the model thread has stopped (or the model did not load)".into(),
                )
            };
            if !sent {
                return Err(stopped());
            }
            answer.await.map_err(|_| stopped())?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adapter_trained_on_another_model_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (model, lora) = (dir.path().join("base.gguf"), dir.path().join("a.gguf"));
        std::fs::write(&model, b"GGUF\x03\0\0\0model").unwrap();
        std::fs::write(&lora, b"GGUF\x03\0\0\0adapter").unwrap();
        let err = LocalBackend::spawn(LocalSettings {
            lora: Some(lora.clone()),
            lora_base: Some(AdapterBase {
                file: "other.gguf".into(),
                fingerprint: "not this one".into(),
            }),
            ..LocalSettings::new(model.clone())
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("was trained on other.gguf"), "{err}");
        // The base it names, by content: accepted (loading fails later, on the thread).
        let fingerprint = super::super::fingerprint_file(&model).unwrap();
        let ok = LocalBackend::spawn(LocalSettings {
            lora: Some(lora),
            lora_base: Some(AdapterBase {
                file: "base.gguf".into(),
                fingerprint,
            }),
            ..LocalSettings::new(model)
        });
        assert!(ok.is_ok());
    }

    #[test]
    fn a_missing_embedded_model_gets_the_hint_to_fetch_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gemma.gguf");
        let err = |embedded| {
            LocalBackend::spawn(LocalSettings {
                embedded,
                ..LocalSettings::new(missing.clone())
            })
            .err()
            .unwrap()
            .to_string()
        };
        assert!(err(true).contains(model::FETCH_HINT), "{}", err(true));
        assert!(err(false).contains("model file not found"));
    }
}
