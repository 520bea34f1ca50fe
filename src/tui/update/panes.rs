//! Keys in the focused pane (examples, settings, paths, tally, prompt) and the mouse.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::core::settings::Key;
use crate::core::template::Example;
use crate::tui::columns::ComparePaths;
use crate::tui::keymap::Action;
use crate::tui::layout::layout;
use crate::tui::msg::Effect;
use crate::tui::popups::fields::Fields;
use crate::tui::popups::line_field::LineField;
use crate::tui::popups::{ExampleForm, PathDetail, SettingInput};
use crate::tui::state::{AppState, Focus, Popup, SETTINGS_BAR, editor};

pub(super) fn pane_action(s: &mut AppState, a: Action) {
    match s.focus {
        Focus::Examples if a == Action::AnalyseExamples => super::examples::open_setup(s),
        Focus::Examples => examples_action(s, a),
        Focus::Settings => settings_action(s, a),
        Focus::Paths => paths_action(s, a),
        Focus::Tally => tally_action(s, a),
        Focus::Prompt => match a {
            Action::Up => s.sel.prompt_scroll = s.sel.prompt_scroll.saturating_sub(1),
            Action::Down => s.sel.prompt_scroll = s.sel.prompt_scroll.saturating_add(1),
            _ => {}
        },
        Focus::Instruction | Focus::Query => {}
    }
}

pub(super) fn open_example(s: &mut AppState, index: usize, fresh: bool) {
    let Some(e) = s.lab.examples.get(index) else {
        return;
    };
    let editors = Box::new([
        editor(&e.input, "the example's question"),
        editor(
            e.rationale.as_deref().unwrap_or(""),
            "its reasoning (shown under chain of thought)",
        ),
        editor(&e.answer, "its answer"),
    ]);
    s.popup = Some(Popup::Example(ExampleForm {
        index,
        fields: Fields::new(editors),
        fresh,
    }));
}

fn examples_action(s: &mut AppState, a: Action) {
    let changes = matches!(
        a,
        Action::Add
            | Action::Duplicate
            | Action::Delete
            | Action::MoveUp
            | Action::MoveDown
            | Action::ToggleExample
    );
    if changes && (!s.lab.examples.is_empty() || a == Action::Add) {
        s.checkpoint();
    }
    let ex = &mut s.lab.examples;
    let i = s.sel.example.min(ex.len().saturating_sub(1));
    let mut changed = true;
    match a {
        Action::Up => {
            s.sel.example = i.saturating_sub(1);
            changed = false;
        }
        Action::Down => {
            s.sel.example = (i + 1).min(ex.len().saturating_sub(1));
            changed = false;
        }
        Action::Add => {
            ex.insert(
                (i + 1).min(ex.len()),
                Example {
                    input: String::new(),
                    rationale: None,
                    answer: String::new(),
                    enabled: true,
                    steps: Vec::new(),
                },
            );
            s.sel.example = (i + 1).min(ex.len() - 1);
            open_example(s, s.sel.example, true);
        }
        Action::Duplicate if !ex.is_empty() => {
            let copy = ex[i].clone();
            ex.insert(i + 1, copy);
            s.sel.example = i + 1;
        }
        Action::Delete if !ex.is_empty() => {
            ex.remove(i);
            s.sel.example = i.min(ex.len().saturating_sub(1));
            s.status = format!(
                "example deleted ({} brings it back)",
                s.keymap.first_key(Action::Undo)
            );
        }
        Action::MoveUp if i > 0 && !ex.is_empty() => {
            ex.swap(i, i - 1);
            s.sel.example = i - 1;
        }
        Action::MoveDown if i + 1 < ex.len() => {
            ex.swap(i, i + 1);
            s.sel.example = i + 1;
        }
        Action::ToggleExample if !ex.is_empty() => ex[i].enabled = !ex[i].enabled,
        Action::Select if !ex.is_empty() => {
            open_example(s, i, false);
            changed = false;
        }
        _ => changed = false,
    }
    if changed {
        s.refresh_preview();
    }
}

