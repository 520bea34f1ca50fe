//! `update(state, msg) -> effects`: every change of the lab's state happens here, with no I/O.

mod events;
mod examples;
mod panes;
mod picker;
mod popup;
mod popup_plan;
mod session;

use std::sync::Arc;

use crossterm::event::{KeyEvent, KeyEventKind};

use super::keymap::Action;
use super::msg::{Effect, Msg};
use super::popups::line_field::LineField;
use super::popups::{
    CompareRuns, Confirm, EvalBoard, Help, Leaderboard, Models, Picker, Room, SaveAs, SaveWhat,
    Sessions, TuneBoard,
};
use super::state::{AppState, Focus, Pending, Popup, RunView};
use crate::core::extract::AnswerKind;
use crate::core::free::ClusterRule;
use crate::core::render::Mode;
use crate::core::template::MAX_N;
use crate::engine::RunPlan;
use crate::tui::layout::Page;
use events::{engine_event, job_event};
use panes::{mouse, pane_action};
use popup::popup_key;
use session::{
    autosave, open_eval_setup, open_optimize_setup, open_tune_form, perform, save_to, saved,
};

/// How long edits wait before they are autosaved (typing keeps pushing nothing: the first
/// change sets the time, the save takes everything up to then).
pub const AUTOSAVE: std::time::Duration = std::time::Duration::from_secs(2);

pub fn update(s: &mut AppState, msg: Msg) -> Vec<Effect> {
    let input = matches!(msg, Msg::Key(_) | Msg::Mouse(_) | Msg::Paste(_));
    // A message lasts until the next key, paste or click that says nothing (as in helix):
    // the status line never keeps a stale one.
    let acted = match &msg {
        Msg::Key(k) => k.kind != KeyEventKind::Release,
        Msg::Mouse(m) => matches!(m.kind, crossterm::event::MouseEventKind::Down(_)),
        Msg::Paste(_) => true,
        _ => false,
    };
    if acted {
        s.status.clear();
    }
    let effects = dispatch(s, msg);
    if input {
        popup_plan::typed(s);
    }
    if input && s.autosave_due.is_none() && !s.quit && lab_unsaved(s) {
        s.autosave_due = Some(s.now + AUTOSAVE);
    }
    s.sync_cursors();
    effects
}

/// Whether the edits differ from the session file's (or, before any save, the template's).
fn lab_unsaved(s: &AppState) -> bool {
    s.session
        .saved
        .as_ref()
        .is_none_or(|saved| saved.lab != s.lab.template())
}

fn dispatch(s: &mut AppState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(k) if k.kind != KeyEventKind::Release => key(s, k),
        Msg::Key(_) => vec![],
        Msg::Mouse(m) => mouse(s, m),
        Msg::Resize(w, h) => {
            s.size = (w, h);
            vec![]
        }
        Msg::Tick(now) => {
            s.now = now;
            let mut effects = popup_plan::tick(s, now);
            if s.autosave_due.is_some_and(|due| due <= now) {
                s.autosave_due = None;
                if lab_unsaved(s) {
                    effects.push(autosave(s));
                }
            }
            effects
        }
        Msg::Paste(text) => paste(s, &text),
        Msg::Engine { run, event } => engine_event(s, run, event),
        Msg::Backend(Ok(info)) => {
            s.backend = Some(info);
            s.refresh_preview();
            vec![]
        }
        Msg::Backend(Err(e)) => {
            s.backend_state = "unavailable".into();
            s.popup = Some(Popup::error(e));
            vec![]
        }
        Msg::BackendState(state) => {
            s.backend_state = state;
            vec![]
        }
        other => reply(s, other),
    }
}

