//! Key-driven transitions of the lab: every test drives `update` with messages and looks at
//! the state and the effects, with no terminal and no I/O.

use crate::tui::popups::*;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::session::unsaved;
use super::*;
use crate::backend::BackendInfo;
use crate::core::record::{PathRecord, StageRecord};
use crate::core::settings::Key;
use crate::core::strategy::Stage;
use crate::engine::EngineEvent;
use crate::store::template::resolve;
use crate::store::writer::{Landed, Write};
use crate::tui::keymap::Keymap;
use crate::tui::layout::layout;
use crate::tui::state::PathState;
use crate::tui::state::bar_index;
use crate::tui::state::editor_text;

pub(super) fn lab() -> AppState {
    let (t, _) = resolve("gsm8k-cot").unwrap();
    let mut s = AppState::new(&t, Keymap::default(), Instant::now());
    update(
        &mut s,
        Msg::Backend(Ok(BackendInfo::new("scripted", "m", Mode::Completion))),
    );
    s
}

pub(super) fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(s: &mut AppState, c: char) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

pub(super) fn alt(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::ALT)))
}

fn typed(s: &mut AppState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

fn path_done(s: &mut AppState, run: u64, p: PathRecord) {
    update(
        s,
        Msg::Engine {
            run,
            event: EngineEvent::PathDone(p),
        },
    );
}

/// Ends run `run` with the paths that arrived.
pub(super) fn run_done(s: &mut AppState, run: u64, cancelled: bool) -> Vec<Effect> {
    let paths: Vec<PathRecord> = s
        .run
        .as_ref()
        .unwrap()
        .paths
        .iter()
        .filter_map(|p| p.result.clone())
        .collect();
    update(
        s,
        Msg::Engine {
            run,
            event: EngineEvent::RunDone(crate::engine::RunResult::from_paths(
                paths,
                10,
                cancelled,
                &crate::core::record::Voting::exact(),
            )),
        },
    )
}

fn session_named(name: &str, runs: usize) -> (std::path::PathBuf, crate::store::session::Session) {
    let (t, _) = resolve("gsm8k-cot").unwrap();
    let mut session = crate::store::session::Session::new(t);
    for _ in 0..runs {
        session
            .runs
            .push(crate::store::session::tests::record(&["The answer is 7."]));
    }
    (
        std::path::PathBuf::from(format!("sessions/{name}.yaml")),
        session,
    )
}

pub(super) fn done(index: usize, answer: Option<&str>) -> PathRecord {
    let mut p = PathRecord::new(index);
    p.stages = vec![StageRecord {
        finish_reason: Some("stop".into()),
        prompt_tokens: 1,
        completion_tokens: 1,
        ..StageRecord::new(Stage::Answer, "")
    }];
    p.answer = answer.map(String::from);
    p
}

#[test]
fn ctrl_q_quits_through_an_error_dialog() {
    let mut s = lab();
    s.popup = Some(Popup::error("boom"));
    let e = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    );
    assert!(s.quit && s.popup.is_none());
    assert!(e.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn quitting_an_unchanged_session_writes_nothing() {
    let mut s = lab();
    let (t, _) = resolve("gsm8k-cot").unwrap();
    s.open_session(
        std::path::PathBuf::from("sessions/x.yaml"),
        crate::store::session::Session::new(t),
    );
    let e = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    );
    assert!(
        !e.iter().any(|e| matches!(e, Effect::SaveSession { .. })),
        "{e:?}"
    );
    // An edit is kept.
    let mut s = lab();
    let (t, _) = resolve("gsm8k-cot").unwrap();
    s.open_session(
        std::path::PathBuf::from("sessions/x.yaml"),
        crate::store::session::Session::new(t),
    );
    s.lab.sampling.n += 1;
    let e = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    );
    assert!(
        e.iter().any(|e| matches!(e, Effect::SaveSession { .. })),
        "{e:?}"
    );
}

