//! `update(state, msg) -> effects`: every change of the lab's state happens here, with no I/O.

mod panes;
mod popup;

use std::sync::Arc;

use crossterm::event::{KeyEvent, KeyEventKind};

use super::keymap::Action;
use super::msg::{Effect, Msg};
use super::state::{
    AppState, EvalView, Focus, OptimizeView, PathState, Popup, RunView, SaveWhat, editor,
};
use crate::backend::BackendInfo;
use crate::core::render::Mode;
use crate::core::template::MAX_N;
use crate::engine::{EngineEvent, RunPlan};
use panes::{mouse, pane_action};
use popup::popup_key;

/// The settings bar's fields, in order.
pub const SETTINGS: [&str; 9] = [
    "strategy",
    "N",
    "temperature",
    "top-p",
    "top-k",
    "max tokens",
    "seed",
    "mode",
    "answer",
];

pub fn update(s: &mut AppState, msg: Msg) -> Vec<Effect> {
    let effects = dispatch(s, msg);
    s.sync_cursors();
    effects
}

fn dispatch(s: &mut AppState, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(k) if k.kind != KeyEventKind::Release => key(s, k),
        Msg::Key(_) => vec![],
        Msg::Mouse(m) => mouse(s, m),
        Msg::Resize(w, h) => {
            s.size = (w, h);
            vec![]
        }
        Msg::Tick(now) => {
            s.now = now;
            vec![]
        }
        Msg::Engine { run, event } => engine_event(s, run, event),
        Msg::Backend(Ok(info)) => {
            s.backend = Some(info);
            s.refresh_preview();
            vec![]
        }
        Msg::Backend(Err(e)) => {
            s.backend_state = "unavailable".into();
            s.popup = Some(Popup::Error(e));
            vec![]
        }
        Msg::BackendState(state) => {
            s.backend_state = state;
            vec![]
        }
        Msg::Templates(items) => {
            let selected = items.iter().position(|i| i.name == s.lab.name).unwrap_or(0);
            s.popup = Some(Popup::Picker { items, selected });
            vec![]
        }
        Msg::Saved(Ok(path)) => {
            s.status = format!("saved {path}");
            vec![]
        }
        Msg::Saved(Err(e)) => {
            s.popup = Some(Popup::Error(e));
            vec![]
        }
        Msg::Sessions(items) => {
            if items.is_empty() {
                s.status = format!(
                    "no sessions yet in {} or ./sessions",
                    s.session.dir.display()
                );
            } else {
                s.popup = Some(Popup::Sessions { items, selected: 0 });
            }
            vec![]
        }
        Msg::SessionOpened(Ok((path, session))) => {
            s.status = format!("opened {} ({} runs)", path.display(), session.runs.len());
            s.open_session(path, *session);
            vec![]
        }
        Msg::SessionOpened(Err(e)) | Msg::SessionSaved(Err(e)) => {
            s.popup = Some(Popup::Error(e));
            vec![]
        }
        Msg::EvalStarted {
            dataset,
            items,
            variants,
            skipped,
        } => {
            s.status = format!(
                "evaluating {dataset}: {items} items × {} variant(s){}",
                variants.len(),
                if skipped > 0 {
                    format!(" ({skipped} broken lines skipped)")
                } else {
                    String::new()
                }
            );
            s.eval = Some(EvalView {
                dataset,
                items,
                progress: vec![(0, 0); variants.len()],
                variants,
                results: vec![],
                running: true,
                variant: 0,
                item: 0,
            });
            vec![]
        }
        Msg::EvalProgress {
            variant,
            done,
            correct,
        } => {
            if let Some(p) = s.eval.as_mut().and_then(|e| e.progress.get_mut(variant)) {
                *p = (done, correct);
            }
            vec![]
        }
        Msg::EvalVariantDone(r) => {
            if let Some(e) = s.eval.as_mut() {
                e.results.push(*r);
            }
            vec![]
        }
        Msg::EvalFinished => {
            if let Some(e) = s.eval.as_mut() {
                e.running = false;
                let best = e
                    .results
                    .iter()
                    .max_by(|a, b| a.accuracy_majority.total_cmp(&b.accuracy_majority));
                s.status = match best {
                    Some(b) => format!(
                        "evaluation done: best {} at {:.1}% (majority)",
                        b.name,
                        b.accuracy_majority * 100.0
                    ),
                    None => "evaluation stopped".into(),
                };
            }
            vec![]
        }
        Msg::OptimizeStarted {
            dataset,
            planned_calls,
        } => {
            s.status =
                format!("searching instructions on {dataset}: up to {planned_calls} model calls");
            s.optimize = Some(OptimizeView {
                dataset,
                planned_calls,
                running: true,
                ..Default::default()
            });
            vec![]
        }
        Msg::OptimizeRound(round) => {
            if let Some(o) = s.optimize.as_mut() {
                o.round = round;
            }
            vec![]
        }
        Msg::OptimizeScored(c) => {
            if let Some(o) = s.optimize.as_mut() {
                o.candidates.push(c);
            }
            vec![]
        }
        Msg::OptimizeFinished {
            held,
            calls,
            budget_reached,
        } => {
            if let Some(o) = s.optimize.as_mut() {
                o.running = false;
                o.held = held;
                o.calls = calls;
                o.budget_reached = budget_reached;
            }
            s.status = match held {
                Some((best, original)) => format!(
                    "search done: the best instruction scores {:.0}% on held-out items ({:.0}% before)",
                    best * 100.0,
                    original * 100.0
                ),
                None => "search done: no usable instruction was proposed".into(),
            };
            vec![]
        }
        Msg::OptimizeFailed(e) => {
            if let Some(o) = s.optimize.as_mut() {
                o.running = false;
            }
            s.popup = Some(Popup::Error(e));
            vec![]
        }
        Msg::EvalFailed(e) => {
            if let Some(ev) = s.eval.as_mut() {
                ev.running = false;
            }
            s.popup = Some(Popup::Error(e));
            vec![]
        }
        Msg::SessionSaved(Ok(path)) => {
            if s.session.named {
                s.status = format!("saved {}", path.display());
            }
            vec![]
        }
    }
}

