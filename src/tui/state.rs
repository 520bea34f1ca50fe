//! The lab's state: the prompt being edited, the run being watched, focus and popups. Only
//! `update` changes it; `view` reads it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ratatui_textarea::TextArea;

use super::keymap::Keymap;
pub use super::msg::{ModelChoice, PickItem};
pub use super::popups::{Pending, Popup};
pub use super::run_view::{PathState, PathView, RunView};
pub use super::typing::{editor, editor_text};
use crate::backend::BackendInfo;
use crate::core::extract::AnswerSpec;
use crate::core::record::RunRecord;
use crate::core::render::{Mode, render};
use crate::core::settings::Key;
use crate::core::template::{Example, Sampling, Strategy, TEMPLATE_VERSION, Template};
use crate::store::session::Session;

/// The edit side's share of a wide terminal unless the config says otherwise.
pub const DEFAULT_SPLIT: u16 = 44;

/// The settings bar: the settings table's (`core::settings::Key::ALL`) rows up to the
/// instruction, in its order (`Selection::setting` indexes it). The instruction, the shots,
/// calibration and selection that follow are edited in their panes or kept as loaded.
pub const SETTINGS_BAR: &[Key] = Key::ALL.split_at(Key::Instruction as usize).0;

/// A setting's place in the settings bar (0 for one the bar does not show).
pub fn bar_index(key: Key) -> usize {
    SETTINGS_BAR.iter().position(|k| *k == key).unwrap_or(0)
}

/// Panes that can have focus, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Instruction,
    Examples,
    Query,
    Settings,
    Paths,
    Tally,
    Prompt,
}

impl Focus {
    pub const ORDER: [Focus; 7] = [
        Focus::Instruction,
        Focus::Examples,
        Focus::Query,
        Focus::Settings,
        Focus::Paths,
        Focus::Tally,
        Focus::Prompt,
    ];

    pub fn next(self) -> Focus {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }

    pub fn prev(self) -> Focus {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + Self::ORDER.len() - 1) % Self::ORDER.len()]
    }

    pub fn is_editor(self) -> bool {
        matches!(self, Focus::Instruction | Focus::Query)
    }

    pub fn title(self) -> &'static str {
        match self {
            Focus::Instruction => "Instruction",
            Focus::Examples => "Examples",
            Focus::Query => "Query",
            Focus::Settings => "Settings",
            Focus::Paths => "Paths",
            Focus::Tally => "Tally",
            Focus::Prompt => "Prompt",
        }
    }
}

/// The prompt being shaped.
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub description: String,
    pub instruction: TextArea<'static>,
    pub query: TextArea<'static>,
    pub examples: Vec<Example>,
    pub strategy: Strategy,
    pub answer: AnswerSpec,
    pub sampling: Sampling,
    /// `None`: the backend's default.
    pub mode: Option<Mode>,
    pub queries: Vec<String>,
    /// Least-to-most decomposition exemplars (kept as loaded; not edited in the lab).
    pub decomposition: Vec<crate::core::template::Decomposition>,
    /// `calibrate:` and `select:` (kept as loaded; not edited in the lab).
    pub calibrate: crate::core::template::Calibrate,
    pub select: Option<crate::core::template::Select>,
    pub query_pick: usize,
    /// The instruction's and the query's typing, undone a word at a time.
    pub typing: [super::typing::Typing; 2],
}

impl Lab {
    pub fn from_template(t: &Template) -> Lab {
        let mut queries: Vec<String> = t.query.iter().cloned().collect();
        queries.extend(t.queries.iter().cloned());
        Lab {
            name: t.name.clone(),
            description: t.description.clone(),
            instruction: editor(
                t.instruction.as_deref().unwrap_or(""),
                "(no instruction: type one, or leave it to the examples)",
            ),
            query: editor(t.query.as_deref().unwrap_or(""), "type a question"),
            examples: t.examples.clone(),
            decomposition: t.decomposition.clone(),
            calibrate: t.calibrate,
            select: t.select,
            strategy: t.strategy,
            answer: t.answer.clone(),
            sampling: t.sampling.clone(),
            mode: t.mode,
            queries,
            query_pick: 0,
            typing: Default::default(),
        }
    }

