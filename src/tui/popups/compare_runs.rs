//! Alt-C: what changed from run `a` to run `b`, their tallies side by side, and whether the
//! winner's share moved beyond sampling noise.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::keys::{closes, scrolled};
use super::{Room, Step};
use crate::core::display::side_by_side;
use crate::core::record::RunRecord;
use crate::core::template::diff;
use crate::tui::keymap::Action;
use crate::tui::panes::{block, centered};
use crate::tui::state::AppState;

/// Run `a` against run `b` (indices into the session's runs).
#[derive(Debug, Clone)]
pub struct CompareRuns {
    pub a: usize,
    pub b: usize,
    pub scroll: u16,
}

impl Room<AppState> for CompareRuns {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let (a, b) = (self.a, self.b);
        let (Some(ra), Some(rb)) = (s.session.runs.get(a), s.session.runs.get(b)) else {
            return;
        };
        let r = centered(
            area,
            area.width.saturating_sub(8).min(110),
            area.height.saturating_sub(4),
        );
        let lines = lines((a, ra), (b, rb));
        let title = format!(
            " Compare ({}/{} earlier/later pair, {} closes) ",
            s.keymap.first_key(Action::Left),
            s.keymap.first_key(Action::Right),
            s.keymap.first_key(Action::Cancel)
        );
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines)
                .scroll((self.scroll, 0))
                .block(block(title, true)),
            r,
        );
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match a {
            _ if scrolled(&mut self.scroll, &k, a, s.size.1.saturating_sub(8), 200) => {}
            // The pair moves together: ← compares run k-1 with run k.
            Some(Action::Left) if self.a > 0 => {
                self.a -= 1;
                self.b -= 1;
                self.scroll = 0;
            }
            Some(Action::Right) if self.b + 1 < s.session.runs.len() => {
                self.a += 1;
                self.b += 1;
                self.scroll = 0;
            }
            _ if closes(a, &k) => return Step::close(),
            _ => {}
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::scroll_keys(|a| s.keymap.first_key(a))
    }
}

/// The comparison's lines: the changes, the tallies side by side, the answer's move.
fn lines((a, ra): (usize, &RunRecord), (b, rb): (usize, &RunRecord)) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::styled(
            format!("What changed from run {} to run {}", a + 1, b + 1),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
    ];
    let changes = diff(&ra.template, &ra.query, &rb.template, &rb.query);
    if changes.is_empty() {
        lines.push(Line::raw(
            "  the same prompt and settings (only the samples differ)",
        ));
    }
    for c in changes {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<18}", c.what),
                Style::default().fg(Color::Cyan),
            ),
            Span::styled(
                crate::core::display::shorten(&c.before, 40),
                Style::default().fg(Color::Red),
            ),
            Span::raw("  →  "),
            Span::styled(
                crate::core::display::shorten(&c.after, 40),
                Style::default().fg(Color::Green),
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Tallies (run {} | run {})", a + 1, b + 1),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let (la, lb) = (format!("run {}", a + 1), format!("run {}", b + 1));
    for l in side_by_side(&ra.result.tally, &rb.result.tally, [&la, &lb]).lines() {
        lines.push(Line::raw(l.to_string()));
    }
    let winners = |t: &crate::core::vote::Tally| t.winner.clone().unwrap_or_else(|| "none".into());
    lines.push(Line::raw(format!(
        "  answer {} ({:.0}%) → {} ({:.0}%)",
        winners(&ra.result.tally),
        ra.result.tally.agreement * 100.0,
        winners(&rb.result.tally),
        rb.result.tally.agreement * 100.0
    )));
    // Whether that move is more than the draw of N paths.
    if let Some(shift) = crate::core::share::shift(&ra.result.tally, &rb.result.tally) {
        let color = if shift.beyond_noise {
            Color::Yellow
        } else {
            Color::DarkGray
        };
        lines.push(Line::styled(
            format!("  {}", shift.describe()),
            Style::default().fg(color),
        ));
    }
    lines
}
