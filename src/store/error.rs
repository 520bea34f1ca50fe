//! What can go wrong with promptlab's files, in the words the faces print.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::core::name::NameError;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no template named `{0}` (`promptlab templates` lists them; a path to a .yaml file works too)"
    )]
    NotFound(String),
    #[error("{path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    /// A record that could not be written as JSON.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    /// A session that could not be written as YAML.
    #[error(transparent)]
    Yaml(#[from] serde_saphyr::SerializeError),
    #[error(transparent)]
    Name(#[from] NameError),
    /// An id a server chose that cannot name a file here.
    #[error("{0} (the server created it; promptlab keeps no record of it)")]
    Unkept(NameError),
    /// The platform gives no data folder; `{0}` is what it was wanted for.
    #[error("cannot find a data folder for {0}")]
    NoDataDir(&'static str),
    /// A record this machine never wrote: "no batch ID was submitted from this machine …".
    #[error("no {what} {id} was {done} from this machine ({} is missing)", path.display())]
    Missing {
        what: &'static str,
        id: String,
        done: &'static str,
        path: PathBuf,
    },
    #[error("{path}: server_n: unknown `{value}` (auto, on or off)")]
    ServerN { path: String, value: String },
    #[error("{} already exists: choose another name", .0.display())]
    Exists(PathBuf),
    #[error("{} could not be renamed: {source}", path.display())]
    Rename {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} could not be deleted: {source}", path.display())]
    Delete {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An adapter whose record names another base model.
    #[error("{} was trained on {base} (another model file); it cannot run on this one", adapter.display())]
    OtherBase { adapter: PathBuf, base: String },
    /// A save that failed; the file on disk is as it was.
    #[error("{0} (the file on disk is untouched)")]
    Unsaved(Box<StoreError>),
}

impl StoreError {
    /// `Io` naming `path`, for `map_err`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// `Json` naming `path`, for `map_err`.
    pub fn json(path: &Path) -> impl FnOnce(serde_json::Error) -> StoreError + '_ {
        move |source| StoreError::Json {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
}

/// What can go wrong pulling a model from the Hugging Face hub.
#[derive(Debug, Error)]
pub enum HubError {
    #[error(
        "`{0}` is not a repository: give OWNER/NAME[:QUANT], e.g. unsloth/gemma-3-1b-it-GGUF:Q4_K_M"
    )]
    NotARepository(String),
    #[error("the repository has no GGUF file")]
    NoGguf,
    #[error("no GGUF named for `{wanted}` in the repository: {names}")]
    NoneNamed { wanted: String, names: String },
    #[error("{0} is one part of a split model; promptlab pulls whole GGUF files")]
    Split(String),
    #[error("several GGUFs match `{wanted}`: {names}; name one more exactly")]
    Several { wanted: String, names: String },
    #[error("cannot start an HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("cannot reach {endpoint}: {source}")]
    Unreachable {
        endpoint: String,
        source: reqwest::Error,
    },
    #[error("{url}: not a file list: {source}")]
    NotAList { url: String, source: reqwest::Error },
    #[error("{repo}: access denied (HTTP {status}); a gated or private repository needs HF_TOKEN")]
    Denied { repo: String, status: u16 },
    #[error("{repo}: no such repository on {endpoint}")]
    NoRepository { repo: String, endpoint: String },
    #[error("{url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("{file}: the hub lists {total} bytes and the download is {done}; nothing was kept")]
    Size { file: String, total: u64, done: u64 },
    #[error(
        "{file}: checksum mismatch (the hub says sha256 {want}, the download is {got}); the partial file was removed"
    )]
    Checksum {
        file: String,
        want: String,
        got: String,
    },
    #[error(
        "the download stopped at {done} of {total} bytes ({source}); run the same command to resume"
    )]
    Cut {
        done: u64,
        total: u64,
        source: reqwest::Error,
    },
    /// A file that would replace another, or cannot be checked, without `--force`.
    #[error("{why}: refused. With --force it is kept beside, as {prefixed}")]
    Refused { why: String, prefixed: String },
    #[error("{why}, and {prefixed} is there too ({from}): move one of them away")]
    BothTaken {
        why: String,
        prefixed: String,
        from: String,
    },
    #[error("checksum: {0}")]
    Join(tokio::task::JoinError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Name(#[from] NameError),
}

impl From<HubError> for String {
    fn from(e: HubError) -> String {
        e.to_string()
    }
}
