//! The few-shot examples: each one's input at a glance, on/off state, the active count.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState};

use super::block;
use crate::core::demos::{Analysis, Contribution};
use crate::tui::state::AppState;

/// The contributions of the last analysis (each example's, by index into the lab's examples)
/// while the examples are the ones it analysed.
pub fn contributions(s: &AppState) -> Option<&[Contribution]> {
    let r = s.analysis.as_ref()?;
    if r.examples != s.lab.examples {
        return None;
    }
    r.analyses.iter().find_map(|a| match a {
        Analysis::LeaveOneOut { contributions } => Some(contributions.as_slice()),
        _ => None,
    })
}

/// Cells on each side of a contribution bar's zero.
const HALF: usize = 3;

/// An example's contribution beside it: points and interval, then a signed bar (to the right
/// when it helps, to the left, red, when removing it scored higher) scaled to the largest.
fn contribution_spans(c: &Contribution, scale: f64) -> Vec<Span<'static>> {
    let Some(p) = c.paired else {
        return vec![Span::raw(format!("{:>BAR$}", "-"))];
    };
    let pts = |x: f64| match (x * 100.0).round() {
        0.0 => "0".to_string(),
        v => format!("{v:+.0}").replace('-', "−"),
    };
    let cells = ((p.diff.abs() / scale) * HALF as f64).round() as usize;
    let cells = cells.min(HALF);
    let colour = if c.removal_helps {
        Color::Red
    } else {
        Color::Green
    };
    let (left, right) = if p.diff < 0.0 {
        (format!("{:>HALF$}", "█".repeat(cells)), " ".repeat(HALF))
    } else {
        (" ".repeat(HALF), format!("{:<HALF$}", "█".repeat(cells)))
    };
    let figures = format!("{:>4} [{},{}]", pts(p.diff), pts(p.low), pts(p.high));
    vec![
        Span::styled(format!(" {figures:>14} "), Style::default().fg(colour)),
        Span::styled(left, Style::default().fg(colour)),
        Span::styled("│", Style::default().fg(Color::DarkGray)),
        Span::styled(right, Style::default().fg(colour)),
    ]
}

/// The width of a contribution column.
const BAR: usize = 16 + 2 * HALF + 1;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let ex = &s.lab.examples;
    // How the analysis read its answers, when it says.
    let analysed = match (
        contributions(s),
        s.analysis.as_ref().and_then(|r| r.reading.as_ref()),
    ) {
        (Some(_), Some(r)) => format!(
            " · leave-one-out, {}",
            crate::core::demos::mode_of(r.answers)
        ),
        (Some(_), None) => " · leave-one-out".to_string(),
        _ => String::new(),
    };
    let title = if s.lab.strategy == crate::core::template::Strategy::ZeroShotCot && !ex.is_empty()
    {
        format!(
            " Examples ({} kept, none sent: zero-shot-cot uses no examples) ",
            ex.len()
        )
    } else {
        format!(
            " Examples ({}/{} active){analysed} ",
            s.lab.active_examples(),
            ex.len()
        )
    };
    let shown = contributions(s);
    let scale = shown
        .into_iter()
        .flatten()
        .filter_map(|c| c.paired.map(|p| p.diff.abs()))
        .fold(0.1f64, f64::max);
    let bar = if shown.is_some() { BAR } else { 0 };
    let width = (area.width as usize).saturating_sub(12 + bar);
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
            let mut spans = vec![
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
            ];
            if let Some(c) = shown.and_then(|cs| cs.iter().find(|c| c.example == i)) {
                let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
                let pad = (area.width as usize).saturating_sub(2 + used + BAR);
                spans.push(Span::raw(" ".repeat(pad)));
                spans.extend(contribution_spans(c, scale));
            }
            ListItem::new(Line::from(spans))
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
