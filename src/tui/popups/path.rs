//! One path in full (drawn by `panes::path`): ←/→ the next path shown, back to the
//! side-by-side view it was opened from.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::keys::{closes, help_extent, path_extent, scrolled};
use super::{Popup, Room, Step};
use crate::tui::columns::ComparePaths;
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct PathDetail {
    pub path: usize,
    pub scroll: u16,
    /// The side-by-side view it was opened from, to return to.
    pub back: Option<Box<ComparePaths>>,
}

impl PathDetail {
    pub fn new(path: usize) -> PathDetail {
        PathDetail {
            path,
            scroll: 0,
            back: None,
        }
    }
}

impl Room<AppState> for PathDetail {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        crate::tui::panes::path::draw(f, area, s, self.path, self.scroll);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let (page, _) = help_extent(s);
        let end = path_extent(s, self.path);
        match a {
            _ if scrolled(&mut self.scroll, &k, a, page, end) => {}
            Some(Action::Left | Action::Right) => {
                // Within the paths shown: a filtered cluster stays filtered.
                let visible = s
                    .run
                    .as_ref()
                    .map(|r| r.visible(&s.sel.filter))
                    .unwrap_or_default();
                let at = visible.iter().position(|i| *i == self.path).unwrap_or(0);
                let to = if a == Some(Action::Left) {
                    at.saturating_sub(1)
                } else {
                    (at + 1).min(visible.len().saturating_sub(1))
                };
                if let Some(p) = visible.get(to) {
                    self.path = *p;
                    s.sel.path = *p;
                }
                self.scroll = 0;
            }
            // Back to the side-by-side view it was opened from, if any.
            _ if closes(a, &k) => {
                return match self.back.take() {
                    Some(back) => Step::Open(Popup::ComparePaths(back)),
                    None => Step::close(),
                };
            }
            _ => {}
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        vec![
            (format!("{}/{}", k(Action::Up), k(Action::Down)), "scroll"),
            (format!("{}/{}", k(Action::Left), k(Action::Right)), "path"),
            (
                k(Action::Cancel),
                if self.back.is_some() { "back" } else { "close" },
            ),
        ]
    }
}
