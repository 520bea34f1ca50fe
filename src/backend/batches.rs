//! An OpenAI-compatible Files and Batches API: upload a batch input file, create a batch,
//! follow it, download its output and error files. What `eval --batch` and `promptlab batch`
//! run on (OpenAI's Batch API, at half the price of live requests).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

use crate::core::name::NameError;

/// What can go wrong talking to a Files and Batches API: one line naming what was asked,
/// the server's own message kept, every secret redacted.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("cannot start an HTTP client: {0}")]
    Client(reqwest::Error),
    /// `reason` is redacted (`redact_secrets`).
    #[error("{what}: cannot reach {host}: {reason}")]
    Unreachable {
        what: String,
        host: String,
        reason: String,
    },
    #[error("{what}: {source}")]
    Read {
        what: String,
        source: reqwest::Error,
    },
    /// `message` is the server's, redacted.
    #[error("{what}: HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: unexpected reply ({source})")]
    Reply {
        what: String,
        source: serde_json::Error,
    },
    /// `reason` is redacted.
    #[error("downloading {file_id}: {reason}")]
    Download { file_id: String, reason: String },
    #[error("downloading {file_id}: HTTP {status}")]
    DownloadStatus { file_id: String, status: u16 },
    #[error(transparent)]
    Name(#[from] NameError),
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<ApiError> for String {
    fn from(e: ApiError) -> String {
        e.to_string()
    }
}

/// A batch as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Batch {
    pub id: String,
    /// validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled.
    pub status: String,
    #[serde(default)]
    pub output_file_id: Option<String>,
    #[serde(default)]
    pub error_file_id: Option<String>,
    #[serde(default)]
    pub request_counts: Option<Counts>,
    /// Why a batch failed (its validation errors).
    #[serde(default)]
    pub errors: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Counts {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
}

impl Batch {
    /// Whether the server is done with it, one way or another.
    pub fn ended(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "failed" | "expired" | "cancelled"
        )
    }
}

/// A client of one server's Files and Batches endpoints.
#[derive(Debug, Clone)]
pub struct Batches {
    base_url: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl Batches {
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Batches, ApiError> {
        if let Some(k) = &api_key {
            super::keep_secret(k);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(ApiError::Client)?;
        Ok(Batches {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            http,
        })
    }

    fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    /// `base_url/path`, e.g. `files`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `r` with the key and reads its JSON reply; an error status is one line naming
    /// what was asked, the server's own message kept, every secret redacted.
    pub(super) async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        r: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, ApiError> {
        let resp = self
            .auth(r)
            .send()
            .await
            .map_err(|e| ApiError::Unreachable {
                what: what.to_string(),
                host: crate::core::record::host_of(&self.base_url),
                reason: super::redact_secrets(&e.to_string()),
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|source| ApiError::Read {
            what: what.to_string(),
            source,
        })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(ApiError::Status {
                what: what.to_string(),
                status,
                message: super::redact_secrets(&message),
            });
        }
        serde_json::from_str(&text).map_err(|source| ApiError::Reply {
            what: what.to_string(),
            source,
        })
    }

    /// Uploads a batch input file; its id.
    pub async fn upload(&self, name: &str, content: &str) -> Result<String, ApiError> {
        self.upload_for("batch", name, content, "uploading the batch file")
            .await
    }

    /// Uploads a file for `purpose` (`batch`, `fine-tune`); its id, checked as a name.
    pub(super) async fn upload_for(
        &self,
        purpose: &str,
        name: &str,
        content: &str,
        what: &str,
    ) -> Result<String, ApiError> {
        // multipart/form-data by hand: the purpose, then the file.
        let boundary = format!("promptlab-{:016x}", rand::random::<u64>());
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/jsonl\r\n\r\n{content}\r\n--{boundary}--\r\n"
        );
        #[derive(Deserialize)]
        struct File {
            id: String,
        }
        let r = self
            .http
            .post(format!("{}/files", self.base_url))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let id = self.json::<File>(r, what).await?.id;
        crate::core::name::check("the file id", &id)?;
        Ok(id)
    }

    /// Creates a batch of the uploaded file's requests to `endpoint`.
    pub async fn create(&self, input_file_id: &str, endpoint: &str) -> Result<Batch, ApiError> {
        let r = self
            .http
            .post(format!("{}/batches", self.base_url))
            .json(&json!({
                "input_file_id": input_file_id,
                "endpoint": endpoint,
                "completion_window": "24h",
                "metadata": {"made_by": format!("promptlab {}", env!("CARGO_PKG_VERSION"))},
            }));
        self.json(r, "creating the batch").await
    }

    pub async fn get(&self, id: &str) -> Result<Batch, ApiError> {
        crate::core::name::check("the batch id", id)?;
        let r = self.http.get(format!("{}/batches/{id}", self.base_url));
        self.json(r, "asking for the batch").await
    }

    /// A file's content (a batch's output or errors).
    pub async fn content(&self, file_id: &str) -> Result<String, ApiError> {
        crate::core::name::check("the file id", file_id)?;
        let r = self
            .auth(
                self.http
                    .get(format!("{}/files/{file_id}/content", self.base_url)),
            )
            .send()
            .await
            .map_err(|e| ApiError::Download {
                file_id: file_id.to_string(),
                reason: super::redact_secrets(&e.to_string()),
            })?;
        let status = r.status().as_u16();
        if status != 200 {
            return Err(ApiError::DownloadStatus {
                file_id: file_id.to_string(),
                status,
            });
        }
        r.text().await.map_err(|e| ApiError::Download {
            file_id: file_id.to_string(),
            reason: e.to_string(),
        })
    }

    /// The output and error lines of an ended batch, one text (the error file's lines use
    /// the output format, so both are read alike).
    pub async fn results(&self, batch: &Batch) -> Result<String, ApiError> {
        let mut text = String::new();
        for id in [&batch.output_file_id, &batch.error_file_id]
            .into_iter()
            .flatten()
        {
            let part = self.content(id).await?;
            text.push_str(&part);
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        Ok(text)
    }
}
