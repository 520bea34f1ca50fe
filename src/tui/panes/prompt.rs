//! Exactly what the current edits send to the model.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Wrap};

use super::block;
use crate::tui::state::AppState;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let title = format!(
        " Prompt ({} · {} chars) ",
        s.mode().as_str(),
        s.preview.chars().count()
    );
    let p = Paragraph::new(s.preview.as_str())
        .wrap(Wrap { trim: false })
        .scroll((s.sel.prompt_scroll, 0))
        .block(block(title, focused));
    f.render_widget(p, area);
}