/// The executor's answers: lists, models, saves and opened sessions, a job's progress.
fn reply(s: &mut AppState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Models(Ok(items)) if items.is_empty() => {
            s.status = "no other model found (promptlab model pull OWNER/NAME gets one)".into();
            vec![]
        }
        Msg::Models(Ok(items)) => {
            pick_model(s, items);
            vec![]
        }
        Msg::Models(Err(e)) => {
            s.status = e;
            vec![]
        }
        Msg::ModelSwitched(Ok(info)) => {
            s.status = format!("now on {}", info.label());
            s.backend = Some(info);
            s.refresh_preview();
            vec![]
        }
        Msg::ModelSwitched(Err(e)) => {
            let still = s.backend.as_ref().map(|b| b.label()).unwrap_or_default();
            s.status.clear();
            s.popup = Some(Popup::error(format!(
                "could not switch the model: {e}; still on {still}"
            )));
            vec![]
        }
        Msg::Templates(items) => {
            let selected = items.iter().position(|i| i.name == s.lab.name).unwrap_or(0);
            s.popup = Some(Popup::Picker(Picker { items, selected }));
            vec![]
        }
        Msg::Saved(Ok(path)) => {
            s.status = format!("saved {path}");
            vec![]
        }
        Msg::Saved(Err(e)) => {
            s.popup = Some(Popup::error(e));
            vec![]
        }
        Msg::TemplateExists { path, template } => {
            let name = template.name.clone();
            s.popup = Some(Popup::Confirm(Confirm {
                question: format!(
                    "{} already exists. Replace it with these edits?",
                    path.display()
                ),
                then: Pending::ReplaceTemplate(name, template),
            }));
            vec![]
        }
        Msg::Sessions(items) => {
            if items.is_empty() {
                // After a delete, its message stays in front.
                let none = format!("no sessions in {} or ./sessions", s.session.dir.display());
                s.status = match s.status.as_str() {
                    "" => none,
                    said => format!("{said}; {none}"),
                };
            } else {
                s.popup = Some(Popup::Sessions(Sessions { items, selected: 0 }));
            }
            vec![]
        }
        Msg::SessionDeleted(r) => picker::deleted(s, r),
        Msg::SessionRenamed(r) => picker::renamed(s, r),
        Msg::SessionOpened(Ok((path, session))) => {
            let open = Pending::Open(Box::new((path, *session)));
            if s.is_running() {
                // Never under a live run: it is recorded where it started, then this opens.
                s.after_run = Some(open);
                s.status = "the session opens when the run has ended".into();
                return vec![];
            }
            perform(s, open)
        }
        Msg::SessionOpened(Err(e)) | Msg::SessionSaved(Err(e)) => {
            s.popup = Some(Popup::error(e));
            vec![]
        }
        Msg::Job(e) => {
            job_event(s, e);
            vec![]
        }
        Msg::Tune(_) | Msg::Tuned(_) => {
            events::tune_msg(s, msg);
            vec![]
        }
        Msg::OptimizeFailed(e) => {
            if let Some(o) = s.optimize.as_mut() {
                o.running = false;
            }
            s.popup = Some(Popup::error(e));
            vec![]
        }
        Msg::Planned { fields, plan } => {
            popup_plan::planned(s, fields, plan);
            vec![]
        }
        Msg::EvalFailed(e) => {
            if let Some(ev) = s.eval.as_mut() {
                ev.running = false;
            }
            s.popup = Some(Popup::error(e));
            vec![]
        }
        Msg::SessionSaved(Ok(landed)) => saved(s, landed),
        // Input, ticks, engine events and the backend are `dispatch`'s.
        _ => vec![],
    }
}

/// The model picker over `items`: on the adapter just tuned when it was offered, else on the
/// model running.
fn pick_model(s: &mut AppState, items: Vec<crate::tui::msg::ModelChoice>) {
    let now = s
        .backend
        .as_ref()
        .map(|b| b.model.clone())
        .unwrap_or_default();
    let offered = s.tune.as_mut().and_then(|t| t.offered.take());
    let selected = offered
        .and_then(|p| items.iter().position(|m| m.path.as_ref() == Some(&p)))
        .or_else(|| items.iter().position(|m| m.is(&now)))
        .unwrap_or(0);
    s.status.clear();
    s.popup = Some(Popup::Models(Models { items, selected }));
}

/// Asks `question`; yes does `then`.
fn confirm(s: &mut AppState, question: String, then: Pending) {
    s.popup = Some(Popup::Confirm(Confirm { question, then }));
}

/// Leaves the history: the edits, beside the session's latest run (not the one browsed).
fn back_to_edits(s: &mut AppState) {
    s.viewing = false;
    s.show_run(s.session.runs.len().checked_sub(1));
    s.status = "back to your edits (beside the latest run)".into();
}

fn cancel_run(s: &mut AppState) -> Vec<Effect> {
    if let Some(r) = s.run.as_mut() {
        r.cancelling = true;
    }
    s.status = "cancelling…".into();
    vec![Effect::CancelRun]
}

