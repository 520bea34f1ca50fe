//! The user's config file, `~/.config/promptlab/config.yaml` (or `$PROMPTLAB_CONFIG_DIR`).
//! Flags beat environment variables, which beat this file.

use std::path::PathBuf;

use serde::Deserialize;

use super::error::StoreError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Prefer OPENAI_API_KEY; a key here is read but never written anywhere.
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub model_path: Option<PathBuf>,
    /// The embedding GGUF of free-form votes clustered by `embed`.
    #[serde(default)]
    pub embed_model: Option<PathBuf>,
    /// N samples of one prompt in one request (`n`): auto, on or off (read by `app`).
    #[serde(default)]
    pub server_n: Option<String>,
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub logprobs: Option<bool>,
    /// The lab's edit side, in percent of a wide terminal (20 to 80; the lab remembers it
    /// here when changed with Alt-, and Alt-.).
    #[serde(default)]
    pub split: Option<u16>,
    /// Key bindings of the lab: action -> keys, e.g. `run: [f5, ctrl-g]` (the action names
    /// are mapped to the lab's actions by `app::lab_keys`).
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
}

impl Config {
    /// Paths sampled at once: the flag, else the config, else 16.
    pub fn concurrency(&self, flag: Option<usize>) -> usize {
        flag.or(self.concurrency).unwrap_or(16).max(1)
    }

    pub fn path() -> Option<PathBuf> {
        super::config_file()
    }

    /// Loads the config file if there is one; a broken file is an error, not silently ignored.
    pub fn load() -> Result<Config, StoreError> {
        let Some(path) = Self::path() else {
            return Ok(Config::default());
        };
        let config: Config = match super::read_text(&path) {
            Ok(text) => super::parse_yaml(&text, &path.display().to_string())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(StoreError::io(&path)(e)),
        };
        match config.server_n.as_deref() {
            None | Some("auto" | "on" | "off") => Ok(config),
            Some(other) => Err(StoreError::ServerN {
                path: path.display().to_string(),
                value: other.to_string(),
            }),
        }
    }
}
