//! The settings bar: strategy, N and sampling, always visible. While a recorded run is being
//! browsed it shows that run's own settings, read-only. On a narrow terminal it scrolls so
//! the selected setting is always on screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::core::settings::Key;
use crate::tui::state::{AppState, SETTINGS_BAR};

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let viewed = s.viewed();
    let (t, mode) = match viewed {
        Some((_, meta)) => (&meta.template, meta.mode.as_str().to_string()),
        None => (
            &s.lab.template(),
            match s.lab.mode {
                Some(m) => m.as_str().to_string(),
                None => format!("{} (auto)", s.mode().as_str()),
            },
        ),
    };
    // Each value as the settings table writes it, but for the bar's two decimals of a
    // sampling float and the mode the lab would pick on its own.
    let values = SETTINGS_BAR.iter().map(|key| match key {
        Key::Temperature => format!("{:.2}", t.sampling.temperature),
        Key::TopP => format!("{:.2}", t.sampling.top_p),
        Key::Mode => mode.clone(),
        _ => key.value(t),
    });
    let mut lead = vec![Span::styled(
        if focused { "▶" } else { " " },
        Style::default().fg(Color::Cyan),
    )];
    if let Some((i, _)) = viewed {
        lead.push(Span::styled(
            format!(" run {} (read-only) ", i + 1),
            Style::default().fg(Color::Black).bg(Color::Magenta),
        ));
    }
    let fields: Vec<Vec<Span>> = SETTINGS_BAR
        .iter()
        .map(|f| f.label())
        .zip(values)
        .enumerate()
        .map(|(i, (name, value))| {
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
            vec![
                Span::styled(format!(" {name} "), Style::default().fg(Color::DarkGray)),
                Span::styled(value, vstyle),
                Span::styled(" │", Style::default().fg(Color::DarkGray)),
            ]
        })
        .collect();
    let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let room = (area.width as usize).saturating_sub(width(&lead));
    // Start as far left as possible while the selected field still fits (with a "‹" mark).
    let sel = s.sel.setting.min(fields.len() - 1);
    let mut first = 0;
    while first < sel && width(&fields[first..=sel].concat()) + usize::from(first > 0) > room {
        first += 1;
    }
    let mut spans = lead;
    if first > 0 {
        spans.push(Span::styled("‹", Style::default().fg(Color::Cyan)));
    }
    spans.extend(fields[first..].concat());
    let line = super::clip(Line::from(spans), area.width as usize);
    f.render_widget(Paragraph::new(line), area);
}
