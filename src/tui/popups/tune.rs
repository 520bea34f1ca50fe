//! Training an adapter from the lab (issue 28): the form (dataset, the adapter's name, rank,
//! epochs, learning rate, seed, and a learning curve's sizes or none) with its plan before it
//! starts, as the job forms do (`update::popup_plan`); then the tune's board (drawn by
//! `panes::tune`): its progress while it trains (Esc stops it after the current step, the
//! last finished epoch's adapter kept; `q` hides it and it goes on), and after it, the adapter
//! in the model picker (Enter) or the curve in the evaluation view.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::fields::Fields;
use super::{EvalBoard, Popup, Room, SetupPlan, Step, job_area, leaves};
use crate::engine::tuner::{TuneOptions, Tuned};
use crate::tui::keymap::Action;
use crate::tui::msg::{Effect, JobForm};
use crate::tui::panes::{block, centered};
use crate::tui::state::{AppState, editor};

/// The form's fields, in order.
pub const LABELS: [&str; 7] = [
    "Dataset",
    "Adapter name",
    "Rank",
    "Epochs",
    "Learning rate",
    "Seed",
    "Curve sizes",
];

#[derive(Debug, Clone)]
pub struct TuneForm {
    pub fields: Fields<7>,
    pub plan: SetupPlan,
}

impl TuneForm {
    /// The form on `dataset`, the adapter named `name`, the other fields `promptlab tune`'s
    /// defaults.
    pub fn new(dataset: &str, name: &str) -> TuneForm {
        let d = TuneOptions::default();
        let editors = Box::new([
            editor(dataset, "a dataset: .jsonl, .csv or BIG-bench task.json"),
            editor(name, "letters, digits, - and _"),
            editor(&d.rank.to_string(), "LoRA rank"),
            editor(&d.epochs.to_string(), "passes over the training rows"),
            editor(&d.learning_rate.to_string(), "AdamW's learning rate"),
            editor(&d.seed.to_string(), "the split's and the order's seed"),
            editor(
                "",
                "empty: one adapter on every row; 8,16,32: a learning curve",
            ),
        ]);
        TuneForm {
            fields: Fields::new(editors),
            plan: SetupPlan::default(),
        }
    }

    /// The fields as a plan is asked for them: the dataset, and the options line
    /// (`engine::tuner::TuneOptions`) the other fields make.
    pub fn fields(&self) -> (String, String) {
        let t = |i: usize| self.fields.text(i).trim().to_string();
        let mut options = format!(
            "name={} rank={} epochs={} lr={} seed={}",
            t(1),
            t(2),
            t(3),
            t(4),
            t(5)
        );
        let curve: String = t(6).split_whitespace().collect();
        if !curve.is_empty() {
            options.push_str(&format!(" curve={curve}"));
        }
        (t(0), options)
    }

    fn plan_lines(&self, s: &AppState) -> Vec<Line<'static>> {
        super::setup::plan_lines(
            &self.plan,
            &self.fields(),
            s,
            "Enter shows the plan: training rows, tokens, the time it will take",
            "planning… (reading and tokenizing the data)",
        )
    }
}

