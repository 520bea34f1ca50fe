//! OpenAI's fine-tuning API: upload a training file (purpose `fine-tune`), start a job, follow
//! it (its state, its events, its checkpoints), cancel it. What `promptlab tune --base-url`
//! and `promptlab tune status|resume|cancel` run on. The files go through the Files API client
//! `eval --batch` uses (`batches`); the replies are read leniently (every field but the id and
//! the status may be missing).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::batches::{ApiError, Batches};

/// A fine-tuning job as the server describes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Job {
    pub id: String,
    /// validating_files, queued, running, succeeded, failed, cancelled.
    pub status: String,
    /// The base model.
    #[serde(default)]
    pub model: Option<String>,
    /// The model to ask for once it succeeded.
    #[serde(default)]
    pub fine_tuned_model: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub finished_at: Option<i64>,
    #[serde(default)]
    pub trained_tokens: Option<u64>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

impl Job {
    /// Whether the server is done with it, one way or another.
    pub fn ended(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "cancelled")
    }

    /// Seconds from creation to the end, when the server said both.
    pub fn training_seconds(&self) -> Option<f64> {
        match (self.created_at, self.finished_at) {
            (Some(a), Some(b)) if b >= a => Some((b - a) as f64),
            _ => None,
        }
    }

    /// The server's reason for a failure, in one line.
    pub fn error_line(&self) -> Option<String> {
        let e = self.error.as_ref().filter(|e| !e.is_null())?;
        Some(match e["message"].as_str() {
            Some(m) => m.to_string(),
            None => e.to_string(),
        })
    }
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub message: String,
    /// Metrics events carry `step`, `total_steps` and `train_loss`.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl Event {
    /// (step, total steps, training loss) of a metrics event.
    pub fn progress(&self) -> Option<(u64, u64, Option<f64>)> {
        let d = self.data.as_ref()?;
        Some((
            d["step"].as_u64()?,
            d["total_steps"].as_u64()?,
            d["train_loss"].as_f64(),
        ))
    }
}

/// A model the job saved along the way.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Checkpoint {
    #[serde(default)]
    pub fine_tuned_model_checkpoint: String,
    #[serde(default)]
    pub step_number: u64,
    #[serde(default)]
    pub metrics: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

/// What a job is asked to do beyond its data and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSpec {
    pub model: String,
    pub training_file: String,
    /// Up to 64 characters the server puts in the fine-tuned model's name.
    pub suffix: Option<String>,
    pub seed: Option<u64>,
    pub epochs: Option<usize>,
    pub learning_rate_multiplier: Option<f64>,
}

/// A client of one server's fine-tuning endpoints.
#[derive(Debug, Clone)]
pub struct FineTunes {
    api: Batches,
}

impl FineTunes {
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<FineTunes, ApiError> {
        Ok(FineTunes {
            api: Batches::new(base_url, api_key)?,
        })
    }

    /// Uploads a training file (chat-format JSONL); its id.
    pub async fn upload(&self, name: &str, content: &str) -> Result<String, ApiError> {
        self.api
            .upload_for("fine-tune", name, content, "uploading the training file")
            .await
    }

    pub async fn create(&self, spec: &JobSpec) -> Result<Job, ApiError> {
        let mut hyper = serde_json::Map::new();
        if let Some(e) = spec.epochs {
            hyper.insert("n_epochs".into(), json!(e));
        }
        if let Some(m) = spec.learning_rate_multiplier {
            hyper.insert("learning_rate_multiplier".into(), json!(m));
        }
        let mut body = json!({
            "model": spec.model,
            "training_file": spec.training_file,
            "metadata": {"made_by": format!("promptlab {}", env!("CARGO_PKG_VERSION"))},
        });
        if !hyper.is_empty() {
            body["method"] =
                json!({"type": "supervised", "supervised": {"hyperparameters": hyper}});
        }
        if let Some(s) = &spec.suffix {
            body["suffix"] = json!(s);
        }
        if let Some(s) = spec.seed {
            body["seed"] = json!(s);
        }
        let r = self
            .api
            .http()
            .post(self.api.url("fine_tuning/jobs"))
            .json(&body);
        let job: Job = self.api.json(r, "starting the fine-tuning job").await?;
        crate::core::name::check("the fine-tuning job id", &job.id)?;
        Ok(job)
    }

    pub async fn get(&self, id: &str) -> Result<Job, ApiError> {
        crate::core::name::check("the fine-tuning job id", id)?;
        let r = self
            .api
            .http()
            .get(self.api.url(&format!("fine_tuning/jobs/{id}")));
        self.api.json(r, "asking for the fine-tuning job").await
    }

    /// The job's latest events, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        crate::core::name::check("the fine-tuning job id", id)?;
        let r = self
            .api
            .http()
            .get(self.api.url(&format!("fine_tuning/jobs/{id}/events")))
            .query(&[("limit", "100")]);
        let page: Page<Event> = self.api.json(r, "asking for the job's events").await?;
        let mut events = page.data;
        // The API lists the newest first.
        events.sort_by_key(|e| e.created_at);
        Ok(events)
    }

    pub async fn checkpoints(&self, id: &str) -> Result<Vec<Checkpoint>, ApiError> {
        crate::core::name::check("the fine-tuning job id", id)?;
        let r = self
            .api
            .http()
            .get(self.api.url(&format!("fine_tuning/jobs/{id}/checkpoints")));
        let page: Page<Checkpoint> = self.api.json(r, "asking for the job's checkpoints").await?;
        let mut c = page.data;
        c.sort_by_key(|c| c.step_number);
        Ok(c)
    }

    pub async fn cancel(&self, id: &str) -> Result<Job, ApiError> {
        crate::core::name::check("the fine-tuning job id", id)?;
        let r = self
            .api
            .http()
            .post(self.api.url(&format!("fine_tuning/jobs/{id}/cancel")));
        self.api.json(r, "cancelling the fine-tuning job").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_leniently() {
        let job: Job = serde_json::from_value(json!({
            "id": "ftjob-1", "status": "succeeded", "created_at": 100, "finished_at": 160,
            "fine_tuned_model": "ft:m:x", "unknown": [1]
        }))
        .unwrap();
        assert!(job.ended());
        assert_eq!(job.training_seconds(), Some(60.0));
        assert_eq!(job.error_line(), None);
        let failed: Job = serde_json::from_value(json!({
            "id": "j", "status": "failed", "error": {"code": "invalid_file", "message": "line 3 has no messages"}
        }))
        .unwrap();
        assert_eq!(
            failed.error_line().as_deref(),
            Some("line 3 has no messages")
        );
        assert!(
            !serde_json::from_value::<Job>(json!({"id": "j", "status": "running"}))
                .unwrap()
                .ended()
        );
        let e: Event = serde_json::from_value(json!({
            "id": "e", "message": "Step 3/10", "data": {"step": 3, "total_steps": 10, "train_loss": 0.5}
        }))
        .unwrap();
        assert_eq!(e.progress(), Some((3, 10, Some(0.5))));
        let plain: Event = serde_json::from_value(json!({"id": "e2"})).unwrap();
        assert_eq!(plain.progress(), None);
    }
}
