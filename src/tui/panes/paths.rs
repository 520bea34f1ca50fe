//! Every path of the run: its state, extracted answer and the start of its text.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use super::block;
use crate::tui::state::{AppState, PathState, PathView};

/// Below this width the token column goes and the answer column narrows to the longest
/// answer shown: the text keeps most of the row.
const NARROW: usize = 70;

fn row(
    i: usize,
    p: &PathView,
    winner: Option<&str>,
    width: usize,
    answer_width: usize,
) -> ListItem<'static> {
    let (icon, color, what) = match &p.state {
        PathState::Waiting => ("·", Color::DarkGray, "waiting".to_string()),
        PathState::Streaming if p.text.is_empty() && !p.thinking.is_empty() => {
            ("…", Color::Yellow, format!("{} think", p.chunks))
        }
        PathState::Streaming => ("…", Color::Yellow, format!("{} tok", p.chunks)),
        PathState::Done => ("✓", Color::Green, format!("{} tok", p.tokens())),
        PathState::Cancelled => ("⊘", Color::Magenta, format!("{} tok", p.tokens())),
        PathState::Stopped => ("◌", Color::DarkGray, format!("{} tok", p.tokens())),
        PathState::Failed(_) => ("✗", Color::Red, "failed".to_string()),
    };
    let answer = match (&p.state, &p.result) {
        (PathState::Done, Some(r)) => crate::core::display::path_answer(r),
        _ => String::new(),
    };
    let narrow = width < NARROW;
    let used = if narrow {
        2 + 3 + answer_width + 1
    } else {
        2 + 3 + 9 + 10
    };
    let room = width.saturating_sub(used);
    let text = match &p.state {
        PathState::Failed(e) => format!("{e}  {}", p.text.trim()),
        PathState::Cancelled => format!("cancelled  {}", p.text.trim()),
        PathState::Stopped => format!("not needed (the vote settled)  {}", p.text.trim()),
        // What sets the path apart: the sentence its answer was read from (else its last
        // sentence), not the restated question every path starts with.
        PathState::Done => distinguishing(&p.text, winner),
        // Streaming: the latest words, as many as the text column holds.
        _ => tail(&crate::core::display::shorten(&p.text, usize::MAX), room),
    };
    // How long the path thought, before its answer text.
    let text = match p.thinking.chars().count() {
        0 => text,
        n => format!("[thought {n} chars] {}", text.trim_start()),
    };
    let mut spans = vec![
        Span::styled(format!("{icon} "), Style::default().fg(color)),
        Span::raw(format!("{i:>2} ")),
    ];
    let aw = if narrow { answer_width } else { 9 };
    if !narrow {
        spans.push(Span::styled(
            format!("{what:>8} "),
            Style::default().fg(Color::DarkGray),
        ));
    }
    spans.push(Span::styled(
        format!("{:<aw$} ", crate::core::display::shorten(&answer, aw)),
        Style::default().fg(Color::Yellow),
    ));
    spans.push(Span::raw(crate::core::display::shorten(&text, room)));
    ListItem::new(Line::from(spans))
}

/// The first sentence of `text` that departs from the winning path's text; for the winning
/// path itself (or one that says the same), its final-answer sentence, else its last one.
fn distinguishing(text: &str, winner: Option<&str>) -> String {
    use crate::core::compare::sentences;
    if let Some(w) = winner.filter(|w| *w != text) {
        let (mine, theirs) = (sentences(text), sentences(w));
        if let Some(at) =
            (0..mine.len()).find(|&k| theirs.get(k).is_none_or(|t| t.trim() != mine[k].trim()))
        {
            return mine[at..].concat().trim().to_string();
        }
    }
    if let Some((a, b)) = crate::core::extract::answer_sentence(text) {
        let start = text[..a].rfind(['.', '!', '?', '\n']).map_or(0, |i| i + 1);
        return text[start..b].trim().to_string();
    }
    let sentences = crate::core::compare::sentences(text.trim());
    sentences
        .last()
        .map_or(String::new(), |s| s.trim().to_string())
}

/// The end of `text` in `width` characters, "…" first when its start is cut.
fn tail(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let mut s = String::from("…");
    s.extend(text.chars().skip(n + 1 - width.max(1)));
    s
}

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, focused: bool) {
    let Some(run) = &s.run else {
        let b = block(" Paths ".into(), focused);
        let hint = format!(
            "No run yet: {} samples N paths.",
            s.keymap.first_key(crate::tui::keymap::Action::Run)
        );
        f.render_widget(
            Paragraph::new(hint)
                .style(Style::default().fg(Color::DarkGray))
                .block(b),
            area,
        );
        return;
    };
    let visible = run.visible(&s.sel.filter);
    let filter = match &s.sel.filter {
        Some(Some(a)) => format!(" · answer {a}"),
        Some(None) => " · no answer".into(),
        None => String::new(),
    };
    let title = format!(" Paths ({}/{}{filter}) ", visible.len(), run.len());
    let width = area.width.saturating_sub(2) as usize;
    // Rows are told apart against the winning cluster's first path.
    let winner = run
        .tally()
        .winner
        .as_deref()
        .and_then(|w| run.tally().entry(Some(w)))
        .and_then(|e| e.paths.first())
        .and_then(|&i| run.path(i))
        .map(|p| p.text.into_owned());
    let winner = winner.as_deref();
    // The answer column as wide as the longest answer shown (at most 9).
    let answer_width = visible
        .iter()
        .filter_map(|&i| run.path(i)?.result)
        .map(|r| crate::core::display::path_answer(r).chars().count())
        .max()
        .unwrap_or(1)
        .clamp(1, 9);
    let items: Vec<ListItem> = visible
        .iter()
        .filter_map(|&i| run.path(i).map(|p| row(i, &p, winner, width, answer_width)))
        .collect();
    let list = List::new(items)
        .block(block(title, focused))
        .highlight_style(Style::default().bg(if focused {
            Color::DarkGray
        } else {
            Color::Reset
        }));
    let mut state =
        ListState::default().with_selected(visible.iter().position(|i| *i == s.sel.path));
    f.render_stateful_widget(list, area, &mut state);
}