/// Inserts pasted text as one edit into the editor that has the keyboard.
fn paste(s: &mut AppState, text: &str) -> Vec<Effect> {
    // Terminals send pasted line breaks as CR.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    match s.popup.as_mut() {
        Some(p) => Room::<AppState>::paste(p, &text),
        None => {
            let Some((ed, typing)) = s.lab.editor_mut(s.focus) else {
                s.status = format!(
                    "pasted text goes into an editor: {} to the query or instruction first",
                    s.keymap.first_key(Action::FocusNext)
                );
                return vec![];
            };
            if typing.insert(ed, text) {
                s.refresh_preview();
            }
        }
    }
    vec![]
}

fn ask_name(s: &mut AppState, what: SaveWhat) {
    s.session.renaming = None;
    let suggestion = match what {
        SaveWhat::Template => format!("{}-edited", s.lab.name),
        SaveWhat::Session if s.session.named => s.session.name(),
        SaveWhat::Session => s.lab.name.clone(),
    };
    // The suggestion is selected: typing replaces it, → keeps it.
    s.popup = Some(Popup::SaveAs(SaveAs {
        name: LineField::selected(&suggestion),
        what,
    }));
}

fn key(s: &mut AppState, k: KeyEvent) -> Vec<Effect> {
    if s.popup.is_some() {
        return popup_key(s, k);
    }
    if let Some(a) = s.keymap.action(&k, s.focus.is_editor()) {
        return action(s, a);
    }
    let now = s.now;
    if let Some((ed, typing)) = s.lab.editor_mut(s.focus)
        && typing.input(ed, k, now)
    {
        s.refresh_preview();
    }
    vec![]
}

/// Performs an action in the focused pane.
pub fn action(s: &mut AppState, a: Action) -> Vec<Effect> {
    match a {
        Action::Run => return start_run(s, false),
        Action::Resample => return start_run(s, true),
        // Esc leaves a field (never cancelling a run from inside one).
        Action::Cancel if s.focus.is_editor() => {
            let left = s.focus.title().to_lowercase();
            s.focus = s.focus.next();
            if s.is_running() {
                s.status = format!(
                    "left the {left}; the run goes on ({} cancels it)",
                    s.keymap.first_key(Action::Run)
                );
            } else if s.viewing {
                back_to_edits(s);
            }
        }
        Action::Cancel => {
            if s.is_running() {
                return cancel_run(s);
            }
            if s.viewing {
                back_to_edits(s);
            }
            s.sel.filter = None;
        }
        Action::Quit => {
            if s.is_running() && !matches!(s.after_run, Some(Pending::Quit)) {
                // Asks first; yes (or the key again) records what arrived, then quits.
                let q = s.keymap.first_key(Action::Quit);
                confirm(
                    s,
                    format!(
                        "A run is sampling. Stop it, keep what arrived in this session, and quit? ({q} again: yes)"
                    ),
                    Pending::CancelRun(Box::new(Pending::Quit)),
                );
                return vec![];
            }
            if s.tune.as_ref().is_some_and(|t| t.running()) && !s.is_running() {
                let q = s.keymap.first_key(Action::Quit);
                confirm(
                    s,
                    format!(
                        "A tune is training. Stop it after this step (the last finished epoch's adapter is kept) and quit? ({q} again: yes)"
                    ),
                    Pending::Quit,
                );
                return vec![];
            }
            let mut e = vec![];
            if s.is_running() {
                e.push(Effect::CancelRun);
            }
            e.extend(perform(s, Pending::Quit));
            return e;
        }
        Action::Undo | Action::Redo => return undo(s, a == Action::Undo),
        Action::Zoom => {
            s.zoom = !s.zoom;
            // Zoomed, the editors are not on screen: the focus goes to the run.
            if s.zoom && (s.focus.is_editor() || s.focus == Focus::Examples) {
                s.focus = Focus::Paths;
            }
        }
        Action::EditSideNarrower | Action::EditSideWider => {
            let step: i32 = if a == Action::EditSideWider { 4 } else { -4 };
            let split = (i32::from(s.split) + step).clamp(20, 80) as u16;
            if split != s.split {
                s.split = split;
                s.zoom = false;
                s.status = format!("edit side {split}% (kept in the config file)");
                return vec![Effect::RememberSplit(split)];
            }
        }
        // Ctrl-C: stop the run, or leave when there is none (the session is saved).
        Action::Interrupt if s.is_running() => return cancel_run(s),
        Action::Interrupt => return action(s, Action::Quit),
        Action::Help => s.popup = Some(Popup::Help(Help::default())),
        Action::FocusNext => s.focus = s.focus.next(),
        Action::FocusPrev => s.focus = s.focus.prev(),
        Action::ToggleCot => set_strategy(s, s.lab.strategy.toggle_cot()),
        Action::CycleStrategy => set_strategy(s, s.lab.strategy.cycle()),
        Action::CycleMode => {
            s.lab.mode = match s.lab.mode {
                None => Some(Mode::Chat),
                Some(Mode::Chat) => Some(Mode::Completion),
                Some(Mode::Completion) => None,
            };
            s.status = format!(
                "mode: {}",
                s.lab.mode.map_or("the backend's default", Mode::as_str)
            );
            s.refresh_preview();
        }
        Action::MoreVotes => s.lab.sampling.n = (s.lab.sampling.n + 1).min(MAX_N),
        Action::FewerVotes => s.lab.sampling.n = s.lab.sampling.n.saturating_sub(1).max(1),
        Action::NextQuery => {
            let typed = s.lab.query_text();
            let picked = s.lab.queries.get(s.lab.query_pick);
            if s.lab.queries.is_empty() {
                s.status = "the template lists no further queries".into();
            } else if !typed.trim().is_empty() && picked != Some(&typed) {
                confirm(
                    s,
                    "Replace your edited query with the template's next one?".into(),
                    Pending::NextQuery,
                );
            } else {
                return perform(s, Pending::NextQuery);
            }
        }
        other => return files_and_views(s, other),
    }
    vec![]
}