    /// The current edits as a template.
    pub fn template(&self) -> Template {
        let instruction = editor_text(&self.instruction);
        let query = editor_text(&self.query);
        Template {
            version: TEMPLATE_VERSION,
            name: self.name.clone(),
            description: self.description.clone(),
            instruction: Some(instruction).filter(|s| !s.trim().is_empty()),
            examples: self.examples.clone(),
            decomposition: self.decomposition.clone(),
            strategy: self.strategy,
            answer: self.answer.clone(),
            sampling: self.sampling.clone(),
            mode: self.mode,
            query: Some(query).filter(|s| !s.trim().is_empty()),
            queries: self.queries.iter().skip(1).cloned().collect(),
            calibrate: self.calibrate,
            select: self.select,
        }
    }

    pub fn query_text(&self) -> String {
        editor_text(&self.query)
    }

    /// The editor `focus` names, with its typing history.
    pub fn editor_mut(
        &mut self,
        focus: Focus,
    ) -> Option<(&mut TextArea<'static>, &mut super::typing::Typing)> {
        let [i, q] = &mut self.typing;
        match focus {
            Focus::Instruction => Some((&mut self.instruction, i)),
            Focus::Query => Some((&mut self.query, q)),
            _ => None,
        }
    }

    pub fn active_examples(&self) -> usize {
        self.examples.iter().filter(|e| e.enabled).count()
    }
}

/// A prompt search started from the lab, as it fills in.
#[derive(Debug, Clone, Default)]
pub struct OptimizeView {
    pub dataset: String,
    pub planned_calls: usize,
    pub round: usize,
    /// The leaderboard as the race left it, best first, your instruction's row included.
    pub standings: Vec<crate::core::ape::Standing>,
    /// Dev items the leaders have been scored on.
    pub items: usize,
    pub running: bool,
    /// At the end: the winner against your instruction on the held-out items, and what the
    /// search found in words.
    pub held: Option<crate::core::ape::HeldOut>,
    pub verdict: Option<String>,
    pub calls: usize,
    pub budget_reached: bool,
}

/// An evaluation started from the lab, as it fills in.
#[derive(Debug, Clone)]
pub struct EvalView {
    pub dataset: String,
    pub items: usize,
    pub variants: Vec<String>,
    /// Items done and correct so far, per variant.
    pub progress: Vec<(usize, usize)>,
    pub results: Vec<crate::engine::eval::VariantResult>,
    pub running: bool,
    pub variant: usize,
    pub item: usize,
    /// A learning curve tuned from the lab, shown in place of variants (none: an evaluation).
    pub curve: Option<crate::core::curve::Curve>,
}

