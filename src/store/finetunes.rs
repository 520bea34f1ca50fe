//! Fine-tuning jobs `promptlab tune --base-url` started on a server: one record each,
//! `finetunes/ID.json` in the data folder (0600; the server without credentials, never a
//! key), so `tune status|resume|cancel ID` find the job again and `model list` shows the
//! fine-tuned model under its base once it succeeded.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::StoreError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The promptlab version that started it.
    pub promptlab: String,
    /// The job's id at the server.
    pub id: String,
    /// The server's base URL without credentials.
    pub base_url: String,
    pub base_model: String,
    pub template: String,
    pub strategy: String,
    pub dataset: String,
    /// sha256 of the dataset file, when it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fingerprint: Option<String>,
    pub train_rows: usize,
    /// The rows kept out of training (to evaluate on), by id; the shuffle's seed.
    pub held_out: Vec<String>,
    pub split_seed: u64,
    pub training_file: String,
    pub submitted: String,
    /// The job's status when last seen.
    pub status: String,
    /// The model to ask for, once the job succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tuned_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_seconds: Option<f64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The folder of the records: `finetunes/` in the data folder.
pub fn dir() -> Result<PathBuf, StoreError> {
    super::data_dir()
        .map(|d| d.join("finetunes"))
        .ok_or(StoreError::NoDataDir("fine-tuning jobs"))
}

/// Writes (or replaces) the record of job `record.id`, readable by this user only.
pub fn write(record: &Record) -> Result<PathBuf, StoreError> {
    let dir = dir()?;
    let path = super::name::file_in(&dir, "the fine-tuning job id", &record.id, ".json")?;
    std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
    let json = serde_json::to_string_pretty(record)?;
    super::atomic::write_private(&path, json.as_bytes()).map_err(StoreError::io(&path))?;
    Ok(path)
}

/// Where the held-out rows of job `id` are kept (a dataset `eval -d` reads).
pub fn held_out_path(id: &str) -> Result<PathBuf, StoreError> {
    Ok(super::name::file_in(
        &dir()?,
        "the fine-tuning job id",
        id,
        "-held-out.jsonl",
    )?)
}

/// Writes the rows job `id` was not trained on, one JSON line each (`id`, `input`, `target`),
/// for comparing the fine-tuned model with its base.
pub fn write_held_out(id: &str, held: &[super::dataset::Item]) -> Result<PathBuf, StoreError> {
    let mut text = String::new();
    for i in held {
        let line = serde_json::json!({"id": i.id, "input": i.input, "target": i.targets});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let path = held_out_path(id)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    }
    super::atomic::write_atomic(&path, text.as_bytes()).map_err(StoreError::io(&path))?;
    Ok(path)
}

/// The record of job `id`; a job started elsewhere is said to be so.
pub fn read(id: &str) -> Result<Record, StoreError> {
    let path = super::name::file_in(&dir()?, "the fine-tuning job id", id, ".json")?;
    let Ok(text) = super::read_text(&path) else {
        return Err(StoreError::Missing {
            what: "fine-tuning job",
            id: id.to_string(),
            done: "started",
            path,
        });
    };
    serde_json::from_str(&text).map_err(StoreError::json(&path))
}

/// Every readable record, oldest first.
pub fn list() -> Vec<Record> {
    let Some(entries) = dir().ok().and_then(|d| std::fs::read_dir(d).ok()) else {
        return Vec::new();
    };
    let mut records: Vec<Record> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| super::read_text(&e.path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    records.sort_by(|a: &Record, b| (&a.submitted, &a.id).cmp(&(&b.submitted, &b.id)));
    records
}

/// The job that made `model` at the server `host` (a base URL without credentials).
pub fn made(records: &[Record], host: &str, model: &str) -> Option<Record> {
    records
        .iter()
        .rev()
        .find(|r| r.base_url == host && r.fine_tuned_model.as_deref() == Some(model))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            promptlab: "0".into(),
            id: id.into(),
            base_url: "http://h/v1".into(),
            base_model: "m".into(),
            template: "sums".into(),
            strategy: "direct".into(),
            dataset: "sums.jsonl".into(),
            data_fingerprint: None,
            train_rows: 40,
            held_out: vec!["a".into()],
            split_seed: 1,
            training_file: "file-1".into(),
            submitted: "2026-01-01T00:00:00Z".into(),
            status: "succeeded".into(),
            fine_tuned_model: Some("ft:m:1".into()),
            trained_tokens: None,
            training_seconds: Some(60.0),
            error: None,
        }
    }

    #[test]
    fn the_job_that_made_a_model_is_found_by_server_and_name() {
        let records = vec![record("a"), {
            let mut r = record("b");
            r.base_url = "http://other/v1".into();
            r
        }];
        assert_eq!(made(&records, "http://h/v1", "ft:m:1").unwrap().id, "a");
        assert_eq!(made(&records, "http://other/v1", "ft:m:1").unwrap().id, "b");
        assert!(made(&records, "http://h/v1", "m").is_none());
    }
}
