//! The forms that start a long job: an evaluation, the examples analysis or a prompt search.
//! A dataset and the job's options, and under them the plan of the fields as typed
//! (`update::popup_plan` asks for it and starts the job).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::keys::is_clear;
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::msg::JobForm;
use crate::tui::panes::{block, centered};
use crate::tui::state::{AppState, editor_text};

/// The plan of a setup form's job (`engine::plan`'s line), asked for the fields as they were
/// (`fields`: dataset and options; `None`: not asked yet): `line` is `None` while the executor
/// computes it, then the plan or why there is none (a missing dataset, an invalid variant).
/// `due`: when a pause in typing asks for the plan of the fields as they are then.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetupPlan {
    pub fields: Option<(String, String)>,
    pub line: Option<Result<String, String>>,
    pub due: Option<std::time::Instant>,
}

/// A job's form: dataset and options (`KEY=V1,V2` variants, `orders=K`, or the search's
/// `candidates=… rounds=…`), and its plan once asked.
#[derive(Debug, Clone)]
pub struct Setup {
    pub job: JobForm,
    pub editors: Box<[TextArea<'static>; 2]>,
    pub field: usize,
    pub plan: SetupPlan,
}

impl Setup {
    pub fn new(job: JobForm, editors: Box<[TextArea<'static>; 2]>) -> Setup {
        Setup {
            job,
            editors,
            field: 0,
            plan: SetupPlan::default(),
        }
    }

    /// The fields as typed (the dataset trimmed, the options too).
    pub fn fields(&self) -> (String, String) {
        (
            editor_text(&self.editors[0]).trim().to_string(),
            editor_text(&self.editors[1]).trim().to_string(),
        )
    }

    fn labels(&self) -> (&'static str, [&'static str; 2]) {
        match self.job {
            JobForm::Eval => (
                "Evaluate the current prompt",
                ["Dataset", "Variants (KEY=V1,V2 …)"],
            ),
            JobForm::Examples => (
                "Analyse the examples (leave-one-out, label controls, orders)",
                ["Dataset", "Orders (orders=K)"],
            ),
            JobForm::Optimize => (
                "Search for a better instruction (APE)",
                [
                    "Dataset",
                    "Search (candidates= rounds= keep= dev= held= budget= batch=)",
                ],
            ),
        }
    }
}

impl Room<AppState> for Setup {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let (title, labels) = self.labels();
        let w = area.width.saturating_sub(4).min(90);
        let lines = self.plan_lines(s);
        // The plan wraps: its rows at this width (a word may push one more row).
        let text_w = w.saturating_sub(2).max(1) as usize;
        let rows: usize = lines
            .iter()
            .map(|l| l.width().div_ceil(text_w).max(1) + usize::from(l.width() > text_w))
            .sum();
        let r = centered(area, w, 8 + rows as u16);
        f.render_widget(Clear, r);
        let k = |a: Action| s.keymap.first_key(a);
        let outer = block(
            format!(
                " {title} ({} next field, Enter plan and start, {} cancel) ",
                k(Action::FocusNext),
                k(Action::Cancel)
            ),
            true,
        );
        let inner = outer.inner(r);
        f.render_widget(outer, r);
        let parts = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(3),
            Constraint::Min(0),
        ])
        .split(inner);
        for (i, name) in labels.iter().enumerate() {
            let b = block(format!(" {name} "), i == self.field);
            let ir = b.inner(parts[i]);
            f.render_widget(b, parts[i]);
            crate::tui::panes::editor::text(f, ir, &self.editors[i], i == self.field);
        }
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), parts[2]);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        match s.keymap.action(&k, true) {
            Some(Action::FocusNext | Action::FocusPrev) => self.field = 1 - self.field,
            Some(Action::Cancel) => {
                // The typed dataset is kept for the next form (evaluation or search).
                s.dataset = Some(self.fields().0);
                return Step::close();
            }
            _ if a == Some(Action::Select) => {
                s.dataset = Some(self.fields().0);
                return Step::Submit;
            }
            _ if is_clear(&k) => {
                self.editors[self.field].select_all();
                self.editors[self.field].cut();
            }
            _ => {
                self.editors[self.field].input(k);
            }
        }
        Step::stay()
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        vec![
            (k(Action::FocusNext), "next field"),
            (k(Action::Select), "plan, then start"),
            ("Ctrl-U".into(), "clear"),
            (k(Action::Cancel), "cancel"),
        ]
    }
}

impl Setup {
    /// Under the fields: the plan of the fields as typed, why there is none, or how to get it
    /// (a plan asked for other fields is not shown).
    fn plan_lines(&self, s: &AppState) -> Vec<Line<'static>> {
        let cancel = s.keymap.first_key(Action::Cancel);
        let hint = |t: String| Line::styled(t, Style::default().fg(Color::Cyan));
        if self.plan.fields.as_ref() != Some(&self.fields()) {
            return vec![hint(
                "Enter shows the plan: items × variants × N, calls, time, the differences it can show"
                    .into(),
            )];
        }
        match &self.plan.line {
            None => vec![Line::styled(
                "planning…",
                Style::default().fg(Color::DarkGray),
            )],
            Some(Ok(line)) => vec![
                Line::raw(line.clone()),
                hint(format!("Enter starts · {cancel} cancels")),
            ],
            Some(Err(e)) => vec![
                Line::styled(e.clone(), Style::default().fg(Color::Red)),
                hint(format!(
                    "fix the fields, then Enter plans again · {cancel} cancels"
                )),
            ],
        }
    }
}
