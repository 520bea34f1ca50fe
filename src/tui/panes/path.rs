//! The path popup: one path's text with the sentence its answer was read from underlined and
//! the answer highlighted (a fallback read: its last place in the text), a least-to-most
//! chain as a tree, a reasoning model's thinking dimmed above.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{block, centered};
use crate::tui::keymap::Action;
pub use crate::tui::path_text::highlighted;
use crate::tui::state::AppState;

/// Path `path` of the run on screen, scrolled down `scroll` rows.
pub fn draw(f: &mut Frame, area: Rect, s: &AppState, path: usize, scroll: u16) {
    let Some(run) = &s.run else { return };
    let Some(p) = run.paths.get(path) else {
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
    let text = crate::tui::path_text::text(p);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(block(title, true)),
        r,
    );
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
