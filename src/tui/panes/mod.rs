//! One file per pane; each draws from `&AppState` only.

pub mod compare;
pub mod curve_chart;
pub mod demos_chart;
pub mod editor;
pub mod eval;
pub mod examples;
pub mod optimize;
pub mod path;
pub mod paths;
pub mod prompt;
pub mod query;
pub mod settings;
pub mod tally;
pub mod tune;

use ratatui::widgets::{Block, BorderType, Borders};

/// A pane's border colour: cyan when focused.
pub fn border(focused: bool) -> ratatui::style::Style {
    use ratatui::style::{Color, Style};
    if focused {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default().fg(Color::DarkGray)
    }
}

/// A pane's frame: rounded, cyan when focused.
pub fn block(title: String, focused: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(border(focused))
        .title(title)
}

/// `line` cut to `width` columns, ending in "…" when something was cut.
pub fn clip(line: ratatui::text::Line<'static>, width: usize) -> ratatui::text::Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut out = Vec::new();
    let mut room = width.saturating_sub(1);
    for span in line.spans {
        if room == 0 {
            break;
        }
        let mut text = String::new();
        for c in span.content.chars() {
            let w = ratatui::text::Span::raw(c.encode_utf8(&mut [0; 4]) as &str).width();
            if w > room {
                room = 0;
                break;
            }
            room -= w;
            text.push(c);
        }
        out.push(ratatui::text::Span::styled(text, span.style));
    }
    out.push(ratatui::text::Span::raw("…"));
    ratatui::text::Line::from(out)
}

/// `text` in a column of `width` characters: cut with "…" (keeping its end when `keep_end`,
/// e.g. a file name) and padded, so the next column always starts at the same place.
pub fn cell(text: &str, width: usize, keep_end: bool) -> String {
    let flat = crate::core::display::shorten(text, usize::MAX);
    let n = flat.chars().count();
    let fitted = if n <= width {
        flat
    } else if keep_end {
        let tail: String = flat.chars().skip(n + 1 - width).collect();
        format!("…{tail}")
    } else {
        crate::core::display::shorten(&flat, width)
    };
    format!("{fitted:<width$}")
}

/// A `w` x `h` box in the middle of `area` (cut to it).
pub fn centered(area: ratatui::layout::Rect, w: u16, h: u16) -> ratatui::layout::Rect {
    let [r] = ratatui::layout::Layout::vertical([ratatui::layout::Constraint::Length(
        h.min(area.height),
    )])
    .flex(ratatui::layout::Flex::Center)
    .areas(area);
    let [r] = ratatui::layout::Layout::horizontal([ratatui::layout::Constraint::Length(
        w.min(area.width),
    )])
    .flex(ratatui::layout::Flex::Center)
    .areas(r);
    r
}