impl Room<AppState> for TuneForm {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let cancel = s.keymap.first_key(Action::Cancel);
        if let Err(why) = &s.can_train {
            let r = centered(area, area.width.saturating_sub(4).min(80), 7);
            f.render_widget(Clear, r);
            let text = vec![
                Line::styled(
                    "This build cannot train adapters.",
                    Style::default().fg(Color::Yellow),
                ),
                Line::raw(why.clone()),
                Line::styled(format!("{cancel} closes"), Style::default().fg(Color::Cyan)),
            ];
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: true })
                    .block(block(" Tune an adapter ".into(), true)),
                r,
            );
            return;
        }
        // A row a field, a blank row, the plan (a few wrapped lines), the border.
        let w = area.width.saturating_sub(4).min(90);
        let r = centered(area, w, (LABELS.len() as u16 + 1 + 6 + 2).min(area.height));
        f.render_widget(Clear, r);
        // Its keys are in the bar below.
        let outer = block(" Tune a LoRA adapter on the embedded model ".into(), true);
        let inner = outer.inner(r);
        f.render_widget(outer, r);
        let [fields, _, plan] = Layout::vertical([
            Constraint::Length(LABELS.len() as u16),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        self.fields.draw_rows(f, fields, &LABELS);
        f.render_widget(
            Paragraph::new(self.plan_lines(s)).wrap(Wrap { trim: true }),
            plan,
        );
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        if s.can_train.is_err() {
            return if a == Some(Action::Cancel) {
                Step::close()
            } else {
                Step::stay()
            };
        }
        // ↑/↓ go round the fields too (they are one line each).
        let typing = match k.code {
            KeyCode::Down => Some(Action::FocusNext),
            KeyCode::Up => Some(Action::FocusPrev),
            _ => s.keymap.action(&k, true),
        };
        super::setup::form_key(&mut self.fields, s, k, (typing, a))
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        if s.can_train.is_err() {
            return vec![(k(Action::Cancel), "close")];
        }
        vec![
            (format!("{}/↓", k(Action::FocusNext)), "next field"),
            (k(Action::Select), "plan, then start"),
            ("Ctrl-U".into(), "clear"),
            (k(Action::Cancel), "cancel"),
        ]
    }

    fn paste(&mut self, text: &str) {
        self.fields.insert(&super::one_line(text));
    }
}

/// The latest tune (`AppState::tune`): its progress, then what it gave.
#[derive(Debug, Clone, Default)]
pub struct TuneBoard;

impl Room<AppState> for TuneBoard {
    fn draw(&self, f: &mut Frame, area: Rect, s: &AppState) {
        let r = job_area(f, area);
        crate::tui::panes::tune::draw(f, r, s);
    }

    fn key(&mut self, s: &mut AppState, k: KeyEvent, a: Option<Action>) -> Step {
        let Some(t) = s.tune.as_mut() else {
            return Step::close();
        };
        let q = a.is_none() && leaves(a, &k);
        match a {
            Some(Action::Quit | Action::Interrupt) => Step::Act(a.unwrap_or(Action::Quit)),
            _ if q => Step::close(),
            Some(Action::Cancel | Action::Delete) if t.running() => {
                if !t.stopping {
                    t.stopping = true;
                    s.status =
                        "stopping the tune after this step; the last finished epoch's adapter is kept"
                            .into();
                    return Step::Stay(vec![Effect::CancelTune]);
                }
                Step::stay()
            }
            Some(Action::Cancel) => Step::close(),
            Some(Action::Add) if !t.running() => Step::NewJob(JobForm::Tune),
            Some(Action::Select) => match &t.outcome {
                Some(Ok(Tuned::Adapter { path, .. })) => {
                    // The picker lists it under its base, selected: Enter switches to it.
                    t.offered = Some(path.clone());
                    s.status = "looking for models…".into();
                    Step::Close(vec![Effect::ListModels])
                }
                Some(Ok(Tuned::Curve { .. })) => Step::Open(Popup::Eval(EvalBoard::default())),
                _ => Step::stay(),
            },
            _ => Step::stay(),
        }
    }

    fn keys(&self, s: &AppState) -> Vec<(String, &'static str)> {
        let k = |a: Action| s.keymap.first_key(a);
        match s.tune.as_ref() {
            Some(t) if t.running() => vec![
                (k(Action::Cancel), "stop (keeps the last epoch)"),
                ("q".into(), "hide (it goes on)"),
            ],
            Some(t) => {
                let mut keys = vec![];
                match &t.outcome {
                    Some(Ok(Tuned::Adapter { .. })) => {
                        keys.push((k(Action::Select), "pick it in the model picker"))
                    }
                    Some(Ok(Tuned::Curve { .. })) => {
                        keys.push((k(Action::Select), "the curve in the evaluation view"))
                    }
                    _ => {}
                }
                keys.push((k(Action::Add), "new tune"));
                keys.push((k(Action::Cancel), "close"));
                keys
            }
            None => vec![(k(Action::Cancel), "close")],
        }
    }
}
