//! Save as: a name for the template or the session (checked here, saved by `update`).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Clear;
use ratatui_textarea::TextArea;

use super::keys::{field_input, is_clear};
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::{AppState, editor_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveWhat {
    Template,
    Session,
}

#[derive(Debug, Clone)]
pub struct SaveAs {
    pub name: Box<TextArea<'static>>,
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
        let r = centered(area, (title.chars().count() as u16 + 4).max(60), 3);
        let b = block(title, true);
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        f.render_widget(self.name.as_ref(), inner);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match a {
            Some(Action::Cancel) => return Step::close(),
            Some(Action::Select) => {
                let name = editor_text(&self.name).trim().to_string();
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
            _ if is_clear(&k) => {
                self.name.select_all();
                self.name.cut();
            }
            _ => field_input(&mut self.name, k),
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::field_keys(|a| s.keymap.first_key(a))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
