//! Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio) through
//! async-openai's bring-your-own-types calls, with lenient response structs: unknown
//! `finish_reason`s, missing optional fields and extra fields are all accepted.
//!
//! `open` sends a request and names its errors, `stream` reads a streamed reply into its
//! paths, `chunks` is what a reply carries, `server_n` remembers servers that ignore `n`.

mod chunks;
mod open;
mod score;
mod server_n;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{RequestStats, RetryPolicy, RetryingTransport, Timeouts};
use super::{Backend, BackendError, BackendInfo, SampleRequest, SampleStream};
use crate::core::record::host_of;
use crate::core::render::{Mode, Prompt};
use crate::core::template::Thinking;
use chunks::Budget;
pub use chunks::parse_reply;
use open::{Opener, use_completion_tokens_field};

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub base_url: String,
    /// Never logged or saved.
    pub api_key: Option<String>,
    pub model: String,
    /// Chat (default) or legacy completions.
    pub mode: Mode,
    /// Ask for token log-probabilities (for the weighted vote); some servers refuse it.
    pub logprobs: bool,
    /// Connect, first-byte and read timeouts; never a total deadline.
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Ask for N samples of one prompt in one request (`n`), with a fallback to one request
    /// per path for servers that return fewer choices.
    pub server_n: ServerN,
    /// Where servers found to ignore `n` are remembered (per base URL and model).
    pub server_n_memory: Option<std::path::PathBuf>,
    /// The server is llama.cpp's (`/props` answered): it is asked to keep the prompt's KV
    /// cache between requests (`cache_prompt`) and for top candidates with `n_probs`.
    pub llama_cpp: bool,
}

/// Whether N samples of one prompt go to the server as one request with `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerN {
    /// Ask with `n` unless this server is known to ignore it.
    #[default]
    Auto,
    /// Always ask with `n` (a server that ignores it still gets one request per missing path).
    On,
    /// One request per path.
    Off,
}

impl OpenAiSettings {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiSettings {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            mode: Mode::Chat,
            logprobs: false,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            server_n: ServerN::Auto,
            server_n_memory: None,
            llama_cpp: false,
        }
    }
}

pub struct OpenAiBackend {
    client: Client<OpenAIConfig>,
    settings: OpenAiSettings,
    stats: Arc<RequestStats>,
    /// The server refused `max_tokens` and wants `max_completion_tokens` (OpenAI's
    /// reasoning models): learned from its first refusal, kept for every later request.
    completion_tokens_field: Arc<AtomicBool>,
    /// This server returned fewer choices than it was asked for (it ignores `n`).
    ignores_n: Arc<AtomicBool>,
    /// Plain requests (option scoring: one JSON reply, not a stream).
    http: reqwest::Client,
}

impl OpenAiBackend {
    pub fn new(settings: OpenAiSettings) -> Result<Self, BackendError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeouts.connect)
            .read_timeout(settings.timeouts.backstop())
            .pool_max_idle_per_host(512)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| BackendError::Invalid(format!("cannot build HTTP client: {e}")))?;
        let stats = Arc::new(RequestStats::default());
        let transport = RetryingTransport::new(
            http.clone(),
            settings.retry,
            settings.timeouts,
            stats.clone(),
        );
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.clone().unwrap_or_default());
        let client = Client::with_config(config).with_http_service(transport);
        let ignores_n = settings
            .server_n_memory
            .as_deref()
            .is_some_and(|m| server_n::ignores(m, &settings.base_url, &settings.model));
        Ok(OpenAiBackend {
            client,
            settings,
            stats,
            completion_tokens_field: Arc::new(AtomicBool::new(false)),
            ignores_n: Arc::new(AtomicBool::new(ignores_n)),
            http,
        })
    }

    /// What opens this backend's streams, for tasks that outlive a borrow of it.
    fn opener(&self, chat: bool) -> Opener {
        let key = self.settings.api_key.clone().filter(|k| k.len() >= 4);
        Opener {
            client: self.client.clone(),
            host: host_of(&self.settings.base_url),
            chat,
            key,
            switched: self.completion_tokens_field.clone(),
            timeouts: self.settings.timeouts,
        }
    }

    /// Whether N paths of one prompt go as one request with `n`.
    fn asks_for_n(&self) -> bool {
        match self.settings.server_n {
            ServerN::Off => false,
            ServerN::On => true,
            ServerN::Auto => !self.ignores_n.load(Ordering::Relaxed),
        }
    }

    /// Requests sent and retries made so far by this backend.
    pub fn stats(&self) -> Arc<RequestStats> {
        self.stats.clone()
    }

    fn body(&self, req: &SampleRequest) -> Value {
        let s = &self.settings;
        let mut body = json!({
            "model": s.model,
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "seed": req.seed,
        });
        if self.completion_tokens_field.load(Ordering::Relaxed) {
            use_completion_tokens_field(&mut body);
        }
        // The reasoning switch, as each kind of server expects it: `reasoning_effort` for
        // OpenAI-style models, `chat_template_kwargs.enable_thinking` for Qwen3-style models
        // on vLLM, SGLang and llama.cpp. Nothing when left to the server.
        if let Some(e) = req.reasoning_effort {
            body["reasoning_effort"] = json!(e.as_str());
        }
        match req.thinking {
            Thinking::Auto => {}
            Thinking::On => body["chat_template_kwargs"] = json!({ "enable_thinking": true }),
            Thinking::Off => body["chat_template_kwargs"] = json!({ "enable_thinking": false }),
        }
        if s.llama_cpp {
            // N paths of one prompt, and every retry, reuse the prompt's evaluation.
            body["cache_prompt"] = json!(true);
            if s.logprobs {
                body["n_probs"] = json!(crate::core::confidence::TOP_K);
            }
        }
        let stop: Vec<&String> = req.stop.iter().filter(|s| !s.is_empty()).take(4).collect();
        if !stop.is_empty() {
            body["stop"] = json!(stop);
        }
        match &req.prompt {
            Prompt::Chat(messages) => {
                body["messages"] = json!(messages);
                if s.logprobs {
                    body["logprobs"] = json!(true);
                    // The alternatives give each token's confidence (DeepConf).
                    body["top_logprobs"] = json!(crate::core::confidence::TOP_K);
                }
            }
            Prompt::Completion(text) => {
                body["prompt"] = json!(text);
                if s.logprobs {
                    body["logprobs"] = json!(crate::core::confidence::TOP_K);
                }
            }
        }
        body
    }
}

