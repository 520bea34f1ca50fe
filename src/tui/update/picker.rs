//! What the executor did with a session file the session picker (`popups::sessions`) asked
//! it to delete or rename.

use std::path::PathBuf;

use crate::tui::msg::Effect;
use crate::tui::state::{AppState, Popup};

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
            if matches!(s.popup, Some(Popup::RenameSession(_))) {
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