/// The form's editors: the dataset (the last one used, or the shipped example) and the options.
fn setup_editors(
    last: Option<&str>,
    options: &str,
    hint: &str,
) -> Box<[ratatui_textarea::TextArea<'static>; 2]> {
    let dataset = last.unwrap_or("assets/arith-mini.jsonl");
    let mut editors = Box::new([
        editor(dataset, "a dataset: .jsonl, .csv or BIG-bench task.json"),
        editor(options, hint),
    ]);
    for e in editors.iter_mut() {
        e.move_cursor(ratatui_textarea::CursorMove::End);
    }
    editors
}

pub(super) fn open_eval_setup(s: &mut AppState) {
    let last = s.eval.as_ref().map(|e| e.dataset.as_str());
    let editors = setup_editors(
        last,
        "strategy=direct,cot",
        "variants: KEY=V1,V2 … (empty: the prompt as it is)",
    );
    s.popup = Some(Popup::EvalSetup { editors, field: 0 });
}

pub(super) fn open_optimize_setup(s: &mut AppState) {
    let last = s.optimize.as_ref().map(|o| o.dataset.as_str());
    let editors = setup_editors(
        last,
        "candidates=4 rounds=2 keep=2 dev=6 budget=200",
        "candidates= rounds= keep= dev= held= budget=",
    );
    s.popup = Some(Popup::OptimizeSetup { editors, field: 0 });
}

/// Saves the session where it lives (autosave file until named).
pub(super) fn save_session(s: &mut AppState) -> Effect {
    let session = s.session.to_session(s.lab.template());
    s.session.saved = Some(session.clone());
    Effect::SaveSession {
        path: s.session.path.clone(),
        session: Box::new(session),
    }
}

