//! The HTTP transport under the OpenAI-compatible client: a tower service around reqwest that
//! retries 408/409/429/5xx and connection failures with exponential backoff and full jitter,
//! honouring `Retry-After`, and counts every request it sends. Final error responses are
//! rewritten into OpenAI's `{"error": {...}}` shape so the status and message survive parsing
//! whatever the server sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

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
    stats: Arc<RequestStats>,
}

impl RetryingTransport {
    pub fn new(client: reqwest::Client, policy: RetryPolicy, stats: Arc<RequestStats>) -> Self {
        RetryingTransport {
            client,
            policy,
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
            let wait = match self.client.execute(request).await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp)
                    if attempt < self.policy.max_retries
                        && is_retryable_status(resp.status().as_u16()) =>
                {
                    let wait =
                        retry_after(resp.headers()).unwrap_or_else(|| self.policy.backoff(attempt));
                    tracing::debug!(status = %resp.status(), ?wait, attempt, "retrying");
                    wait
                }
                Ok(resp) => return Ok(normalize_error(resp).await),
                Err(e)
                    if attempt < self.policy.max_retries && (e.is_connect() || e.is_timeout()) =>
                {
                    tracing::debug!(error = %e, attempt, "retrying after transport error");
                    self.policy.backoff(attempt)
                }
                Err(e) => return Err(OpenAIError::Reqwest(e)),
            };
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }
}

/// Rewrites an error response whose body is not OpenAI's error object (plain text, HTML, other
/// JSON) into one, keeping the status, so the client reports status and message.
async fn normalize_error(resp: reqwest::Response) -> reqwest::Response {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let is_openai_error = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .is_some_and(|v| v.get("error").is_some_and(|e| e.get("message").is_some()));
    let body = if is_openai_error {
        body.to_vec()
    } else {
        let text = String::from_utf8_lossy(&body);
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
    };
    let mut out = http::Response::new(body);
    *out.status_mut() = status;
    reqwest::Response::from(out)
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
