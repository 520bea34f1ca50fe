//! Files: templates (YAML), and atomic writes.

pub mod adapters;
pub mod atomic;
pub mod batches;
pub mod config;
pub mod dataset;
pub mod error;
pub mod exports;
pub mod finetunes;
pub mod hub;
pub mod models;
pub mod name;
pub mod session;
pub mod speed;
pub mod template;
pub mod tidy;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use etcetera::BaseStrategy;
use serde::de::DeserializeOwned;

use error::StoreError;

/// Reads a text file a user named: only a regular file (a FIFO, a device or a folder is
/// refused at once instead of blocking or failing oddly), without a leading byte-order mark.
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("is {what}"),
        ));
    }
    let mut text = std::fs::read_to_string(path)?;
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    Ok(text)
}

/// Parses YAML; errors name `source` with line and column ("t.yaml:4:1: unknown field …").
pub fn parse_yaml<T: DeserializeOwned>(yaml: &str, source: &str) -> Result<T, StoreError> {
    static POSITION: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^(?:error: )?(?:line \d+ column \d+: )?").expect("static regex")
    });
    serde_saphyr::from_str_with_options(yaml, options_for(yaml)).map_err(|e| {
        let text = e.to_string();
        // The message without the position it repeats ("error: line 4 column 1: ").
        let message = POSITION
            .replace(text.lines().next().unwrap_or_default().trim(), "")
            .into_owned();
        let path = match e.location() {
            Some(l) => format!("{source}:{}:{}", l.line(), l.column()),
            None => source.to_string(),
        };
        StoreError::Parse { path, message }
    })
}

/// The reader's limits, sized from the text: a session the program wrote, however many runs
/// it holds, is never refused for its node or event count (each node takes at least a byte
/// or two of text), while aliases, depth and anchors keep the library's guards.
fn options_for(yaml: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    let n = yaml.len();
    budget.max_nodes = budget.max_nodes.max(n);
    budget.max_events = budget.max_events.max(2 * n);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(n);
    budget.max_reader_input_bytes = budget.max_reader_input_bytes.map(|m| m.max(n));
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// `~/.local/share/promptlab` (XDG), or `$PROMPTLAB_DATA_DIR`.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PROMPTLAB_DATA_DIR") {
        return Some(PathBuf::from(d));
    }
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.data_dir().join("promptlab"))
}

/// `~/.config/promptlab` (XDG), or `$PROMPTLAB_CONFIG_DIR`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PROMPTLAB_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.config_dir().join("promptlab"))
}

/// `~/.cache/promptlab` (XDG), or `$PROMPTLAB_CACHE_DIR`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PROMPTLAB_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.cache_dir().join("promptlab"))
}

/// Sets top-level `key: value` in the YAML file at `path` by editing that one line (or
/// appending it), so the rest of a hand-written file (comments, order) stays as it is. The
/// write is atomic and under the file's lock; a missing file is created.
pub fn set_yaml_line(path: &Path, key: &str, value: &str) -> std::io::Result<()> {
    atomic::locked(path, || {
        let old = match read_text(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let line = format!("{key}: {value}");
        let prefix = format!("{key}:");
        let mut found = false;
        let mut lines: Vec<String> = old
            .lines()
            .map(|l| {
                if !found && l.starts_with(&prefix) {
                    found = true;
                    line.clone()
                } else {
                    l.to_string()
                }
            })
            .collect();
        if !found {
            lines.push(line);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        atomic::write_atomic(path, text.as_bytes())
    })?
}

/// The config file (`config.yaml` in the config directory).
pub fn config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_setting_is_changed_and_the_rest_of_the_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.yaml");
        std::fs::write(
            &p,
            "# my settings\nbase_url: http://x/v1  # the lab box\nsplit: 44\n",
        )
        .unwrap();
        set_yaml_line(&p, "split", "52").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# my settings\nbase_url: http://x/v1  # the lab box\nsplit: 52\n"
        );
        set_yaml_line(&p, "concurrency", "4").unwrap();
        assert!(
            std::fs::read_to_string(&p)
                .unwrap()
                .ends_with("split: 52\nconcurrency: 4\n")
        );
        let fresh = dir.path().join("new/config.yaml");
        set_yaml_line(&fresh, "split", "60").unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "split: 60\n");
    }
}