impl EvalView {
    /// A learning curve, shown as the evaluation view shows an evaluation.
    pub fn of_curve(dataset: String, curve: crate::core::curve::Curve) -> EvalView {
        EvalView {
            dataset,
            items: curve.items,
            variants: Vec::new(),
            progress: Vec::new(),
            results: Vec::new(),
            running: false,
            variant: 0,
            item: 0,
            curve: Some(curve),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub example: usize,
    pub path: usize,
    pub tally: usize,
    /// Paths filtered to one answer (`Some(None)`: the no-answer bucket).
    pub filter: Option<Option<String>>,
    pub setting: usize,
    pub prompt_scroll: u16,
    /// The last left click (when, column, row): a second one there soon after is a double.
    pub last_click: Option<(Instant, u16, u16)>,
}

/// The session the lab records into.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// Where it is saved: a named file, or an autosave file until the user names it.
    pub path: PathBuf,
    pub named: bool,
    pub created: String,
    pub origin: Option<String>,
    /// The runs recorded, each shared with the screen while it is shown.
    pub runs: Vec<Arc<RunRecord>>,
    /// Where named sessions go.
    pub dir: PathBuf,
    /// The session as it was last opened or saved: quitting with nothing changed writes
    /// nothing (a hand-written file keeps its comments).
    pub saved: Option<Session>,
    /// A new name being saved to: the session moves there once the file is written.
    pub renaming: Option<PathBuf>,
    /// Whether a save of this session has landed (so there is a file to point to).
    pub written: bool,
}

impl SessionState {
    pub fn to_session(&self, lab: Template) -> Session {
        Session {
            version: crate::store::session::SESSION_VERSION,
            created: self.created.clone(),
            origin: self.origin.clone(),
            lab,
            runs: self.runs.iter().map(|r| (**r).clone()).collect(),
        }
    }

    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

pub struct AppState {
    pub lab: Lab,
    /// The latest evaluation, if one was started.
    pub eval: Option<EvalView>,
    /// The latest prompt search, if one was started.
    pub optimize: Option<OptimizeView>,
    /// The latest demonstrations analysis: the Examples pane shows its contributions while
    /// the examples are the ones it analysed.
    pub analysis: Option<crate::core::demos::Report>,
    /// The latest tune, if one was started.
    pub tune: Option<super::tune_view::TuneView>,
    /// Whether this lab can train adapters (why not, and how to get one that can).
    pub can_train: Result<(), String>,
    pub session: SessionState,
    /// The run on screen: live, or the recorded run `history` points at.
    pub run: Option<RunView>,
    /// Index of the shown run in `session.runs`, when it is a recorded one.
    pub history: Option<usize>,
    /// Browsing the history: the prompt and settings panes show the shown run's own, read-only.
    pub viewing: bool,
    /// The edits as last loaded or saved by the user: replacing edits that differ asks first.
    pub base: Template,
    /// Earlier states of the edits, for undo (newest last), and undone ones, for redo.
    pub undo: Vec<Lab>,
    pub redo: Vec<Lab>,
    /// What to do once the run on screen has ended.
    pub after_run: Option<Pending>,
    /// When the edits should next be autosaved (set by a change, cleared by the save).
    pub autosave_due: Option<Instant>,
    pub next_run: u64,
    pub focus: Focus,
    pub popup: Option<Popup>,
    pub sel: Selection,
    pub status: String,
    pub backend: Option<BackendInfo>,
    /// "loading model…", "ready", or why the backend is unusable.
    pub backend_state: String,
    pub keymap: Keymap,
    /// The rendered prompt of the current edits (kept current by `update`).
    pub preview: String,
    /// The last time the state was told (ticks), for elapsed-time displays.
    pub now: Instant,
    /// Terminal size, for mouse hit-testing against the same layout `view` draws.
    pub size: (u16, u16),
    /// Paths sampled at once.
    pub concurrency: usize,
    /// The embedding model free-form votes clustered by `embed` use (`--embed-model`).
    pub embed_model: Option<String>,
    /// Where exported templates are written.
    pub templates_dir: PathBuf,
    /// The edit side's share of a wide terminal, in percent (20 to 80).
    pub split: u16,
    /// The run side over the whole width.
    pub zoom: bool,
    /// The dataset last typed in the evaluation or search form (shared by both).
    pub dataset: Option<String>,
    /// The dataset the forms offer before anything was typed, unless one is shipped under
    /// the template's name (`shipped_datasets`).
    pub default_dataset: String,
    /// The datasets shipped beside promptlab (its `assets/*.jsonl`), as found at start.
    pub shipped_datasets: Vec<String>,
    /// Wall-clock timestamps for run records (fixed in tests).
    pub clock: fn() -> String,
    pub quit: bool,
}

impl AppState {
    pub fn new(template: &Template, keymap: Keymap, now: Instant) -> AppState {
        let session = SessionState {
            path: PathBuf::from("sessions/unsaved.yaml"),
            named: false,
            created: crate::store::session::now_rfc3339(),
            origin: Some(template.name.clone()),
            runs: Vec::new(),
            dir: PathBuf::from("sessions"),
            saved: None,
            renaming: None,
            written: false,
        };
        let mut s = AppState {
            lab: Lab::from_template(template),
            eval: None,
            optimize: None,
            analysis: None,
            tune: None,
            can_train: Err("this lab was started without a trainer".into()),
            session,
            run: None,
            history: None,
            viewing: false,
            base: template.clone(),
            undo: Vec::new(),
            redo: Vec::new(),
            after_run: None,
            autosave_due: None,
            next_run: 1,
            focus: Focus::Settings,
            popup: None,
            sel: Selection::default(),
            status: String::new(),
            backend: None,
            backend_state: "starting…".into(),
            keymap,
            preview: String::new(),
            now,
            size: (120, 40),
            concurrency: 16,
            embed_model: None,
            templates_dir: PathBuf::from("templates"),
            split: DEFAULT_SPLIT,
            zoom: false,
            dataset: None,
            default_dataset: "assets/arith-mini.jsonl".into(),
            shipped_datasets: Vec::new(),
            clock: crate::store::session::now_rfc3339,
            quit: false,
        };
        s.refresh_preview();
        s.session.saved = Some(s.session.to_session(s.lab.template()));
        s
    }

