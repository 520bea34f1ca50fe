//! The few-shot examples: each one's input at a glance, on/off state, the active count.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState};

use super::block;
use crate::tui::state::AppState;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let ex = &s.lab.examples;
    let title = if s.lab.strategy == crate::core::template::Strategy::ZeroShotCot && !ex.is_empty()
    {
        format!(
            " Examples ({} kept, none sent: zero-shot-cot uses no examples) ",
            ex.len()
        )
    } else {
        format!(
            " Examples ({}/{} active) ",
            s.lab.active_examples(),
            ex.len()
        )
    };
    let width = area.width.saturating_sub(12) as usize;
    let items: Vec<ListItem> = ex
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mark = if e.enabled { "●" } else { "○" };
            let style = if e.enabled {
                Style::default()
            } else {
                Style::default()
                    .fg(Color::DarkGray)
                    .add_modifier(Modifier::CROSSED_OUT)
            };
            let input = crate::core::display::shorten(
                &e.input,
                width.saturating_sub(e.answer.len().min(12) + 3),
            );
            let answer = crate::core::display::shorten(&e.answer, 12);
            ListItem::new(Line::from(vec![
                Span::styled(
                    format!("{mark} {:>2} ", i + 1),
                    Style::default().fg(if e.enabled {
                        Color::Green
                    } else {
                        Color::DarkGray
                    }),
                ),
                Span::styled(input, style),
                Span::styled(format!(" → {answer}"), Style::default().fg(Color::Yellow)),
            ]))
        })
        .collect();
    let list = if items.is_empty() {
        List::new(vec![ListItem::new(Span::styled(
            "no examples: zero-shot (a adds one)",
            Style::default().fg(Color::DarkGray),
        ))])
    } else {
        List::new(items)
    };
    let list = list
        .block(block(title, focused))
        .highlight_style(Style::default().bg(if focused {
            Color::DarkGray
        } else {
            Color::Reset
        }));
    let mut state = ListState::default()
        .with_selected((!ex.is_empty()).then_some(s.sel.example.min(ex.len().saturating_sub(1))));
    f.render_stateful_widget(list, area, &mut state);
}
