//! One file per pane; each draws from `&AppState` only.

pub mod editor;
pub mod eval;
pub mod examples;
pub mod optimize;
pub mod paths;
pub mod popup;
pub mod prompt;
pub mod query;
pub mod settings;
pub mod tally;

use ratatui::widgets::{Block, BorderType, Borders};

use super::view::border;

/// A pane's frame: rounded, cyan when focused.
pub fn block(title: String, focused: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(border(focused))
        .title(title)
}
