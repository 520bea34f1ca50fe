//! The tune room (issue 28): its form's keys and plan, the tune's reports folded into its
//! board, a stop that keeps the last epoch, the adapter offered in the model picker, a curve
//! in the evaluation view, and a build that cannot train saying so.

use std::path::PathBuf;

use crossterm::event::KeyCode;

use super::tests::{key, lab};
use super::*;
use crate::engine::tuner::{TuneOptions, TuneProgress, Tuned};
use crate::tui::msg::{JobForm, ModelChoice};
use crate::tui::popups::{Models, TuneBoard, TuneForm};

fn trainable() -> AppState {
    let mut s = lab();
    s.can_train = Ok(());
    s
}

fn form(s: &AppState) -> &TuneForm {
    match &s.popup {
        Some(Popup::TuneForm(f)) => f,
        other => panic!("no tune form: {other:?}"),
    }
}

fn typed(s: &mut AppState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

fn record(complete: bool) -> Box<crate::store::adapters::Record> {
    let mut r: crate::store::adapters::Record =
        serde_json::from_str(include_str!("../../../tests/fixtures/adapter-record.json")).unwrap();
    r.complete = complete;
    Box::new(r)
}

/// The form planned and started: the effect that starts the tune.
fn started(s: &mut AppState) -> Vec<Effect> {
    let asked = key(s, KeyCode::Enter);
    let [Effect::Plan { job, fields, .. }] = asked.as_slice() else {
        panic!("no plan asked: {asked:?}")
    };
    assert_eq!(*job, JobForm::Tune);
    let fields = fields.clone();
    update(
        s,
        Msg::Planned {
            fields,
            plan: Ok("208 training rows".into()),
        },
    );
    key(s, KeyCode::Enter)
}

#[test]
fn f10_opens_the_form_with_tunes_defaults_and_enter_plans_then_starts() {
    let mut s = trainable();
    key(&mut s, KeyCode::F(10));
    assert_eq!(
        form(&s).fields(),
        (
            "assets/arith-mini.jsonl".to_string(),
            format!(
                "name={}-arith-mini rank=8 epochs=3 lr=0.001 seed=1",
                s.lab.name
            )
        )
    );
    // ↓ and Tab go round the fields: the name, then the rank typed anew.
    key(&mut s, KeyCode::Down);
    update(
        &mut s,
        Msg::Key(crossterm::event::KeyEvent::new(
            KeyCode::Char('u'),
            crossterm::event::KeyModifiers::CONTROL,
        )),
    );
    typed(&mut s, "sums");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Backspace);
    typed(&mut s, "4");
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Up);
    assert_eq!(form(&s).fields.at, 0);
    let effects = started(&mut s);
    let [Effect::StartTune { options, .. }] = effects.as_slice() else {
        panic!("not started: {effects:?}")
    };
    assert_eq!(
        *options,
        TuneOptions {
            name: "sums".into(),
            rank: 4,
            ..TuneOptions::default()
        }
    );
    assert!(matches!(s.popup, Some(Popup::Tune(TuneBoard))));
    assert!(s.tune.as_ref().is_some_and(|t| t.running()));
}

#[test]
fn a_field_that_does_not_hold_is_said_under_the_form_and_nothing_starts() {
    let mut s = trainable();
    key(&mut s, KeyCode::F(10));
    for _ in 0..2 {
        key(&mut s, KeyCode::Tab);
    }
    typed(&mut s, "x");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    let Some(Err(e)) = &form(&s).plan.line else {
        panic!("{:?}", form(&s).plan)
    };
    assert!(e.contains("rank"), "{e}");
    assert!(s.tune.is_none());
}

#[test]
fn a_build_that_cannot_train_says_so_in_the_room_and_starts_nothing() {
    let mut s = lab();
    s.can_train = Err("built without the `train` feature".into());
    key(&mut s, KeyCode::F(10));
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(s.popup, Some(Popup::TuneForm(_))));
    key(&mut s, KeyCode::Esc);
    assert!(s.popup.is_none());
}

