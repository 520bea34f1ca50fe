//! Paths side by side (drawn by `panes::compare`, laid out by `tui::columns`): Tab a column,
//! ←/→ another path with its answer, Enter opens one in full.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::keys::{closes, help_extent, scrolled};
use super::{PathDetail, Popup, Room, Step};
pub use crate::tui::columns::ComparePaths;
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

impl Room<AppState> for ComparePaths {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        crate::tui::panes::compare::draw(f, area, s, self);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let (page, _) = help_extent(s);
        let end = crate::tui::columns::extent(s, self);
        let n = s.run.as_ref().map_or(0, |r| r.paths.len());
        let wide = self.columns.len().max(1);
        match a {
            _ if scrolled(&mut self.scroll, &k, a, page, end) => {}
            _ if matches!(s.keymap.action(&k, true), Some(Action::FocusNext)) => {
                self.selected = (self.selected + 1) % wide
            }
            _ if matches!(s.keymap.action(&k, true), Some(Action::FocusPrev)) => {
                self.selected = (self.selected + wide - 1) % wide
            }
            // Another path with the selected column's answer.
            Some(Action::Left | Action::Right) if n > 0 => self.mate(s, a == Some(Action::Left)),
            Some(Action::Select) => {
                return Step::Open(Popup::PathDetail(PathDetail {
                    back: Some(Box::new(self.clone())),
                    ..PathDetail::new(self.columns[self.selected])
                }));
            }
            _ if closes(a, &k) => return Step::close(),
            _ => {}
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        let ud = |a: Action, b: Action| format!("{}/{}", k(a), k(b));
        vec![
            (k(Action::FocusNext), "column"),
            (ud(Action::Left, Action::Right), "its answer's paths"),
            (ud(Action::Up, Action::Down), "scroll"),
            (k(Action::Select), "open"),
            (k(Action::Cancel), "close"),
        ]
    }
}

impl ComparePaths {
    /// The selected column shows the previous (`back`) or next path with its answer.
    fn mate(&mut self, s: &mut AppState, back: bool) {
        let Some(run) = &s.run else { return };
        let n = run.paths.len();
        let mut columns = self.columns.clone();
        let at = columns[self.selected];
        let mates = run
            .tally
            .entries
            .iter()
            .find(|e| e.paths.contains(&at))
            .map_or_else(|| (0..n).collect(), |e| e.paths.clone());
        let i = mates.iter().position(|p| *p == at).unwrap_or(0);
        let m = mates.len().max(1);
        let to = if back { (i + m - 1) % m } else { (i + 1) % m };
        columns[self.selected] = mates.get(to).copied().unwrap_or(at);
        let said = format!(
            "path {} · {} of {} with this answer",
            columns[self.selected],
            to + 1,
            mates.len()
        );
        let scroll = self.scroll;
        *self = ComparePaths::new(run, columns, self.selected);
        s.status = said;
        self.scroll = scroll;
    }
}