#[test]
fn run_starts_once_and_cancel_and_quit_stop_it() {
    let mut s = lab();
    let e = key(&mut s, KeyCode::F(5));
    assert!(matches!(e.as_slice(), [Effect::StartRun { id: 1, .. }]));
    assert!(
        matches!(key(&mut s, KeyCode::F(5)).as_slice(), [Effect::CancelRun]),
        "F5 toggles: one run at a time, the second press cancels it"
    );
    assert!(key(&mut s, KeyCode::F(5)).is_empty(), "cancelled once");
    assert!(matches!(
        key(&mut s, KeyCode::Esc).as_slice(),
        [Effect::CancelRun]
    ));
    assert!(s.run.as_ref().unwrap().cancelling);
    // Quitting mid-run asks, then keeps what arrived: cancel, record, then quit; the key
    // answers yes, and a press after that quits at once.
    assert!(ctrl(&mut s, 'q').is_empty());
    assert!(matches!(s.popup, Some(Popup::Confirm(Confirm { .. }))));
    let e = ctrl(&mut s, 'q');
    assert!(matches!(e.as_slice(), [Effect::CancelRun]), "{e:?}");
    assert!(!s.quit);
    let e = ctrl(&mut s, 'q');
    assert!(matches!(e.first(), Some(Effect::CancelRun)), "{e:?}");
    assert!(matches!(e.last(), Some(Effect::Quit)), "{e:?}");
    assert!(s.quit);
}

#[test]
fn quitting_mid_run_records_what_arrived_first() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    ctrl(&mut s, 'q');
    key(&mut s, KeyCode::Char('y'));
    path_done(&mut s, 1, done(0, Some("18")));
    let e = run_done(&mut s, 1, true);
    assert_eq!(s.session.runs.len(), 1, "the partial run is recorded");
    assert!(
        matches!(e.first(), Some(Effect::SaveSession { .. })),
        "{e:?}"
    );
    assert!(matches!(e.last(), Some(Effect::Quit)), "{e:?}");
}

#[test]
fn tally_updates_as_paths_finish_and_stale_runs_are_ignored() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    path_done(&mut s, 1, done(0, Some("18")));
    assert_eq!(s.run.as_ref().unwrap().tally.winner.as_deref(), Some("18"));
    path_done(&mut s, 1, done(1, Some("20")));
    path_done(&mut s, 1, done(2, Some("20")));
    assert_eq!(s.run.as_ref().unwrap().tally.winner.as_deref(), Some("20"));
    path_done(&mut s, 7, done(3, Some("99")));
    assert!(s.run.as_ref().unwrap().tally.entry(Some("99")).is_none());
    update(
        &mut s,
        Msg::Engine {
            run: 1,
            event: EngineEvent::Chunk {
                path: 4,
                text: "abc".into(),
            },
        },
    );
    assert_eq!(s.run.as_ref().unwrap().paths[4].text, "abc");
    assert_eq!(s.run.as_ref().unwrap().done(), 3);
}

#[test]
fn example_list_edits() {
    let mut s = lab();
    s.focus = Focus::Examples;
    let first = s.lab.examples[0].input.clone();
    key(&mut s, KeyCode::Char('J'));
    assert_eq!(s.lab.examples[1].input, first);
    assert_eq!(s.sel.example, 1);
    key(&mut s, KeyCode::Char('x'));
    assert_eq!(s.lab.examples.len(), 7);
    assert!(!s.lab.examples.iter().any(|e| e.input == first));
    key(&mut s, KeyCode::Char('a'));
    assert_eq!(s.lab.examples.len(), 8);
    assert!(matches!(
        s.popup,
        Some(Popup::Example(ExampleForm { index: 2, .. }))
    ));
    key(&mut s, KeyCode::Esc);
    assert_eq!(
        s.lab.examples.len(),
        7,
        "a new example left empty is not kept"
    );
    key(&mut s, KeyCode::Char(' '));
    assert_eq!(s.lab.active_examples(), 6);
    assert!(
        !s.preview.contains("Q: \nA:"),
        "switched-off examples are not sent"
    );
}

