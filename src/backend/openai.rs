//! Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio) through
//! async-openai's bring-your-own-types calls, with lenient response structs: unknown
//! `finish_reason`s, missing optional fields and extra fields are all accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, StreamError};
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{RequestStats, RetryPolicy, RetryingTransport};
use super::{
    Backend, BackendError, BackendInfo, Finish, SampleRequest, SampleStream, StreamEvent, Usage,
};
use crate::core::render::{Mode, Prompt};
use crate::core::template::Thinking;
use crate::core::vote::LogProb;

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
    pub connect_timeout: Duration,
    /// Longest silence between two bytes of a response; long streams are never cut.
    pub read_timeout: Duration,
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
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
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
}

impl OpenAiBackend {
    pub fn new(settings: OpenAiSettings) -> Result<Self, BackendError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .pool_max_idle_per_host(512)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| BackendError::Invalid(format!("cannot build HTTP client: {e}")))?;
        let stats = Arc::new(RequestStats::default());
        let transport = RetryingTransport::new(http, settings.retry, stats.clone());
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.clone().unwrap_or_default());
        let client = Client::with_config(config).with_http_service(transport);
        let ignores_n = settings
            .server_n_memory
            .as_deref()
            .is_some_and(|m| server_n_memory::ignores(m, &settings.base_url, &settings.model));
        Ok(OpenAiBackend {
            client,
            settings,
            stats,
            completion_tokens_field: Arc::new(AtomicBool::new(false)),
            ignores_n: Arc::new(AtomicBool::new(ignores_n)),
        })
    }

    /// What opens this backend's streams, for tasks that outlive a borrow of it.
    fn opener(&self, chat: bool) -> Opener {
        let key = self.settings.api_key.clone().filter(|k| k.len() >= 4);
        Opener {
            client: self.client.clone(),
            base_url: self.settings.base_url.clone(),
            chat,
            key,
            switched: self.completion_tokens_field.clone(),
            silence: self.settings.read_timeout,
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
            host: Some(crate::core::record::host_of(&self.settings.base_url)),
            logprobs: self.settings.logprobs,
            ..BackendInfo::new("openai", self.settings.model.clone(), self.settings.mode)
        }
    }

    fn stream(&self, req: SampleRequest) -> SampleStream {
        let chat = matches!(req.prompt, Prompt::Chat(_));
        self.opener(chat).events(self.body(&req))
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
        let chat = matches!(req.prompt, Prompt::Chat(_));
        let opener = self.opener(chat);
        let mut body = self.body(&req);
        body["n"] = json!(n);
        let memory = self.settings.server_n_memory.clone().map(|path| {
            (
                path,
                self.settings.base_url.clone(),
                self.settings.model.clone(),
            )
        });
        let ignores_n = self.ignores_n.clone();
        let mut txs = Vec::with_capacity(n);
        let mut streams: Vec<SampleStream> = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            txs.push(tx);
            streams.push(
                stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
                    .boxed(),
            );
        }
        let drive = async move {
            let learned = demux(&opener, body, txs).await;
            if learned {
                ignores_n.store(true, Ordering::Relaxed);
                if let Some((path, base_url, model)) = memory {
                    server_n_memory::remember(&path, &base_url, &model);
                }
            }
        };
        let first = streams.remove(0);
        let started = stream::once(async move {
            tokio::spawn(drive);
            first
        })
        .flatten()
        .boxed();
        streams.insert(0, started);
        Some(streams)
    }
}

/// A whole (not streamed) reply of either endpoint, as a batch output holds it: the first
/// choice's answer text and thinking, and how it finished.
pub fn parse_reply(body: &Value) -> Result<(String, String, Finish), String> {
    let choice = body["choices"].get(0).ok_or("the reply has no choices")?;
    let message = &choice["message"];
    let text = message["content"]
        .as_str()
        .or_else(|| choice["text"].as_str())
        .unwrap_or_default()
        .to_string();
    let thinking = message["reasoning_content"]
        .as_str()
        .or_else(|| message["reasoning"].as_str())
        .unwrap_or_default()
        .to_string();
    let reason = choice["finish_reason"]
        .as_str()
        .ok_or("the reply has no finish_reason")?
        .to_string();
    let usage: Option<ChunkUsage> = serde_json::from_value(body["usage"].clone()).ok();
    let mut p = Progress::default();
    if let Ok(lp) = serde_json::from_value::<Logprobs>(choice["logprobs"].clone()) {
        p.absorb(Choice {
            index: Some(0),
            delta: None,
            text: None,
            finish_reason: Some(reason.clone()),
            logprobs: Some(lp),
        });
    }
    let finish = Finish {
        reason,
        usage: Usage {
            prompt_tokens: usage.as_ref().and_then(|u| u.prompt_tokens).unwrap_or(0),
            completion_tokens: usage
                .as_ref()
                .and_then(|u| u.completion_tokens)
                .unwrap_or(0),
        },
        reasoning_tokens: usage
            .and_then(|u| u.completion_tokens_details)
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
        logprob: p.logprob.filter(|l| l.tokens > 0),
        confidence: p.confidence.finish(),
    };
    Ok((text, thinking, finish))
}

