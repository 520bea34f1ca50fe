//! The side-by-side view's lines, laid out for the columns on screen: what `panes::compare`
//! draws and what `update` scrolls to the end of (and no further), from one function.

use std::ops::Range;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::core::compare::Word;
use crate::core::display::visible;
use crate::tui::run_view::RunView;
use crate::tui::state::AppState;

/// Paths read side by side: each column's text as words marked where they depart from the
/// first column's, computed once when the columns are chosen (never while drawing).
#[derive(Debug, Clone)]
pub struct ComparePaths {
    pub columns: Vec<usize>,
    /// The column ←/→ changes and Enter opens.
    pub selected: usize,
    pub scroll: u16,
    /// Per column: its thinking (dimmed, not compared) and its parts (one part, or one per
    /// least-to-most step, aligned across columns).
    pub texts: Vec<ColumnText>,
    /// Leading sentences every column shares, folded into one line.
    pub shared: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ColumnText {
    pub thinking: String,
    pub parts: Vec<(Option<String>, Vec<crate::core::compare::Word>)>,
}

impl ComparePaths {
    /// The side-by-side view of `columns`, its word differences computed here, once.
    pub fn new(run: &RunView, columns: Vec<usize>, selected: usize) -> ComparePaths {
        use crate::core::compare::{against, sentences, shared_opening};
        let text = |i: usize| run.paths.get(i).map_or("", |p| p.text.as_str());
        let steps = |i: usize| {
            run.paths
                .get(i)
                .and_then(|p| p.result.as_ref())
                .map(|r| {
                    r.steps()
                        .iter()
                        .map(|s| (s.question.to_string(), s.text.to_string()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let chained = columns.iter().all(|&i| !steps(i).is_empty());
        let base = columns.first().copied().unwrap_or(0);
        let shared = if chained {
            0
        } else {
            shared_opening(&columns.iter().map(|&i| text(i)).collect::<Vec<_>>())
        };
        let texts = columns
            .iter()
            .map(|&i| {
                let parts = if chained {
                    // Least-to-most: step k beside step k, each against the winner's step k.
                    let (mine, theirs) = (steps(i), steps(base));
                    mine.iter()
                        .enumerate()
                        .map(|(k, (q, t))| {
                            let w = theirs.get(k).map_or("", |(_, t)| t.as_str());
                            (Some(format!("Q{}: {q}", k + 1)), against(w, t))
                        })
                        .collect()
                } else {
                    let skip = |t: &str| -> String {
                        sentences(t)[shared.min(sentences(t).len())..].concat()
                    };
                    vec![(None, against(&skip(text(base)), &skip(text(i))))]
                };
                ColumnText {
                    thinking: run
                        .paths
                        .get(i)
                        .map(|p| p.thinking.clone())
                        .unwrap_or_default(),
                    parts,
                }
            })
            .collect();
        ComparePaths {
            columns,
            selected,
            scroll: 0,
            texts,
            shared,
        }
    }
}

/// How many columns fit in `width`.
pub fn fitting(width: u16) -> usize {
    match width {
        0..60 => 1,
        60..100 => 2,
        _ => 4,
    }
}

/// Words laid out in lines of at most `width` columns: breaks at spaces (a wrapped line never
/// starts with one), line breaks kept, a word longer than a line cut.
pub fn wrap(words: &[Word], width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let marked = Style::default()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    let mut flush = |line: &mut Vec<Span<'static>>, used: &mut usize| {
        lines.push(Line::from(std::mem::take(line)));
        *used = 0;
    };
    for w in words {
        let text = visible(&w.text).into_owned();
        let style = if w.differs { marked } else { Style::default() };
        if text.trim().is_empty() {
            let breaks = w.text.matches('\n').count();
            for _ in 0..breaks {
                flush(&mut line, &mut used);
            }
            if breaks == 0 && used > 0 && used < width {
                line.push(Span::raw(" "));
                used += 1;
            }
            continue;
        }
        let mut rest: Vec<char> = text.chars().collect();
        while !rest.is_empty() {
            let room = width - used;
            if rest.len() <= room {
                used += rest.len();
                line.push(Span::styled(rest.drain(..).collect::<String>(), style));
            } else if used > 0 {
                flush(&mut line, &mut used);
            } else {
                line.push(Span::styled(rest.drain(..width).collect::<String>(), style));
                flush(&mut line, &mut used);
            }
        }
    }
    flush(&mut line, &mut used);
    lines
}

/// The columns shown: `want` of them, a window that holds the selected one.
pub fn window(c: &ComparePaths, want: usize) -> std::ops::Range<usize> {
    let n = c.columns.len();
    let want = want.min(n);
    let start = c.selected.saturating_sub(want - 1).min(n - want);
    start..start + want
}

/// Each shown column's lines: header, thinking, the shared opening, then its parts, padded so
/// step k starts on the same row everywhere.
pub fn column_lines(
    run: &RunView,
    c: &ComparePaths,
    areas: &[Rect],
    shown: Range<usize>,
) -> Vec<Vec<Line<'static>>> {
    let dim = Style::default()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::ITALIC);
    // Each column as header + parts; parts padded so step k starts on the same row everywhere.
    let widths: Vec<usize> = areas
        .iter()
        .map(|a| a.width.saturating_sub(1) as usize)
        .collect();
    let mut columns: Vec<Vec<Line<'static>>> = Vec::new();
    let parts = shown
        .clone()
        .map(|i| c.texts[i].parts.len())
        .max()
        .unwrap_or(0);
    let thinks = shown.clone().any(|i| !c.texts[i].thinking.is_empty());
    for (slot, i) in shown.clone().enumerate() {
        let path = c.columns[i];
        let p = run.paths.get(path);
        let answer = p
            .and_then(|p| p.result.as_ref())
            .map(crate::core::display::path_answer)
            .unwrap_or_else(|| "…".into());
        let votes = p
            .and_then(|p| p.result.as_ref())
            .and_then(|r| run.tally.entry(r.answer.as_deref()))
            .map_or(0, |e| e.votes);
        let head = Style::default().fg(if i == c.selected {
            Color::Cyan
        } else {
            Color::Magenta
        });
        let mut lines = vec![
            Line::styled(
                cell(
                    &format!(
                        "{answer} · {votes} vote{} · path {path}",
                        if votes == 1 { "" } else { "s" }
                    ),
                    widths[slot],
                ),
                head.add_modifier(Modifier::BOLD),
            ),
            Line::styled("─".repeat(widths[slot]), head),
        ];
        if thinks {
            let t = c.texts[i].thinking.trim();
            let t = if t.is_empty() { "(no thinking)" } else { t };
            lines.extend(
                wrap(&crate::core::compare::words(t), widths[slot])
                    .into_iter()
                    .map(|l| l.style(dim)),
            );
            lines.push(Line::styled("┈".repeat(widths[slot]), dim));
        }
        if c.shared > 0 {
            lines.push(Line::styled(
                format!(
                    "… {} sentence{} the same in all …",
                    c.shared,
                    if c.shared == 1 { "" } else { "s" }
                ),
                dim,
            ));
        }
        columns.push(lines);
    }
    // Align the header blocks, then each part.
    let pad = |cols: &mut Vec<Vec<Line<'static>>>| {
        let h = cols.iter().map(Vec::len).max().unwrap_or(0);
        for col in cols.iter_mut() {
            col.resize(h, Line::raw(""));
        }
    };
    pad(&mut columns);
    for k in 0..parts {
        for (slot, i) in shown.clone().enumerate() {
            let Some((title, words)) = c.texts[i].parts.get(k) else {
                continue;
            };
            if let Some(t) = title {
                columns[slot].push(Line::styled(
                    cell(t, widths[slot]),
                    Style::default().fg(Color::Cyan),
                ));
            }
            columns[slot].extend(wrap(words, widths[slot]));
        }
        pad(&mut columns);
        if k + 1 < parts {
            for col in columns.iter_mut() {
                col.push(Line::raw(""));
            }
        }
    }
    columns
}

/// How many rows the view can scroll at the lab's size: its longest column less the rows
/// shown, so the last line stops at the bottom.
pub fn extent(s: &AppState, c: &ComparePaths) -> u16 {
    let Some(run) = &s.run else { return 0 };
    let area = Rect::new(0, 0, s.size.0, s.size.1);
    let body = crate::tui::layout::layout(area, s).body;
    // The view's block has a border on every side.
    let inner = Rect::new(
        body.x + 1,
        body.y + 1,
        body.width.saturating_sub(2),
        body.height.saturating_sub(2),
    );
    if c.columns.is_empty() || inner.width < 4 {
        return 0;
    }
    let shown = window(c, fitting(inner.width));
    let areas = Layout::horizontal(vec![Constraint::Fill(1); shown.len()]).split(inner);
    let rows = column_lines(run, c, &areas, shown)
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_sub(inner.height)
}

/// `text` in exactly `width` columns (cut with "…").
fn cell(text: &str, width: usize) -> String {
    let flat = crate::core::display::shorten(text, usize::MAX);
    let fitted = crate::core::display::shorten(&flat, width);
    format!("{fitted:<width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Word> {
        crate::core::compare::against("", s)
    }

    #[test]
    fn wrapped_lines_never_start_with_a_space_and_breaks_are_kept() {
        let lines = wrap(&words("aaaa bbbb cccc\ndd"), 9);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["aaaa bbbb", "cccc", "dd"]);
        let long = wrap(&words("abcdefghij"), 4);
        assert_eq!(long.len(), 3);
    }

    #[test]
    fn the_window_holds_the_selected_column() {
        let c = ComparePaths {
            columns: vec![0, 1, 2, 3],
            selected: 3,
            scroll: 0,
            texts: vec![Default::default(); 4],
            shared: 0,
        };
        assert_eq!(window(&c, 2), 2..4);
        assert_eq!(window(&c, 4), 0..4);
        assert_eq!(window(&c, 1), 3..4);
    }
}
