//! The query editor, with the template's other queries one key away.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::block;
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let picks = s.lab.queries.len();
    let title = if picks > 1 {
        format!(
            " Query ({}/{picks}, {} next) ",
            s.lab.query_pick + 1,
            s.keymap.first_key(Action::NextQuery)
        )
    } else {
        " Query ".to_string()
    };
    let b = block(title, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    super::editor::text(f, inner, &s.lab.query, focused);
}
