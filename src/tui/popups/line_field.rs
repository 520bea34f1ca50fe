//! A one-line text field in a box of its own (a name to save under, a setting's value, a
//! session's new name): the value opens selected (typing replaces it, → keeps it), Ctrl-U
//! clears it, a paste comes in as one line, Enter hands the trimmed text to the room.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Clear;
use ratatui_textarea::TextArea;

use super::keys::{field_input, is_clear};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::{editor, editor_text};

#[derive(Debug, Clone)]
pub struct LineField(pub Box<TextArea<'static>>);

/// What a key did in a line field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKey {
    /// Esc: the room decides (it closes, or goes back).
    Cancel,
    /// Enter, with the text as typed (trimmed).
    Enter(String),
    /// The field took the key (typing, moving, clearing).
    Typed,
}

impl LineField {
    /// A field holding `value`, selected.
    pub fn selected(value: &str) -> LineField {
        let mut ed = editor(value, "");
        ed.select_all();
        LineField(Box::new(ed))
    }

    /// The text as typed, trimmed.
    pub fn text(&self) -> String {
        editor_text(&self.0).trim().to_string()
    }

    pub fn key(&mut self, k: KeyEvent, a: Option<Action>) -> FieldKey {
        match a {
            Some(Action::Cancel) => FieldKey::Cancel,
            Some(Action::Select) => FieldKey::Enter(self.text()),
            _ if is_clear(&k) => {
                self.0.select_all();
                self.0.cut();
                FieldKey::Typed
            }
            _ => {
                field_input(&mut self.0, k);
                FieldKey::Typed
            }
        }
    }

    /// Pasted text, its line breaks as spaces.
    pub fn paste(&mut self, text: &str) {
        self.0.insert_str(super::one_line(text));
    }

    /// The field in a box titled `title`, at least `min_width` wide, over what is beneath.
    pub fn draw(&self, f: &mut Frame, area: Rect, title: String, min_width: u16) {
        let r = centered(area, (title.chars().count() as u16 + 4).max(min_width), 3);
        let b = block(title, true);
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        f.render_widget(self.0.as_ref(), inner);
    }
}