#[test]
fn settings_stay_in_range() {
    let mut s = lab();
    s.focus = Focus::Settings;
    key(&mut s, KeyCode::Right); // N
    for _ in 0..100 {
        key(&mut s, KeyCode::Up);
    }
    assert_eq!(s.lab.sampling.n, MAX_N);
    for _ in 0..100 {
        key(&mut s, KeyCode::Down);
    }
    assert_eq!(s.lab.sampling.n, 1);
    key(&mut s, KeyCode::Right); // early stop: a ring of rules, both ways
    key(&mut s, KeyCode::Up);
    assert_eq!(s.lab.sampling.early_stop.to_string(), "beta:0.9");
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.lab.sampling.early_stop.to_string(), "esc:8");
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Right); // temperature
    for _ in 0..30 {
        key(&mut s, KeyCode::Up);
    }
    assert_eq!(s.lab.sampling.temperature, 2.0);
    key(&mut s, KeyCode::Left);
    key(&mut s, KeyCode::Left);
    key(&mut s, KeyCode::Left); // strategy
    key(&mut s, KeyCode::Up);
    assert_eq!(s.lab.strategy, crate::core::template::Strategy::ZeroShotCot);
}

#[test]
fn changing_the_answer_kind_re_votes_the_shown_recorded_run() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    let texts = [
        "The answer is Paris.",
        "the answer is paris",
        "The answer is Rome.",
        "x",
        "y",
    ];
    for (i, t) in texts.iter().enumerate() {
        let mut p = done(i, None);
        p.stages[0].text = t.to_string();
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::PathDone(p),
            },
        );
    }
    run_done(&mut s, 1, false);
    assert_eq!(
        s.run.as_ref().unwrap().tally.winner,
        None,
        "numbers: nothing parses"
    );
    s.focus = Focus::Settings;
    s.sel.setting = bar_index(Key::Answer);
    key(&mut s, KeyCode::Up); // number -> choice
    key(&mut s, KeyCode::Up); // choice -> text
    assert_eq!(s.session.runs[0].template.answer.kind.as_str(), "text");
    assert_eq!(
        s.run.as_ref().unwrap().tally.winner.as_deref(),
        Some("paris")
    );
    assert!(s.status.contains("re-voted"), "{}", s.status);
}

#[test]
fn a_click_focuses_the_pane_under_the_mouse() {
    let mut s = lab();
    s.size = (140, 40);
    let l = layout(Rect::new(0, 0, 140, 40), &s);
    let (_, tally) = l.panes.iter().find(|(f, _)| *f == Focus::Tally).unwrap();
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: tally.x + 2,
        row: tally.y + 2,
        modifiers: KeyModifiers::NONE,
    };
    update(&mut s, Msg::Mouse(click));
    assert_eq!(s.focus, Focus::Tally);
}

/// A session opened in the lab at `name`, with `runs` recorded runs.
pub(super) fn open(s: &mut AppState, name: &str, runs: usize) {
    let (path, session) = session_named(name, runs);
    update(s, Msg::SessionOpened(Ok((path, Box::new(session)))));
}