fn ask_name(s: &mut AppState, what: SaveWhat) {
    let suggestion = match what {
        SaveWhat::Template => format!("{}-edited", s.lab.name),
        SaveWhat::Session if s.session.named => s.session.name(),
        SaveWhat::Session => s.lab.name.clone(),
    };
    let mut name = editor(&suggestion, "");
    name.move_cursor(ratatui_textarea::CursorMove::End);
    s.popup = Some(Popup::SaveAs {
        name: Box::new(name),
        what,
    });
}

fn key(s: &mut AppState, k: KeyEvent) -> Vec<Effect> {
    if s.popup.is_some() {
        return popup_key(s, k);
    }
    if let Some(a) = s.keymap.action(&k, s.focus.is_editor()) {
        return action(s, a);
    }
    if s.focus.is_editor() {
        let ed = if s.focus == Focus::Instruction {
            &mut s.lab.instruction
        } else {
            &mut s.lab.query
        };
        if ed.input(k) {
            s.refresh_preview();
        }
        return vec![];
    }
    vec![]
}

/// Performs an action in the focused pane.
pub fn action(s: &mut AppState, a: Action) -> Vec<Effect> {
    match a {
        Action::Run => return start_run(s),
        Action::Cancel => {
            if s.is_running() {
                if let Some(r) = s.run.as_mut() {
                    r.cancelling = true;
                }
                s.status = "cancelling…".into();
                return vec![Effect::CancelRun];
            }
            s.sel.filter = None;
        }
        Action::Quit => {
            s.quit = true;
            let mut e = vec![];
            if s.is_running() {
                e.push(Effect::CancelRun);
            }
            // Keep the latest edits with the recorded runs; an unchanged session is not
            // rewritten.
            let changed = s.session.saved.as_ref() != Some(&s.session.to_session(s.lab.template()));
            if (s.session.named || !s.session.runs.is_empty()) && changed {
                e.push(save_session(s));
            }
            e.push(Effect::Quit);
            return e;
        }
        Action::Help => s.popup = Some(Popup::Help { scroll: 0 }),
        Action::FocusNext => s.focus = s.focus.next(),
        Action::FocusPrev => s.focus = s.focus.prev(),
        Action::ToggleCot => set_strategy(s, s.lab.strategy.toggle_cot()),
        Action::CycleStrategy => set_strategy(s, s.lab.strategy.cycle()),
        Action::CycleMode => {
            s.lab.mode = match s.lab.mode {
                None => Some(Mode::Chat),
                Some(Mode::Chat) => Some(Mode::Completion),
                Some(Mode::Completion) => None,
            };
            s.refresh_preview();
        }
        Action::MoreVotes => s.lab.sampling.n = (s.lab.sampling.n + 1).min(MAX_N),
        Action::FewerVotes => s.lab.sampling.n = s.lab.sampling.n.saturating_sub(1).max(1),
        Action::NextQuery => {
            if !s.lab.queries.is_empty() {
                s.lab.query_pick = (s.lab.query_pick + 1) % s.lab.queries.len();
                s.lab.query = editor(&s.lab.queries[s.lab.query_pick], "type a question");
                s.refresh_preview();
            }
        }
        Action::OpenTemplate => return vec![Effect::ListTemplates],
        Action::SaveTemplate => ask_name(s, SaveWhat::Template),
        Action::SaveSession if s.session.named => return vec![save_session(s)],
        Action::SaveSession | Action::SaveSessionAs => ask_name(s, SaveWhat::Session),
        Action::OpenSession => return vec![Effect::ListSessions],
        Action::PrevRun | Action::NextRun => {
            if s.is_running() {
                s.status = "the run history opens when the run ends".into();
            } else if s.session.runs.is_empty() {
                s.status = "no runs in this session yet".into();
            } else {
                let last = s.session.runs.len() - 1;
                let at = s.history.unwrap_or(last);
                let to = if a == Action::PrevRun {
                    at.saturating_sub(1)
                } else {
                    (at + 1).min(last)
                };
                s.show_run(Some(to));
                s.status = format!(
                    "run {} of {} · {}",
                    to + 1,
                    last + 1,
                    s.session.runs[to].timestamp
                );
            }
        }
        Action::Optimize => match &s.optimize {
            Some(_) => s.popup = Some(Popup::Optimize { selected: 0 }),
            None => open_optimize_setup(s),
        },
        Action::Eval => match &s.eval {
            Some(_) => {
                s.popup = Some(Popup::Eval {
                    detail: None,
                    scroll: 0,
                })
            }
            None => open_eval_setup(s),
        },
        Action::Compare => match s.history {
            Some(b) if b > 0 && !s.is_running() => {
                s.popup = Some(Popup::Compare {
                    a: b - 1,
                    b,
                    scroll: 0,
                })
            }
            _ => s.status = "compare needs a shown run with one before it".into(),
        },
        other => pane_action(s, other),
    }
    vec![]
}

