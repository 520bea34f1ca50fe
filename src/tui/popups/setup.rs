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

use super::fields::Fields;
use super::keys::is_clear;
use super::{Room, Step};
use crate::tui::keymap::Action;
use crate::tui::msg::JobForm;
use crate::tui::panes::{block, centered};
use crate::tui::state::AppState;

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
    pub fields: Fields<2>,
    pub plan: SetupPlan,
}

impl Setup {
    pub fn new(job: JobForm, editors: Box<[TextArea<'static>; 2]>) -> Setup {
        Setup {
            job,
            fields: Fields::new(editors),
            plan: SetupPlan::default(),
        }
    }

    /// The fields as typed (the dataset trimmed, the options too).
    pub fn fields(&self) -> (String, String) {
        (
            self.fields.text(0).trim().to_string(),
            self.fields.text(1).trim().to_string(),
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
                ["Dataset", "Options (orders=K, sampled)"],
            ),
            JobForm::Tune => (
                "Tune a LoRA adapter",
                ["Dataset", "Tune (name= rank= epochs= lr= seed= curve=)"],
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
        self.fields.draw(f, &parts[..2], &labels);
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), parts[2]);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let typing = s.keymap.action(&k, true);
        form_key(&mut self.fields, s, k, (typing, a))
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

    fn paste(&mut self, text: &str) {
        self.fields.insert(&super::one_line(text));
    }
}

impl Setup {
    fn plan_lines(&self, s: &AppState) -> Vec<Line<'static>> {
        plan_lines(
            &self.plan,
            &self.fields(),
            s,
            "Enter shows the plan: items × variants × N, calls, time, the differences it can show",
            "planning…",
        )
    }
}

/// A key in a job form whose first field is the dataset: `typing` (the key read as inside an
/// editor) moves between the fields or leaves (the dataset typed is kept for the next form),
/// `a` Enter plans then starts, Ctrl-U clears, the rest is typed.
pub(super) fn form_key<const N: usize>(
    fields: &mut Fields<N>,
    s: &mut AppState,
    k: KeyEvent,
    (typing, a): (Option<Action>, Option<Action>),
) -> Step {
    match typing {
        _ if fields.moved(typing) => {}
        Some(Action::Cancel) => {
            s.dataset = Some(fields.text(0).trim().to_string());
            return Step::close();
        }
        _ if a == Some(Action::Select) => {
            s.dataset = Some(fields.text(0).trim().to_string());
            return Step::Submit;
        }
        _ if is_clear(&k) => fields.clear(),
        _ => fields.input(k),
    }
    Step::stay()
}

/// Under a form's fields: the plan of the fields as typed, why there is none, or how to get
/// it (`ask`); a plan asked for other fields is not shown.
pub(super) fn plan_lines(
    plan: &SetupPlan,
    fields: &(String, String),
    s: &AppState,
    ask: &str,
    planning: &str,
) -> Vec<Line<'static>> {
    let cancel = s.keymap.first_key(Action::Cancel);
    let hint = |t: String| Line::styled(t, Style::default().fg(Color::Cyan));
    if plan.fields.as_ref() != Some(fields) {
        return vec![hint(ask.into())];
    }
    match &plan.line {
        None => vec![Line::styled(
            planning.to_string(),
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
