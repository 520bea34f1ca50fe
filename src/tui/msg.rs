//! What the lab reacts to, and what it asks the outside world to do.

use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyEvent, MouseEvent};

use std::path::PathBuf;

use crate::backend::BackendInfo;
use crate::core::template::Template;
use crate::engine::{EngineEvent, RunPlan};
use crate::store::session::{ListedSession, Session};

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// Text pasted into the terminal (bracketed paste), as one piece.
    Paste(String),
    Resize(u16, u16),
    Tick(Instant),
    /// An event of run `run`.
    Engine {
        run: u64,
        event: EngineEvent,
    },
    /// The backend is built (or could not be).
    Backend(Result<BackendInfo, String>),
    /// The backend's readiness changed ("loading model…", "ready", an error).
    BackendState(String),
    Templates(Vec<PickItem>),
    /// The models the lab can switch to (or why there are none).
    Models(Result<Vec<ModelChoice>, String>),
    /// The backend now runs another model (or could not: the old one stays).
    ModelSwitched(Result<BackendInfo, String>),
    /// A template was written (its path), or why not.
    Saved(Result<String, String>),
    /// A template export found a file of that name and left it alone.
    TemplateExists {
        path: PathBuf,
        template: Box<Template>,
    },
    Sessions(Vec<ListedSession>),
    /// A session file was deleted from the picker (its path), or why not.
    SessionDeleted(Result<PathBuf, String>),
    /// A session file was renamed from the picker (from, to), or why not.
    SessionRenamed(Result<(PathBuf, PathBuf), String>),
    SessionOpened(Result<(PathBuf, Box<Session>), String>),
    SessionSaved(crate::store::writer::Saved),
    /// An evaluation or search reports.
    Job(crate::engine::jobs::JobEvent),
    EvalFailed(String),
    OptimizeFailed(String),
    /// The plan of a setup form's job for the fields (dataset, options) it was asked for, or
    /// why there is none.
    Planned {
        fields: (String, String),
        plan: Result<String, String>,
    },
}

/// Which setup form a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobForm {
    Eval,
    Optimize,
    /// The demonstrations analysis.
    Examples,
}

#[derive(Debug, Clone)]
pub enum Effect {
    StartRun {
        id: u64,
        plan: Arc<RunPlan>,
    },
    CancelRun,
    ListTemplates,
    ListModels,
    SwitchModel(ModelChoice),
    SaveTemplate {
        path: PathBuf,
        template: Box<Template>,
        /// Replace a file already there (the user said so).
        replace: bool,
    },
    SaveSession {
        path: PathBuf,
        session: Box<Session>,
        how: crate::store::writer::Write,
    },
    ListSessions,
    OpenSession(PathBuf),
    /// Delete a session file (the user said yes).
    DeleteSession(PathBuf),
    /// Rename a session file, never replacing one.
    RenameSession {
        from: PathBuf,
        to: PathBuf,
    },
    StartEval {
        dataset: PathBuf,
        vary: Vec<String>,
        template: Box<Template>,
        concurrency: usize,
    },
    CancelEval,
    /// The demonstrations analysis of the template's examples (`orders` random orders); it
    /// reports as an evaluation of its example sets, then `JobEvent::Analysed`.
    StartExamples {
        dataset: PathBuf,
        orders: usize,
        template: Box<Template>,
        concurrency: usize,
    },
    StartOptimize {
        dataset: PathBuf,
        options: String,
        template: Box<Template>,
        concurrency: usize,
    },
    CancelOptimize,
    /// Compute the plan of the job a setup form describes (`fields`: dataset and options),
    /// answered by `Msg::Planned`.
    Plan {
        job: JobForm,
        fields: (String, String),
        template: Box<Template>,
    },
    /// Keep the edit side's share in the config file.
    RememberSplit(u16),
    /// Remove an unnamed session's autosave file once the session was saved under a name.
    DiscardAutosave(PathBuf),
    /// At lab start: remove autosaves that are old or whose runs a named session keeps
    /// (`store::tidy`), never this one.
    TidyAutosaves(PathBuf),
    Quit,
}

/// A model the lab can switch to.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    pub name: String,
    /// "promptlab", "ollama", "lm-studio" (GGUFs on this machine) or "server".
    pub source: String,
    /// The GGUF file, for the embedded backend.
    pub path: Option<PathBuf>,
    pub size_bytes: u64,
}

impl ModelChoice {
    /// Whether this is the model `model` (a backend's model name) names.
    pub fn is(&self, model: &str) -> bool {
        self.name == model
            || self
                .path
                .as_ref()
                .is_some_and(|p| p.file_stem().is_some_and(|f| f.to_string_lossy() == model))
    }
}

#[derive(Debug, Clone)]
pub struct PickItem {
    pub name: String,
    pub summary: String,
    pub template: Result<Template, String>,
}