#[test]
fn reports_fold_into_the_board_esc_stops_once_and_the_adapter_is_offered_in_the_picker() {
    let mut s = trainable();
    key(&mut s, KeyCode::F(10));
    started(&mut s);
    update(
        &mut s,
        Msg::Tune(TuneProgress::Prepared {
            train_rows: 8,
            held_out: 2,
            tokens: 400,
            answer_tokens: 40,
        }),
    );
    update(
        &mut s,
        Msg::Tune(TuneProgress::Step {
            step: 1,
            steps: 6,
            epoch: 1,
            loss: 2.5,
            tokens_per_second: 30.0,
            left: std::time::Duration::from_secs(50),
        }),
    );
    let t = s.tune.as_ref().unwrap();
    assert_eq!(
        (t.losses.clone(), t.phase.as_str()),
        (vec![2.5], "training")
    );
    assert_eq!(key(&mut s, KeyCode::Esc).len(), 1, "Esc stops the tune");
    assert!(matches!(
        key(&mut s, KeyCode::Esc).as_slice(),
        [] // asked once: it stops after this step
    ));
    assert!(s.tune.as_ref().unwrap().stopping);
    // q hides the board; F10 brings it back.
    key(&mut s, KeyCode::Char('q'));
    assert!(s.popup.is_none());
    key(&mut s, KeyCode::F(10));
    assert!(matches!(s.popup, Some(Popup::Tune(_))));
    let path = PathBuf::from("/m/adapters/sums.gguf");
    update(
        &mut s,
        Msg::Tuned(Ok(Tuned::Adapter {
            path: path.clone(),
            record: record(false),
        })),
    );
    assert!(s.status.contains("last finished epoch"), "{}", s.status);
    assert!(matches!(
        key(&mut s, KeyCode::Enter).as_slice(),
        [Effect::ListModels]
    ));
    let choice = |name: &str, path: &str| ModelChoice {
        name: name.into(),
        source: "promptlab".into(),
        path: Some(path.into()),
        size_bytes: 1,
    };
    update(
        &mut s,
        Msg::Models(Ok(vec![
            choice("m", "/m/m.gguf"),
            choice("m + other", "/m/adapters/other.gguf"),
            choice("m + sums", "/m/adapters/sums.gguf"),
        ])),
    );
    assert!(matches!(
        s.popup,
        Some(Popup::Models(Models { selected: 2, .. }))
    ));
    let effects = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::SwitchModel(c)] if c.path.as_ref() == Some(&path)),
        "{effects:?}"
    );
}

#[test]
fn quitting_while_a_tune_trains_asks_first() {
    let mut s = trainable();
    key(&mut s, KeyCode::F(10));
    started(&mut s);
    key(&mut s, KeyCode::Char('q'));
    let quit = crossterm::event::KeyEvent::new(
        KeyCode::Char('q'),
        crossterm::event::KeyModifiers::CONTROL,
    );
    assert!(update(&mut s, Msg::Key(quit)).is_empty());
    assert!(matches!(s.popup, Some(Popup::Confirm(_))));
    // The quit key again is yes.
    let effects = update(&mut s, Msg::Key(quit));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Quit)),
        "{effects:?}"
    );
    assert!(s.quit);
}

#[test]
fn a_curve_ends_in_the_evaluation_view() {
    let mut s = trainable();
    key(&mut s, KeyCode::F(10));
    for _ in 0..6 {
        key(&mut s, KeyCode::Tab);
    }
    typed(&mut s, "8, 16");
    assert!(form(&s).fields().1.ends_with(" curve=8,16"));
    started(&mut s);
    let curve = crate::core::curve::curve(
        2,
        &[crate::core::curve::Scores {
            rows: 8,
            adapter: Some(vec![true, true]),
            prompt: Some(vec![true, false]),
        }],
    );
    update(
        &mut s,
        Msg::Tuned(Ok(Tuned::Curve {
            dir: "/m/adapters/c-curve".into(),
            curve,
        })),
    );
    assert!(s.eval.as_ref().is_some_and(|e| e.curve.is_some()));
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.popup, Some(Popup::Eval(_))));
}

#[test]
fn the_forms_offer_the_dataset_shipped_for_the_template_before_anything_is_typed() {
    let mut s = trainable();
    s.lab.name = "tickets".into();
    s.shipped_datasets = vec![
        "/p/assets/sports.jsonl".into(),
        "/p/assets/tickets.jsonl".into(),
    ];
    key(&mut s, KeyCode::F(10));
    let (dataset, options) = form(&s).fields();
    assert_eq!(dataset, "/p/assets/tickets.jsonl");
    assert!(options.starts_with("name=tickets rank="), "{options}");
    // A form closed keeps its dataset for the next one, as typed ones are kept.
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.dataset.as_deref(), Some("/p/assets/tickets.jsonl"));
    // A template with no dataset of its name gets the shipped sample; one typed wins over both.
    s.dataset = None;
    s.lab.name = "gsm8k-cot".into();
    key(&mut s, KeyCode::F(10));
    assert_eq!(form(&s).fields().0, "assets/arith-mini.jsonl");
    key(&mut s, KeyCode::Esc);
    s.dataset = Some("mine.jsonl".into());
    s.lab.name = "tickets".into();
    key(&mut s, KeyCode::F(10));
    assert_eq!(form(&s).fields().0, "mine.jsonl");
}
