//! The model picker: the models to switch to, the one running marked.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::ListItem;

use super::keys::{closes, selected_moved};
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::msg::{Effect, ModelChoice};
use crate::tui::panes::{cell, centered};
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct Models {
    pub items: Vec<ModelChoice>,
    pub selected: usize,
}

impl Room<AppState> for Models {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = centered(area, 100, (self.items.len() as u16 + 2).max(5));
        let now = s.backend.as_ref().map_or("", |b| b.model.as_str());
        // Names whole where the popup allows ("BASE.gguf + ADAPTER" is long), paths after.
        let longest = self
            .items
            .iter()
            .map(|m| crate::core::display::visible(&m.name).chars().count())
            .max()
            .unwrap_or(0);
        let name_width = longest.clamp(12, (r.width as usize).saturating_sub(40).max(12));
        let rows: Vec<ListItem> = self
            .items
            .iter()
            .map(|m| {
                // The model the lab runs now is marked.
                let mark = if m.is(now) { "● " } else { "  " };
                let size = if m.size_bytes > 0 {
                    format!("{:>10}  ", crate::core::display::megabytes(m.size_bytes))
                } else {
                    " ".repeat(12)
                };
                let place = m
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                ListItem::new(Line::from(vec![
                    Span::styled(mark, Style::default().fg(Color::Green)),
                    Span::styled(
                        format!(
                            "{} ",
                            cell(&crate::core::display::visible(&m.name), name_width, false)
                        ),
                        Style::default().fg(Color::Cyan),
                    ),
                    Span::raw(format!("{:<10}{size}", m.source)),
                    Span::styled(place, Style::default().fg(Color::DarkGray)),
                ]))
            })
            .collect();
        super::pick_list(
            f,
            r,
            rows,
            " Switch the model (Enter; ● runs now) ".into(),
            self.selected,
        );
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match a {
            _ if selected_moved(&mut self.selected, &k, a, self.items.len()) => Step::stay(),
            Some(Action::Select) => match self.items.get(self.selected).cloned() {
                Some(c) => {
                    s.status = format!("switching to {}…", c.name);
                    Step::Close(vec![Effect::SwitchModel(c)])
                }
                None => Step::close(),
            },
            _ if closes(a, &k) => Step::close(),
            _ => Step::stay(),
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::list_keys(|a| s.keymap.first_key(a))
    }
}
