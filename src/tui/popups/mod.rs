//! The lab's popups as rooms: each file holds one popup (or one family), its state, what its
//! keys do and how it is drawn. A room's key handling changes the lab's state it is handed
//! and says what follows as a `Step` (no I/O: effects are the executor's); `update` carries
//! out the steps that need the lab's own machinery (doing what was confirmed, saving, a job's
//! plan). This module knows the rooms' protocol, not the lab's state: every room implements
//! `Room<AppState>`, and `Popup` dispatches to the one open.

mod compare_paths;
mod compare_runs;
mod confirm;
mod error;
mod eval;
mod example;
pub mod fields;
mod help;
pub mod keys;
pub mod line_field;
mod models;
mod optimize;
mod path;
mod picker;
mod save_as;
mod sessions;
mod setting;
mod setup;
mod tune;

use std::path::PathBuf;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Clear, List, ListItem, ListState};

use super::keymap::Action;
use super::msg::{Effect, JobForm};
use crate::core::settings::Key;
use crate::core::template::Template;
use crate::store::session::Session;

pub use compare_paths::ComparePaths;
pub use compare_runs::CompareRuns;
pub use confirm::Confirm;
pub use error::ErrorBox;
pub use eval::EvalBoard;
pub use example::ExampleForm;
pub use help::Help;
pub use models::Models;
pub use optimize::Leaderboard;
pub use path::PathDetail;
pub use picker::Picker;
pub use save_as::{SaveAs, SaveWhat};
pub use sessions::{RenameSession, Sessions};
pub use setting::SettingInput;
pub use setup::{Setup, SetupPlan};
pub use tune::{TuneBoard, TuneForm};

