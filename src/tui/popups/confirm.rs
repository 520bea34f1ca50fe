//! A yes/no question; yes does what waits on it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Pending, Room, Step};
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::AppState;

#[derive(Debug, Clone)]
pub struct Confirm {
    pub question: String,
    pub then: Pending,
}

impl Room<AppState> for Confirm {
    fn draw(&self, f: &mut Frame, area: Rect, _s: &AppState) {
        let w = area.width.saturating_sub(4).min(72);
        let r = centered(area, w, 7);
        let b = block(" Confirm ".into(), true).border_style(Style::default().fg(Color::Yellow));
        let text = Text::from(vec![
            Line::raw(self.question.clone()),
            Line::raw(""),
            Line::styled(
                "y / Enter: yes    n / Esc: no",
                Style::default().fg(Color::Cyan),
            ),
        ]);
        f.render_widget(Clear, r);
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(b), r);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        // The quit key answers its own question ("quit?") with yes.
        let quitting = match &self.then {
            Pending::CancelRun(p) => matches!(**p, Pending::Quit),
            p => matches!(p, Pending::Quit),
        };
        let yes = matches!(k.code, KeyCode::Char('y' | 'Y'))
            || a == Some(Action::Select)
            || (quitting && a == Some(Action::Quit));
        let no = matches!(k.code, KeyCode::Char('n' | 'N' | 'q')) || a == Some(Action::Cancel);
        if yes {
            return Step::Perform(self.then.clone());
        }
        if !no {
            return Step::stay();
        }
        s.status = "left as it was".into();
        match &self.then {
            Pending::DeleteSession(_, back) => Step::Open((**back).clone()),
            _ => Step::close(),
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        vec![
            (format!("y/{}", k(Action::Select)), "yes"),
            (format!("n/{}", k(Action::Cancel)), "no"),
        ]
    }
}
