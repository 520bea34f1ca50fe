//! The prompt search's leaderboard as it fills in; Enter copies an instruction into the editor.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use super::block;
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
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
    let spent: usize = o.candidates.iter().map(|c| c.samples).sum();
    let mut summary = format!(
        "{} candidates scored · {spent} dev samples · planned up to {} calls",
        o.candidates.len(),
        o.planned_calls
    );
    if let Some((best, original)) = o.held {
        summary.push_str(&format!(
            " · held-out: best {:.1}% vs {:.1}% before",
            best * 100.0,
            original * 100.0
        ));
    }
    if o.budget_reached {
        summary.push_str(" · budget reached");
    }
    f.render_widget(
        Paragraph::new(vec![
            Line::raw(summary),
            Line::styled(
                format!(
                    "{:>3}  {:>7}  {:>7}  {:>5}  instruction",
                    "#", "dev", "samples", "round"
                ),
                Style::default().fg(Color::DarkGray),
            ),
        ]),
        head,
    );
    let rows: Vec<ListItem> = o
        .leaderboard()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let acc = c.accuracy.unwrap_or(0.0);
            let color = if i == 0 { Color::Green } else { Color::Reset };
            ListItem::new(Line::from(vec![
                Span::raw(format!("{:>3}  ", i + 1)),
                Span::styled(
                    format!("{:>6.1}%", acc * 100.0),
                    Style::default().fg(color).add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!("  {:>7}  {:>5}  ", c.samples, c.round)),
                Span::raw(c.instruction.clone()),
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
