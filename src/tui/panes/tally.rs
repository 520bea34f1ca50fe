//! The live vote: answers by votes as bars, the no-answer bucket apart, the winner and its
//! share of the vote with its 95% interval.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::block;
use crate::core::vote::TallyEntry;
use crate::tui::state::{AppState, RunView};

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let b = block(" Tally ".into(), focused);
    let Some(run) = &s.run else {
        f.render_widget(Paragraph::new("").block(b), area);
        return;
    };
    let t = run.tally();
    let b = block(
        format!(" Tally ({} of {} voted) ", t.voted, run.len()),
        focused,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let label_w = t
        .entries
        .iter()
        .map(|e| e.answer.as_ref().map_or(9, |a| a.chars().count()))
        .max()
        .unwrap_or(4)
        .clamp(4, 14);
    // Votes a fallback read get a "~N" column.
    let marks = t.entries.iter().any(|e| e.fallback > 0);
    let mark_w = if marks { 4 } else { 0 };
    let bar_w = (inner.width as usize)
        .saturating_sub(label_w + 14 + mark_w)
        .max(1);
    let max = t.entries.iter().map(|e| e.votes).max().unwrap_or(1).max(1);
    let mut lines: Vec<Line> = Vec::new();
    let line = |i: usize, e: &TallyEntry| {
        let selected = focused && i == s.sel.tally;
        let filtered = s.sel.filter.as_ref() == Some(&e.answer);
        let winner = e.answer.is_some() && e.answer == t.winner;
        let label = e.answer.clone().unwrap_or_else(|| "no answer".into());
        let color = match (&e.answer, winner) {
            (None, _) => Color::DarkGray,
            (_, true) => Color::Green,
            _ => Color::Blue,
        };
        let filled = (e.votes as usize * bar_w).div_ceil(max as usize);
        let mut style = Style::default();
        if selected {
            style = style.bg(Color::DarkGray);
        }
        Line::from(vec![
            Span::styled(
                if filtered { "◆" } else { " " },
                Style::default().fg(Color::Cyan),
            ),
            Span::styled(
                format!(
                    "{:<label_w$} ",
                    crate::core::display::shorten(&label, label_w)
                ),
                style.add_modifier(if winner {
                    Modifier::BOLD
                } else {
                    Modifier::empty()
                }),
            ),
            Span::styled("█".repeat(filled), Style::default().fg(color)),
            Span::raw(format!(
                "{} {:>2} {:>3.0}%",
                " ".repeat(bar_w - filled),
                e.votes,
                e.share * 100.0
            )),
            Span::styled(
                match e.fallback {
                    0 => " ".repeat(mark_w),
                    n => format!(" {:<3}", format!("~{n}")),
                },
                Style::default().fg(Color::Yellow),
            ),
        ])
    };
    for (i, e) in t.entries.iter().enumerate() {
        if e.answer.is_none() {
            lines.push(Line::styled(
                format!(" {}", "─".repeat(inner.width.saturating_sub(2) as usize)),
                Style::default().fg(Color::DarkGray),
            ));
        }
        lines.push(line(i, e));
        // A free-form cluster: its other wordings under its representative.
        let others: Vec<String> = e
            .members
            .iter()
            .filter(|m| Some(*m) != e.answer.as_ref())
            .map(|m| format!("\"{}\"", crate::core::display::visible(m)))
            .collect();
        if !others.is_empty() {
            let text = format!("{} wordings: {}", others.len() + 1, others.join(" · "));
            lines.push(Line::styled(
                format!(
                    "   {}",
                    crate::core::display::shorten(&text, (inner.width as usize).saturating_sub(3))
                ),
                Style::default().fg(Color::DarkGray),
            ));
        }
    }
    lines.push(Line::raw(""));
    lines.extend(verdict(run));
    // The early-stop line wraps in a narrow pane; the bars always fit.
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// Under the bars: the winner and its share with its interval, what the fallback marks mean,
/// the other votes' winners, how free-form answers were grouped, the selector's pick and
/// where the early-stop rule stands.
fn verdict(run: &RunView) -> Vec<Line<'static>> {
    let t = run.tally();
    let mut lines = Vec::new();
    match &t.winner {
        Some(w) => lines.push(Line::from(vec![
            Span::raw(" winner "),
            Span::styled(
                w.clone(),
                Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                " · {}",
                t.winner_share()
                    .map_or_else(|| format!("{:.0}%", t.agreement * 100.0), |s| s.describe())
            )),
            Span::raw(
                t.clustering
                    .as_ref()
                    .map(|c| format!(" · dispersion {:.2} bits", c.dispersion))
                    .unwrap_or_default(),
            ),
        ])),
        None if t.voted > 0 => lines.push(Line::styled(
            " no parsable answer yet",
            Style::default().fg(Color::DarkGray),
        )),
        None => lines.push(Line::styled(
            match &run.result() {
                Some(r) if r.cancelled => " cancelled before any path answered",
                Some(_) => " no path answered",
                None => " waiting for the first path…",
            },
            Style::default().fg(Color::DarkGray),
        )),
    }
    if let Some(note) = crate::core::display::fallback_note(t, run.record.template.answer.strict) {
        lines.push(Line::styled(
            format!(" {note}"),
            Style::default().fg(Color::Yellow),
        ));
    }
    if let Some(w) = &t.weighted_winner {
        lines.push(Line::from(vec![
            Span::raw(" probability-weighted "),
            Span::styled(w.clone(), Style::default().fg(Color::Magenta)),
        ]));
    }
    if let (Some(c), Some(f)) = (&t.confidence_winner, &t.filtered_winner) {
        lines.push(Line::from(vec![
            Span::raw(" confidence-weighted "),
            Span::styled(c.clone(), Style::default().fg(Color::Magenta)),
            Span::raw(format!(
                " · top {:.0}% ",
                crate::core::vote::CONFIDENT_SHARE * 100.0
            )),
            Span::styled(f.clone(), Style::default().fg(Color::Magenta)),
        ]));
    }
    if let Some(c) = &t.clustering {
        let clusters = t.entries.iter().filter(|e| e.answer.is_some()).count();
        lines.push(Line::styled(
            format!(" free-form: {}{}", c.describe(clusters), c.fallback()),
            Style::default().fg(Color::Cyan),
        ));
    }
    if let Some(sel) = run.result().as_ref().and_then(|r| r.selection.as_ref()) {
        let said = match (&sel.error, sel.chosen) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(p)) => format!(
                "\"{}\" → path {p}",
                crate::core::display::visible(sel.reply.trim())
            ),
            (None, None) => format!(
                "\"{}\" names no response",
                crate::core::display::visible(sel.reply.trim())
            ),
        };
        lines.push(Line::styled(
            format!(" selector: {said}"),
            Style::default().fg(Color::Cyan),
        ));
    }
    if let Some(e) = run.early_stop() {
        lines.push(Line::styled(
            format!(" {e}"),
            Style::default().fg(Color::Cyan),
        ));
    }
    lines
}
