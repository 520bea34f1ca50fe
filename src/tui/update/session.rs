//! The session and what waits on it: saves (autosave, save as, a landed save), the job
//! forms, and `perform`, which does what was confirmed or waited for.

use std::sync::Arc;

use super::cancel_run;
use crate::store::writer::{Landed, Write};
use crate::tui::keymap::Action;
use crate::tui::msg::{Effect, JobForm};
use crate::tui::popups::{Confirm, Setup, TuneForm};
use crate::tui::state::{AppState, Lab, Pending, Popup, editor};

/// A session save landed: the file existed (a rename asks before replacing it), or it was
/// written (a rename completes; runs another promptlab added are taken in).
pub(super) fn saved(s: &mut AppState, landed: Landed) -> Vec<Effect> {
    match landed {
        Landed::Exists { path } => {
            if s.session.renaming.as_ref() == Some(&path) {
                s.session.renaming = None;
                s.popup = Some(Popup::Confirm(Confirm {
                    question: format!(
                        "{} already exists. Replace it with this session?",
                        path.display()
                    ),
                    then: Pending::ReplaceSession(path),
                }));
            }
            vec![]
        }
        Landed::Written { path, merged } => {
            let mut effects = vec![];
            if s.session.renaming.as_ref() == Some(&path) {
                s.session.renaming = None;
                let old = std::mem::replace(&mut s.session.path, path.clone());
                // The autosave file of a session now named has served its purpose.
                if !s.session.named && s.session.written && old != path {
                    effects.push(Effect::DiscardAutosave(old));
                }
                s.session.named = true;
            }
            if path != s.session.path {
                return effects; // an earlier session's last save
            }
            s.session.written = true;
            if !merged.is_empty() {
                s.status = format!(
                    "took in {} run(s) another promptlab added to {}",
                    merged.len(),
                    path.display()
                );
                if let Some(saved) = s.session.saved.as_mut() {
                    saved.runs.extend(merged.iter().cloned());
                }
                s.session.runs.extend(merged.into_iter().map(Arc::new));
            } else if s.session.named {
                s.status = format!("saved {}", path.display());
            }
            effects
        }
    }
}

/// The dataset a form offers: the last one typed in any form, else the one shipped under the
/// template's name (`assets/tickets.jsonl` for `tickets`), else the shipped sample.
fn form_dataset(s: &AppState) -> String {
    if let Some(typed) = &s.dataset {
        return typed.clone();
    }
    s.shipped_datasets
        .iter()
        .find(|p| std::path::Path::new(p).file_stem() == Some(std::ffi::OsStr::new(&s.lab.name)))
        .unwrap_or(&s.default_dataset)
        .clone()
}

/// The form's editors: the dataset (`form_dataset`) and the options.
pub(super) fn setup_editors(
    s: &AppState,
    options: &str,
    hint: &str,
) -> Box<[ratatui_textarea::TextArea<'static>; 2]> {
    Box::new([
        editor(
            &form_dataset(s),
            "a dataset: .jsonl, .csv or BIG-bench task.json",
        ),
        editor(options, hint),
    ])
}

pub(super) fn open_eval_setup(s: &mut AppState) {
    let editors = setup_editors(
        s,
        "strategy=direct,cot",
        "variants: KEY=V1,V2 … (empty: the prompt as it is)",
    );
    s.popup = Some(Popup::Setup(Setup::new(JobForm::Eval, editors)));
}

pub(super) fn open_optimize_setup(s: &mut AppState) {
    let editors = setup_editors(
        s,
        "candidates=4 rounds=2 keep=2 dev=6 budget=200",
        "candidates= rounds= keep= dev= held= budget= batch=",
    );
    s.popup = Some(Popup::Setup(Setup::new(JobForm::Optimize, editors)));
}

