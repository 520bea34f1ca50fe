//! The example editor: input, rationale and answer of one example; leaving it keeps the
//! changes (one undo step), and a new example left empty is not added.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Clear;
use ratatui_textarea::TextArea;

use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::{AppState, editor_text};

/// Editing example `index`: input, rationale, answer.
#[derive(Debug, Clone)]
pub struct ExampleForm {
    pub index: usize,
    pub field: usize,
    pub editors: Box<[TextArea<'static>; 3]>,
    /// Just added: left empty, it is removed again.
    pub fresh: bool,
}

impl Room<AppState> for ExampleForm {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = centered(
            area,
            area.width.saturating_sub(8).min(100),
            area.height.saturating_sub(4).min(22),
        );
        f.render_widget(Clear, r);
        let outer = block(
            format!(
                " Example {} ({} next field, {} done) ",
                self.index + 1,
                s.keymap.first_key(Action::FocusNext),
                s.keymap.first_key(Action::Cancel)
            ),
            true,
        );
        let inner = outer.inner(r);
        f.render_widget(outer, r);
        let rows = Layout::vertical([
            Constraint::Percentage(35),
            Constraint::Percentage(45),
            Constraint::Percentage(20),
        ])
        .split(inner);
        for (i, name) in ["Input", "Rationale", "Answer"].iter().enumerate() {
            let b = block(format!(" {name} "), i == self.field);
            let ir = b.inner(rows[i]);
            f.render_widget(b, rows[i]);
            crate::tui::panes::editor::text(f, ir, &self.editors[i], i == self.field);
        }
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, _a: Option<Action>) -> Step {
        match s.keymap.action(&k, true) {
            Some(Action::FocusNext) => self.field = (self.field + 1) % 3,
            Some(Action::FocusPrev) => self.field = (self.field + 2) % 3,
            Some(Action::Cancel) => {
                self.done(s);
                return Step::close();
            }
            // The answer is one line: Enter moves on to the next field.
            _ if self.field == 2 && k.code == KeyCode::Enter => self.field = 0,
            _ => {
                self.editors[self.field].input(k);
            }
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        vec![
            (k(Action::FocusNext), "next field"),
            ("Enter".into(), "new line (answer: next field)"),
            (k(Action::Cancel), "done"),
        ]
    }
}

impl ExampleForm {
    /// Leaving the editor: the example takes the fields (a fresh one left empty goes away).
    fn done(&self, s: &mut AppState) {
        let [input, rationale, answer] = self.editors.as_ref();
        let (input, rationale, answer) = (
            editor_text(input),
            editor_text(rationale),
            editor_text(answer),
        );
        let index = self.index;
        if let Some(e) = s.lab.examples.get(index).cloned() {
            let rationale = Some(rationale).filter(|r| !r.trim().is_empty());
            let empty =
                [&input, &answer].iter().all(|t| t.trim().is_empty()) && rationale.is_none();
            let changed = e.input != input || e.answer != answer || e.rationale != rationale;
            if self.fresh && empty {
                // A new example left empty is not kept (nor is its undo step).
                s.lab.examples.remove(index);
                s.undo.pop();
                s.sel.example = index.saturating_sub(1);
                s.status = "the empty example was not added".into();
            } else if changed {
                if !self.fresh {
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
}