fn saves(e: &[Effect]) -> Vec<(std::path::PathBuf, usize, Write)> {
    e.iter()
        .filter_map(|e| match e {
            Effect::SaveSession { path, session, how } => {
                Some((path.clone(), session.runs.len(), *how))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_run_is_recorded_in_the_session_it_started_in() {
    let mut s = lab();
    open(&mut s, "a", 1);
    key(&mut s, KeyCode::F(5));
    // Ctrl-O mid-run asks; yes cancels the run and waits for it.
    ctrl(&mut s, 'o');
    assert!(matches!(s.popup, Some(Popup::Confirm(Confirm { .. }))));
    let e = key(&mut s, KeyCode::Char('y'));
    assert!(matches!(e.as_slice(), [Effect::CancelRun]), "{e:?}");
    // The other session was read before the run ended: it waits too.
    open(&mut s, "b", 3);
    assert_eq!(s.session.path, std::path::PathBuf::from("sessions/a.yaml"));
    path_done(&mut s, 1, done(0, Some("18")));
    let e = run_done(&mut s, 1, true);
    // Recorded in a (1 + 1 runs), then b is open with its own 3 runs.
    assert_eq!(
        saves(&e),
        vec![(std::path::PathBuf::from("sessions/a.yaml"), 2, Write::Merge)]
    );
    assert_eq!(s.session.path, std::path::PathBuf::from("sessions/b.yaml"));
    assert_eq!(s.session.runs.len(), 3);
    // No is no: nothing is cancelled or opened.
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    ctrl(&mut s, 'o');
    assert!(key(&mut s, KeyCode::Char('n')).is_empty());
    assert!(s.is_running() && s.after_run.is_none());
}

#[test]
fn leaving_a_session_keeps_its_edits() {
    let mut s = lab();
    open(&mut s, "a", 1);
    s.focus = Focus::Instruction;
    typed(&mut s, "Be brief.");
    assert_eq!(ctrl(&mut s, 'o').len(), 1, "lists sessions");
    let (path, session) = session_named("b", 0);
    let e = update(&mut s, Msg::SessionOpened(Ok((path, Box::new(session)))));
    let Some(Effect::SaveSession { path, session, .. }) = e.first() else {
        panic!("{e:?}")
    };
    assert_eq!(path, &std::path::PathBuf::from("sessions/a.yaml"));
    assert!(
        session
            .lab
            .instruction
            .as_deref()
            .unwrap()
            .contains("Be brief.")
    );
}

#[test]
fn replacing_edits_asks_and_undo_brings_them_back() {
    let mut s = lab();
    s.focus = Focus::Instruction;
    typed(&mut s, "Mine.");
    // Alt-T: picking a template asks first.
    let (t, _) = resolve("date-understanding").unwrap();
    update(
        &mut s,
        Msg::Templates(vec![crate::tui::state::PickItem {
            name: t.name.clone(),
            summary: String::new(),
            template: Ok(t),
        }]),
    );
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.popup, Some(Popup::Confirm(Confirm { .. }))));
    key(&mut s, KeyCode::Char('y'));
    assert_eq!(s.lab.name, "date-understanding");
    s.focus = Focus::Examples;
    ctrl(&mut s, 'z');
    assert_eq!(s.lab.name, "gsm8k-cot");
    assert!(editor_text(&s.lab.instruction).contains("Mine."));
    ctrl(&mut s, 'y');
    assert_eq!(s.lab.name, "date-understanding");
    // F6 over an edited query asks; Esc keeps it.
    let mut s = lab();
    s.lab.queries = vec!["one".into(), "two".into()];
    s.focus = Focus::Query;
    typed(&mut s, " edited");
    key(&mut s, KeyCode::F(6));
    assert!(matches!(s.popup, Some(Popup::Confirm(Confirm { .. }))));
    key(&mut s, KeyCode::Esc);
    assert!(s.lab.query_text().ends_with(" edited"));
}

#[test]
fn deleted_examples_come_back_with_undo() {
    let mut s = lab();
    let before = s.lab.examples.clone();
    s.focus = Focus::Examples;
    for _ in 0..10 {
        key(&mut s, KeyCode::Char('x'));
    }
    assert!(s.lab.examples.is_empty());
    for _ in 0..8 {
        ctrl(&mut s, 'z');
    }
    assert_eq!(s.lab.examples, before);
    ctrl(&mut s, 'y');
    assert_eq!(s.lab.examples.len(), 7);
}

#[test]
fn typing_is_undone_in_the_editor() {
    let mut s = lab();
    s.focus = Focus::Query;
    let before = s.lab.query_text();
    typed(&mut s, "xy");
    ctrl(&mut s, 'z');
    ctrl(&mut s, 'z');
    assert_eq!(s.lab.query_text(), before);
}

#[test]
fn save_as_never_replaces_another_file_without_a_yes() {
    let mut s = lab();
    alt(&mut s, KeyCode::Char('s'));
    ctrl(&mut s, 'u');
    typed(&mut s, "taken");
    let e = key(&mut s, KeyCode::Enter);
    let target = std::path::PathBuf::from("sessions/taken.yaml");
    assert_eq!(saves(&e), vec![(target.clone(), 0, Write::Create)]);
    assert!(!s.session.named, "not moved before the file is written");
    update(
        &mut s,
        Msg::SessionSaved(Ok(Landed::Exists {
            path: target.clone(),
        })),
    );
    assert!(matches!(s.popup, Some(Popup::Confirm(Confirm { .. }))));
    let e = key(&mut s, KeyCode::Char('y'));
    assert_eq!(saves(&e), vec![(target.clone(), 0, Write::Replace)]);
    update(
        &mut s,
        Msg::SessionSaved(Ok(Landed::Written {
            path: target.clone(),
            merged: vec![],
        })),
    );
    assert!(s.session.named);
    assert_eq!(s.session.path, target);
}

#[test]
fn a_template_export_never_hides_a_builtin() {
    let mut s = lab();
    alt(&mut s, KeyCode::Char('e'));
    ctrl(&mut s, 'u');
    typed(&mut s, "gsm8k-cot");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(s.status.contains("built-in"), "{}", s.status);
    ctrl(&mut s, 'u');
    typed(&mut s, "mine");
    let e = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(e.as_slice(), [Effect::SaveTemplate { path, replace: false, .. }] if path.ends_with("mine.yaml")),
        "{e:?}"
    );
}

#[test]
fn runs_another_process_added_are_taken_in() {
    let mut s = lab();
    open(&mut s, "a", 1);
    let (_, other) = session_named("x", 2);
    update(
        &mut s,
        Msg::SessionSaved(Ok(Landed::Written {
            path: "sessions/a.yaml".into(),
            merged: other.runs,
        })),
    );
    assert_eq!(s.session.runs.len(), 3);
    assert!(s.status.contains("took in 2"), "{}", s.status);
    // Nothing new to save: the file already holds them.
    assert!(!unsaved(&s));
}

#[test]
fn browsing_shows_the_runs_own_prompt_and_settings_read_only() {
    let mut s = lab();
    open(&mut s, "a", 2);
    s.lab.sampling.n = 9;
    alt(&mut s, KeyCode::Left);
    let (i, meta) = s.viewed().expect("viewing");
    assert_eq!(i, 0);
    assert_eq!(
        meta.template.sampling.n,
        s.session.runs[0].template.sampling.n
    );
    assert_ne!(meta.template.sampling.n, 9);
    s.focus = Focus::Settings;
    s.sel.setting = bar_index(Key::N);
    key(&mut s, KeyCode::Up);
    assert_eq!(s.lab.sampling.n, 9, "read-only while viewing");
    assert!(s.status.contains("read-only"), "{}", s.status);
    key(&mut s, KeyCode::Esc);
    assert!(s.viewed().is_none());
    key(&mut s, KeyCode::Up);
    assert_eq!(s.lab.sampling.n, 10);
}

#[test]
fn a_paste_is_one_edit_and_typing_after_it_lands_after_it() {
    let mut s = lab();
    s.focus = Focus::Query;
    let before = s.lab.query_text();
    let pasted: String = "abc def\r\n".repeat(300);
    update(&mut s, Msg::Paste(pasted.clone()));
    key(&mut s, KeyCode::Char('!'));
    let q = s.lab.query_text();
    assert_eq!(q, format!("{before}{}!", pasted.replace("\r\n", "\n")));
    ctrl(&mut s, 'z');
    ctrl(&mut s, 'z');
    assert_eq!(
        s.lab.query_text(),
        before,
        "two undos: the key, then the paste"
    );
}

#[test]
fn shortcuts_work_from_the_first_frame() {
    let mut s = lab();
    assert!(!s.focus.is_editor());
    let query = s.lab.query_text();
    key(&mut s, KeyCode::Char('?'));
    assert!(matches!(s.popup, Some(Popup::Help(Help { .. }))));
    assert_eq!(s.lab.query_text(), query);
}

#[test]
fn settings_take_typed_values_and_stay_in_bounds() {
    let mut s = lab();
    s.focus = Focus::Settings;
    s.sel.setting = bar_index(Key::Seed);
    key(&mut s, KeyCode::Enter);
    ctrl(&mut s, 'u');
    typed(&mut s, "1234");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.lab.sampling.seed, 1234);
    assert!(s.popup.is_none());
    // Out of range: refused, the field stays open.
    key(&mut s, KeyCode::Enter);
    ctrl(&mut s, 'u');
    typed(&mut s, "-1");
    key(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.popup,
        Some(Popup::SettingInput(SettingInput { .. }))
    ));
    assert_eq!(s.lab.sampling.seed, 1234);
    key(&mut s, KeyCode::Esc);
    s.lab.sampling.seed = 0;
    key(&mut s, KeyCode::Down);
    assert_eq!(s.lab.sampling.seed, 0, "no wrap below 0");
    s.sel.setting = bar_index(Key::TopK);
    for _ in 0..500 {
        key(&mut s, KeyCode::Up);
    }
    assert_eq!(s.lab.sampling.top_k, crate::core::template::MAX_TOP_K);
    s.sel.setting = bar_index(Key::Mode); // ↓ undoes ↑
    let m = s.lab.mode;
    key(&mut s, KeyCode::Up);
    assert_ne!(s.lab.mode, m);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.lab.mode, m);
}

