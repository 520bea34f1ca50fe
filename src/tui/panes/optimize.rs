//! The prompt search's leaderboard as the race fills it in: each instruction's dev accuracy and
//! difference from yours with their intervals, those dropped from the race greyed, and the
//! held-out verdict; Enter copies an instruction into the editor.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use super::block;
use crate::core::ape::COLUMNS;
use crate::core::display::visible;
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, selected: usize) {
    let k = |a: Action| s.keymap.first_key(a);
    let Some(o) = &s.optimize else {
        f.render_widget(
            Paragraph::new("loading the dataset…").block(block(" Prompt search ".into(), true)),
            area,
        );
        return;
    };
    let state = if o.running {
        format!("round {} · running", o.round)
    } else {
        "done".to_string()
    };
    let title = format!(
        " Prompt search · {} · {state} ({}/{} select, {} copy into the instruction, {} stop, {} new, {} close) ",
        o.dataset,
        k(Action::Up),
        k(Action::Down),
        k(Action::Select),
        k(Action::Delete),
        k(Action::Add),
        k(Action::Cancel)
    );
    let b = block(title, true);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [head, list_area] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(inner);
    let spent: usize = o.standings.iter().map(|c| c.samples).sum();
    let dropped = o.standings.iter().filter(|c| c.dropped.is_some()).count();
    let mut summary = format!(
        "{} instructions raced on up to {} dev items ({dropped} dropped) · {spent} dev samples · planned up to {} calls",
        o.standings.len(),
        o.items,
        o.planned_calls
    );
    if o.budget_reached {
        summary.push_str(" · budget reached");
    }
    // The verdict: what the held-out items say of the winner against your instruction.
    let (verdict, color) = match (&o.verdict, o.running) {
        (Some(v), false) => (
            v.clone(),
            match &o.held {
                Some(h) if h.better => Color::Green,
                _ => Color::Yellow,
            },
        ),
        _ => (
            "racing: candidates clearly worse than the leader stop receiving samples".to_string(),
            Color::DarkGray,
        ),
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::raw(summary),
            Line::styled(verdict, Style::default().fg(color)),
            Line::styled(
                format!(
                    "{:>3}  {:<14}  {:<21}  {:>5}  {:>5}  instruction",
                    "#", COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3]
                ),
                Style::default().fg(Color::DarkGray),
            ),
        ]),
        head,
    );
    let rows: Vec<ListItem> = o
        .standings
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let [dev, delta, items, round] = c.cells();
            let style = match (c.seed, c.dropped.is_some(), i) {
                (true, _, _) => Style::default().fg(Color::Cyan),
                (false, true, _) => Style::default().fg(Color::DarkGray),
                (false, false, 0) => Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
                _ => Style::default(),
            };
            let instruction = match (c.seed, c.instruction.is_empty()) {
                (true, true) => "(yours: no instruction)".to_string(),
                (true, false) => format!("(yours) {}", visible(&c.instruction)),
                (false, _) => visible(&c.instruction).into_owned(),
            };
            ListItem::new(Line::from(vec![
                Span::raw(format!("{:>3}  ", i + 1)),
                Span::styled(format!("{dev:<14}"), style),
                Span::raw(format!("  {delta:<21}  {items:>5}  {round:>5}  ")),
                Span::styled(instruction, style),
                Span::styled(
                    c.fate().map(|f| format!("  · {f}")).unwrap_or_default(),
                    Style::default().fg(Color::DarkGray),
                ),
            ]))
        })
        .collect();
    let list = List::new(rows).highlight_style(Style::default().bg(Color::DarkGray));
    f.render_stateful_widget(
        list,
        list_area,
        &mut ListState::default().with_selected(Some(selected)),
    );
}