/// Actions on files, models and views: templates, sessions, the run history, evaluations,
/// searches and compares; the rest goes to the focused pane.
fn files_and_views(s: &mut AppState, a: Action) -> Vec<Effect> {
    match a {
        Action::OpenTemplate => return vec![Effect::ListTemplates],
        Action::PickModel if s.is_running() => {
            s.status = "a run is in progress: switch the model after it".into();
        }
        Action::PickModel => {
            s.status = "looking for models…".into();
            return vec![Effect::ListModels];
        }
        Action::SaveTemplate => ask_name(s, SaveWhat::Template),
        Action::SaveSession if s.session.named => {
            s.base = s.lab.template();
            return vec![autosave(s)];
        }
        Action::SaveSession | Action::SaveSessionAs => ask_name(s, SaveWhat::Session),
        Action::OpenSession if s.is_running() => confirm(
            s,
            "A run is still sampling. Cancel it (what arrived stays in this session) and open another session?"
                .into(),
            Pending::CancelRun(Box::new(Pending::ListSessions)),
        ),
        Action::OpenSession => return vec![Effect::ListSessions],
        Action::PrevRun | Action::NextRun => {
            if s.is_running() {
                s.status = "the run history opens when the run ends".into();
            } else if s.session.runs.is_empty() {
                s.status = "no runs in this session yet".into();
            } else {
                let last = s.session.runs.len() - 1;
                let at = s.history.unwrap_or(last);
                let to = if a == Action::PrevRun {
                    at.saturating_sub(1)
                } else {
                    (at + 1).min(last)
                };
                s.show_run(Some(to));
                s.viewing = true;
                s.status = format!(
                    "viewing run {} of {}, read-only ({}: your edits) · {}",
                    to + 1,
                    last + 1,
                    s.keymap.first_key(Action::Cancel),
                    s.session.runs[to].timestamp
                );
            }
        }
        Action::Optimize => match &s.optimize {
            Some(_) => s.popup = Some(Popup::Optimize(Leaderboard::default())),
            None => open_optimize_setup(s),
        },
        Action::Eval => match &s.eval {
            Some(_) => s.popup = Some(Popup::Eval(EvalBoard::default())),
            None => open_eval_setup(s),
        },
        Action::Tune => match &s.tune {
            Some(_) => s.popup = Some(Popup::Tune(TuneBoard)),
            None => open_tune_form(s),
        },
        Action::Compare => match s.history {
            Some(b) if b > 0 && !s.is_running() => {
                s.popup = Some(Popup::Compare(CompareRuns {
                    a: b - 1,
                    b,
                    scroll: 0,
                }))
            }
            _ => s.status = "compare needs a shown run with one before it".into(),
        },
        other => pane_action(s, other),
    }
    vec![]
}

