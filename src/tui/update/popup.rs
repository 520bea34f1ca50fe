//! Keys while a popup is open.

use crossterm::event::{KeyCode, KeyEvent};

use super::keys::{
    closes, field_input, help_extent, is_clear, path_extent, scrolled, selected_moved,
};
use super::{autosave, confirm, open_eval_setup, open_optimize_setup, perform, save_to};
use crate::store::writer::Write;
use crate::tui::keymap::Action;
use crate::tui::msg::Effect;
use crate::tui::state::{AppState, Pending, Popup, SaveWhat, editor_text};

pub(super) fn popup_key(s: &mut AppState, k: KeyEvent) -> Vec<Effect> {
    let a = s.keymap.action(&k, false);
    match &s.popup {
        Some(Popup::Confirm { .. }) => confirm_key(s, k, a),
        Some(Popup::SettingInput { .. }) => setting_input_key(s, k, a),
        Some(Popup::Help { .. }) => help_key(s, k, a),
        Some(Popup::Error(_)) => error_key(s, k, a),
        Some(Popup::PathDetail { .. }) => path_detail_key(s, k, a),
        Some(Popup::Picker { .. }) => picker_key(s, k, a),
        Some(Popup::Models { .. }) => models_key(s, k, a),
        Some(Popup::SaveAs { .. }) => save_as_key(s, k, a),
        Some(Popup::Sessions { .. }) => super::picker::sessions_key(s, k, a),
        Some(Popup::RenameSession { .. }) => super::picker::rename_key(s, k, a),
        Some(Popup::EvalSetup { .. } | Popup::OptimizeSetup { .. }) => setup_key(s, k, a),
        Some(Popup::Eval { .. }) => eval_key(s, k, a),
        Some(Popup::Optimize { .. }) => optimize_key(s, k, a),
        Some(Popup::ComparePaths(_)) => compare_paths_key(s, k, a),
        Some(Popup::Compare { .. }) => compare_runs_key(s, k, a),
        Some(Popup::Example { .. }) => example_key(s, k, a),
        None => vec![],
    }
}

fn confirm_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Confirm { then, .. }) = s.popup.as_mut() else {
        return vec![];
    };
    {
        // The quit key answers its own question ("quit?") with yes.
        let quitting = matches!(then, Pending::CancelRun(p) if matches!(**p, Pending::Quit));
        let yes = matches!(k.code, KeyCode::Char('y' | 'Y'))
            || a == Some(Action::Select)
            || (quitting && a == Some(Action::Quit));
        let no = matches!(k.code, KeyCode::Char('n' | 'N' | 'q')) || a == Some(Action::Cancel);
        if yes {
            let then = then.clone();
            s.popup = None;
            return perform(s, then);
        }
        if no {
            s.popup = match then {
                Pending::DeleteSession(_, back) => Some((**back).clone()),
                _ => None,
            };
            s.status = "left as it was".into();
        }
    }
    vec![]
}

fn setting_input_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::SettingInput { field, editor }) = s.popup.as_mut() else {
        return vec![];
    };
    match a {
        Some(Action::Cancel) => s.popup = None,
        Some(Action::Select) => {
            let (field, typed) = (*field, editor_text(editor));
            match super::panes::set_typed(s, field, typed.trim()) {
                Ok(()) => s.popup = None,
                Err(e) => s.status = e,
            }
        }
        _ if is_clear(&k) => {
            editor.select_all();
            editor.cut();
        }
        _ => field_input(editor, k),
    }
    vec![]
}

fn help_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let help = help_extent(s);
    let Some(Popup::Help { scroll }) = s.popup.as_mut() else {
        return vec![];
    };
    {
        let (page, max) = help;
        if !scrolled(scroll, &k, a, page, max) {
            s.popup = None;
        }
    }
    vec![]
}

fn error_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Error(_)) = s.popup.as_mut() else {
        return vec![];
    };
    {
        if closes(a, &k) {
            s.popup = None;
        }
        if a == Some(Action::Quit) {
            // Quitting works through an error, as everywhere.
            s.popup = None;
            return super::action(s, Action::Quit);
        }
    }
    vec![]
}

