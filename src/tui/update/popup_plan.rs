//! The setup forms' plan (issue 24): Enter, or a pause in typing, asks the executor for the
//! plan of the job the fields describe; the plan comes back as `Msg::Planned` and shows under
//! the fields; Enter with the plan of these very fields on screen starts the job.

use std::time::{Duration, Instant};

use crate::engine::tuner::TuneOptions;
use crate::tui::msg::{Effect, JobForm};
use crate::tui::popups::{EvalBoard, Leaderboard, SetupPlan, TuneBoard};
use crate::tui::state::{AppState, Popup};
use crate::tui::tune_view::TuneView;

/// How long typing pauses before the plan of the fields is asked for.
pub const PLAN_PAUSE: Duration = Duration::from_millis(700);

/// The open setup form: which job, its fields as typed (dataset trimmed), and its plan.
fn form(s: &mut AppState) -> Option<(JobForm, (String, String), &mut SetupPlan)> {
    match s.popup.as_mut()? {
        Popup::Setup(form) => Some((form.job, form.fields(), &mut form.plan)),
        Popup::TuneForm(form) => Some((JobForm::Tune, form.fields(), &mut form.plan)),
        _ => None,
    }
}

/// Checks the fields without reading anything: a dataset named, the options parse.
fn check(job: JobForm, (dataset, options): &(String, String)) -> Result<(), String> {
    if dataset.is_empty() {
        return Err("give a dataset file".into());
    }
    match job {
        JobForm::Eval => {
            let vary: Vec<String> = options.split_whitespace().map(String::from).collect();
            crate::core::variants::parse_vary(&vary)?;
            Ok(())
        }
        JobForm::Optimize => {
            options.parse::<crate::core::ape::SearchOptions>()?;
            Ok(())
        }
        JobForm::Examples => {
            crate::core::demos::orders_option(options)?;
            Ok(())
        }
        JobForm::Tune => {
            options.parse::<TuneOptions>()?;
            Ok(())
        }
    }
}

/// The plan effect for the form's current fields (marked as asked), or the reason there is
/// none shown in the form.
fn ask(s: &mut AppState) -> Vec<Effect> {
    let template = Box::new(s.lab.template());
    if let Err(e) = template.validate() {
        s.popup = Some(Popup::error(e));
        return vec![];
    }
    let Some((job, fields, plan)) = form(s) else {
        return vec![];
    };
    plan.due = None;
    plan.fields = Some(fields.clone());
    if let Err(e) = check(job, &fields) {
        plan.line = Some(Err(e));
        return vec![];
    }
    plan.line = None;
    vec![Effect::Plan {
        job,
        fields,
        template,
    }]
}

/// What Enter says while the plan is computed; its arrival ends it.
const COMPUTING: &str = "the plan is being computed…";

/// Enter in a setup form: starts the job when the plan of these fields is on screen, waits
/// while it is being computed, and asks for it otherwise (again after an error).
pub(super) fn submit(s: &mut AppState) -> Vec<Effect> {
    let Some((job, fields, plan)) = form(s) else {
        return vec![];
    };
    let current = plan.fields.as_ref() == Some(&fields);
    let (shown, computing) = (
        current && matches!(plan.line, Some(Ok(_))),
        current && plan.line.is_none(),
    );
    if shown {
        start_job(s, job, fields)
    } else if computing {
        s.status = COMPUTING.into();
        vec![]
    } else {
        ask(s)
    }
}

/// The plan of `fields` came back: shown if the form still holds those fields.
pub(super) fn planned(s: &mut AppState, fields: (String, String), line: Result<String, String>) {
    if let Some((_, now, plan)) = form(s)
        && now == fields
        && plan.fields.as_ref() == Some(&fields)
    {
        plan.line = Some(line);
        if s.status == COMPUTING {
            s.status.clear();
        }
    }
}

/// After input: fields that differ from the planned ones ask for their plan after a pause.
pub(super) fn typed(s: &mut AppState) {
    let due = s.now + PLAN_PAUSE;
    if let Some((_, fields, plan)) = form(s)
        && plan.fields.as_ref() != Some(&fields)
    {
        plan.due = Some(due);
    }
}

/// A clock tick: the pause is over, so the plan of valid fields is asked for (invalid ones
/// wait for Enter to say what is wrong).
pub(super) fn tick(s: &mut AppState, now: Instant) -> Vec<Effect> {
    let Some((job, fields, plan)) = form(s) else {
        return vec![];
    };
    match plan.due {
        Some(due) if due <= now => {
            plan.due = None;
            if plan.fields.as_ref() != Some(&fields) && check(job, &fields).is_ok() {
                return ask(s);
            }
            vec![]
        }
        _ => vec![],
    }
}

/// Starts the evaluation, search or tune the form describes (its plan is on screen).
fn start_job(s: &mut AppState, job: JobForm, (dataset, options): (String, String)) -> Vec<Effect> {
    let template = Box::new(s.lab.template());
    let (dataset, concurrency): (std::path::PathBuf, _) = (dataset.into(), s.concurrency);
    match job {
        JobForm::Eval => {
            s.eval = None;
            s.popup = Some(Popup::Eval(EvalBoard::default()));
            let vary = options.split_whitespace().map(String::from).collect();
            vec![Effect::StartEval {
                dataset,
                vary,
                template,
                concurrency,
            }]
        }
        JobForm::Examples => {
            s.eval = None;
            s.popup = Some(Popup::Eval(EvalBoard::default()));
            vec![Effect::StartExamples {
                dataset,
                orders: crate::core::demos::orders_option(&options).unwrap_or_default(),
                sampled: crate::core::demos::sampled_option(&options),
                template,
                concurrency,
            }]
        }
        JobForm::Optimize => {
            s.optimize = None;
            s.popup = Some(Popup::Optimize(Leaderboard::default()));
            vec![Effect::StartOptimize {
                dataset,
                options,
                template,
                concurrency,
            }]
        }
        JobForm::Tune => match options.parse::<TuneOptions>() {
            Ok(options) => {
                s.tune = Some(TuneView::new(&options, &dataset.display().to_string()));
                s.popup = Some(Popup::Tune(TuneBoard));
                vec![Effect::StartTune {
                    dataset,
                    options,
                    template,
                }]
            }
            Err(e) => {
                s.status = e.to_string();
                vec![]
            }
        },
    }
}