/// What a room does, over the lab's state `S`.
pub trait Room<S> {
    fn draw(&self, f: &mut Frame, area: Rect, s: &S);
    /// A key while the room is open (it is out of the lab's state meanwhile): what follows.
    fn key(&mut self, s: &mut S, k: KeyEvent, a: Option<Action>) -> Step;
    /// Its keys, for the footer.
    fn keys(&self, s: &S) -> Vec<(String, &'static str)>;
    /// Pasted text (line breaks as `\n`), for a room with a field to type in.
    fn paste(&mut self, _text: &str) {}
}

impl<S, R: Room<S>> Room<S> for Box<R> {
    fn draw(&self, f: &mut Frame, area: Rect, s: &S) {
        (**self).draw(f, area, s)
    }
    fn key(&mut self, s: &mut S, k: KeyEvent, a: Option<Action>) -> Step {
        (**self).key(s, k, a)
    }
    fn keys(&self, s: &S) -> Vec<(String, &'static str)> {
        (**self).keys(s)
    }
    fn paste(&mut self, text: &str) {
        (**self).paste(text)
    }
}

/// What follows a key in a room.
#[derive(Debug)]
pub enum Step {
    /// The room stays open, with these effects.
    Stay(Vec<Effect>),
    /// The room closes, with these effects (anything the key opened stays open).
    Close(Vec<Effect>),
    /// Another room takes its place.
    Open(Popup),
    /// The room closes and the lab does this (a yes, a template picked).
    Perform(Pending),
    /// The room closes and the lab asks this first; yes does the pending thing.
    Confirm(String, Pending),
    /// The room closes and the lab does this action (quitting through an error).
    Act(Action),
    /// Sets the setting to the typed value; the room stays open while it is refused.
    SetTyped(Key, String),
    /// Saves under a checked name (the room closes).
    Save(SaveWhat, String),
    /// Enter in a job form: its plan, or the job once the plan is on screen.
    Submit,
    /// The room closes and the form of a new job of this kind opens.
    NewJob(JobForm),
}

impl Step {
    pub fn stay() -> Step {
        Step::Stay(vec![])
    }
    pub fn close() -> Step {
        Step::Close(vec![])
    }
}

/// Something the user asked for that waits: for a yes in a `Confirm`, or for the run on
/// screen to end (the lab never switches sessions under a live run).
#[derive(Debug, Clone)]
pub enum Pending {
    Quit,
    ListSessions,
    /// A session that was read, to open.
    Open(Box<(PathBuf, Session)>),
    LoadTemplate(Box<Template>),
    NextQuery,
    /// Save the session under this path, replacing the file there.
    ReplaceSession(PathBuf),
    /// Export the template under this path, replacing the file there.
    ReplaceTemplate(String, Box<Template>),
    /// Cancel the run, then do the rest.
    CancelRun(Box<Pending>),
    /// Delete this session file; a no returns to the picker it was asked from.
    DeleteSession(PathBuf, Box<Popup>),
}

/// The popup enum and its dispatch to the room open.
macro_rules! rooms {
    ($($(#[$doc:meta])* $variant:ident($room:ty),)*) => {
        #[derive(Debug, Clone)]
        pub enum Popup {
            $($(#[$doc])* $variant($room),)*
        }

        impl<S> Room<S> for Popup
        where
            $($room: Room<S>,)*
        {
            fn draw(&self, f: &mut Frame, area: Rect, s: &S) {
                match self {
                    $(Popup::$variant(r) => r.draw(f, area, s),)*
                }
            }
            fn key(&mut self, s: &mut S, k: KeyEvent, a: Option<Action>) -> Step {
                match self {
                    $(Popup::$variant(r) => r.key(s, k, a),)*
                }
            }
            fn keys(&self, s: &S) -> Vec<(String, &'static str)> {
                match self {
                    $(Popup::$variant(r) => r.keys(s),)*
                }
            }
            fn paste(&mut self, text: &str) {
                match self {
                    $(Popup::$variant(r) => Room::<S>::paste(r, text),)*
                }
            }
        }
    };
}

rooms! {
    Help(Help),
    Error(ErrorBox),
    /// A yes/no question; yes does its `then`.
    Confirm(Confirm),
    /// Typing a value for a setting of the settings bar.
    SettingInput(SettingInput),
    /// The templates to load.
    Picker(Picker),
    /// The models to switch to.
    Models(Models),
    SaveAs(SaveAs),
    Sessions(Sessions),
    /// A new name for a session file (same folder).
    RenameSession(RenameSession),
    /// One run against another (indices into the session's runs).
    Compare(CompareRuns),
    /// Editing one example: input, rationale, answer.
    Example(ExampleForm),
    PathDetail(PathDetail),
    /// Paths side by side (`columns` are path indices, the first is the diff base).
    ComparePaths(Box<ComparePaths>),
    /// Starting an evaluation, the examples analysis or a prompt search: dataset and options,
    /// and its plan once asked.
    Setup(Setup),
    /// The prompt search's leaderboard, filling in live.
    Optimize(Leaderboard),
    /// The evaluation: table, maj@k chart, items; a drill into one item's paths.
    Eval(EvalBoard),
    /// Training an adapter or a learning curve: its fields and plan.
    TuneForm(TuneForm),
    /// The latest tune: its progress, then what it gave.
    Tune(TuneBoard),
}

impl Popup {
    pub fn error(e: impl Into<String>) -> Popup {
        Popup::Error(ErrorBox(e.into()))
    }
}

/// Pasted text for a one-line field: its line breaks become spaces.
fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// The keys of rooms that only show something and scroll: ↑/↓ and close.
fn scroll_keys(k: impl Fn(Action) -> String) -> Vec<(String, &'static str)> {
    vec![
        (format!("{}/{}", k(Action::Up), k(Action::Down)), "scroll"),
        (k(Action::Cancel), "close"),
    ]
}

/// The keys of a one-line field.
fn field_keys(k: impl Fn(Action) -> String) -> Vec<(String, &'static str)> {
    vec![
        ("Enter".into(), "set"),
        ("Ctrl-U".into(), "clear"),
        (k(Action::Cancel), "cancel"),
    ]
}

/// The keys of a list to pick from.
fn list_keys(k: impl Fn(Action) -> String) -> Vec<(String, &'static str)> {
    vec![
        (format!("{}/{}", k(Action::Up), k(Action::Down)), "select"),
        (k(Action::Select), "open"),
        (k(Action::Cancel), "close"),
    ]
}

/// The keys of a long job's view.
fn job_keys(k: impl Fn(Action) -> String) -> Vec<(String, &'static str)> {
    vec![
        (format!("{}/{}", k(Action::Up), k(Action::Down)), "select"),
        (k(Action::Select), "open"),
        (k(Action::Delete), "stop"),
        (k(Action::Add), "new"),
        (k(Action::Cancel), "close"),
    ]
}

/// A long job's view, cleared, over most of the screen: two rows free at each end, so the
/// status line and the footer stay visible.
fn job_area(f: &mut Frame, area: Rect) -> Rect {
    let r = super::panes::centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(4),
    );
    f.render_widget(Clear, r);
    r
}

/// Esc, or a plain `q`: leaving a job's view (or its drill-down).
fn leaves(a: Option<Action>, k: &KeyEvent) -> bool {
    match a {
        Some(a) => a == Action::Cancel,
        None => k.code == crossterm::event::KeyCode::Char('q') && k.modifiers.is_empty(),
    }
}

/// A list to pick from, drawn over what is beneath it, `selected` highlighted.
fn pick_list(f: &mut Frame, r: Rect, rows: Vec<ListItem>, title: String, selected: usize) {
    let list = List::new(rows)
        .block(super::panes::block(title, true))
        .highlight_style(Style::default().bg(Color::DarkGray));
    f.render_widget(Clear, r);
    f.render_stateful_widget(
        list,
        r,
        &mut ListState::default().with_selected(Some(selected)),
    );
}
