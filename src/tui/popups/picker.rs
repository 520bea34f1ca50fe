//! The template picker: load one (after a yes when it would replace edits).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::ListItem;

use super::keys::{closes, selected_moved};
use super::{Pending, Popup, Room, Step};
use crate::tui::keymap::Action;
use crate::tui::msg::PickItem;
use crate::tui::panes::{cell, centered};
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct Picker {
    pub items: Vec<PickItem>,
    pub selected: usize,
}

impl Room<AppState> for Picker {
    fn draw(&self, f: &mut Frame, area: Rect, _s: &AppState) {
        let r = centered(area, 90, (self.items.len() as u16 + 2).max(5));
        let rows: Vec<ListItem> = self
            .items
            .iter()
            .map(|i| {
                let (summary, style) = match &i.template {
                    Ok(_) => (i.summary.clone(), Style::default()),
                    Err(e) => (e.clone(), Style::default().fg(Color::Red)),
                };
                ListItem::new(Line::from(vec![
                    Span::styled(
                        format!("{} ", cell(&i.name, 22, false)),
                        Style::default().fg(Color::Cyan),
                    ),
                    Span::styled(summary, style),
                ]))
            })
            .collect();
        super::pick_list(
            f,
            r,
            rows,
            " Load a template (Enter) ".into(),
            self.selected,
        );
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match a {
            _ if selected_moved(&mut self.selected, &k, a, self.items.len()) => Step::stay(),
            Some(Action::Select) => match self.items.get(self.selected).map(|i| &i.template) {
                Some(Ok(t)) => {
                    let load = Pending::LoadTemplate(Box::new(t.clone()));
                    if s.edited() {
                        Step::Confirm(
                            "Replace your edits with this template? (Ctrl-Z undoes it)".into(),
                            load,
                        )
                    } else {
                        Step::Perform(load)
                    }
                }
                Some(Err(e)) => Step::Open(Popup::error(e.clone())),
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
