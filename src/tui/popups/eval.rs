//! The evaluation (drawn by `panes::eval`): its table, maj@k chart and items, filling in
//! live; Enter drills into one item's paths.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Room, Step, job_area, leaves};
use crate::tui::keymap::Action;
use crate::tui::msg::{Effect, JobForm};
use crate::tui::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct EvalBoard {
    /// The item whose paths are shown.
    pub detail: Option<usize>,
    pub scroll: u16,
}

impl Room<AppState> for EvalBoard {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = job_area(f, area);
        crate::tui::panes::eval::draw(f, r, s, self.detail, self.scroll);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let detail = self.detail.is_some();
        match (a, s.eval.as_mut()) {
            _ if leaves(a, &k) && detail => self.detail = None,
            _ if leaves(a, &k) => return Step::close(),
            (Some(Action::Delete), Some(ev)) if ev.running => {
                return Step::Stay(vec![Effect::CancelEval]);
            }
            (Some(Action::Add), Some(ev)) if !ev.running => return Step::NewJob(JobForm::Eval),
            (Some(Action::Left), Some(ev)) => ev.variant = ev.variant.saturating_sub(1),
            (Some(Action::Right), Some(ev)) => {
                ev.variant = (ev.variant + 1).min(ev.results.len().saturating_sub(1))
            }
            (Some(Action::Up), Some(_)) if detail => self.scroll = self.scroll.saturating_sub(1),
            (Some(Action::Down), Some(_)) if detail => self.scroll = self.scroll.saturating_add(1),
            (Some(Action::Up), Some(ev)) => ev.item = ev.item.saturating_sub(1),
            (Some(Action::Down), Some(ev)) => {
                ev.item = (ev.item + 1).min(ev.items.saturating_sub(1))
            }
            (Some(Action::Select), Some(ev)) if ev.results.get(ev.variant).is_some() => {
                self.detail = if detail { None } else { Some(ev.item) };
                self.scroll = 0;
            }
            _ => {}
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::job_keys(|a| s.keymap.first_key(a))
    }
}