#[test]
fn elapsed_time_counts_from_the_run_key() {
    let t0 = Instant::now();
    let mut s = lab();
    update(&mut s, Msg::Tick(t0 + std::time::Duration::from_secs(13)));
    key(&mut s, KeyCode::F(5));
    let later = t0 + std::time::Duration::from_millis(13_250);
    assert!(s.run.as_ref().unwrap().elapsed(later) <= std::time::Duration::from_millis(250));
}

#[test]
fn cancelled_paths_say_so_and_keep_their_tokens() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    for _ in 0..5 {
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::Chunk {
                    path: 0,
                    text: "tok ".into(),
                },
            },
        );
    }
    let mut p = PathRecord::new(0);
    p.stages = vec![StageRecord::new(Stage::Reason, "tok tok tok tok tok ")];
    p.error = Some(crate::core::record::CANCELLED.into());
    path_done(&mut s, 1, p);
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.paths[0].state, PathState::Cancelled);
    assert_eq!(run.tokens(), 5);
}

#[test]
fn the_path_popup_stays_in_its_cluster_and_compare_moves_as_a_pair() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    for (i, a) in ["1", "2", "1", "2", "1"].iter().enumerate() {
        path_done(&mut s, 1, done(i, Some(a)));
    }
    s.sel.filter = Some(Some("2".into()));
    s.popup = Some(Popup::PathDetail(PathDetail {
        path: 1,
        scroll: 0,
        back: None,
    }));
    key(&mut s, KeyCode::Right);
    assert!(matches!(
        s.popup,
        Some(Popup::PathDetail(PathDetail { path: 3, .. }))
    ));
    key(&mut s, KeyCode::Right);
    assert!(matches!(
        s.popup,
        Some(Popup::PathDetail(PathDetail { path: 3, .. }))
    ));
    key(&mut s, KeyCode::Left);
    assert!(matches!(
        s.popup,
        Some(Popup::PathDetail(PathDetail { path: 1, .. }))
    ));
    key(&mut s, KeyCode::Char('q'));
    assert!(s.popup.is_none(), "q closes what Esc closes");

    let mut s = lab();
    open(&mut s, "a", 4);
    alt(&mut s, KeyCode::Char('c'));
    assert!(matches!(
        s.popup,
        Some(Popup::Compare(CompareRuns { a: 2, b: 3, .. }))
    ));
    key(&mut s, KeyCode::Left);
    assert!(matches!(
        s.popup,
        Some(Popup::Compare(CompareRuns { a: 1, b: 2, .. }))
    ));
}

