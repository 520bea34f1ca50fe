//! Keys while a popup is open: the room open handles them (`tui::popups`), out of the state
//! meanwhile, and its `Step` is carried out here.

use crossterm::event::KeyEvent;

use super::{
    autosave, confirm, open_eval_setup, open_optimize_setup, open_tune_form, perform, save_to,
};
use crate::store::writer::Write;
use crate::tui::msg::{Effect, JobForm};
use crate::tui::popups::{Room, SaveWhat, Step};
use crate::tui::state::AppState;

pub(super) fn popup_key(s: &mut AppState, k: KeyEvent) -> Vec<Effect> {
    let a = s.keymap.action(&k, false);
    let Some(mut room) = s.popup.take() else {
        return vec![];
    };
    match room.key(s, k, a) {
        Step::Stay(effects) => {
            s.popup = Some(room);
            effects
        }
        Step::Close(effects) => effects,
        Step::Open(next) => {
            s.popup = Some(next);
            vec![]
        }
        Step::Perform(then) => perform(s, then),
        Step::Confirm(question, then) => {
            confirm(s, question, then);
            vec![]
        }
        Step::Act(action) => super::action(s, action),
        Step::SetTyped(field, typed) => {
            if let Err(e) = super::panes::set_typed(s, field, &typed) {
                s.status = e;
                s.popup = Some(room);
            }
            vec![]
        }
        Step::Save(what, name) => save_as(s, what, name),
        Step::Submit => {
            s.popup = Some(room);
            super::popup_plan::submit(s)
        }
        Step::NewJob(JobForm::Optimize) => {
            open_optimize_setup(s);
            vec![]
        }
        Step::NewJob(JobForm::Tune) => {
            open_tune_form(s);
            vec![]
        }
        Step::NewJob(_) => {
            open_eval_setup(s);
            vec![]
        }
    }
}

/// Saves the edits as a template or the session under `name` (checked by the room).
fn save_as(s: &mut AppState, what: SaveWhat, name: String) -> Vec<Effect> {
    s.base = s.lab.template();
    if what == SaveWhat::Session {
        let path = s.session.dir.join(format!("{name}.yaml"));
        if path == s.session.path {
            s.session.named = true;
            return vec![autosave(s)];
        }
        // The session moves to the new name once it is written; a file already
        // there is not replaced without a yes.
        s.session.renaming = Some(path.clone());
        return vec![save_to(s, path, Write::Create)];
    }
    let mut template = s.lab.template();
    template.name.clone_from(&name);
    s.lab.name.clone_from(&name);
    s.base = template.clone();
    vec![Effect::SaveTemplate {
        path: s.templates_dir.join(format!("{name}.yaml")),
        template: Box::new(template),
        replace: false,
    }]
}