fn path_detail_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let help = help_extent(s);
    let path_end = match &s.popup {
        Some(Popup::PathDetail { path, .. }) => path_extent(s, *path),
        _ => 0,
    };
    let Some(Popup::PathDetail { path, scroll, back }) = s.popup.as_mut() else {
        return vec![];
    };
    match a {
        _ if scrolled(scroll, &k, a, help.0, path_end) => {}
        Some(Action::Left | Action::Right) => {
            // Within the paths shown: a filtered cluster stays filtered.
            let visible = s
                .run
                .as_ref()
                .map(|r| r.visible(&s.sel.filter))
                .unwrap_or_default();
            let at = visible.iter().position(|i| i == path).unwrap_or(0);
            let to = if a == Some(Action::Left) {
                at.saturating_sub(1)
            } else {
                (at + 1).min(visible.len().saturating_sub(1))
            };
            if let Some(p) = visible.get(to) {
                *path = *p;
                s.sel.path = *p;
            }
            *scroll = 0;
        }
        // Back to the side-by-side view it was opened from, if any.
        _ if closes(a, &k) => s.popup = back.take().map(Popup::ComparePaths),
        _ => {}
    }
    vec![]
}

fn picker_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Picker { items, selected }) = s.popup.as_mut() else {
        return vec![];
    };
    match a {
        _ if selected_moved(selected, &k, a, items.len()) => {}
        Some(Action::Select) => match items.get(*selected).map(|i| i.template.clone()) {
            Some(Ok(t)) => {
                s.popup = None;
                let load = Pending::LoadTemplate(Box::new(t));
                if s.edited() {
                    confirm(
                        s,
                        "Replace your edits with this template? (Ctrl-Z undoes it)".into(),
                        load,
                    );
                } else {
                    return perform(s, load);
                }
            }
            Some(Err(e)) => s.popup = Some(Popup::Error(e)),
            None => s.popup = None,
        },
        _ if closes(a, &k) => s.popup = None,
        _ => {}
    }
    vec![]
}

fn models_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Models { items, selected }) = s.popup.as_mut() else {
        return vec![];
    };
    match a {
        _ if selected_moved(selected, &k, a, items.len()) => {}
        Some(Action::Select) => {
            let choice = items.get(*selected).cloned();
            s.popup = None;
            if let Some(c) = choice {
                s.status = format!("switching to {}…", c.name);
                return vec![Effect::SwitchModel(c)];
            }
        }
        _ if closes(a, &k) => s.popup = None,
        _ => {}
    }
    vec![]
}

fn save_as_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::SaveAs { name, what }) = s.popup.as_mut() else {
        return vec![];
    };
    match a {
        Some(Action::Cancel) => s.popup = None,
        Some(Action::Select) => {
            let what = *what;
            let name = editor_text(name).trim().to_string();
            if !valid_name(&name) {
                s.status = "a name uses letters, digits, '-' and '_'".into();
                return vec![];
            }
            if what == SaveWhat::Template && crate::store::template::is_builtin(&name) {
                s.status = format!(
                    "`{name}` is a built-in template; a file of that name would hide it: choose another name"
                );
                return vec![];
            }
            s.popup = None;
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
            return vec![Effect::SaveTemplate {
                path: s.templates_dir.join(format!("{name}.yaml")),
                template: Box::new(template),
                replace: false,
            }];
        }
        _ if is_clear(&k) => {
            name.select_all();
            name.cut();
        }
        _ => field_input(name, k),
    }
    vec![]
}

fn setup_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::EvalSetup { editors, field, .. } | Popup::OptimizeSetup { editors, field, .. }) =
        s.popup.as_mut()
    else {
        return vec![];
    };
    {
        match s.keymap.action(&k, true) {
            Some(Action::FocusNext | Action::FocusPrev) => *field = 1 - *field,
            Some(Action::Cancel) => {
                // The typed dataset is kept for the next form (evaluation or search).
                s.dataset = Some(editor_text(&editors[0]).trim().to_string());
                s.popup = None;
            }
            _ if a == Some(Action::Select) => {
                s.dataset = Some(editor_text(&editors[0]).trim().to_string());
                return super::popup_plan::submit(s);
            }
            _ if is_clear(&k) => {
                editors[*field].select_all();
                editors[*field].cut();
            }
            _ => {
                editors[*field].input(k);
            }
        }
    }
    vec![]
}