#[test]
fn edits_are_autosaved_shortly_after_they_stop() {
    let t0 = Instant::now();
    let mut s = lab();
    update(&mut s, Msg::Tick(t0));
    s.focus = Focus::Query;
    typed(&mut s, " more");
    assert!(update(&mut s, Msg::Tick(t0 + AUTOSAVE / 2)).is_empty());
    let e = update(&mut s, Msg::Tick(t0 + AUTOSAVE * 2));
    assert_eq!(saves(&e).len(), 1, "{e:?}");
    assert!(s.autosave_due.is_none());
    // Quitting now writes nothing more.
    let e = ctrl(&mut s, 'q');
    assert!(saves(&e).is_empty(), "{e:?}");
}

#[test]
fn f5_on_a_narrow_terminal_shows_the_run_page() {
    let mut s = lab();
    s.size = (80, 24);
    s.focus = Focus::Query;
    key(&mut s, KeyCode::F(5));
    assert_eq!(crate::tui::layout::page(s.focus), Page::Run);
}

#[test]
fn ctrl_c_cancels_a_run_and_quits_when_idle() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    assert!(matches!(ctrl(&mut s, 'c').as_slice(), [Effect::CancelRun]));
    assert!(!s.quit);
    run_done(&mut s, 1, true);
    let e = ctrl(&mut s, 'c');
    assert!(s.quit && matches!(e.last(), Some(Effect::Quit)), "{e:?}");
}

#[test]
fn strategy_down_undoes_up() {
    let mut s = lab();
    s.focus = Focus::Settings;
    s.sel.setting = 0;
    let before = s.lab.strategy;
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.lab.strategy, before);
}

