//! The session picker (Ctrl-O): open, delete (`d`, after a yes that names the file) and
//! rename (`r`) session files. The files are touched by the executor (`Effect::DeleteSession`,
//! `Effect::RenameSession`); what it did comes back as a message.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent};

use super::keys::{closes, field_input, is_clear, selected_moved};
use crate::tui::keymap::Action;
use crate::tui::msg::Effect;
use crate::tui::state::{AppState, Pending, Popup, editor, editor_text};

pub(super) fn sessions_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::Sessions { items, selected }) = s.popup.as_mut() else {
        return vec![];
    };
    let path = items.get(*selected).map(|i| i.path.clone());
    let plain = k.modifiers.is_empty();
    match a {
        _ if plain && matches!(k.code, KeyCode::Char('d' | 'r')) => {
            let Some(path) = path else { return vec![] };
            if path == s.session.path {
                s.status = format!(
                    "{} is the open session: {} saves it under a new name; open another one to delete it",
                    path.display(),
                    s.keymap.first_key(Action::SaveSessionAs)
                );
            } else if k.code == KeyCode::Char('d') {
                let back = Box::new(s.popup.take().unwrap_or(Popup::Help { scroll: 0 }));
                s.popup = Some(Popup::Confirm {
                    question: format!("Delete the session file {}? (y/n)", path.display()),
                    then: Pending::DeleteSession(path, back),
                });
            } else {
                let stem = path
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // The name is selected: typing replaces it, → keeps it to edit.
                let mut name = editor(&stem, "");
                name.select_all();
                s.popup = Some(Popup::RenameSession {
                    from: path,
                    name: Box::new(name),
                });
            }
        }
        _ if selected_moved(selected, &k, a, items.len()) => {}
        Some(Action::Select) => {
            s.popup = None;
            if let Some(path) = path {
                return vec![Effect::OpenSession(path)];
            }
        }
        _ if closes(a, &k) => s.popup = None,
        _ => {}
    }
    vec![]
}

pub(super) fn rename_key(s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Vec<Effect> {
    let Some(Popup::RenameSession { from, name }) = s.popup.as_mut() else {
        return vec![];
    };
    match a {
        Some(Action::Cancel) => return vec![Effect::ListSessions],
        Some(Action::Select) => {
            let typed = editor_text(name).trim().to_string();
            match renamed_path(from, &typed) {
                Err(e) => s.status = e,
                Ok(to) if &to == from => return vec![Effect::ListSessions],
                Ok(to) => {
                    return vec![Effect::RenameSession {
                        from: from.clone(),
                        to,
                    }];
                }
            }
        }
        _ if is_clear(&k) => {
            name.select_all();
            name.cut();
        }
        _ => field_input(name, k),
    }
    vec![]
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

/// The executor deleted a session file (or could not): the picker comes back without it.
pub(super) fn deleted(s: &mut AppState, r: Result<PathBuf, String>) -> Vec<Effect> {
    match r {
        Ok(path) => {
            s.status = format!("deleted {}", path.display());
            vec![Effect::ListSessions]
        }
        Err(e) => {
            s.status = e;
            vec![]
        }
    }
}

/// The executor renamed a session file (or refused: the editor stays to choose another
/// name). The open session follows its file; an autosave renamed becomes a named session.
pub(super) fn renamed(s: &mut AppState, r: Result<(PathBuf, PathBuf), String>) -> Vec<Effect> {
    match r {
        Ok((from, to)) => {
            s.status = format!("renamed {} to {}", from.display(), to.display());
            if s.session.path == from {
                s.session.named = !crate::store::tidy::is_autosave(&to);
                s.session.path = to;
            }
            if matches!(s.popup, Some(Popup::RenameSession { .. })) {
                s.popup = None;
            }
            vec![Effect::ListSessions]
        }
        Err(e) => {
            s.status = e;
            vec![]
        }
    }
}
