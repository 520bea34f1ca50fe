//! One path's text as the path popup draws it (thinking dimmed above, a least-to-most chain as
//! a tree, the answer highlighted), and how many rows it takes at a width: the popup draws the
//! one and `update` scrolls to the end of the other, so the two never disagree.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use crate::core::display::visible;
use crate::core::extract::answer_sentence;
use crate::tui::run_view::PathView;

/// The path's text as drawn.
pub fn text(p: &PathView) -> Text<'static> {
    let result = p.result.as_ref();
    let answer = result.and_then(|r| r.answer.clone());
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
    text
}

/// How many rows `p`'s text takes wrapped at `width` (the popup's wrap: words, spaces kept).
pub fn rows(p: &PathView, width: u16) -> usize {
    Paragraph::new(text(p))
        .wrap(Wrap { trim: false })
        .line_count(width)
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