/// What opens a stream of this backend: the client and what a request's errors need.
#[derive(Clone)]
struct Opener {
    client: Client<OpenAIConfig>,
    base_url: String,
    chat: bool,
    /// Redacted from errors (a server may echo it).
    key: Option<String>,
    /// Shared with the backend: `max_completion_tokens` instead of `max_tokens`.
    switched: Arc<AtomicBool>,
    silence: Duration,
}

type Chunks = std::pin::Pin<Box<dyn Stream<Item = Result<Chunk, OpenAIError>> + Send>>;

impl Opener {
    fn redact(&self, e: BackendError) -> BackendError {
        match &self.key {
            Some(k) => e.redact(k),
            None => e,
        }
    }

    /// Sends `body` and returns its chunk stream; a refusal of `max_tokens` is answered
    /// once more with `max_completion_tokens`, remembered.
    async fn chunks(&self, body: Value) -> Result<Chunks, BackendError> {
        let open = |body: Value| {
            let client = self.client.clone();
            let chat = self.chat;
            async move {
                if chat {
                    client.chat().create_stream_byot::<Value, Chunk>(body).await
                } else {
                    client
                        .completions()
                        .create_stream_byot::<Value, Chunk>(body)
                        .await
                }
            }
        };
        let first = open(body.clone())
            .await
            .map_err(|e| self.redact(map_error(e, &self.base_url)));
        let opened = match first {
            Err(e) if wants_completion_tokens_field(&e) && body.get("max_tokens").is_some() => {
                self.switched.store(true, Ordering::Relaxed);
                let mut body = body;
                use_completion_tokens_field(&mut body);
                open(body)
                    .await
                    .map_err(|e| self.redact(map_error(e, &self.base_url)))
            }
            other => other,
        }?;
        Ok(Box::pin(opened))
    }

    /// One sampled completion's events.
    fn events(self, body: Value) -> SampleStream {
        let silence = self.silence;
        let later = self.clone();
        stream::once(async move { self.chunks(body).await })
            .flat_map(move |opened| -> SampleStream {
                match opened {
                    Ok(chunks) => Box::pin(events(chunks, silence)),
                    Err(e) => Box::pin(stream::iter([Err(e)])),
                }
            })
            // A server that echoes the key in an error never gets it printed or saved.
            .map(move |ev| ev.map_err(|e| later.redact(e)))
            .boxed()
    }
}

type PathSender = tokio::sync::mpsc::UnboundedSender<Result<StreamEvent, BackendError>>;

