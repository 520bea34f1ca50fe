//! Exactly what the current edits send to the model, or, while a recorded run is being
//! browsed, exactly what that run sent.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Wrap};

use super::block;
use crate::tui::state::AppState;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let (title, text) = match s.viewed() {
        Some((i, meta)) => {
            let text = meta.prompt.to_string();
            let stops = if meta.stop.is_empty() {
                String::new()
            } else {
                format!("\n\n── stop at: {:?}", meta.stop)
            };
            (
                format!(
                    " Prompt of run {} ({} · {} chars · read-only) ",
                    i + 1,
                    meta.mode.as_str(),
                    text.chars().count()
                ),
                format!("{text}{stops}"),
            )
        }
        None => (
            format!(
                " Prompt ({} · {} chars) ",
                s.mode().as_str(),
                s.preview.chars().count()
            ),
            s.preview.clone(),
        ),
    };
    let lines = text.lines().count() as u16;
    let inner_h = area.height.saturating_sub(2);
    let more = if lines.saturating_sub(s.sel.prompt_scroll) > inner_h {
        " ↓ more "
    } else {
        ""
    };
    let p = Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .scroll((s.sel.prompt_scroll, 0))
        .block(block(title, focused).title_bottom(more));
    f.render_widget(p, area);
}
