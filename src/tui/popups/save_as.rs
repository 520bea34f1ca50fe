//! Save as: a name for the template or the session (checked here, saved by `update`).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::line_field::{FieldKey, LineField};
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveWhat {
    Template,
    Session,
}

#[derive(Debug, Clone)]
pub struct SaveAs {
    pub name: LineField,
    pub what: SaveWhat,
}

impl Room<AppState> for SaveAs {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let title = match self.what {
            SaveWhat::Template => format!(
                " Save as template (Enter saves {}/NAME.yaml) ",
                s.templates_dir.display()
            ),
            SaveWhat::Session => format!(
                " Save session as (Enter saves {}/NAME.yaml) ",
                s.session.dir.display()
            ),
        };
        self.name.draw(f, area, title, 60);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match self.name.key(k, a) {
            FieldKey::Cancel => return Step::close(),
            FieldKey::Enter(name) => {
                if !valid_name(&name) {
                    s.status = "a name uses letters, digits, '-' and '_'".into();
                } else if self.what == SaveWhat::Template
                    && crate::store::template::is_builtin(&name)
                {
                    s.status = format!(
                        "`{name}` is a built-in template; a file of that name would hide it: choose another name"
                    );
                } else {
                    return Step::Save(self.what, name);
                }
            }
            FieldKey::Typed => {}
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::field_keys(|a| s.keymap.first_key(a))
    }

    fn paste(&mut self, text: &str) {
        self.name.paste(text);
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
