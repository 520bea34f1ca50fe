//! The prompt search's leaderboard (drawn by `panes::optimize`), filling in live; Enter copies
//! the selected instruction into the editor.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Room, Step, job_area, leaves};
use crate::tui::keymap::Action;
use crate::tui::msg::{Effect, JobForm};
use crate::tui::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct Leaderboard {
    pub selected: usize,
}

impl Room<AppState> for Leaderboard {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = job_area(f, area);
        crate::tui::panes::optimize::draw(f, r, s, self.selected);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let running = s.optimize.as_ref().is_some_and(|o| o.running);
        let board: Vec<String> = s
            .optimize
            .as_ref()
            .map(|o| o.standings.iter().map(|c| c.instruction.clone()).collect())
            .unwrap_or_default();
        match a {
            _ if leaves(a, &k) => return Step::close(),
            Some(Action::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Action::Down) => {
                self.selected = (self.selected + 1).min(board.len().saturating_sub(1))
            }
            Some(Action::Delete) if running => return Step::Stay(vec![Effect::CancelOptimize]),
            Some(Action::Add) if !running => return Step::NewJob(JobForm::Optimize),
            Some(Action::Select) => {
                if let Some(instruction) = board.get(self.selected) {
                    s.checkpoint();
                    s.lab.instruction = crate::tui::state::editor(instruction, "");
                    s.lab.typing[0].clear();
                    s.status =
                        "the instruction is in the editor: run it, or export the template (Alt-E)"
                            .into();
                    s.refresh_preview();
                    return Step::close();
                }
            }
            _ => {}
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        super::job_keys(|a| s.keymap.first_key(a))
    }
}