    pub fn mode(&self) -> Mode {
        self.lab
            .mode
            .or(self.backend.as_ref().map(|b| b.default_mode))
            .unwrap_or(Mode::Completion)
    }

    pub fn refresh_preview(&mut self) {
        let t = self.lab.template();
        let query = self.lab.query_text();
        let r = render(&t, &query, self.mode());
        let stops = if r.stop.is_empty() {
            String::new()
        } else {
            format!("\n\n── stop at: {:?}", r.stop)
        };
        self.preview = format!("{}{stops}", r.prompt);
    }

    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(RunView::is_running)
    }

    /// Opens a session: its edits in the editors, its last run on screen.
    pub fn open_session(&mut self, path: PathBuf, session: Session) {
        self.lab = Lab::from_template(&session.lab);
        self.base = session.lab.clone();
        self.undo.clear();
        self.redo.clear();
        self.viewing = false;
        self.session.renaming = None;
        self.session.written = true;
        self.session.path = path;
        self.session.named = true;
        self.session.created = session.created;
        self.session.origin = session.origin;
        self.session.runs = session.runs.into_iter().map(Arc::new).collect();
        self.sel = Selection::default();
        self.show_run(self.session.runs.len().checked_sub(1));
        self.refresh_preview();
        self.session.saved = Some(self.session.to_session(self.lab.template()));
    }

    /// Shows recorded run `i` (or nothing).
    pub fn show_run(&mut self, i: Option<usize>) {
        self.history = i.filter(|i| *i < self.session.runs.len());
        // Recorded runs carry id 0: no engine event (live ids start at 1) can land in them.
        self.run = self
            .history
            .map(|i| RunView::from_record(0, &self.session.runs[i], self.now));
        self.sel.filter = None;
        self.sel.path = 0;
        self.sel.tally = 0;
    }

    /// The run being browsed, when its own prompt and settings are shown instead of the edits.
    pub fn viewed(&self) -> Option<(usize, &RunRecord)> {
        let i = self.history.filter(|_| self.viewing)?;
        Some((i, self.run.as_ref()?.record.as_ref()))
    }

    /// Whether the edits differ from what was last loaded or saved by the user.
    pub fn edited(&self) -> bool {
        self.lab.template() != self.base
    }

    /// Keeps the edits as they are for undo, before a change that is not typing in an editor.
    pub fn checkpoint(&mut self) {
        const KEEP: usize = 100;
        self.undo.push(self.lab.clone());
        if self.undo.len() > KEEP {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Shows the text cursor only in the focused editor.
    pub fn sync_cursors(&mut self) {
        use ratatui::style::{Modifier, Style};
        let on = Style::default().add_modifier(Modifier::REVERSED);
        let off = Style::default();
        let focus = self.focus;
        self.lab
            .instruction
            .set_cursor_style(if focus == Focus::Instruction { on } else { off });
        self.lab
            .query
            .set_cursor_style(if focus == Focus::Query { on } else { off });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_bar_is_the_settings_tables_rows_before_the_instruction() {
        // The bar is cut from the table at the instruction's place: the table lists the
        // settings in their declared order.
        for (i, k) in Key::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k:?}");
        }
        assert_eq!(SETTINGS_BAR.first(), Some(&Key::Strategy));
        assert_eq!(SETTINGS_BAR.last(), Some(&Key::Effort));
        assert_eq!(SETTINGS_BAR.len(), 13);
    }
}
