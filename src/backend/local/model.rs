//! The embedded model: what it is, how to get it, and cheap checks before llama.cpp sees a
//! file (a missing file, something that is not GGUF, a truncated download). Where it lives on
//! the machine is `store::models::default_model_path`; callers say whether a file is it.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub const DEFAULT_MODEL_NAME: &str = "Gemma 3 270M (base, Q4_K_M)";
pub const DEFAULT_MODEL_SHA256: &str =
    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";
pub const DEFAULT_MODEL_SIZE: u64 = 253_113_024;
pub const FETCH_HINT: &str = "get it with scripts/fetch-model.sh (or scripts/lab, which runs it)";

/// A model file refused before llama.cpp sees it (`model::check_gguf`).
#[derive(Debug, Error)]
pub enum GgufError {
    #[error("the embedded model is not installed at {}; {FETCH_HINT}", .0.display())]
    NotInstalled(PathBuf),
    #[error("model file not found: {}", .0.display())]
    NotFound(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a file", .0.display())]
    NotAFile(PathBuf),
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a GGUF model file", .0.display())]
    NotGguf(PathBuf),
    #[error(
        "{} is {len} bytes, not {DEFAULT_MODEL_SIZE}: truncated or corrupt; delete it and {FETCH_HINT}",
        path.display()
    )]
    Truncated { path: PathBuf, len: u64 },
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<GgufError> for String {
    fn from(e: GgufError) -> String {
        e.to_string()
    }
}

/// Checks that `path` is there and looks like a whole GGUF file. `embedded`: the file is where
/// the embedded model belongs (`store::models::is_default_model`), so a missing one gets the
/// hint to fetch it and its size is known.
pub fn check_gguf(path: &Path, embedded: bool) -> Result<u64, GgufError> {
    let here = || path.to_path_buf();
    let meta = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            if embedded {
                GgufError::NotInstalled(here())
            } else {
                GgufError::NotFound(here())
            }
        } else {
            GgufError::Io {
                path: here(),
                source,
            }
        }
    })?;
    if !meta.is_file() {
        return Err(GgufError::NotAFile(here()));
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|source| GgufError::Unreadable {
            path: here(),
            source,
        })?;
    if &magic != b"GGUF" {
        return Err(GgufError::NotGguf(here()));
    }
    if embedded && meta.len() != DEFAULT_MODEL_SIZE {
        return Err(GgufError::Truncated {
            path: here(),
            len: meta.len(),
        });
    }
    Ok(meta.len())
}

/// Whether a GGUF looks instruction-tuned by its file name ("-it", "instruct", "chat"): those
/// get chat prompts through the template stored in the file; base models get completions.
pub fn looks_instruction_tuned(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    name.contains("-it")
        || name.contains("_it")
        || name.contains("instruct")
        || name.contains("chat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_missing_and_non_gguf_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.gguf");
        assert!(
            check_gguf(&missing, false)
                .unwrap_err()
                .to_string()
                .contains("not found")
        );
        let text = dir.path().join("x.gguf");
        std::fs::write(&text, b"hello world").unwrap();
        assert!(
            check_gguf(&text, false)
                .unwrap_err()
                .to_string()
                .contains("not a GGUF")
        );
        let ok = dir.path().join("ok.gguf");
        std::fs::write(&ok, b"GGUF\x03\0\0\0").unwrap();
        assert_eq!(check_gguf(&ok, false).unwrap(), 8);
    }

    #[test]
    fn instruct_names() {
        assert!(looks_instruction_tuned(Path::new("gemma-3-1b-it-q4.gguf")));
        assert!(!looks_instruction_tuned(Path::new(
            "gemma-3-270m-q4_k_m.gguf"
        )));
    }
}
