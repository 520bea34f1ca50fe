//! The HTTP transport under the OpenAI-compatible client: a tower service around reqwest that
//! retries 408/409/429/5xx and connection failures with exponential backoff and full jitter,
//! honouring `Retry-After`, and counts every request it sends. It waits for a response's
//! headers no longer than the first-byte timeout, and never retries a timeout (the wait was
//! as long as the user allowed; a busy server is the engine's to judge). Final error
//! responses are rewritten into OpenAI's `{"error": {...}}` shape so the status and message
//! survive parsing whatever the server sent; a success that is a document instead of a
//! stream of events (an HTML page, a whole JSON reply) is refused with what it was.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

/// How long a request may wait, each wait named in the error when it runs out. None is a
/// total deadline: a long stream that keeps sending is never cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For a connection.
    pub connect: Duration,
    /// From sending a request to its response's headers (a busy server's queue, the
    /// prompt's evaluation).
    pub first_byte: Duration,
    /// Between two reads of a response (the longest silence mid-stream).
    pub read: Duration,
}

impl Default for Timeouts {
    /// Tens of seconds, as a lab wants: a server that has said nothing for that long is
    /// stuck or drowning, and the engine tells which (`engine::limit`).
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(30),
            read: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// What a connect timeout says, after the server's address.
    pub fn no_connection(&self) -> String {
        format!("within {} (--connect-timeout)", seconds(self.connect))
    }

    pub fn no_headers(&self) -> String {
        format!(
            "no response headers within {} (--first-byte-timeout)",
            seconds(self.first_byte)
        )
    }

    pub fn silent(&self) -> String {
        format!(
            "nothing arrived for {} mid-stream (--read-timeout)",
            seconds(self.read)
        )
    }

    /// reqwest's own read timeout, a backstop behind the named ones (it also runs from a
    /// request's start to its headers): it fires only for a read none of them watches.
    pub fn backstop(&self) -> Duration {
        self.first_byte.max(self.read) + Duration::from_secs(1)
    }
}

/// `30 s`, `0.5 s`.
pub fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// What the transport itself refuses; it reaches the backend inside `OpenAIError::Boxed`.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    NoHeaders(String),
    #[error("the server answered {content_type}, not a stream of events: {excerpt}")]
    NotAStream {
        content_type: String,
        excerpt: String,
    },
}

/// The most of a body read to report it (an error message, a page that is not a stream).
const BODY_LIMIT: usize = 64 * 1024;

/// Counters of one client's traffic: every request sent is either a success, a final failure
/// or a retry.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub sent: AtomicU64,
    pub retries: AtomicU64,
}

impl RequestStats {
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let millis = cap.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..600).contains(&status)
}

/// `Retry-After` in seconds (the HTTP-date form is rare from model servers and ignored).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(300.0)))
}

#[derive(Clone)]
pub struct RetryingTransport {
    client: reqwest::Client,
    policy: RetryPolicy,
    timeouts: Timeouts,
    stats: Arc<RequestStats>,
}

impl RetryingTransport {
    pub fn new(
        client: reqwest::Client,
        policy: RetryPolicy,
        timeouts: Timeouts,
        stats: Arc<RequestStats>,
    ) -> Self {
        RetryingTransport {
            client,
            policy,
            timeouts,
            stats,
        }
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for RetryingTransport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.send(factory).await })
    }
}

impl RetryingTransport {
    async fn send(self, factory: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        let mut attempt = 0;
        loop {
            let request = factory.build().await?;
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            let sent =
                tokio::time::timeout(self.timeouts.first_byte, self.client.execute(request)).await;
            let Ok(sent) = sent else {
                let no_headers = Refusal::NoHeaders(self.timeouts.no_headers());
                return Err(OpenAIError::Boxed(Box::new(no_headers)));
            };
            let wait = match sent {
                Ok(resp) if resp.status().is_success() => return self.stream(resp).await,
                Ok(resp)
                    if attempt < self.policy.max_retries
                        && is_retryable_status(resp.status().as_u16()) =>
                {
                    let wait =
                        retry_after(resp.headers()).unwrap_or_else(|| self.policy.backoff(attempt));
                    tracing::debug!(status = %resp.status(), ?wait, attempt, "retrying");
                    wait
                }
                Ok(resp) => return Ok(self.normalize_error(resp).await),
                Err(e)
                    if attempt < self.policy.max_retries && e.is_connect() && !e.is_timeout() =>
                {
                    tracing::debug!(error = %e.without_url(), attempt, "retrying after transport error");
                    self.policy.backoff(attempt)
                }
                Err(e) => return Err(OpenAIError::Reqwest(e)),
            };
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    /// A success, unless it says it is a page or a document (HTML, JSON, XML: a web server's
    /// page, a reply that ignored `stream`), which is refused with its type and first words.
    /// Other types go to the event parser (some servers send events as `text/plain`).
    async fn stream(&self, resp: reqwest::Response) -> Result<reqwest::Response, OpenAIError> {
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            .unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default();
        let media = media.trim().to_ascii_lowercase();
        let document = ["html", "json", "xml"].iter().any(|kind| {
            media.ends_with(&format!("/{kind}")) || media.ends_with(&format!("+{kind}"))
        });
        if !document {
            return Ok(resp);
        }
        let body = self.read_body(resp).await;
        let excerpt = crate::core::display::shorten(&String::from_utf8_lossy(&body), 100);
        Err(OpenAIError::Boxed(Box::new(Refusal::NotAStream {
            content_type: crate::core::display::shorten(&content_type, 60),
            excerpt,
        })))
    }

    /// The start of a body (at most `BODY_LIMIT` bytes), each read waiting no longer than
    /// the read timeout: what arrived by then.
    async fn read_body(&self, mut resp: reqwest::Response) -> Vec<u8> {
        let mut body = Vec::new();
        while body.len() < BODY_LIMIT {
            match tokio::time::timeout(self.timeouts.read, resp.chunk()).await {
                Ok(Ok(Some(bytes))) => body.extend_from_slice(&bytes),
                _ => break,
            }
        }
        body.truncate(BODY_LIMIT);
        body
    }

    /// Rewrites an error response whose body is not OpenAI's error object (plain text, HTML,
    /// other JSON) into one, keeping the status, so the client reports status and message.
    async fn normalize_error(&self, resp: reqwest::Response) -> reqwest::Response {
        let status = resp.status();
        let body = self.read_body(resp).await;
        let mut out = http::Response::new(error_object(status, &body));
        *out.status_mut() = status;
        reqwest::Response::from(out)
    }
}

/// An error body as OpenAI's error object (as it was when it is one).
fn error_object(status: reqwest::StatusCode, body: &[u8]) -> Vec<u8> {
    let is_openai_error = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("error").is_some_and(|e| e.get("message").is_some()));
    if is_openai_error {
        return body.to_vec();
    }
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_str::<serde_json::Value>(&text) {
        // {"error": "text"} (Ollama) or {"detail": ...} (FastAPI) or {"message": ...}
        Ok(v) => ["error", "detail", "message"]
            .iter()
            .find_map(|k| v.get(*k))
            .map(|m| {
                m.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| m.to_string())
            })
            .unwrap_or_else(|| text.to_string()),
        Err(_) => text.trim().chars().take(300).collect(),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        message
    };
    serde_json::json!({ "error": { "message": message } })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_stays_under_cap() {
        let p = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        for attempt in 0..40 {
            assert!(p.backoff(attempt) <= Duration::from_millis(500));
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 409, 429, 500, 502, 503] {
            assert!(is_retryable_status(s));
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!is_retryable_status(s));
        }
    }
}
