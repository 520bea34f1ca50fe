//! An OpenAI-compatible Files and Batches API: upload a batch input file, create a batch,
//! follow it, download its output and error files. What `eval --batch` and `promptlab batch`
//! run on (OpenAI's Batch API, at half the price of live requests).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

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
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Batches, String> {
        if let Some(k) = &api_key {
            super::keep_secret(k);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
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
    ) -> Result<T, String> {
        let resp = self.auth(r).send().await.map_err(|e| {
            super::redact_secrets(&format!(
                "{what}: cannot reach {}: {e}",
                crate::core::record::host_of(&self.base_url)
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("{what}: {e}"))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(super::redact_secrets(&format!(
                "{what}: HTTP {status}: {message}"
            )));
        }
        serde_json::from_str(&text).map_err(|e| format!("{what}: unexpected reply ({e})"))
    }

    /// Uploads a batch input file; its id.
    pub async fn upload(&self, name: &str, content: &str) -> Result<String, String> {
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
    ) -> Result<String, String> {
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
    pub async fn create(&self, input_file_id: &str, endpoint: &str) -> Result<Batch, String> {
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

    pub async fn get(&self, id: &str) -> Result<Batch, String> {
        crate::core::name::check("the batch id", id)?;
        let r = self.http.get(format!("{}/batches/{id}", self.base_url));
        self.json(r, "asking for the batch").await
    }

    /// A file's content (a batch's output or errors).
    pub async fn content(&self, file_id: &str) -> Result<String, String> {
        crate::core::name::check("the file id", file_id)?;
        let r = self
            .auth(
                self.http
                    .get(format!("{}/files/{file_id}/content", self.base_url)),
            )
            .send()
            .await
            .map_err(|e| super::redact_secrets(&format!("downloading {file_id}: {e}")))?;
        let status = r.status().as_u16();
        if status != 200 {
            return Err(format!("downloading {file_id}: HTTP {status}"));
        }
        r.text()
            .await
            .map_err(|e| format!("downloading {file_id}: {e}"))
    }

    /// The output and error lines of an ended batch, one text (the error file's lines use
    /// the output format, so both are read alike).
    pub async fn results(&self, batch: &Batch) -> Result<String, String> {
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