pub(super) fn set_strategy(s: &mut AppState, strategy: crate::core::template::Strategy) {
    s.lab.strategy = strategy;
    s.status = format!("strategy: {strategy}");
    s.refresh_preview();
}

fn start_run(s: &mut AppState) -> Vec<Effect> {
    if s.is_running() {
        s.status = format!(
            "a run is in progress ({} cancels it)",
            s.keymap.first_key(Action::Cancel)
        );
        return vec![];
    }
    if s.backend.is_none() {
        s.status = format!("the backend is not ready ({})", s.backend_state);
        return vec![];
    }
    let template = s.lab.template();
    let plan = match RunPlan::new(&template, &s.lab.query_text(), s.mode()) {
        Ok(mut plan) => {
            plan.concurrency = s.concurrency;
            Arc::new(plan)
        }
        Err(e) => {
            s.popup = Some(Popup::Error(e));
            return vec![];
        }
    };
    let id = s.next_run;
    s.next_run += 1;
    s.run = Some(RunView::new(id, &plan, template, (s.clock)(), s.now));
    s.history = None;
    s.sel.filter = None;
    s.sel.path = 0;
    s.sel.tally = 0;
    s.status = format!("run {id}: sampling {} paths…", plan.sampling.n);
    vec![Effect::StartRun { id, plan }]
}

