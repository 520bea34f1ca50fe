//! Opening one request's stream of chunks, and naming what went wrong in the words of
//! `BackendError`: a server by its address without credentials, a timeout by the flag that
//! sets it, a body cut after its headers as the cut stream it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, StreamError};
use futures::Stream;
use serde_json::Value;

use super::chunks::Chunk;
use crate::backend::BackendError;
use crate::backend::http::{Refusal, Timeouts};

pub(super) type Chunks = std::pin::Pin<Box<dyn Stream<Item = Result<Chunk, OpenAIError>> + Send>>;

/// What opens a stream of this backend: the client and what a request's errors need.
#[derive(Clone)]
pub(super) struct Opener {
    pub client: Client<OpenAIConfig>,
    /// The server's address without credentials, for messages.
    pub host: String,
    pub chat: bool,
    /// Redacted from errors (a server may echo it).
    pub key: Option<String>,
    /// Shared with the backend: `max_completion_tokens` instead of `max_tokens`.
    pub switched: Arc<AtomicBool>,
    pub timeouts: Timeouts,
}

impl Opener {
    /// `e` in promptlab's words, the key redacted.
    pub fn error(&self, e: OpenAIError) -> BackendError {
        self.redact(map_error(e, &self.host, &self.timeouts))
    }

    pub fn redact(&self, e: BackendError) -> BackendError {
        match &self.key {
            Some(k) => e.redact(k),
            None => e,
        }
    }

    /// Sends `body` and returns its chunk stream; a refusal of `max_tokens` is answered
    /// once more with `max_completion_tokens`, remembered.
    pub async fn chunks(&self, body: Value) -> Result<Chunks, BackendError> {
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
        let first = open(body.clone()).await.map_err(|e| self.error(e));
        let opened = match first {
            Err(e) if wants_completion_tokens_field(&e) && body.get("max_tokens").is_some() => {
                self.switched.store(true, Ordering::Relaxed);
                let mut body = body;
                use_completion_tokens_field(&mut body);
                open(body).await.map_err(|e| self.error(e))
            }
            other => other,
        }?;
        Ok(Box::pin(opened))
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

pub(super) fn use_completion_tokens_field(body: &mut Value) {
    if let Some(n) = body.as_object_mut().and_then(|o| o.remove("max_tokens")) {
        body["max_completion_tokens"] = n;
    }
}

fn map_error(e: OpenAIError, host: &str, timeouts: &Timeouts) -> BackendError {
    match e {
        OpenAIError::Reqwest(e) if e.is_connect() && e.is_timeout() => {
            BackendError::Connect(format!("{host} {}", timeouts.no_connection()))
        }
        OpenAIError::Reqwest(e) if e.is_connect() => BackendError::Connect(host.to_string()),
        OpenAIError::Reqwest(e) if e.is_timeout() => {
            BackendError::Timeout(e.without_url().to_string())
        }
        OpenAIError::Reqwest(e) if e.is_builder() => {
            BackendError::Invalid(e.without_url().to_string())
        }
        // After the headers, a body that ends early or breaks off is a cut stream.
        OpenAIError::Reqwest(e) if e.is_body() || e.is_decode() => BackendError::StreamCut,
        OpenAIError::Reqwest(e) => BackendError::Transport(e.without_url().to_string()),
        OpenAIError::Boxed(b) => match b.downcast::<Refusal>() {
            Ok(r) => match *r {
                Refusal::NoHeaders(m) => BackendError::Timeout(m),
                Refusal::NotAStream {
                    content_type,
                    excerpt,
                } => BackendError::NotAStream {
                    content_type,
                    excerpt,
                },
            },
            Err(other) => BackendError::Transport(other.to_string()),
        },
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
            // async-openai hands on the body's transport error as text only: "Transport
            // error: error decoding response body" when the connection closed or broke off
            // after the headers. That is a cut stream (a crowded server's doing, most
            // often), not a failure to connect; the rest (bad UTF-8, an event that does not
            // parse) is a malformed reply.
            StreamError::EventStream(m) if m.starts_with("Transport error") => {
                BackendError::StreamCut
            }
            StreamError::EventStream(m) => BackendError::Malformed(m),
            StreamError::UnknownEvent(ev) => {
                BackendError::Malformed(format!("unexpected event {:?}", ev.event))
            }
        },
        OpenAIError::InvalidArgument(m) => BackendError::Invalid(m),
        other => BackendError::Transport(other.to_string()),
    }
}
