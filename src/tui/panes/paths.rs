//! Every path of the run: its state, extracted answer and the start of its text.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use super::block;
use crate::tui::state::{AppState, PathState, PathView};

fn row(i: usize, p: &PathView, winner: Option<&str>, width: usize) -> ListItem<'static> {
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
    let text = match &p.state {
        PathState::Failed(e) => format!("{e}  {}", p.text.trim()),
        PathState::Cancelled => format!("cancelled  {}", p.text.trim()),
        PathState::Stopped => format!("not needed (the vote settled)  {}", p.text.trim()),
        // What sets the path apart: the sentence its answer was read from (else its last
        // sentence), not the restated question every path starts with.
        PathState::Done => distinguishing(&p.text, winner),
        // Streaming: the latest words.
        _ => tail(&p.text, width),
    };
    // How long the path thought, before its answer text.
    let text = match p.thinking.chars().count() {
        0 => text,
        n => format!("[thought {n} chars] {}", text.trim_start()),
    };
    let used = 2 + 3 + 9 + 10;
    ListItem::new(Line::from(vec![
        Span::styled(format!("{icon} "), Style::default().fg(color)),
        Span::raw(format!("{i:>2} ")),
        Span::styled(format!("{what:>8} "), Style::default().fg(Color::DarkGray)),
        Span::styled(
            format!("{:<9} ", crate::core::display::shorten(&answer, 9)),
            Style::default().fg(Color::Yellow),
        ),
        Span::raw(crate::core::display::shorten(
            &text,
            width.saturating_sub(used),
        )),
    ]))
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

/// The last `width` characters of `text`.
fn tail(text: &str, width: usize) -> String {
    let n = text.chars().count();
    text.chars().skip(n.saturating_sub(width)).collect()
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
    let title = format!(" Paths ({}/{}{filter}) ", visible.len(), run.paths.len());
    let width = area.width.saturating_sub(2) as usize;
    // Rows are told apart against the winning cluster's first path.
    let winner = run
        .tally
        .winner
        .as_deref()
        .and_then(|w| run.tally.entry(Some(w)))
        .and_then(|e| e.paths.first())
        .and_then(|&i| run.paths.get(i))
        .map(|p| p.text.as_str());
    let items: Vec<ListItem> = visible
        .iter()
        .filter_map(|&i| run.paths.get(i).map(|p| row(i, p, winner, width)))
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
