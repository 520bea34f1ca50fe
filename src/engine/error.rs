//! What can keep the engine from running a plan or a job, in the words the faces print.

use thiserror::Error;

use crate::backend::batches::ApiError;
use crate::core::spec::SpecError;
use crate::core::variants::VaryError;
use crate::store::error::StoreError;

/// Why a template and a query make no run (`RunPlan::new`).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("the query is empty: give one with --query or in the template")]
    EmptyQuery,
    #[error(
        "answer kind `choice` needs `choices` in the template, or a query that lists its options as \"(A) … (B) …\", \"A) …\", \"A. …\" or \"A: …\""
    )]
    NoOptions,
    #[error(transparent)]
    Calibrate(#[from] crate::core::calibrate::CalibrateError),
}

/// Why an evaluation, a search or a batch could not be set up or followed.
#[derive(Debug, Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Vary(#[from] VaryError),
    /// The template a search starts from, named.
    #[error("{name}: {source}")]
    Template { name: String, source: SpecError },
    /// An item of an evaluation that makes no run.
    #[error("item {id}: {source}")]
    Item { id: String, source: PlanError },
    #[error("no backend for model `{model}` lora `{lora}`")]
    NoBackend { model: String, lora: String },
    #[error("the dataset needs at least 2 items (dev and held-out)")]
    TooFewItems,
    #[error("no cache directory; use --no-cache")]
    NoCacheDir,
    #[error("{}: {source}", path.display())]
    Cache {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A task on the blocking threads that did not finish (a panic).
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
    #[error(
        "batch files take one-call strategies (direct, cot); `{0}` makes later calls from earlier replies"
    )]
    NotOneCall(&'static str),
    #[error("batch files are OpenAI batch requests: use an OpenAI-compatible backend (--base-url)")]
    NotOpenAi,
    #[error("--batch needs an OpenAI-compatible server (--base-url)")]
    NoServer,
    #[error("one batch goes to one endpoint, and these requests go to {0}: run the variants apart")]
    Endpoints(String),
    /// A batch that ended neither completed nor expired; `errors` is ": …" or empty.
    #[error("batch {id} {status}{errors}")]
    BatchFailed {
        id: String,
        status: String,
        errors: String,
    },
    #[error(
        "stopped following batch {0}; it goes on at the server: `promptlab batch resume {0}` scores it when it is done"
    )]
    StoppedFollowing(String),
}

/// The faces carry them as text.
impl From<PlanError> for String {
    fn from(e: PlanError) -> String {
        e.to_string()
    }
}

impl From<JobError> for String {
    fn from(e: JobError) -> String {
        e.to_string()
    }
}
