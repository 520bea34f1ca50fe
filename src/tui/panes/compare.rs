//! Paths side by side: a column per path (one per answer cluster, the winner first), each
//! headed by its answer and votes, its words that depart from the winner's highlighted, the
//! opening they all share folded into one line, one scroll for all. Least-to-most chains are
//! aligned step by step. As many columns as the width allows: four, two below 100 columns,
//! one below 60 (its differences still marked).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Clear, Paragraph};

use super::block;
use crate::tui::columns::{ComparePaths, column_lines, window};
pub use crate::tui::columns::{fitting, wrap};
use crate::tui::keymap::Action;
use crate::tui::state::AppState;

fn title(s: &AppState) -> String {
    let k = |a: Action| s.keymap.first_key(a);
    format!(
        " Paths side by side ({} column, {}/{} its path, {} open, {} close) ",
        k(Action::FocusNext),
        k(Action::Left),
        k(Action::Right),
        k(Action::Select),
        k(Action::Cancel)
    )
}

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, c: &ComparePaths) {
    let Some(run) = &s.run else { return };
    // Over the whole body, so no pane's border shows at its edges.
    let r = crate::tui::layout::layout(area, s).body;
    f.render_widget(Clear, r);
    let outer = block(title(s), true);
    let inner = outer.inner(r);
    f.render_widget(outer, r);
    if c.columns.is_empty() || inner.width < 4 {
        return;
    }
    let shown = window(c, fitting(inner.width));
    let areas = Layout::horizontal(vec![Constraint::Fill(1); shown.len()]).split(inner);
    let columns = column_lines(run, c, &areas, shown);
    for (slot, lines) in columns.into_iter().enumerate() {
        f.render_widget(Paragraph::new(lines).scroll((c.scroll, 0)), areas[slot]);
    }
}
