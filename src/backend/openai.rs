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
        Ok(OpenAiBackend {
            client,
            settings,
            stats,
            completion_tokens_field: Arc::new(AtomicBool::new(false)),
        })
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
        let client = self.client.clone();
        let body = self.body(&req);
        let base_url = self.settings.base_url.clone();
        let chat = matches!(req.prompt, Prompt::Chat(_));
        let key = self.settings.api_key.clone().filter(|k| k.len() >= 4);
        let redact = move |e: BackendError| match &key {
            Some(k) => e.redact(k),
            None => e,
        };
        let later = redact.clone();
        let switched = self.completion_tokens_field.clone();
        let silence = self.settings.read_timeout;
        let opened = async move {
            let open = |body: Value| {
                let client = client.clone();
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
                .map_err(|e| redact(map_error(e, &base_url)));
            match first {
                // Asked for `max_completion_tokens` instead: once more with it, remembered.
                Err(e) if wants_completion_tokens_field(&e) && body.get("max_tokens").is_some() => {
                    switched.store(true, Ordering::Relaxed);
                    let mut body = body;
                    use_completion_tokens_field(&mut body);
                    open(body)
                        .await
                        .map_err(|e| redact(map_error(e, &base_url)))
                }
                other => other,
            }
        };
        // A server that echoes the key in an error never gets it printed or saved.
        stream::once(opened)
            .flat_map(move |opened| -> SampleStream {
                match opened {
                    Ok(chunks) => Box::pin(events(chunks, silence)),
                    Err(e) => Box::pin(stream::iter([Err(e)])),
                }
            })
            .map(move |ev| ev.map_err(&later))
            .boxed()
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
                        let mut text = String::new();
                        let mut thinking = String::new();
                        for c in chunk
                            .choices
                            .into_iter()
                            .filter(|c| c.index.unwrap_or(0) == 0)
                        {
                            if let Some(d) = c.delta {
                                if let Some(t) = d.reasoning.or(d.reasoning_content) {
                                    thinking.push_str(&t);
                                }
                                if let Some(t) = d.content {
                                    text.push_str(&t);
                                }
                            }
                            if let Some(t) = c.text {
                                text.push_str(&t);
                            }
                            if let Some(r) = c.finish_reason {
                                p.finish_reason = Some(r);
                            }
                            if let Some(lp) = c.logprobs {
                                let (values, tops) = lp.read();
                                for top in tops {
                                    if let Some(conf) =
                                        crate::core::confidence::token_confidence(&top)
                                    {
                                        p.confidence.push(conf);
                                    }
                                }
                                let acc = p.logprob.get_or_insert(LogProb {
                                    sum: 0.0,
                                    tokens: 0,
                                });
                                acc.sum += values.iter().sum::<f64>();
                                acc.tokens += values.len() as u32;
                            }
                        }
                        if !thinking.is_empty() {
                            p.pending.push_back(StreamEvent::Thinking(thinking));
                        }
                        if !text.is_empty() {
                            p.pending.push_back(StreamEvent::Text(text));
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
                        let result = match p.finish_reason.take() {
                            Some(reason) => Ok(StreamEvent::Done(Finish {
                                reason,
                                usage: p.usage.unwrap_or(Usage {
                                    prompt_tokens: 0,
                                    completion_tokens: p.chunks,
                                }),
                                reasoning_tokens: p.reasoning_tokens,
                                logprob: p.logprob.filter(|l| l.tokens > 0),
                                confidence: p.confidence.finish(),
                            })),
                            None => Err(BackendError::StreamCut),
                        };
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