fn settings_action(s: &mut AppState, a: Action) {
    let index = s.sel.setting.min(SETTINGS_BAR.len() - 1);
    let field = SETTINGS_BAR[index];
    let up = match a {
        Action::Left => {
            s.sel.setting = index.saturating_sub(1);
            return;
        }
        Action::Right => {
            s.sel.setting = (index + 1).min(SETTINGS_BAR.len() - 1);
            return;
        }
        Action::Up | Action::Increase => true,
        Action::Down | Action::Decrease => false,
        Action::Select => return open_setting_input(s, field),
        _ => return,
    };
    if let Some((i, _)) = s.viewed().filter(|_| !field.revotes()) {
        s.status = format!(
            "viewing run {}: its settings are read-only ({}: back to your edits)",
            i + 1,
            s.keymap.first_key(Action::Cancel)
        );
        return;
    }
    s.checkpoint();
    let mut t = s.lab.template();
    field.step(&mut t, up);
    take_settings(&mut s.lab, t);
    if field.revotes() {
        revote_shown(s);
    } else {
        s.status = format!("{}: {}", field.label(), setting_value(s, field));
    }
    s.refresh_preview();
}

/// The settings of `t` (a copy of the lab's template, changed through the settings table)
/// taken back into the lab.
fn take_settings(lab: &mut crate::tui::state::Lab, t: crate::core::template::Template) {
    lab.strategy = t.strategy;
    lab.answer = t.answer;
    lab.sampling = t.sampling;
    lab.mode = t.mode;
}

/// Enter on a setting: a small field to type its value into.
fn open_setting_input(s: &mut AppState, field: Key) {
    if s.viewed().is_some() {
        s.status = format!(
            "viewing a recorded run: its settings are read-only ({}: back to your edits)",
            s.keymap.first_key(Action::Cancel)
        );
        return;
    }
    let current = setting_value(s, field);
    // The value is selected: typing replaces it, → keeps it.
    s.popup = Some(Popup::SettingInput(SettingInput {
        field,
        editor: LineField::selected(&current),
    }));
}

/// A setting's value as the settings bar and the typed field show it.
pub(in crate::tui) fn setting_value(s: &AppState, field: Key) -> String {
    field.value(&s.lab.template())
}

/// Sets setting `field` from typed text, within its bounds, or says what it accepts.
pub(in crate::tui) fn set_typed(s: &mut AppState, field: Key, typed: &str) -> Result<(), String> {
    let before = s.lab.template();
    let mut t = before.clone();
    field
        .set(&mut t, typed)
        .map_err(|e| format!("{}: {e}", field.label()))?;
    if t == before {
        return Ok(());
    }
    s.checkpoint();
    take_settings(&mut s.lab, t);
    // The answer kind and strictness re-vote the shown run (so they work while browsing too).
    if field.revotes() {
        revote_shown(s);
    }
    s.status = format!("{} set to {typed}", field.label());
    s.refresh_preview();
    Ok(())
}

/// Re-votes the recorded run on screen with the lab's answer spec, from its stored texts and
/// without a model, and keeps the result in the session (saved with it).
fn revote_shown(s: &mut AppState) {
    let Some(i) = s.history.filter(|_| !s.is_running()) else {
        return;
    };
    match s.session.runs[i].revote(&s.lab.answer) {
        Ok(r) => {
            s.session.runs[i] = std::sync::Arc::new(r);
            s.show_run(Some(i));
            let winner = s
                .run
                .as_ref()
                .and_then(|r| r.tally().winner.clone())
                .unwrap_or_else(|| "none".into());
            s.status = format!(
                "run {} re-voted as {}{}: answer {winner} (save to keep it)",
                i + 1,
                s.lab.answer.short(),
                if s.lab.answer.strict { ", strict" } else { "" }
            );
        }
        Err(e) => s.status = e.to_string(),
    }
}

/// A click on a row of the Paths pane selects its path (when every row is on screen, so the
/// row is the path's place in the list).
fn click_path(s: &mut AppState, rect: Rect, row: u16) {
    let Some(run) = &s.run else { return };
    let visible = run.visible(&s.sel.filter);
    let rows = rect.height.saturating_sub(2) as usize;
    let Some(at) = row.checked_sub(rect.y + 1).map(usize::from) else {
        return;
    };
    if visible.len() <= rows
        && let Some(&p) = visible.get(at)
    {
        s.sel.path = p;
    }
}

