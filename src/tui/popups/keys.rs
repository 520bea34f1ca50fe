//! What keys do in the lab's popups, shared by them: scrolling to an end and no further,
//! lists, one-line fields whose value opens selected, closing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::keymap::Action;
use crate::tui::state::AppState;

/// Ctrl-U in a dialog's text field clears it.
pub fn is_clear(k: &KeyEvent) -> bool {
    k.code == KeyCode::Char('u') && k.modifiers.contains(KeyModifiers::CONTROL)
}

/// Types `k` into a one-line field whose value opened selected: → or End at its end keeps
/// the value (the selection ends there) instead of doing nothing.
pub fn field_input(ed: &mut ratatui_textarea::TextArea<'static>, k: KeyEvent) {
    let plain = !k.modifiers.contains(KeyModifiers::SHIFT);
    if plain && ed.is_selecting() && matches!(k.code, KeyCode::Right | KeyCode::End) {
        ed.cancel_selection();
        ed.move_cursor(ratatui_textarea::CursorMove::End);
        return;
    }
    ed.input(k);
}

/// Scrolls `scroll` by the key: ↑/↓ a line, PgUp/PgDn a page, Home/End to either end, never
/// past `max`. False when the key is not a scrolling one.
pub fn scrolled(scroll: &mut u16, k: &KeyEvent, a: Option<Action>, page: u16, max: u16) -> bool {
    let page = page.max(1);
    *scroll = match (a, k.code) {
        (Some(Action::Up), _) => scroll.saturating_sub(1),
        (Some(Action::Down), _) => scroll.saturating_add(1),
        (_, KeyCode::PageUp) => scroll.saturating_sub(page),
        (_, KeyCode::PageDown) => scroll.saturating_add(page),
        (_, KeyCode::Home) => 0,
        (_, KeyCode::End) => max,
        _ => return false,
    }
    .min(max);
    true
}

/// The Help popup's rows on screen and its furthest scroll (as `panes::popup` draws it: a
/// title, a blank line, a row per action, in a box 4 rows shorter than the terminal).
pub fn help_extent(s: &AppState) -> (u16, u16) {
    let rows = s.size.1.saturating_sub(4).saturating_sub(2);
    let lines = 2 + s.keymap.all().count() as u16;
    (rows, lines.saturating_sub(rows))
}

/// The same in a list: Home/End and PgUp/PgDn move the selection too.
pub fn selected_moved(selected: &mut usize, k: &KeyEvent, a: Option<Action>, len: usize) -> bool {
    let mut at = u16::try_from(*selected).unwrap_or(u16::MAX);
    let last = u16::try_from(len.saturating_sub(1)).unwrap_or(u16::MAX);
    if !scrolled(&mut at, k, a, 10, last) {
        return false;
    }
    *selected = usize::from(at);
    true
}

/// Whether `k` closes a popup that only shows something: Esc, Enter, Backspace, or `q`.
pub fn closes(a: Option<Action>, k: &KeyEvent) -> bool {
    matches!(a, Some(Action::Cancel | Action::Select | Action::Back))
        || (k.code == KeyCode::Char('q') && k.modifiers.is_empty())
}

/// How far a path's text can scroll: the rows it takes in the path popup (its text as drawn,
/// `tui::path_text`, wrapped at the popup's inner width), less the rows the popup shows.
pub fn path_extent(s: &AppState, path: usize) -> u16 {
    let Some(p) = s.run.as_ref().and_then(|r| r.paths.get(path)) else {
        return 0;
    };
    // The popup: 6 columns and 4 rows short of the screen, inside its border.
    let rows = crate::tui::path_text::rows(p, s.size.0.saturating_sub(8).max(1));
    u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_sub(s.size.1.saturating_sub(6))
}
