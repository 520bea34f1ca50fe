//! Batches submitted to a server's Batches API, remembered in the data folder
//! (`batches/ID.json`: its id, server and the eval command that sent it; `ID-output.jsonl`:
//! its output once fetched), so closing promptlab loses nothing.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::core::record::host_of;

/// What is kept of a submitted batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub id: String,
    /// The server, without credentials.
    pub base_url: String,
    /// The `promptlab eval … --batch` command that submitted it (`without_secrets`).
    pub argv: Vec<String>,
    pub submitted: String,
}

fn dir() -> Result<PathBuf, StoreError> {
    super::data_dir()
        .map(|d| d.join("batches"))
        .ok_or(StoreError::NoDataDir("batches"))
}

/// Keeps `kept` (readable by its owner only).
pub fn remember(kept: &Submitted) -> Result<(), StoreError> {
    let dir = dir()?;
    let path = super::name::file_in(&dir, "the batch id", &kept.id, ".json")
        .map_err(StoreError::Unkept)?;
    std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
    super::atomic::write_private(&path, serde_json::to_string_pretty(kept)?.as_bytes())
        .map_err(StoreError::io(&path))
}

/// The record of batch `id`, or why there is none.
pub fn submitted(id: &str) -> Result<Submitted, StoreError> {
    let path = super::name::file_in(&dir()?, "the batch id", id, ".json")?;
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Err(StoreError::Missing {
            what: "batch",
            id: id.to_string(),
            done: "submitted",
            path,
        });
    };
    serde_json::from_str(&text).map_err(StoreError::json(&path))
}

/// Writes batch `id`'s output beside its record; where it went.
pub fn keep_output(id: &str, output: &str) -> Result<PathBuf, StoreError> {
    let path = super::name::file_in(&dir()?, "the batch id", id, "-output.jsonl")?;
    super::atomic::write_atomic(&path, output.as_bytes()).map_err(StoreError::io(&path))?;
    Ok(path)
}

/// The command line as it may be kept: no `--api-key` (its value neither), and a base URL
/// without credentials (`batch resume` takes both from its own flags or the environment).
pub fn without_secrets(argv: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    let mut url = false;
    for a in argv {
        if std::mem::take(&mut skip) {
            continue;
        }
        if std::mem::take(&mut url) {
            out.push(host_of(&a));
            continue;
        }
        match a.split_once('=') {
            Some(("--api-key", _)) => {}
            Some(("--base-url", v)) => out.push(format!("--base-url={}", host_of(v))),
            _ if a == "--api-key" => skip = true,
            _ => {
                url = a == "--base-url";
                out.push(a);
            }
        }
    }
    out
}

/// The server of a kept batch or job (`kept`: its base URL without credentials): the base
/// URL this command was given (it may carry credentials the record does not) when it names
/// the same server, else the record's.
pub fn server_of(kept: &str, given: Option<&str>) -> String {
    match given {
        Some(g) if host_of(g) == kept => g.to_string(),
        _ => kept.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_command_line_holds_no_key_and_no_credentials() {
        let argv = [
            "promptlab",
            "eval",
            "--api-key",
            "sk-1",
            "--api-key=sk-2",
            "--base-url",
            "http://u:sk-3@h:1/v1",
            "--base-url=http://u:sk-4@h/v1",
            "--batch",
        ]
        .map(String::from);
        assert_eq!(
            without_secrets(argv),
            [
                "promptlab",
                "eval",
                "--base-url",
                "http://h:1/v1",
                "--base-url=http://h/v1",
                "--batch"
            ]
        );
    }
}
