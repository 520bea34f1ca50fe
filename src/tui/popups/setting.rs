//! Typing a value for one setting of the settings bar (read by the settings table).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::line_field::{FieldKey, LineField};
use super::{Room, Step};
use crate::core::settings::Key;
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct SettingInput {
    pub field: Key,
    pub editor: LineField,
}

impl Room<AppState> for SettingInput {
    fn draw(&self, f: &mut Frame, area: Rect, _s: &AppState) {
        let name = self.field.label();
        let title = format!(" {name} (Enter sets it, Esc leaves it) ");
        self.editor.draw(f, area, title, 40);
    }

    fn key(&mut self, _s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match self.editor.key(k, a) {
            FieldKey::Cancel => Step::close(),
            FieldKey::Enter(typed) => Step::SetTyped(self.field, typed),
            FieldKey::Typed => Step::stay(),
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::field_keys(|a| s.keymap.first_key(a))
    }

    fn paste(&mut self, text: &str) {
        self.editor.paste(text);
    }
}
