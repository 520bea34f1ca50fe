//! A form's text fields, one of them typed in: Tab and Shift-Tab go round them, the keys an
//! editor takes go to the one focused, and each is drawn as an editor pane under its label
//! (the example editor, the job forms), or on a row after it (the tune form's short values).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui_textarea::TextArea;

use crate::tui::keymap::Action;
use crate::tui::state::editor_text;

#[derive(Debug, Clone)]
pub struct Fields<const N: usize> {
    pub editors: Box<[TextArea<'static>; N]>,
    /// The field being typed in.
    pub at: usize,
}

impl<const N: usize> Fields<N> {
    pub fn new(editors: Box<[TextArea<'static>; N]>) -> Fields<N> {
        Fields { editors, at: 0 }
    }

    /// Tab or Shift-Tab (`a`, read as inside an editor): the next or previous field, round.
    /// Whether it moved.
    pub fn moved(&mut self, a: Option<Action>) -> bool {
        match a {
            Some(Action::FocusNext) => self.at = (self.at + 1) % N,
            Some(Action::FocusPrev) => self.at = (self.at + N - 1) % N,
            _ => return false,
        }
        true
    }

    /// A key the focused field takes.
    pub fn input(&mut self, k: KeyEvent) {
        self.editors[self.at].input(k);
    }

    /// Empties the focused field (Ctrl-U).
    pub fn clear(&mut self) {
        self.editors[self.at].select_all();
        self.editors[self.at].cut();
    }

    /// Pasted text into the focused field.
    pub fn insert(&mut self, text: &str) {
        self.editors[self.at].insert_str(text);
    }

    /// Field `i`'s text as typed.
    pub fn text(&self, i: usize) -> String {
        editor_text(&self.editors[i])
    }

    /// Each field in its area, under its label.
    pub fn draw(&self, f: &mut Frame, areas: &[Rect], labels: &[&str]) {
        for (i, (area, label)) in areas.iter().zip(labels).enumerate() {
            crate::tui::panes::editor::draw(f, *area, label, &self.editors[i], i == self.at);
        }
    }

    /// Each field on a row of `area`, after its label (a name, a number: values that fit a
    /// row); the focused field's label stands out. Rows past the area's height are left out.
    pub fn draw_rows(&self, f: &mut Frame, area: Rect, labels: &[&str]) {
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 2;
        let rows = Layout::vertical(vec![Constraint::Length(1); N]).split(area);
        for (i, (row, label)) in rows.iter().zip(labels).enumerate() {
            let [name, value] =
                Layout::horizontal([Constraint::Length(width), Constraint::Min(1)]).areas(*row);
            let style = if i == self.at {
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default().fg(Color::Gray)
            };
            f.render_widget(Paragraph::new(Line::styled(*label, style)), name);
            crate::tui::panes::editor::text(f, value, &self.editors[i], i == self.at);
        }
    }
}
