//! The last measured speed of each backend (seconds per sampled path at the concurrency it
//! ran), kept in the cache folder so the next evaluation's plan can say how long it will take.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FILE: &str = "speeds.json";

fn file() -> Option<PathBuf> {
    super::cache_dir().map(|d| d.join(FILE))
}

fn read(path: &Path) -> BTreeMap<String, f64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The last seconds per path measured on the backend `identity`, if any.
pub fn last(identity: &str) -> Option<f64> {
    read_at(&file()?, identity)
}

pub fn read_at(path: &Path, identity: &str) -> Option<f64> {
    read(path).get(identity).copied().filter(|s| *s > 0.0)
}

/// Records `seconds_per_path` for `identity` (best effort: a speed is a hint, not data).
pub fn record(identity: &str, seconds_per_path: f64) {
    if let Some(path) = file() {
        let _ = record_at(&path, identity, seconds_per_path);
    }
}

pub fn record_at(path: &Path, identity: &str, seconds_per_path: f64) -> std::io::Result<()> {
    if !(seconds_per_path.is_finite() && seconds_per_path > 0.0) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut all = read(path);
    all.insert(identity.to_string(), seconds_per_path);
    let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)?;
    super::atomic::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_speed_is_read_back_per_backend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speeds.json");
        assert_eq!(read_at(&path, "local a"), None);
        record_at(&path, "local a", 0.5).unwrap();
        record_at(&path, "openai b", 2.0).unwrap();
        record_at(&path, "openai b", f64::NAN).unwrap();
        assert_eq!(read_at(&path, "local a"), Some(0.5));
        assert_eq!(read_at(&path, "openai b"), Some(2.0));
    }
}