#[test]
fn save_as_replaces_the_suggestion_and_drops_the_autosave_file() {
    let mut s = lab();
    s.session.path = "sessions/autosave-1.yaml".into();
    key(&mut s, KeyCode::F(5));
    path_done(&mut s, 1, done(0, Some("18")));
    run_done(&mut s, 1, false);
    update(
        &mut s,
        Msg::SessionSaved(Ok(Landed::Written {
            path: "sessions/autosave-1.yaml".into(),
            merged: vec![],
        })),
    );
    alt(&mut s, KeyCode::Char('s'));
    typed(&mut s, "ducks"); // replaces the selected suggestion
    let e = key(&mut s, KeyCode::Enter);
    let target = std::path::PathBuf::from("sessions/ducks.yaml");
    assert_eq!(saves(&e), vec![(target.clone(), 1, Write::Create)]);
    let e = update(
        &mut s,
        Msg::SessionSaved(Ok(Landed::Written {
            path: target,
            merged: vec![],
        })),
    );
    assert!(
        matches!(e.as_slice(), [Effect::DiscardAutosave(p)] if p.ends_with("autosave-1.yaml")),
        "{e:?}"
    );
}

#[test]
fn zoom_gives_the_run_the_width_and_the_split_is_kept_within_bounds() {
    let mut s = lab();
    s.size = (160, 45);
    let area = Rect::new(0, 0, 160, 45);
    s.focus = Focus::Query;
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::F(9), KeyModifiers::NONE)),
    );
    let l = layout(area, &s);
    assert!(
        !l.panes.iter().any(|(f, _)| f.is_editor()),
        "editors hidden"
    );
    let (_, paths) = l.panes.iter().find(|(f, _)| *f == Focus::Paths).unwrap();
    assert_eq!(paths.x, 0, "the run side starts at the left edge");
    assert_eq!(s.focus, Focus::Paths);
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::F(9), KeyModifiers::NONE)),
    );
    assert!(layout(area, &s).panes.iter().any(|(f, _)| f.is_editor()));
    let e = alt(&mut s, KeyCode::Char('.'));
    assert!(matches!(e.as_slice(), [Effect::RememberSplit(48)]), "{e:?}");
    for _ in 0..30 {
        alt(&mut s, KeyCode::Char(','));
    }
    assert_eq!(s.split, 20);
    assert!(
        alt(&mut s, KeyCode::Char(',')).is_empty(),
        "nothing to remember at the bound"
    );
}

#[test]
fn the_model_picker_lists_switches_and_says_what_it_runs_now() {
    use crate::tui::state::ModelChoice;
    let mut s = lab();
    let effects = alt(&mut s, KeyCode::Char('m'));
    assert!(
        matches!(effects.as_slice(), [Effect::ListModels]),
        "{effects:?}"
    );
    let choice = |name: &str| ModelChoice {
        name: name.into(),
        source: "promptlab".into(),
        path: Some(format!("/models/{name}.gguf").into()),
        size_bytes: 1_000_000,
    };
    update(
        &mut s,
        Msg::Models(Ok(vec![choice("small"), choice("bigger")])),
    );
    assert!(matches!(
        s.popup,
        Some(Popup::Models(Models { selected: 0, .. }))
    ));
    key(&mut s, KeyCode::Down);
    let effects = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::SwitchModel(c)] if c.name == "bigger"),
        "{effects:?}"
    );
    assert!(s.status.contains("switching to bigger"));
    let mut info = s.backend.clone().unwrap();
    info.model = "bigger".into();
    update(&mut s, Msg::ModelSwitched(Ok(info)));
    assert_eq!(s.backend.as_ref().unwrap().model, "bigger");
    assert!(s.status.starts_with("now on"), "{}", s.status);
    // A failed switch keeps the model that runs, and says so.
    update(&mut s, Msg::ModelSwitched(Err("not a GGUF".into())));
    assert!(
        matches!(&s.popup, Some(Popup::Error(ErrorBox(e))) if e.contains("not a GGUF") && e.contains("still on"))
    );
    assert_eq!(s.backend.as_ref().unwrap().model, "bigger");
    // None found: a hint, no popup.
    s.popup = None;
    update(&mut s, Msg::Models(Ok(vec![])));
    assert!(s.popup.is_none());
    assert!(s.status.contains("model pull"));
}

mod run_cache;
