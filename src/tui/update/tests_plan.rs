//! The setup forms' plan (issue 24): Enter asks for it, the planned message shows it, Enter
//! again starts the job; stale plans and errors.

use crate::tui::popups::*;
use crossterm::event::KeyCode;

use super::popup_plan::PLAN_PAUSE;
use super::tests::{key, lab};
use super::*;
use crate::tui::msg::JobForm;

fn form_plan(s: &AppState) -> &SetupPlan {
    match &s.popup {
        Some(Popup::Setup(Setup { plan, .. })) => plan,
        other => panic!("no setup form: {other:?}"),
    }
}

fn asked(effects: Vec<Effect>) -> (JobForm, (String, String)) {
    match effects.as_slice() {
        [Effect::Plan { job, fields, .. }] => (*job, fields.clone()),
        other => panic!("no plan asked: {other:?}"),
    }
}

#[test]
fn enter_asks_for_the_plan_the_planned_message_shows_it_and_enter_again_starts() {
    let mut s = lab();
    key(&mut s, KeyCode::F(7));
    let (job, fields) = asked(key(&mut s, KeyCode::Enter));
    assert_eq!(job, JobForm::Eval);
    assert_eq!(fields.1, "strategy=direct,cot");
    assert!(
        matches!(
            s.popup,
            Some(Popup::Setup(Setup {
                job: crate::tui::msg::JobForm::Eval,
                ..
            }))
        ),
        "not started yet"
    );
    // While it is computed, Enter waits.
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(s.status.contains("being computed"), "{}", s.status);
    let line = "plan: 12 items × 2 variants × 1 sample = 24 paths".to_string();
    update(
        &mut s,
        Msg::Planned {
            fields: fields.clone(),
            plan: Ok(line.clone()),
        },
    );
    assert_eq!(form_plan(&s).line, Some(Ok(line)));
    assert!(s.status.is_empty(), "the wait is over: {}", s.status);
    let effects = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::StartEval { vary, .. }] if vary == &["strategy=direct,cot"]),
        "{effects:?}"
    );
    assert!(matches!(s.popup, Some(Popup::Eval(EvalBoard { .. }))));
}

#[test]
fn a_plan_for_fields_since_changed_is_not_shown_and_enter_plans_again() {
    let mut s = lab();
    key(&mut s, KeyCode::F(7));
    let (_, old) = asked(key(&mut s, KeyCode::Enter));
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Char('x'));
    update(
        &mut s,
        Msg::Planned {
            fields: old,
            plan: Ok("plan: old".into()),
        },
    );
    assert_eq!(form_plan(&s).line, None);
    let (_, new) = asked(key(&mut s, KeyCode::Enter));
    assert_eq!(new.1, "strategy=direct,cotx");
}

#[test]
fn an_invalid_variant_or_a_missing_dataset_shows_in_the_form_instead_of_a_plan() {
    let mut s = lab();
    key(&mut s, KeyCode::F(7));
    key(&mut s, KeyCode::Tab);
    for c in " nonsense".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(
        matches!(&form_plan(&s).line, Some(Err(_))),
        "{:?}",
        form_plan(&s)
    );
    assert!(matches!(
        s.popup,
        Some(Popup::Setup(Setup {
            job: crate::tui::msg::JobForm::Eval,
            ..
        }))
    ));
    // The executor's error (a dataset that is not there) shows too, and Enter asks again.
    let mut s = lab();
    key(&mut s, KeyCode::F(7));
    let (_, fields) = asked(key(&mut s, KeyCode::Enter));
    let e = "no-such.jsonl: not found".to_string();
    update(
        &mut s,
        Msg::Planned {
            fields,
            plan: Err(e.clone()),
        },
    );
    assert_eq!(form_plan(&s).line, Some(Err(e)));
    asked(key(&mut s, KeyCode::Enter));
}

#[test]
fn a_pause_in_typing_asks_for_the_plan_of_valid_fields() {
    let mut s = lab();
    key(&mut s, KeyCode::F(8));
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Char(' '));
    let now = s.now;
    assert!(
        update(&mut s, Msg::Tick(now)).is_empty(),
        "not before the pause"
    );
    let (job, _) = asked(update(&mut s, Msg::Tick(now + PLAN_PAUSE)));
    assert_eq!(job, JobForm::Optimize);
    // Asked once: later ticks do not ask again.
    assert!(update(&mut s, Msg::Tick(now + 2 * PLAN_PAUSE)).is_empty());
}

#[test]
fn a_refused_plan_ends_the_wait_it_was_told_of() {
    let mut s = lab();
    key(&mut s, KeyCode::F(7));
    let (_, fields) = asked(key(&mut s, KeyCode::Enter));
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(s.status.contains("being computed"), "{}", s.status);
    update(
        &mut s,
        Msg::Planned {
            fields,
            plan: Err("tickets.gguf exists: choose another adapter name".into()),
        },
    );
    assert!(s.status.is_empty(), "{}", s.status);
}
