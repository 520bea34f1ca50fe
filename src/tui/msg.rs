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
    SessionSaved(Result<crate::store::writer::Landed, String>),
    /// An evaluation or search reports.
    Job(crate::engine::jobs::JobEvent),
    EvalFailed(String),
    OptimizeFailed(String),
    /// A tune reports.
    Tune(crate::engine::tuner::TuneProgress),
    /// A tune ended: what it gave, or why it gave nothing.
    Tuned(Result<crate::engine::tuner::Tuned, String>),
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
    /// Training an adapter (or a learning curve).
    Tune,
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
        /// Sample every set's answers (the options' word `sampled`) instead of scoring them.
        sampled: bool,
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
    /// Train an adapter (or a curve) on the dataset with the lab's template; it reports as
    /// `Msg::Tune` and ends with `Msg::Tuned`.
    StartTune {
        dataset: PathBuf,
        options: crate::engine::tuner::TuneOptions,
        template: Box<Template>,
    },
    /// Stop the tune after its current step (the last finished epoch's adapter is kept).
    CancelTune,
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
    /// The source of a LoRA adapter (its path is the adapter's; it opens on its base).
    pub const ADAPTER: &str = "adapter";

    /// The GGUFs found on this machine, each followed by the adapters trained on it
    /// ("BASE + ADAPTER").
    pub fn local(found: Vec<crate::store::models::FoundModel>) -> Vec<ModelChoice> {
        let mut out = Vec::new();
        for m in found {
            let adapters = m.adapters.iter().map(|a| ModelChoice {
                name: format!("{} + {}", m.name, a.name),
                source: Self::ADAPTER.into(),
                path: Some(a.path.clone()),
                size_bytes: a.size_bytes,
            });
            let adapters: Vec<ModelChoice> = adapters.collect();
            out.push(ModelChoice {
                name: m.name,
                source: m.source.to_string(),
                path: Some(m.path),
                size_bytes: m.size_bytes,
            });
            out.extend(adapters);
        }
        out
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::adapters::FoundAdapter;
    use crate::store::models::FoundModel;

    #[test]
    fn the_picker_lists_adapters_under_their_base() {
        let adapter = FoundAdapter {
            name: "sums".into(),
            path: "/m/adapters/sums.gguf".into(),
            size_bytes: 7,
            record: None,
        };
        let found = vec![FoundModel {
            name: "base.gguf".into(),
            source: "promptlab",
            path: "/m/base.gguf".into(),
            size_bytes: 100,
            adapters: vec![adapter],
        }];
        let shown: Vec<(String, String)> = ModelChoice::local(found)
            .into_iter()
            .map(|c| (c.name, c.source))
            .collect();
        assert_eq!(
            shown,
            [
                ("base.gguf".to_string(), "promptlab".to_string()),
                (
                    "base.gguf + sums".to_string(),
                    ModelChoice::ADAPTER.to_string()
                )
            ]
        );
    }
}
