//! The session picker (Ctrl-O): open, delete (`d`, after a yes that names the file) and
//! rename (`r`) session files. The files are touched by the executor (`Effect::DeleteSession`,
//! `Effect::RenameSession`); what it did comes back as a message.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::ListItem;

use super::keys::{closes, selected_moved};
use super::line_field::{FieldKey, LineField};
use super::{Confirm, Pending, Popup, Room, Step};
use crate::store::session::ListedSession;
use crate::tui::keymap::Action;
use crate::tui::msg::Effect;
use crate::tui::panes::{cell, centered};
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct Sessions {
    pub items: Vec<ListedSession>,
    pub selected: usize,
}

impl Room<AppState> for Sessions {
    fn draw(&self, f: &mut Frame, area: Rect, _s: &AppState) {
        let r = centered(
            area,
            100,
            (self.items.len() as u16 + 2).clamp(5, area.height.saturating_sub(4)),
        );
        let rows: Vec<ListItem> = self.items.iter().map(row).collect();
        super::pick_list(
            f,
            r,
            rows,
            " Open a session (Enter, d delete, r rename) · created · template · runs ".into(),
            self.selected,
        );
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let path = self.items.get(self.selected).map(|i| i.path.clone());
        let plain = k.modifiers.is_empty();
        match a {
            _ if plain && matches!(k.code, KeyCode::Char('d' | 'r')) => {
                let Some(path) = path else {
                    return Step::stay();
                };
                if path == s.session.path {
                    s.status = format!(
                        "{} is the open session: {} saves it under a new name; open another one to delete it",
                        path.display(),
                        s.keymap.first_key(Action::SaveSessionAs)
                    );
                    Step::stay()
                } else if k.code == KeyCode::Char('d') {
                    let back = Box::new(Popup::Sessions(self.clone()));
                    Step::Open(Popup::Confirm(Confirm {
                        question: format!("Delete the session file {}? (y/n)", path.display()),
                        then: Pending::DeleteSession(path, back),
                    }))
                } else {
                    Step::Open(Popup::RenameSession(RenameSession::new(path)))
                }
            }
            _ if selected_moved(&mut self.selected, &k, a, self.items.len()) => Step::stay(),
            Some(Action::Select) => {
                Step::Close(path.map(Effect::OpenSession).into_iter().collect())
            }
            _ if closes(a, &k) => Step::close(),
            _ => Step::stay(),
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        vec![
            (format!("{}/{}", k(Action::Up), k(Action::Down)), "select"),
            (k(Action::Select), "open"),
            ("d".into(), "delete"),
            ("r".into(), "rename"),
            (k(Action::Cancel), "close"),
        ]
    }
}

/// A session's row: its file, when it was created, its template and runs (or why it cannot
/// be read).
fn row(i: &ListedSession) -> ListItem<'static> {
    let name = i.path.display().to_string();
    let file = Span::styled(
        format!("{} ", cell(&name, 44, true)),
        Style::default().fg(Color::Cyan),
    );
    let line = match &i.error {
        None => Line::from(vec![
            file,
            Span::raw(format!(
                "{} {} {:>3} run{}",
                cell(&i.created, 21, false),
                cell(&i.template, 18, false),
                i.runs,
                if i.runs == 1 { "" } else { "s" }
            )),
        ]),
        Some(e) => Line::from(vec![
            file,
            Span::styled(e.clone(), Style::default().fg(Color::Red)),
        ]),
    };
    ListItem::new(line)
}

#[derive(Debug, Clone)]
pub struct RenameSession {
    /// The session file renamed (in its folder).
    pub from: PathBuf,
    pub name: LineField,
}

impl RenameSession {
    pub fn new(from: PathBuf) -> RenameSession {
        let stem = from
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The name is selected: typing replaces it, → keeps it to edit.
        RenameSession {
            from,
            name: LineField::selected(&stem),
        }
    }
}

impl Room<AppState> for RenameSession {
    fn draw(&self, f: &mut Frame, area: Rect, _s: &AppState) {
        let title = format!(
            " Rename {} (Enter renames it in its folder) ",
            self.from.display()
        );
        self.name.draw(f, area, title, 60);
    }

    /// The editor stays until the executor's answer: a refusal leaves it to choose another
    /// name, a rename (or the list asked for) replaces it.
    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match self.name.key(k, a) {
            FieldKey::Cancel => return Step::Stay(vec![Effect::ListSessions]),
            FieldKey::Enter(typed) => match renamed_path(&self.from, &typed) {
                Err(e) => s.status = e,
                Ok(to) if to == self.from => return Step::Stay(vec![Effect::ListSessions]),
                Ok(to) => {
                    return Step::Stay(vec![Effect::RenameSession {
                        from: self.from.clone(),
                        to,
                    }]);
                }
            },
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

/// `from`'s folder / `name`.yaml (`.yaml` or `.yml` kept when typed), or why `name` cannot
/// name a session file (`core::name`'s rule).
fn renamed_path(from: &Path, name: &str) -> Result<PathBuf, String> {
    let stem = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name);
    crate::store::name::check("the session name", stem)?;
    let file = if stem == name {
        format!("{name}.yaml")
    } else {
        name.to_string()
    };
    Ok(from.parent().unwrap_or(Path::new(".")).join(file))
}
