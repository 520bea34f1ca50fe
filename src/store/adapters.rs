//! LoRA adapters `promptlab tune` wrote: GGUF files in the models folder's `adapters/`, each
//! with a small record beside it (`NAME.json`): the base it was trained on (file, size,
//! content fingerprint), the data (fingerprint, split), the prompt format, the settings, the
//! loss curve, the time it took, the llama.cpp check, and the promptlab version.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::core::render::Mode;

/// promptlab's adapters folder: `~/.cache/promptlab/models/adapters`.
pub fn adapters_dir() -> Option<PathBuf> {
    super::cache_dir().map(|d| d.join("models").join("adapters"))
}

/// The adapter a user named: a file that exists as given, else a bare name (one plain path
/// component, `tickets` or `tickets.gguf`) looked up in `dir` (the adapters folder), else the
/// name as given, for the loader to refuse.
pub fn resolve_in(given: &Path, dir: Option<&Path>) -> PathBuf {
    let mut parts = given.components();
    let bare = matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    );
    if given.exists() || !bare {
        return given.to_path_buf();
    }
    let Some(dir) = dir else {
        return given.to_path_buf();
    };
    let file = if given.extension().is_some_and(|e| e == "gguf") {
        given.to_path_buf()
    } else {
        given.with_extension("gguf")
    };
    let found = dir.join(file);
    if found.is_file() {
        found
    } else {
        given.to_path_buf()
    }
}

/// The record beside an adapter.
pub fn record_path(adapter: &Path) -> PathBuf {
    adapter.with_extension("json")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The promptlab version that trained it.
    pub promptlab: String,
    pub base: Base,
    pub data: DataRecord,
    pub prompt: PromptFormat,
    pub settings: Tuning,
    /// Each optimiser step's loss on its answer tokens.
    pub losses: Vec<f32>,
    /// Tokens run forward and backward, and the seconds training took.
    pub tokens: usize,
    pub training_seconds: f64,
    pub epochs_done: usize,
    /// False when training was stopped early (the adapter is the last checkpoint).
    pub complete: bool,
    pub size_bytes: u64,
    /// The adapter through llama.cpp against candle's prediction, when checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<LogitsCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Base {
    /// The GGUF's file name and path when trained.
    pub file: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// `backend::fingerprint_file` of the GGUF: an adapter is refused on another base.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    pub dataset: String,
    /// sha256 of the dataset file.
    pub fingerprint: String,
    pub rows: usize,
    pub train_rows: usize,
    /// The rows kept out of training (to evaluate on), by id; the shuffle's seed.
    pub held_out: Vec<String>,
    pub split_seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptFormat {
    pub template: String,
    pub strategy: String,
    pub mode: Mode,
    /// The specialist is prompted without examples.
    pub shots: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<String>,
    pub epochs: usize,
    pub learning_rate: f64,
    pub seed: u64,
    pub batch_tokens: usize,
}

/// How the adapter moves llama.cpp's logits after a prompt (adapter minus base) against how
/// it moves candle's, on the same tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogitsCheck {
    /// Max absolute difference and correlation of the two moves.
    pub max_abs_diff: f32,
    pub correlation: f64,
    /// Whether both engines' top token with the adapter agree.
    pub argmax_agrees: bool,
    /// The largest move of one logit, in llama.cpp and as candle predicted it.
    pub shift: f32,
    pub predicted_shift: f32,
}

pub fn write_record(adapter: &Path, record: &Record) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    super::atomic::write_atomic(&record_path(adapter), json.as_bytes())
}

/// The record beside `adapter`, if there is one; a broken record is an error.
pub fn read_record(adapter: &Path) -> Result<Option<Record>, StoreError> {
    let path = record_path(adapter);
    match super::read_text(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(StoreError::json(&path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(&path)(e)),
    }
}

/// One adapter file found, with its record when it has a readable one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundAdapter {
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

impl FoundAdapter {
    /// Whether this adapter was trained on the model file at `path` of `size_bytes`.
    pub fn fits(&self, path: &Path, size_bytes: u64) -> bool {
        self.record.as_ref().is_some_and(|r| {
            r.base.size_bytes == size_bytes
                && (r.base.path == path || path.file_name() == Some(r.base.file.as_ref()))
        })
    }
}

/// The adapters in `dir`, sorted by name.
pub fn find(dir: &Path) -> Vec<FoundAdapter> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| FoundAdapter {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size_bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
            record: read_record(&path).ok().flatten(),
            path,
        })
        .collect()
}

