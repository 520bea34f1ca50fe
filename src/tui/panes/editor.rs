//! A text editor pane (instruction, query). Focused, it is the editor with its cursor;
//! unfocused, its text from the start (not scrolled to a cursor it does not show). An empty
//! one shows its hint, cut with "…" when it does not fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::block;

pub fn draw(f: &mut Frame, area: Rect, title: &str, editor: &TextArea<'_>, focused: bool) {
    let b = block(format!(" {title} "), focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    text(f, inner, editor, focused);
}

/// The editor's text in `area`, as described above.
pub fn text(f: &mut Frame, area: Rect, editor: &TextArea<'_>, focused: bool) {
    let lines = editor.lines();
    if lines.iter().all(|l| l.is_empty()) {
        let mut spans = vec![];
        if focused {
            spans.push(Span::styled(
                " ",
                Style::default().add_modifier(Modifier::REVERSED),
            ));
        }
        let room = (area.width as usize).saturating_sub(spans.len());
        let hint = super::clip(
            Line::styled(
                editor.placeholder_text().to_string(),
                Style::default().fg(Color::DarkGray),
            ),
            room,
        );
        spans.extend(hint.spans);
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    } else if focused {
        f.render_widget(editor, area);
    } else {
        let text = Text::from(
            lines
                .iter()
                .map(|l| Line::raw(l.as_str()))
                .collect::<Vec<_>>(),
        );
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), area);
    }
}