fn eval_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Eval { detail, scroll }) = s.popup.as_mut() else {
        return vec![];
    };
    {
        let ev = s.eval.as_mut();
        let q = k.code == KeyCode::Char('q') && k.modifiers.is_empty();
        match (a, ev) {
            (Some(Action::Cancel), _) if detail.is_some() => *detail = None,
            (Some(Action::Cancel), _) => s.popup = None,
            (None, _) if q && detail.is_some() => *detail = None,
            (None, _) if q => s.popup = None,
            (Some(Action::Delete), Some(ev)) if ev.running => return vec![Effect::CancelEval],
            (Some(Action::Add), Some(ev)) if !ev.running => open_eval_setup(s),
            (Some(Action::Left), Some(ev)) => ev.variant = ev.variant.saturating_sub(1),
            (Some(Action::Right), Some(ev)) => {
                ev.variant = (ev.variant + 1).min(ev.results.len().saturating_sub(1))
            }
            (Some(Action::Up), Some(_)) if detail.is_some() => *scroll = scroll.saturating_sub(1),
            (Some(Action::Down), Some(_)) if detail.is_some() => *scroll = scroll.saturating_add(1),
            (Some(Action::Up), Some(ev)) => ev.item = ev.item.saturating_sub(1),
            (Some(Action::Down), Some(ev)) => {
                ev.item = (ev.item + 1).min(ev.items.saturating_sub(1))
            }
            (Some(Action::Select), Some(ev)) if ev.results.get(ev.variant).is_some() => {
                *detail = if detail.is_some() {
                    None
                } else {
                    Some(ev.item)
                };
                *scroll = 0;
            }
            _ => {}
        }
    }
    vec![]
}

fn optimize_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Optimize { selected }) = s.popup.as_mut() else {
        return vec![];
    };
    {
        let running = s.optimize.as_ref().is_some_and(|o| o.running);
        let board: Vec<String> = s
            .optimize
            .as_ref()
            .map(|o| o.standings.iter().map(|c| c.instruction.clone()).collect())
            .unwrap_or_default();
        match a {
            Some(Action::Cancel) => s.popup = None,
            None if k.code == KeyCode::Char('q') && k.modifiers.is_empty() => s.popup = None,
            Some(Action::Up) => *selected = selected.saturating_sub(1),
            Some(Action::Down) => *selected = (*selected + 1).min(board.len().saturating_sub(1)),
            Some(Action::Delete) if running => return vec![Effect::CancelOptimize],
            Some(Action::Add) if !running => open_optimize_setup(s),
            Some(Action::Select) => {
                if let Some(instruction) = board.get(*selected).cloned() {
                    s.checkpoint();
                    s.lab.instruction = crate::tui::state::editor(&instruction, "");
                    s.lab.typing[0].clear();
                    s.status =
                        "the instruction is in the editor: run it, or export the template (Alt-E)"
                            .into();
                    s.popup = None;
                    s.refresh_preview();
                }
            }
            _ => {}
        }
    }
    vec![]
}