/// The first of `name-2`, `name-3`, … that `taken` says is free: the name to offer when
/// `name`'s adapter exists already.
pub fn free_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (2..)
        .map(|n| format!("{name}-{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_string())
}

/// Refuses an adapter whose record names another base than `base_fingerprint`.
pub fn check_base(adapter: &Path, base_fingerprint: &str) -> Result<(), StoreError> {
    match read_record(adapter)? {
        Some(r) if r.base.fingerprint != base_fingerprint => Err(StoreError::OtherBase {
            adapter: adapter.to_path_buf(),
            base: r.base.file,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::models::Stores;

    #[test]
    fn a_free_name_skips_the_taken_ones() {
        let taken = ["tickets", "tickets-2", "tickets-3"];
        assert_eq!(free_name("tickets", |n| taken.contains(&n)), "tickets-4");
        assert_eq!(free_name("sums", |n| taken.contains(&n)), "sums-2");
    }

    #[test]
    fn a_bare_adapter_name_is_found_in_the_adapters_folder_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let adapters = dir.path().join("adapters");
        std::fs::create_dir(&adapters).unwrap();
        std::fs::write(adapters.join("tickets.gguf"), b"x").unwrap();
        let found = adapters.join("tickets.gguf");
        let d = Some(adapters.as_path());
        assert_eq!(resolve_in(Path::new("tickets"), d), found);
        assert_eq!(resolve_in(Path::new("tickets.gguf"), d), found);
        // Not there, a path of more than one part, or escaping the folder: as given.
        assert_eq!(resolve_in(Path::new("other"), d), Path::new("other"));
        let up = Path::new("../adapters/tickets");
        assert_eq!(resolve_in(up, d), up);
        let nested = Path::new("x/tickets");
        assert_eq!(resolve_in(nested, d), nested);
        assert_eq!(resolve_in(Path::new("tickets"), None), Path::new("tickets"));
    }

    fn record(base: &Path, size_bytes: u64, fingerprint: &str) -> Record {
        Record {
            promptlab: "0".into(),
            base: Base {
                file: base.file_name().unwrap().to_string_lossy().into_owned(),
                path: base.to_path_buf(),
                size_bytes,
                fingerprint: fingerprint.into(),
            },
            data: DataRecord {
                dataset: "d".into(),
                fingerprint: "f".into(),
                rows: 10,
                train_rows: 8,
                held_out: vec!["a".into(), "b".into()],
                split_seed: 1,
            },
            prompt: PromptFormat {
                template: "t".into(),
                strategy: "direct".into(),
                mode: Mode::Completion,
                shots: 0,
            },
            settings: Tuning {
                rank: 8,
                alpha: 16.0,
                targets: vec!["q".into()],
                epochs: 1,
                learning_rate: 1e-3,
                seed: 1,
                batch_tokens: 512,
            },
            losses: vec![2.0, 1.0],
            tokens: 100,
            training_seconds: 1.0,
            epochs_done: 1,
            complete: true,
            size_bytes: 4,
            check: None,
        }
    }

    #[test]
    fn adapters_are_listed_under_their_base_and_refused_on_another() {
        let d = tempfile::tempdir().unwrap();
        let own = d.path().join("models");
        let base = own.join("base.gguf");
        std::fs::create_dir_all(own.join("adapters")).unwrap();
        std::fs::write(&base, b"GGUF base").unwrap();
        let mine = own.join("adapters/mine.gguf");
        let other = own.join("adapters/other.gguf");
        let bare = own.join("adapters/bare.gguf");
        for a in [&mine, &other, &bare] {
            std::fs::write(a, b"GGUF").unwrap();
        }
        write_record(&mine, &record(&base, 9, "print")).unwrap();
        write_record(&other, &record(&own.join("elsewhere.gguf"), 5, "x")).unwrap();
        let stores = Stores {
            own: Some(own.clone()),
            adapters: Some(own.join("adapters")),
            ..Stores::default()
        };
        let found = stores.find();
        assert_eq!(found.len(), 1, "adapters/ is not a model: {found:?}");
        let names: Vec<&str> = found[0].adapters.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["mine"]);
        let orphans: Vec<String> = stores
            .orphan_adapters(&found)
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(orphans, ["bare", "other"]);
        assert!(check_base(&mine, "print").is_ok());
        let refused = check_base(&mine, "another").unwrap_err().to_string();
        assert!(refused.contains("trained on base.gguf"), "{refused}");
        // No record: nothing to check against (llama.cpp still checks names and shapes).
        assert!(check_base(&bare, "another").is_ok());
    }
}
