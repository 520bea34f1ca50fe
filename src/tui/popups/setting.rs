//! Typing a value for one setting of the settings bar (read by the settings table).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Clear;
use ratatui_textarea::TextArea;

use super::keys::{field_input, is_clear};
use super::{Room, Step};
use crate::core::settings::Key;
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::{AppState, editor_text};

#[derive(Debug, Clone)]
pub struct SettingInput {
    pub field: Key,
    pub editor: Box<TextArea<'static>>,
}

impl Room<AppState> for SettingInput {
    fn draw(&self, f: &mut Frame, area: Rect, _s: &AppState) {
        let name = self.field.label();
        let title = format!(" {name} (Enter sets it, Esc leaves it) ");
        let r = centered(area, (title.chars().count() as u16 + 4).max(40), 3);
        let b = block(title, true);
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        f.render_widget(self.editor.as_ref(), inner);
    }

    fn key(&mut self, _s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match a {
            Some(Action::Cancel) => return Step::close(),
            Some(Action::Select) => {
                return Step::SetTyped(self.field, editor_text(&self.editor).trim().to_string());
            }
            _ if is_clear(&k) => {
                self.editor.select_all();
                self.editor.cut();
            }
            _ => field_input(&mut self.editor, k),
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::field_keys(|a| s.keymap.first_key(a))
    }
}