/// The tune form: the dataset last typed (or the shipped example) and an adapter named after
/// the template and the dataset, as `promptlab tune` names it.
pub(super) fn open_tune_form(s: &mut AppState) {
    let dataset = form_dataset(s);
    let stem = std::path::Path::new(&dataset)
        .file_stem()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The template's own dataset names the adapter after the template alone.
    let name = if stem == s.lab.name {
        stem
    } else {
        format!("{}-{stem}", s.lab.name)
    };
    s.popup = Some(Popup::TuneForm(TuneForm::new(&dataset, &name)));
}

/// Saves the session where it lives (autosave file until named), keeping runs others added.
pub(super) fn autosave(s: &mut AppState) -> Effect {
    let path = s.session.path.clone();
    save_to(s, path, Write::Merge)
}

/// Saves the session and its current edits to `path`.
pub(super) fn save_to(s: &mut AppState, path: std::path::PathBuf, how: Write) -> Effect {
    let session = s.session.to_session(s.lab.template());
    s.session.saved = Some(session.clone());
    s.autosave_due = None;
    Effect::SaveSession {
        path,
        session: Box::new(session),
        how,
    }
}

/// Whether there is anything the session file lacks: runs or edits it does not hold.
pub(super) fn unsaved(s: &AppState) -> bool {
    s.session.saved.as_ref() != Some(&s.session.to_session(s.lab.template()))
}

/// Does what was asked for (confirmed, or waited for).
pub(super) fn perform(s: &mut AppState, p: Pending) -> Vec<Effect> {
    match p {
        Pending::CancelRun(rest) if s.is_running() => {
            let quit = matches!(*rest, Pending::Quit);
            s.after_run = Some(*rest);
            let e = cancel_run(s);
            if quit {
                s.status = format!(
                    "keeping what arrived, then quitting ({} again quits at once)",
                    s.keymap.first_key(Action::Quit)
                );
            }
            e
        }
        Pending::CancelRun(rest) => perform(s, *rest),
        Pending::Quit => {
            s.quit = true;
            let mut e = vec![];
            // Keep the latest edits with the recorded runs; an unchanged session is not
            // rewritten.
            if unsaved(s) {
                e.push(autosave(s));
            }
            e.push(Effect::Quit);
            e
        }
        Pending::ListSessions => vec![Effect::ListSessions],
        Pending::DeleteSession(path, _) => vec![Effect::DeleteSession(path)],
        Pending::Open(opened) => {
            // The session being left keeps its edits: nothing is lost by opening another.
            let mut e = vec![];
            if unsaved(s) {
                e.push(autosave(s));
            }
            let (path, session) = *opened;
            let n = session.runs.len();
            s.status = format!(
                "opened {} ({n} run{})",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            s.open_session(path, session);
            e
        }
        Pending::LoadTemplate(t) => {
            s.checkpoint();
            s.lab = Lab::from_template(&t);
            s.base = *t;
            s.sel = Default::default();
            s.status = format!(
                "loaded template {} ({} undoes it)",
                s.base.name,
                s.keymap.first_key(Action::Undo)
            );
            s.refresh_preview();
            vec![]
        }
        Pending::NextQuery => {
            if !s.lab.queries.is_empty() {
                s.checkpoint();
                s.lab.query_pick = (s.lab.query_pick + 1) % s.lab.queries.len();
                s.lab.query = editor(&s.lab.queries[s.lab.query_pick], "type a question");
                s.lab.typing[1].clear();
                s.status = format!("query {} of {}", s.lab.query_pick + 1, s.lab.queries.len());
                s.refresh_preview();
            }
            vec![]
        }
        Pending::ReplaceSession(path) => {
            s.session.renaming = Some(path.clone());
            vec![save_to(s, path, Write::Replace)]
        }
        Pending::ReplaceTemplate(name, template) => {
            s.lab.name.clone_from(&name);
            s.base = (*template).clone();
            vec![Effect::SaveTemplate {
                path: s.templates_dir.join(format!("{name}.yaml")),
                template,
                replace: true,
            }]
        }
    }
}
