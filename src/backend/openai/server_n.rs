//! The servers found to ignore `n`, kept in a small JSON file (`"BASE_URL MODEL": false`).
//! A base URL is kept without credentials (`core::record::host_of`).

use std::path::Path;

use crate::core::record::host_of;

fn key(base_url: &str, model: &str) -> String {
    format!("{} {model}", host_of(base_url))
}

fn read(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub fn ignores(path: &Path, base_url: &str, model: &str) -> bool {
    read(path).get(&key(base_url, model)) == Some(&serde_json::Value::Bool(false))
}

pub fn remember(path: &Path, base_url: &str, model: &str) {
    let mut map = read(path);
    map.insert(key(base_url, model), serde_json::Value::Bool(false));
    let text = serde_json::Value::Object(map).to_string();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
    tracing::info!(
        base_url = host_of(base_url),
        model,
        "the server ignores `n`: one request per path from now on"
    );
}