fn paths_action(s: &mut AppState, a: Action) {
    let Some(run) = &s.run else { return };
    let visible = run.visible(&s.sel.filter);
    let at = visible.iter().position(|i| *i == s.sel.path).unwrap_or(0);
    match a {
        Action::Up => s.sel.path = visible.get(at.saturating_sub(1)).copied().unwrap_or(0),
        Action::Down => {
            s.sel.path = visible
                .get((at + 1).min(visible.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        }
        Action::Select if !visible.is_empty() => {
            s.popup = Some(Popup::PathDetail(PathDetail::new(visible[at])))
        }
        Action::Back => s.sel.filter = None,
        Action::ComparePaths => open_compare(s),
        _ => {}
    }
}

/// Opens the paths side by side: one per answer cluster, the winner first (as many as fit).
fn open_compare(s: &mut AppState) {
    let Some(run) = &s.run else {
        s.status = "no run to compare yet".into();
        return;
    };
    let mut columns = crate::core::compare::representatives(run.tally(), run.len(), 4);
    // The answer selected in the Tally (or the selected path's, in Paths) is the column
    // selected: added when it is not among the first ones.
    let entry = match s.focus {
        Focus::Tally => run.tally().entries.get(s.sel.tally),
        _ => run
            .tally()
            .entries
            .iter()
            .find(|e| e.paths.contains(&s.sel.path)),
    };
    let mut selected = 0;
    if let Some(e) = entry {
        match columns.iter().position(|c| e.paths.contains(c)) {
            Some(i) => selected = i,
            None => {
                if let Some(&p) = e.paths.first() {
                    columns.push(p);
                    selected = columns.len() - 1;
                }
            }
        }
    }
    s.popup = Some(Popup::ComparePaths(Box::new(ComparePaths::new(
        run, columns, selected,
    ))));
}

fn tally_action(s: &mut AppState, a: Action) {
    let Some(run) = &s.run else { return };
    let n = run.tally().entries.len();
    match a {
        Action::Up => s.sel.tally = s.sel.tally.saturating_sub(1),
        Action::Down => s.sel.tally = (s.sel.tally + 1).min(n.saturating_sub(1)),
        Action::Select => {
            if let Some(e) = run.tally().entries.get(s.sel.tally) {
                let bucket = Some(e.answer.clone());
                s.sel.filter = if s.sel.filter == bucket { None } else { bucket };
                if let Some(first) = run.visible(&s.sel.filter).first() {
                    s.sel.path = *first;
                }
            }
        }
        Action::Back => s.sel.filter = None,
        Action::ComparePaths => open_compare(s),
        _ => {}
    }
}

/// Two clicks this close are a double click.
const DOUBLE: std::time::Duration = std::time::Duration::from_millis(400);

pub(super) fn mouse(s: &mut AppState, m: MouseEvent) -> Vec<Effect> {
    if s.popup.is_some() {
        return vec![];
    }
    let area = Rect::new(0, 0, s.size.0, s.size.1);
    let at = Position::new(m.column, m.row);
    let l = layout(area, s);
    // The page tabs of a narrow terminal: " Edit ", " Run ", " Prompt ", a space apart.
    if let Some(tabs) = l.tabs.filter(|t| t.contains(at))
        && m.kind == MouseEventKind::Down(MouseButton::Left)
    {
        s.focus = match m.column - tabs.x {
            0..=6 => Focus::Instruction,
            7..=12 => Focus::Paths,
            13..=21 => Focus::Prompt,
            _ => s.focus,
        };
        return vec![];
    }
    let Some((pane, rect)) = l.panes.iter().find(|(_, r)| r.contains(at)).copied() else {
        return vec![];
    };
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            let double = s.sel.last_click.is_some_and(|(t, x, y)| {
                (x, y) == (m.column, m.row) && s.now.saturating_duration_since(t) < DOUBLE
            });
            s.sel.last_click = Some((s.now, m.column, m.row));
            s.focus = pane;
            if pane == Focus::Paths {
                click_path(s, rect, m.row);
                if double {
                    paths_action(s, Action::Select);
                }
            }
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let up = m.kind == MouseEventKind::ScrollUp;
            let focus = std::mem::replace(&mut s.focus, pane);
            if pane.is_editor() {
                let ed = if pane == Focus::Instruction {
                    &mut s.lab.instruction
                } else {
                    &mut s.lab.query
                };
                ed.scroll((if up { -1 } else { 1 }, 0));
            } else {
                pane_action(s, if up { Action::Up } else { Action::Down });
            }
            s.focus = focus;
        }
        _ => {}
    }
    vec![]
}