fn engine_event(s: &mut AppState, id: u64, e: EngineEvent) -> Vec<Effect> {
    let Some(run) = s.run.as_mut().filter(|r| r.id == id) else {
        return vec![];
    };
    match e {
        EngineEvent::PathStarted { path } => {
            if let Some(p) = run.paths.get_mut(path) {
                p.state = PathState::Streaming;
            }
        }
        EngineEvent::Chunk { path, text } => {
            if let Some(p) = run.paths.get_mut(path) {
                p.text.push_str(&text);
                p.chunks += 1;
            }
        }
        EngineEvent::PathRestarted { path, text, .. } => {
            if let Some(p) = run.paths.get_mut(path) {
                p.text = text;
            }
        }
        EngineEvent::PathDone(r) => {
            if let Some(p) = run.paths.get_mut(r.index) {
                p.state = match &r.error {
                    Some(e) => PathState::Failed(e.clone()),
                    None => PathState::Done,
                };
                p.text = r.text();
                p.result = Some(r);
            }
            run.retally();
        }
        EngineEvent::RunDone(result) => {
            let failed = result.paths.iter().filter(|p| !p.succeeded()).count();
            s.status = match (&result.tally.winner, result.cancelled) {
                (_, true) => format!("run {id} cancelled: kept what arrived"),
                (Some(w), _) => format!(
                    "run {id}: answer {w} ({:.0}% agreement)",
                    result.tally.agreement * 100.0
                ),
                (None, _) if failed == result.paths.len() => {
                    let why = result
                        .paths
                        .iter()
                        .find_map(|p| p.error.clone())
                        .unwrap_or_default();
                    format!("run {id}: every path failed: {why}")
                }
                (None, _) => format!("run {id}: no path gave a parsable answer"),
            };
            run.result = Some(result);
            run.retally();
            // Record it and autosave: a crash from here on loses nothing.
            let backend = s
                .backend
                .clone()
                .unwrap_or_else(|| BackendInfo::new("unknown", "unknown", s.mode()));
            if let Some(record) = s.run.as_ref().and_then(|r| r.record(backend)) {
                s.session.runs.push(record);
                s.history = Some(s.session.runs.len() - 1);
                return vec![save_session(s)];
            }
        }
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    use ratatui::layout::Rect;

    use super::*;
    use crate::backend::BackendInfo;
    use crate::core::record::{PathRecord, StageRecord};
    use crate::core::strategy::Stage;
    use crate::store::template::resolve;
    use crate::tui::keymap::Keymap;
    use crate::tui::view::layout;

    fn lab() -> AppState {
        let (t, _) = resolve("gsm8k-cot").unwrap();
        let mut s = AppState::new(&t, Keymap::default(), Instant::now());
        update(
            &mut s,
            Msg::Backend(Ok(BackendInfo::new("scripted", "m", Mode::Completion))),
        );
        s
    }

    fn key(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
        update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn done(index: usize, answer: Option<&str>) -> PathRecord {
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
        s.popup = Some(Popup::Error("boom".into()));
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
        assert!(key(&mut s, KeyCode::F(5)).is_empty(), "one run at a time");
        assert!(s.status.contains("in progress"));
        assert!(matches!(
            key(&mut s, KeyCode::Esc).as_slice(),
            [Effect::CancelRun]
        ));
        assert!(s.run.as_ref().unwrap().cancelling);
        let e = update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        );
        assert!(matches!(e.as_slice(), [Effect::CancelRun, Effect::Quit]));
        assert!(s.quit);
    }

    #[test]
    fn tally_updates_as_paths_finish_and_stale_runs_are_ignored() {
        let mut s = lab();
        key(&mut s, KeyCode::F(5));
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::PathDone(done(0, Some("18"))),
            },
        );
        assert_eq!(s.run.as_ref().unwrap().tally.winner.as_deref(), Some("18"));
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::PathDone(done(1, Some("20"))),
            },
        );
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::PathDone(done(2, Some("20"))),
            },
        );
        assert_eq!(s.run.as_ref().unwrap().tally.winner.as_deref(), Some("20"));
        update(
            &mut s,
            Msg::Engine {
                run: 7,
                event: EngineEvent::PathDone(done(3, Some("99"))),
            },
        );
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
        assert!(matches!(s.popup, Some(Popup::Example { index: 2, .. })));
        key(&mut s, KeyCode::Esc);
        key(&mut s, KeyCode::Char(' '));
        assert_eq!(s.lab.active_examples(), 7);
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
        key(&mut s, KeyCode::Right); // temperature
        for _ in 0..30 {
            key(&mut s, KeyCode::Up);
        }
        assert_eq!(s.lab.sampling.temperature, 2.0);
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
        let paths: Vec<PathRecord> = s
            .run
            .as_ref()
            .unwrap()
            .paths
            .iter()
            .filter_map(|p| p.result.clone())
            .collect();
        let result = crate::engine::RunResult::from_paths(paths, 10, false);
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::RunDone(result),
            },
        );
        assert_eq!(
            s.run.as_ref().unwrap().tally.winner,
            None,
            "numbers: nothing parses"
        );
        s.focus = Focus::Settings;
        s.sel.setting = SETTINGS.len() - 1;
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
}