/// Ctrl-Z / Ctrl-Y: in an editor, its own typing history; elsewhere the lab's (examples,
/// settings, loaded templates and queries).
fn undo(s: &mut AppState, back: bool) -> Vec<Effect> {
    if let Some((ed, typing)) = s.lab.editor_mut(s.focus)
        && typing.step(ed, back)
    {
        s.refresh_preview();
        return vec![];
    }
    let (from, to) = if back {
        (&mut s.undo, &mut s.redo)
    } else {
        (&mut s.redo, &mut s.undo)
    };
    match from.pop() {
        Some(lab) => {
            let was = std::mem::replace(&mut s.lab, lab);
            let what = changed(&was.template(), &s.lab.template());
            to.push(was);
            s.sel.example = s.sel.example.min(s.lab.examples.len().saturating_sub(1));
            s.status = format!("{}: {what}", if back { "undone" } else { "redone" });
            s.refresh_preview();
        }
        None => s.status = format!("nothing to {}", if back { "undo" } else { "redo" }),
    }
    vec![]
}

/// What differs between two versions of the edits, in a word or two.
fn changed(
    a: &crate::core::template::Template,
    b: &crate::core::template::Template,
) -> &'static str {
    if a.examples != b.examples {
        "the examples"
    } else if a.instruction != b.instruction {
        "the instruction"
    } else if a.query != b.query || a.queries != b.queries {
        "the query"
    } else if a.strategy != b.strategy {
        "the strategy"
    } else if a.sampling != b.sampling || a.mode != b.mode {
        "a setting"
    } else if a.answer != b.answer {
        "the answer spec"
    } else {
        "the template"
    }
}

pub(super) fn set_strategy(s: &mut AppState, strategy: crate::core::template::Strategy) {
    s.lab.strategy = strategy;
    s.status = format!("strategy: {strategy}");
    s.refresh_preview();
}

/// Starts a run of the lab's prompt. Paths the sample cache holds arrive at once (raising N
/// keeps the paths shown and samples the new ones); `fresh` samples every path anew and the
/// new samples replace the cached ones.
fn start_run(s: &mut AppState, fresh: bool) -> Vec<Effect> {
    // F5 toggles: during a run it cancels it (once).
    if s.is_running() {
        if s.run.as_ref().is_some_and(|r| r.cancelling) {
            s.status = "cancelling… (what arrived is kept)".into();
            return vec![];
        }
        return cancel_run(s);
    }
    if s.backend.is_none() {
        s.status = format!("the backend is not ready ({})", s.backend_state);
        return vec![];
    }
    let template = s.lab.template();
    if template.answer.kind == AnswerKind::Free
        && template.answer.cluster() == ClusterRule::Embed
        && s.embed_model.is_none()
    {
        s.popup = Some(Popup::error(
            "answer cluster `embed` needs an embedding model: start the lab with --embed-model FILE.gguf (or set `embed_model:` in the config), or set the answer to free:overlap",
        ));
        return vec![];
    }
    let plan = match RunPlan::new(&template, &s.lab.query_text(), s.mode()) {
        Ok(mut plan) => {
            plan.concurrency = s.concurrency;
            plan.fresh = fresh;
            Arc::new(plan)
        }
        Err(e) => {
            s.popup = Some(Popup::error(e));
            return vec![];
        }
    };
    let id = s.next_run;
    s.next_run += 1;
    // The backend as it is now; the record takes the one that ran it when the run ends.
    let backend = s
        .backend
        .clone()
        .unwrap_or_else(|| crate::backend::BackendInfo::new("unknown", "unknown", s.mode()));
    s.run = Some(RunView::new(
        id,
        &plan,
        template,
        (s.clock)(),
        s.now,
        backend,
    ));
    s.history = None;
    s.viewing = false;
    // One page at a time on a narrow terminal: show the one with the run.
    if s.size.0 < crate::tui::layout::WIDE && crate::tui::layout::page(s.focus) != Page::Run {
        s.focus = Focus::Paths;
    }
    s.sel.filter = None;
    s.sel.path = 0;
    s.sel.tally = 0;
    s.status = format!(
        "run {id}: sampling {} paths{}…",
        plan.sampling.n,
        if fresh { " anew" } else { "" }
    );
    vec![Effect::StartRun { id, plan }]
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_plan;
#[cfg(test)]
mod tests_polish;
#[cfg(test)]
mod tests_status;
#[cfg(test)]
mod tests_tidy;
#[cfg(test)]
mod tests_tune;
#[cfg(test)]
mod tests_votes;
