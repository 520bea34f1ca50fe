//! The path popup: one path's text with the sentence its answer was read from underlined and
//! the answer highlighted (a fallback read: its last place in the text), a least-to-most
//! chain as a tree, a reasoning model's thinking dimmed above.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{block, centered};
use crate::core::display::visible;
use crate::core::extract::answer_sentence;
use crate::tui::keymap::Action;
use crate::tui::state::{AppState, Popup};

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::PathDetail { path, scroll, .. } = p else {
        return;
    };
    {
        let Some(run) = &s.run else { return };
        let Some(p) = run.paths.get(*path) else {
            return;
        };
        let r = centered(
            area,
            area.width.saturating_sub(6),
            area.height.saturating_sub(4),
        );
        let result = p.result.as_ref();
        let answer = result.and_then(|r| r.answer.clone());
        let title = match result {
            Some(res) => format!(
                " Path {path} · answer {} · {} · {} tokens{} · {:.1}s ({}/{} switch) ",
                answer.clone().unwrap_or_else(|| "none".into()),
                res.error.clone().unwrap_or_else(|| finish_label(res)),
                res.completion_tokens(),
                match res.reasoning_tokens() {
                    0 => String::new(),
                    n => format!(" ({n} thinking)"),
                },
                res.latency_ms as f64 / 1000.0,
                s.keymap.first_key(Action::Left),
                s.keymap.first_key(Action::Right),
            ),
            None => format!(" Path {path} · streaming "),
        };
        let mut text = match result {
            Some(r) if !r.steps().is_empty() => chain(&r.steps(), answer.as_deref()),
            Some(r) => highlighted(&p.text, r.answer_offset(), answer.as_deref()),
            None => Text::raw(visible(&p.text).into_owned()),
        };
        // A reasoning model's thinking, dimmed, above the answer text it led to.
        if !p.thinking.is_empty() {
            let dim = Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC);
            let mut lines = vec![Line::styled("thinking ┐", dim)];
            lines.extend(
                visible(p.thinking.trim())
                    .lines()
                    .map(|l| Line::styled(format!("┆ {l}"), dim)),
            );
            lines.push(Line::styled("answer ┘", dim));
            lines.extend(text.lines);
            text = Text::from(lines);
        }
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .scroll((*scroll, 0))
                .block(block(title, true)),
            r,
        );
    }
}

/// A least-to-most chain as a tree: each sub-question, its answer, what was read from it; the
/// last answer highlighted as above.
fn chain(steps: &[crate::core::record::StepView<'_>], answer: Option<&str>) -> Text<'static> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let (branch, stem) = if last {
            ("└─", "   ")
        } else {
            ("├─", "│  ")
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{branch} Q{}: ", i + 1),
                Style::default().fg(Color::Cyan),
            ),
            Span::styled(
                visible(s.question).into_owned(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]));
        let text = if last {
            highlighted(s.text.trim(), 0, answer)
        } else {
            Text::raw(visible(s.text.trim()).into_owned())
        };
        for (j, l) in text.lines.into_iter().enumerate() {
            let mut spans = vec![Span::styled(
                format!("{stem}{}", if j == 0 { "A: " } else { "   " }),
                Style::default().fg(Color::DarkGray),
            )];
            spans.extend(l.spans);
            lines.push(Line::from(spans));
        }
        if let Some(a) = s.answer.filter(|_| !last) {
            lines.push(Line::styled(
                format!("{stem}   → {a}"),
                Style::default().fg(Color::Yellow),
            ));
        }
    }
    Text::from(lines)
}

/// "stop", or every stage's finish reason when a stage was cut ("length, stop").
fn finish_label(p: &crate::core::record::PathRecord) -> String {
    if p.truncated() {
        let reasons: Vec<&str> = p
            .stages
            .iter()
            .map(|s| s.finish_reason.as_deref().unwrap_or("?"))
            .collect();
        format!("✂ cut at max tokens ({})", reasons.join(", "))
    } else {
        p.finish_reason().unwrap_or_default().to_string()
    }
}

/// The path's text with the final-answer sentence underlined and the answer in it highlighted;
/// the sentence is looked for from `from` on (where the stage the answer is read from starts).
pub fn highlighted(text: &str, from: usize, answer: Option<&str>) -> Text<'static> {
    let sentence = Style::default().add_modifier(Modifier::UNDERLINED);
    let hit = Style::default()
        .fg(Color::Black)
        .bg(Color::Green)
        .add_modifier(Modifier::BOLD);
    let from = if text.is_char_boundary(from) { from } else { 0 };
    let found = |hay: &str| {
        let ans = answer?;
        let lower = hay.to_lowercase();
        let i = lower.find(&ans.to_lowercase())?;
        let j = i + ans.len();
        (lower.len() == hay.len() && hay.is_char_boundary(i) && hay.is_char_boundary(j))
            .then_some((i, j))
    };
    let mut spans: Vec<Span<'static>> = vec![];
    match answer_sentence(&text[from..]).map(|(a, b)| (a + from, b + from)) {
        Some((a, b)) if found(&text[a..b]).is_some() || answer.is_none() => {
            spans.push(Span::raw(text[..a].to_string()));
            let sent = &text[a..b];
            match found(sent) {
                Some((i, j)) => {
                    spans.push(Span::styled(sent[..i].to_string(), sentence));
                    spans.push(Span::styled(sent[i..j].to_string(), hit));
                    spans.push(Span::styled(sent[j..].to_string(), sentence));
                }
                None => spans.push(Span::styled(sent.to_string(), sentence)),
            }
            spans.push(Span::raw(text[b..].to_string()));
        }
        // Read by a fallback (the last number, the last sentence): its last place in the text.
        _ => {
            let Some((i, j)) = answer.and_then(|ans| {
                let i = text[from..].rfind(ans)? + from;
                Some((i, i + ans.len()))
            }) else {
                return Text::raw(visible(text).into_owned());
            };
            spans.push(Span::raw(text[..i].to_string()));
            spans.push(Span::styled(text[i..j].to_string(), hit));
            spans.push(Span::raw(text[j..].to_string()));
        }
    }
    // Split into lines so wrapping and newlines render as in the text.
    let mut lines: Vec<Line<'static>> = vec![Line::default()];
    for span in spans {
        let style = span.style;
        let content = visible(&span.content).into_owned();
        let mut parts = content.split('\n').peekable();
        while let Some(part) = parts.next() {
            if let Some(l) = lines.last_mut().filter(|_| !part.is_empty()) {
                l.push_span(Span::styled(part.to_string(), style));
            }
            if parts.peek().is_some() {
                lines.push(Line::default());
            }
        }
    }
    Text::from(lines)
}
