//! The example editor: input, rationale and answer of one example; leaving it keeps the
//! changes (one undo step), and a new example left empty is not added.

use super::fields::Fields;
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::AppState;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Clear;

/// Editing example `index`: input, rationale, answer.
#[derive(Debug, Clone)]
pub struct ExampleForm {
    pub index: usize,
    /// Input, rationale, answer.
    pub fields: Fields<3>,
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
        self.fields
            .draw(f, &rows, &["Input", "Rationale", "Answer"]);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, _a: Option<Action>) -> Step {
        let typing = s.keymap.action(&k, true);
        match typing {
            _ if self.fields.moved(typing) => {}
            Some(Action::Cancel) => {
                self.done(s);
                return Step::close();
            }
            // The answer is one line: Enter moves on to the next field.
            _ if self.fields.at == 2 && k.code == KeyCode::Enter => self.fields.at = 0,
            _ => self.fields.input(k),
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

    fn paste(&mut self, text: &str) {
        // The answer is one line.
        let t = if self.fields.at == 2 {
            super::one_line(text)
        } else {
            text.to_string()
        };
        self.fields.insert(&t);
    }
}

impl ExampleForm {
    /// Leaving the editor: the example takes the fields (a fresh one left empty goes away).
    fn done(&self, s: &mut AppState) {
        let [input, rationale, answer] = [0, 1, 2].map(|i| self.fields.text(i));
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
