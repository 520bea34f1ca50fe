//! An error, until it is closed.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::keys::closes;
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct ErrorBox(pub String);

impl Room<AppState> for ErrorBox {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = centered(area, 70, 9);
        let b = block(" Error ".into(), true).border_style(Style::default().fg(Color::Red));
        let text = Text::from(vec![
            Line::raw(self.0.clone()),
            Line::raw(""),
            Line::styled(
                format!("{} closes", s.keymap.first_key(Action::Cancel)),
                Style::default().fg(Color::DarkGray),
            ),
        ]);
        f.render_widget(Clear, r);
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(b), r);
    }

    fn key(&mut self, _s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        if a == Some(Action::Quit) {
            // Quitting works through an error, as everywhere.
            Step::Act(Action::Quit)
        } else if closes(a, &k) {
            Step::close()
        } else {
            Step::stay()
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        vec![(s.keymap.first_key(Action::Cancel), "close")]
    }
}
