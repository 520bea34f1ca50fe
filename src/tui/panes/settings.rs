//! The settings bar: strategy, N and sampling, always visible.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::state::AppState;
use crate::tui::update::SETTINGS;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let sm = &s.lab.sampling;
    let mode = match s.lab.mode {
        Some(m) => m.as_str().to_string(),
        None => format!("{} (auto)", s.mode().as_str()),
    };
    let values = [
        s.lab.strategy.to_string(),
        sm.n.to_string(),
        format!("{:.2}", sm.temperature),
        format!("{:.2}", sm.top_p),
        sm.top_k.to_string(),
        sm.max_tokens.to_string(),
        sm.seed.to_string(),
        mode,
        s.lab.answer.kind.as_str().to_string(),
    ];
    let mut spans = vec![Span::styled(
        if focused { "▶" } else { " " },
        Style::default().fg(Color::Cyan),
    )];
    for (i, (name, value)) in SETTINGS.iter().zip(values).enumerate() {
        let selected = focused && i == s.sel.setting;
        let vstyle = if selected {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else if i == 0 {
            Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        };
        spans.push(Span::styled(
            format!(" {name} "),
            Style::default().fg(Color::DarkGray),
        ));
        spans.push(Span::styled(value, vstyle));
        spans.push(Span::styled(" │", Style::default().fg(Color::DarkGray)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