impl Backend for OpenAiBackend {
    fn request_stats(&self) -> Option<(u64, u64)> {
        Some((self.stats.sent(), self.stats.retries()))
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            host: Some(host_of(&self.settings.base_url)),
            logprobs: self.settings.logprobs,
            ..BackendInfo::new("openai", self.settings.model.clone(), self.settings.mode)
        }
    }

    /// One request, sent when its stream is first read.
    fn stream(&self, req: SampleRequest) -> SampleStream {
        let opener = self.opener(matches!(req.prompt, Prompt::Chat(_)));
        let (body, budget) = (self.body(&req), Budget::for_tokens(req.max_tokens));
        let (txs, streams) = stream::channels(1);
        let drive = async move {
            stream::demux(&opener, body, txs, budget).await;
        };
        let mut streams = stream::started_by_first(streams, drive);
        streams.remove(0)
    }

    /// The options scored by the completions endpoint's echoed prompt log-probabilities
    /// (`score`); a chat prompt cannot be (chat endpoints echo nothing).
    fn score(&self, prompt: &Prompt, continuations: &[String]) -> Option<super::ScoreFuture> {
        let scorer = score::Scorer {
            http: self.http.clone(),
            base_url: self.settings.base_url.clone(),
            api_key: self.settings.api_key.clone(),
            model: self.settings.model.clone(),
            host: host_of(&self.settings.base_url),
        };
        let (prompt, options) = (prompt.clone(), continuations.to_vec());
        Some(Box::pin(async move {
            match prompt {
                Prompt::Completion(text) => scorer.score(text, options).await,
                Prompt::Chat(_) => Err(BackendError::Invalid(
                    "scoring options over HTTP needs completion prompts (--mode completion): chat endpoints give no log-probabilities of given text".into(),
                )),
            }
        }))
    }

    fn scores_options(&self, mode: Mode) -> bool {
        mode == Mode::Completion
    }

    fn batch_request(&self, req: &SampleRequest) -> Option<(String, Value)> {
        let mut body = self.body(req);
        if let Some(o) = body.as_object_mut() {
            o.remove("stream");
            o.remove("stream_options");
        }
        let url = match req.prompt {
            Prompt::Chat(_) => "/v1/chat/completions",
            Prompt::Completion(_) => "/v1/completions",
        };
        Some((url.to_string(), body))
    }

    /// N samples in one request (`n`), each choice's chunks routed to its path by `index`.
    /// The request is sent when the first path's stream is first read. A server that
    /// returns fewer choices (llama.cpp's server, Ollama) is remembered, and the paths it
    /// left out end with `NotInBatch`, so the engine samples each alone (seed + i) under its
    /// concurrency limit.
    fn stream_batch(&self, req: SampleRequest, n: usize) -> Option<Vec<SampleStream>> {
        if n < 2 || !self.asks_for_n() {
            return None;
        }
        let opener = self.opener(matches!(req.prompt, Prompt::Chat(_)));
        let (mut body, budget) = (self.body(&req), Budget::for_tokens(req.max_tokens));
        body["n"] = json!(n);
        let memory = self.settings.server_n_memory.clone().map(|path| {
            (
                path,
                self.settings.base_url.clone(),
                self.settings.model.clone(),
            )
        });
        let ignores_n = self.ignores_n.clone();
        let (txs, streams) = stream::channels(n);
        let drive = async move {
            if stream::demux(&opener, body, txs, budget).await {
                ignores_n.store(true, Ordering::Relaxed);
                if let Some((path, base_url, model)) = memory {
                    server_n::remember(&path, &base_url, &model);
                }
            }
        };
        Some(stream::started_by_first(streams, drive))
    }
}
