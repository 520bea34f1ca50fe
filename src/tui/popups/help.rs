//! Help: every key and what it does, scrolled.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::keys::{help_extent, scrolled};
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct Help {
    pub scroll: u16,
}

impl Room<AppState> for Help {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = centered(area, 90, area.height.saturating_sub(4));
        let mut lines = vec![
            Line::styled(
                "Keys (change them under `keys:` in the config file)",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Line::raw(""),
        ];
        for (a, keys) in s.keymap.all() {
            let scope = if a.is_global() { "" } else { " (in lists)" };
            lines.push(Line::from(vec![
                Span::styled(format!("{keys:>22}  "), Style::default().fg(Color::Cyan)),
                Span::raw(format!("{}{scope}", a.describe())),
            ]));
        }
        let hidden = (lines.len() as u16).saturating_sub(self.scroll) > r.height.saturating_sub(2);
        let more = if hidden { " ↓ more " } else { "" };
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines)
                .scroll((self.scroll, 0))
                .block(block(" Help ".into(), true).title_bottom(more)),
            r,
        );
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let (page, max) = help_extent(s);
        if scrolled(&mut self.scroll, &k, a, page, max) {
            Step::stay()
        } else {
            Step::close()
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::scroll_keys(|a| s.keymap.first_key(a))
    }
}
