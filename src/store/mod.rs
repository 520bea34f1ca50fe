//! Files: templates (YAML), and atomic writes.

pub mod atomic;
pub mod dataset;
pub mod session;
pub mod template;

use std::path::PathBuf;

use etcetera::BaseStrategy;

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