/// Reads one request's `n` choices into their paths' channels. Paths the server left out
/// (it returned fewer choices) end with `NotInBatch`; returns whether that happened (the
/// server ignores `n`). Stops when every path's reader has gone.
async fn demux(opener: &Opener, body: Value, txs: Vec<PathSender>) -> bool {
    let n = txs.len();
    let fail_all = |e: BackendError| {
        for tx in &txs {
            let _ = tx.send(Err(e.clone()));
        }
    };
    let mut chunks = match opener.chunks(body).await {
        Ok(c) => c,
        Err(e) => {
            fail_all(e);
            return false;
        }
    };
    let mut paths: Vec<Progress> = (0..n).map(|_| Progress::default()).collect();
    let mut usage: Option<Usage> = None;
    let mut reasoning = 0u32;
    let gone = futures::future::join_all(txs.iter().map(|t| t.closed()));
    tokio::pin!(gone);
    loop {
        let next = tokio::select! {
            _ = &mut gone => return false,
            next = tokio::time::timeout(opener.silence, chunks.next()) => next,
        };
        let chunk = match next {
            Err(_) => {
                let e = BackendError::Timeout(format!(
                    "nothing arrived for {:.1} s mid-stream",
                    opener.silence.as_secs_f64()
                ));
                fail_all(e);
                return false;
            }
            Ok(Some(Err(e))) => {
                fail_all(opener.redact(map_error(e, "")));
                return false;
            }
            Ok(None) => break,
            Ok(Some(Ok(chunk))) => chunk,
        };
        if let Some(err) = chunk.error {
            fail_all(BackendError::Malformed(
                err.get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| err.to_string(), str::to_string),
            ));
            return false;
        }
        if let Some(u) = chunk.usage {
            let counted = Usage {
                prompt_tokens: u.prompt_tokens.unwrap_or(0),
                completion_tokens: u.completion_tokens.unwrap_or(0),
            };
            let thought = u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0);
            // llama.cpp's server gives each choice its own usage, on its last chunk; OpenAI
            // and vLLM one usage for the request, on a chunk of its own.
            match chunk.choices.as_slice() {
                [only] if (only.index.unwrap_or(0) as usize) < n => {
                    let p = &mut paths[only.index.unwrap_or(0) as usize];
                    p.usage = Some(counted);
                    p.reasoning_tokens = thought;
                }
                _ => {
                    usage = Some(counted);
                    reasoning = thought;
                }
            }
        }
        for c in chunk.choices {
            let i = c.index.unwrap_or(0) as usize;
            if i < n {
                paths[i].absorb(c);
                while let Some(ev) = paths[i].pending.pop_front() {
                    paths[i].chunks += 1;
                    let _ = txs[i].send(Ok(ev));
                }
            }
        }
    }
    // The prompt was billed once: on the first path. Completion (and thinking) tokens are
    // shared out by the chunks each path streamed.
    let streamed: u32 = paths.iter().map(|p| p.chunks).sum();
    let share = |total: u32, chunks: u32| {
        if streamed == 0 {
            0
        } else {
            (u64::from(total) * u64::from(chunks) / u64::from(streamed)) as u32
        }
    };
    let answered: Vec<bool> = paths
        .iter()
        .map(|p| p.chunks > 0 || p.finish_reason.is_some())
        .collect();
    let ignored = answered[0] && answered.iter().any(|a| !a);
    for (i, (p, tx)) in paths.iter_mut().zip(&txs).enumerate() {
        if !answered[i] && ignored {
            let _ = tx.send(Err(BackendError::NotInBatch));
            continue;
        }
        if p.usage.is_none() {
            p.usage = usage.map(|u| Usage {
                prompt_tokens: if i == 0 { u.prompt_tokens } else { 0 },
                completion_tokens: share(u.completion_tokens, p.chunks),
            });
            p.reasoning_tokens = share(reasoning, p.chunks);
        }
        let _ = tx.send(p.finish());
    }
    ignored
}

/// The servers found to ignore `n`, kept in a small JSON file (`"BASE_URL MODEL": false`).
mod server_n_memory {
    use std::path::Path;

    fn key(base_url: &str, model: &str) -> String {
        format!("{} {model}", base_url.trim_end_matches('/'))
    }

    fn read(path: &Path) -> serde_json::Map<String, serde_json::Value> {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn ignores(path: &Path, base_url: &str, model: &str) -> bool {
        read(path).get(&key(base_url, model)) == Some(&serde_json::Value::Bool(false))
    }

    pub fn remember(path: &Path, base_url: &str, model: &str) {
        let mut map = read(path);
        map.insert(key(base_url, model), serde_json::Value::Bool(false));
        let text = serde_json::Value::Object(map).to_string();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
        tracing::info!(
            base_url,
            model,
            "the server ignores `n`: one request per path from now on"
        );
    }
}

/// Whether a refusal says the model takes `max_completion_tokens`, not `max_tokens`.
fn wants_completion_tokens_field(e: &BackendError) -> bool {
    match e {
        BackendError::Http {
            status: 400,
            message,
        } => {
            message.contains("max_completion_tokens")
                || (message.contains("max_tokens") && message.contains("nsupported"))
        }
        _ => false,
    }
}

fn use_completion_tokens_field(body: &mut Value) {
    if let Some(n) = body.as_object_mut().and_then(|o| o.remove("max_tokens")) {
        body["max_completion_tokens"] = n;
    }
}

/// A streamed chunk of either endpoint; everything optional.
#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    /// Some servers report failures inside the stream.
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    index: Option<u32>,
    /// Chat.
    #[serde(default)]
    delta: Option<Delta>,
    /// Completions.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Logprobs>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// Thinking: vLLM and OpenRouter say `reasoning`, llama.cpp's server, DeepSeek and
    /// older vLLM `reasoning_content`.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Logprobs {
    /// Chat: `{content: [{token, logprob, ...}]}`.
    #[serde(default)]
    content: Option<Vec<TokenLogprob>>,
    /// Completions: `{token_logprobs: [..], top_logprobs: [{token: logprob}, ..]}`.
    #[serde(default)]
    token_logprobs: Option<Vec<Option<f64>>>,
    #[serde(default)]
    top_logprobs: Option<Vec<Option<std::collections::HashMap<String, f64>>>>,
}