fn compare_paths_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let help = help_extent(s);
    let end = match &s.popup {
        Some(Popup::ComparePaths(c)) => crate::tui::columns::extent(s, c),
        _ => 0,
    };
    let Some(Popup::ComparePaths(c)) = s.popup.as_mut() else {
        return vec![];
    };
    {
        let n = s.run.as_ref().map_or(0, |r| r.paths.len());
        match a {
            _ if scrolled(&mut c.scroll, &k, a, help.0, end) => {}
            _ if matches!(s.keymap.action(&k, true), Some(Action::FocusNext)) => {
                c.selected = (c.selected + 1) % c.columns.len().max(1)
            }
            _ if matches!(s.keymap.action(&k, true), Some(Action::FocusPrev)) => {
                c.selected = (c.selected + c.columns.len().max(1) - 1) % c.columns.len().max(1)
            }
            // Another path with the selected column's answer.
            Some(Action::Left | Action::Right) if n > 0 => {
                let mut columns = c.columns.clone();
                let at = columns[c.selected];
                let mates = s
                    .run
                    .as_ref()
                    .and_then(|r| r.tally.entries.iter().find(|e| e.paths.contains(&at)))
                    .map_or_else(|| (0..n).collect(), |e| e.paths.clone());
                let i = mates.iter().position(|p| *p == at).unwrap_or(0);
                let m = mates.len().max(1);
                let to = if a == Some(Action::Left) {
                    (i + m - 1) % m
                } else {
                    (i + 1) % m
                };
                columns[c.selected] = mates.get(to).copied().unwrap_or(at);
                s.status = format!(
                    "path {} · {} of {} with this answer",
                    columns[c.selected],
                    to + 1,
                    mates.len()
                );
                let (selected, scroll) = (c.selected, c.scroll);
                if let Some(run) = &s.run {
                    **c = super::panes::compare(run, columns, selected);
                    c.scroll = scroll;
                }
            }
            Some(Action::Select) => {
                let path = c.columns[c.selected];
                let back = Some(c.clone());
                s.popup = Some(Popup::PathDetail {
                    path,
                    scroll: 0,
                    back,
                });
            }
            _ if closes(a, &k) => s.popup = None,
            _ => {}
        }
    }
    vec![]
}

fn compare_runs_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Compare {
        a: first,
        b: second,
        scroll,
    }) = s.popup.as_mut()
    else {
        return vec![];
    };
    match a {
        _ if scrolled(scroll, &k, a, s.size.1.saturating_sub(8), 200) => {}
        // The pair moves together: ← compares run k-1 with run k.
        Some(Action::Left) if *first > 0 => {
            *first -= 1;
            *second -= 1;
            *scroll = 0;
        }
        Some(Action::Right) if *second + 1 < s.session.runs.len() => {
            *first += 1;
            *second += 1;
            *scroll = 0;
        }
        _ if closes(a, &k) => s.popup = None,
        _ => {}
    }
    vec![]
}

fn example_key(s: &mut AppState, k: KeyEvent, _a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Example {
        index,
        field,
        editors,
        fresh,
    }) = s.popup.as_mut()
    else {
        return vec![];
    };
    {
        let fresh = *fresh;
        let tab = s.keymap.action(&k, true);
        match tab {
            Some(Action::FocusNext) => *field = (*field + 1) % 3,
            Some(Action::FocusPrev) => *field = (*field + 2) % 3,
            Some(Action::Cancel) => {
                let index = *index;
                let [input, rationale, answer] = editors.as_ref();
                let (input, rationale, answer) = (
                    editor_text(input),
                    editor_text(rationale),
                    editor_text(answer),
                );
                s.popup = None;
                if let Some(e) = s.lab.examples.get(index).cloned() {
                    let rationale = Some(rationale).filter(|r| !r.trim().is_empty());
                    let empty = [&input, &answer].iter().all(|t| t.trim().is_empty())
                        && rationale.is_none();
                    let changed =
                        e.input != input || e.answer != answer || e.rationale != rationale;
                    if fresh && empty {
                        // A new example left empty is not kept (nor is its undo step).
                        s.lab.examples.remove(index);
                        s.undo.pop();
                        s.sel.example = index.saturating_sub(1);
                        s.status = "the empty example was not added".into();
                    } else if changed {
                        if !fresh {
                            s.checkpoint();
                        }
                        let e = &mut s.lab.examples[index];
                        e.input = input;
                        e.rationale = rationale;
                        e.answer = answer;
                    }
                }
                s.refresh_preview();
            }
            // The answer is one line: Enter moves on to the next field.
            _ if *field == 2 && k.code == KeyCode::Enter => *field = 0,
            _ => {
                editors[*field].input(k);
            }
        }
    }
    vec![]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