#[derive(Debug, Deserialize)]
struct TokenLogprob {
    #[serde(default)]
    logprob: Option<f64>,
    /// The top candidates at this position, the chosen one among them.
    #[serde(default)]
    top_logprobs: Vec<TopLogprob>,
}

#[derive(Debug, Deserialize)]
struct TopLogprob {
    #[serde(default)]
    logprob: Option<f64>,
}

impl Logprobs {
    /// The chosen tokens' log-probabilities, and each token's top candidates' (largest
    /// first; empty where the server sent none).
    fn read(self) -> (Vec<f64>, Vec<Vec<f64>>) {
        let sorted = |mut v: Vec<f64>| {
            v.sort_by(|a, b| b.total_cmp(a));
            v
        };
        match self.content {
            Some(c) => c
                .into_iter()
                .map(|t| {
                    let top = t.top_logprobs.into_iter().filter_map(|x| x.logprob);
                    (t.logprob, sorted(top.collect()))
                })
                .filter_map(|(lp, top)| lp.map(|lp| (lp, top)))
                .unzip(),
            None => {
                let chosen: Vec<f64> = self
                    .token_logprobs
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect();
                let top = self
                    .top_logprobs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| sorted(m.map(|m| m.into_values().collect()).unwrap_or_default()))
                    .collect();
                (chosen, top)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens_details: Option<TokenDetails>,
}

#[derive(Debug, Deserialize)]
struct TokenDetails {
    #[serde(default)]
    reasoning_tokens: Option<u32>,
}

#[derive(Default)]
struct Progress {
    finish_reason: Option<String>,
    usage: Option<Usage>,
    reasoning_tokens: u32,
    logprob: Option<LogProb>,
    confidence: crate::core::confidence::Confidence,
    chunks: u32,
    /// Events of a chunk not yet handed on (a chunk can carry thinking and text).
    pending: std::collections::VecDeque<StreamEvent>,
    ended: bool,
}

impl Progress {
    /// One choice's piece of a chunk: its thinking and text become pending events, its finish
    /// reason and log-probabilities are kept.
    fn absorb(&mut self, c: Choice) {
        let mut text = String::new();
        if let Some(d) = c.delta {
            if let Some(t) = d
                .reasoning
                .or(d.reasoning_content)
                .filter(|t| !t.is_empty())
            {
                self.pending.push_back(StreamEvent::Thinking(t));
            }
            if let Some(t) = d.content {
                text.push_str(&t);
            }
        }
        if let Some(t) = c.text {
            text.push_str(&t);
        }
        if !text.is_empty() {
            self.pending.push_back(StreamEvent::Text(text));
        }
        if let Some(r) = c.finish_reason {
            self.finish_reason = Some(r);
        }
        if let Some(lp) = c.logprobs {
            let (values, tops) = lp.read();
            for top in tops {
                if let Some(conf) = crate::core::confidence::token_confidence(&top) {
                    self.confidence.push(conf);
                }
            }
            let acc = self.logprob.get_or_insert(LogProb {
                sum: 0.0,
                tokens: 0,
            });
            acc.sum += values.iter().sum::<f64>();
            acc.tokens += values.len() as u32;
        }
    }

    /// The end of a completion: `Done` if the server said why it finished, else a cut.
    fn finish(&mut self) -> Result<StreamEvent, BackendError> {
        match self.finish_reason.take() {
            Some(reason) => Ok(StreamEvent::Done(Finish {
                reason,
                usage: self.usage.unwrap_or(Usage {
                    prompt_tokens: 0,
                    completion_tokens: self.chunks,
                }),
                reasoning_tokens: self.reasoning_tokens,
                logprob: self.logprob.filter(|l| l.tokens > 0),
                confidence: self.confidence.finish(),
            })),
            None => Err(BackendError::StreamCut),
        }
    }
}

/// Turns a chunk stream into text events and one final `Done` (or `StreamCut` if the stream
/// ends without a finish reason, `Timeout` if nothing arrives for `silence`: a stalled stream
/// is named as such, whatever the HTTP layer would call it).
fn events(
    chunks: impl Stream<Item = Result<Chunk, OpenAIError>> + Send + Unpin + 'static,
    silence: Duration,
) -> impl Stream<Item = Result<StreamEvent, BackendError>> + Send + 'static {
    stream::unfold(
        (chunks, Progress::default()),
        move |(mut chunks, mut p)| async move {
            if let Some(ev) = p.pending.pop_front() {
                return Some((Ok(ev), (chunks, p)));
            }
            if p.ended {
                return None;
            }
            loop {
                // A stall is named as one, whether this timer or the HTTP layer's read
                // timeout (which reports a body decoding error) notices it first.
                let stalled = || {
                    BackendError::Timeout(format!(
                        "nothing arrived for {:.1} s mid-stream",
                        silence.as_secs_f64()
                    ))
                };
                let asked = std::time::Instant::now();
                let Ok(next) = tokio::time::timeout(silence, chunks.next()).await else {
                    p.ended = true;
                    return Some((Err(stalled()), (chunks, p)));
                };
                if matches!(next, Some(Err(_))) && asked.elapsed() >= silence {
                    p.ended = true;
                    return Some((Err(stalled()), (chunks, p)));
                }
                match next {
                    Some(Ok(chunk)) => {
                        if let Some(err) = chunk.error {
                            p.ended = true;
                            let message = err
                                .get("message")
                                .and_then(Value::as_str)
                                .map(str::to_string);
                            return Some((
                                Err(BackendError::Malformed(
                                    message.unwrap_or_else(|| err.to_string()),
                                )),
                                (chunks, p),
                            ));
                        }
                        if let Some(u) = chunk.usage {
                            p.usage = Some(Usage {
                                prompt_tokens: u.prompt_tokens.unwrap_or(0),
                                completion_tokens: u.completion_tokens.unwrap_or(0),
                            });
                            p.reasoning_tokens = u
                                .completion_tokens_details
                                .and_then(|d| d.reasoning_tokens)
                                .unwrap_or(0);
                        }
                        for c in chunk
                            .choices
                            .into_iter()
                            .filter(|c| c.index.unwrap_or(0) == 0)
                        {
                            p.absorb(c);
                        }
                        if let Some(ev) = p.pending.pop_front() {
                            p.chunks += 1;
                            return Some((Ok(ev), (chunks, p)));
                        }
                    }
                    Some(Err(e)) => {
                        p.ended = true;
                        return Some((Err(map_error(e, "")), (chunks, p)));
                    }
                    None => {
                        p.ended = true;
                        let result = p.finish();
                        return Some((result, (chunks, p)));
                    }
                }
            }
        },
    )
}

fn map_error(e: OpenAIError, base_url: &str) -> BackendError {
    match e {
        OpenAIError::Reqwest(e) if e.is_connect() => BackendError::Connect(base_url.to_string()),
        OpenAIError::Reqwest(e) if e.is_timeout() => BackendError::Timeout(e.to_string()),
        OpenAIError::Reqwest(e) if e.is_builder() => BackendError::Invalid(e.to_string()),
        OpenAIError::Reqwest(e) => BackendError::Transport(e.to_string()),
        OpenAIError::ApiError(api) => {
            let status = api.status_code.as_u16();
            // async-openai keeps 5xx bodies raw, so the rewritten error object shows up here.
            let message = serde_json::from_str::<Value>(&api.api_error.message)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(api.api_error.message);
            match status {
                401 | 403 => BackendError::Auth { status, message },
                404 => BackendError::NotFound(message),
                _ => BackendError::Http { status, message },
            }
        }
        OpenAIError::JSONDeserialize(err, content) => BackendError::Malformed(format!(
            "{err}: {}",
            content.chars().take(200).collect::<String>()
        )),
        OpenAIError::StreamError(se) => match *se {
            StreamError::EventStream(m) => BackendError::Transport(m),
            StreamError::UnknownEvent(ev) => {
                BackendError::Malformed(format!("unexpected event {:?}", ev.event))
            }
        },
        OpenAIError::InvalidArgument(m) => BackendError::Invalid(m),
        other => BackendError::Transport(other.to_string()),
    }
}
