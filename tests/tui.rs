//! The lab end to end without a terminal: synthesized keys drive `update`, the scripted
//! backend drives real engine runs, and `view` draws into ratatui's TestBackend for insta
//! snapshots of the main screens.

use promptlab::tui::popups::*;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use promptlab::backend::BackendInfo;
use promptlab::backend::scripted::{Script, ScriptedBackend};
use promptlab::core::render::Mode;
use promptlab::engine::cache::Cache;
use promptlab::engine::jobs::JobEvent;
use promptlab::engine::{self, EngineEvent};
use promptlab::store::template::resolve;
use promptlab::tui::keymap::Keymap;
use promptlab::tui::msg::{Effect, Msg};
use promptlab::tui::state::{AppState, Focus, Popup};
use promptlab::tui::update::update;
use promptlab::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio_util::sync::CancellationToken;

mod common;

fn lab(template: &str) -> AppState {
    let (t, _) = resolve(template).unwrap();
    let mut s = AppState::new(&t, Keymap::default(), Instant::now());
    update(
        &mut s,
        Msg::Backend(Ok(BackendInfo::new(
            "scripted",
            "demo-script",
            Mode::Completion,
        ))),
    );
    update(&mut s, Msg::BackendState("ready".into()));
    s
}

fn press(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn press_mod(s: &mut AppState, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, mods)))
}

fn type_text(s: &mut AppState, text: &str) {
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

fn draw(s: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(s, f)).unwrap();
    t
}

fn demo_backend() -> Arc<ScriptedBackend> {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo-script.yaml"
    ))
    .unwrap();
    let mut script: Script = serde_saphyr::from_str(&yaml).unwrap();
    for r in &mut script.responses {
        r.delay_ms = 0;
    }
    Arc::new(ScriptedBackend::new(script))
}

/// An engine event with its timings fixed, so snapshots are stable under any load.
fn fixed_timings(e: &mut EngineEvent) {
    match e {
        EngineEvent::PathDone(p) => p.latency_ms = 100 * (p.index as u64 + 1),
        EngineEvent::RunDone(r) => {
            r.elapsed_ms = 1200;
            for p in &mut r.paths {
                p.latency_ms = 100 * (p.index as u64 + 1);
            }
        }
        _ => {}
    }
}

/// Runs what `StartRun` asks for on the scripted backend; returns the run's events with
/// timings fixed so snapshots are stable.
async fn events_of(effects: Vec<Effect>) -> (u64, Vec<EngineEvent>) {
    let Some(Effect::StartRun { id, plan }) = effects
        .into_iter()
        .find(|e| matches!(e, Effect::StartRun { .. }))
    else {
        panic!("no run started")
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    engine::run(demo_backend(), plan, Some(tx), CancellationToken::new()).await;
    let mut out = vec![];
    while let Some(mut e) = rx.recv().await {
        fixed_timings(&mut e);
        out.push(e);
    }
    // Paths finish in a scheduler-dependent order; feed them in path order.
    out.sort_by_key(|e| match e {
        EngineEvent::PathStarted { path }
        | EngineEvent::Chunk { path, .. }
        | EngineEvent::Thinking { path, .. }
        | EngineEvent::PathRestarted { path, .. } => (0, *path),
        EngineEvent::PathDone(p) => (1, p.index),
        EngineEvent::Settled { .. } => (2, 0),
        EngineEvent::RunDone(_) => (3, 0),
        EngineEvent::Throttled { .. } => (0, 0),
    });
    (id, out)
}

async fn finished_run(s: &mut AppState) {
    s.lab.sampling.seed = 0;
    let effects = press(s, KeyCode::F(5));
    let (run, events) = events_of(effects).await;
    for event in events {
        update(s, Msg::Engine { run, event });
    }
}

#[test]
fn empty_lab() {
    let s = lab("gsm8k-cot");
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
}

#[test]
fn editing_examples() {
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Examples;
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Char(' ')); // example 2 off
    press(&mut s, KeyCode::Char('d')); // duplicate it
    assert_eq!(s.lab.examples.len(), 9);
    assert_eq!(s.lab.active_examples(), 7);
    press(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.popup,
        Some(Popup::Example(ExampleForm { index: 2, .. }))
    ));
    press_mod(&mut s, KeyCode::End, KeyModifiers::CONTROL);
    type_text(&mut s, " (edited)");
    insta::assert_snapshot!("example_editor", draw(&s, 140, 40).backend());
    press(&mut s, KeyCode::Esc);
    assert!(
        s.lab.examples[2].input.ends_with("(edited)"),
        "{}",
        s.lab.examples[2].input
    );
    insta::assert_snapshot!("examples_list", draw(&s, 140, 40).backend());
    assert!(!s.preview.contains("If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?\nA"));
}

#[tokio::test]
async fn run_in_progress() {
    let mut s = lab("gsm8k-cot");
    s.lab.sampling.seed = 0;
    let effects = press(&mut s, KeyCode::F(5));
    let (run, events) = events_of(effects).await;
    // Starts, and the first few chunks of every path.
    let mut seen = std::collections::HashMap::new();
    for e in events {
        let take = match &e {
            EngineEvent::PathStarted { .. } => true,
            EngineEvent::Chunk { path, .. } => {
                let n = seen.entry(*path).or_insert(0);
                *n += 1;
                *n <= 4 + path
            }
            _ => false,
        };
        if take {
            update(&mut s, Msg::Engine { run, event: e });
        }
    }
    assert!(s.is_running());
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
    // Esc cancels.
    let effects = press(&mut s, KeyCode::Esc);
    assert!(matches!(effects.as_slice(), [Effect::CancelRun]));
}

#[tokio::test]
async fn finished_run_with_tally_and_cluster_filter() {
    let mut s = lab("gsm8k-cot");
    finished_run(&mut s).await;
    assert!(!s.is_running());
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.tally().winner.as_deref(), Some("18"));
    insta::assert_snapshot!("finished_run", draw(&s, 140, 40).backend());

    s.focus = Focus::Tally;
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.sel.filter, Some(Some("22".to_string())));
    insta::assert_snapshot!("filtered_cluster", draw(&s, 140, 40).backend());

    s.focus = Focus::Paths;
    press(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.popup,
        Some(Popup::PathDetail(PathDetail { path: 2, .. }))
    ));
    insta::assert_snapshot!("path_detail", draw(&s, 140, 40).backend());
}

#[test]
fn help_lists_every_key() {
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Paths;
    press(&mut s, KeyCode::Char('?'));
    assert!(matches!(s.popup, Some(Popup::Help(Help { .. }))));
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
}

#[tokio::test]
async fn narrow_layout_pages() {
    let mut s = lab("gsm8k-cot");
    insta::assert_snapshot!("narrow_edit", draw(&s, 80, 24).backend());
    finished_run(&mut s).await;
    s.focus = Focus::Paths;
    insta::assert_snapshot!("narrow_run", draw(&s, 80, 24).backend());
}

#[test]
fn error_popup_for_an_empty_query() {
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Query;
    press_mod(&mut s, KeyCode::Char('a'), KeyModifiers::CONTROL); // line start
    press_mod(&mut s, KeyCode::Char('k'), KeyModifiers::CONTROL); // delete to end
    for _ in 0..5 {
        press(&mut s, KeyCode::Backspace);
        press_mod(&mut s, KeyCode::Char('k'), KeyModifiers::CONTROL);
    }
    assert_eq!(s.lab.query_text(), "");
    let effects = press(&mut s, KeyCode::F(5));
    assert!(effects.is_empty());
    assert!(matches!(&s.popup, Some(Popup::Error(ErrorBox(e))) if e.contains("query is empty")));
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
    press(&mut s, KeyCode::Esc);
    assert!(s.popup.is_none());
}

#[tokio::test]
async fn every_size_pane_and_popup_draws_without_panicking_or_overlapping() {
    let mut s = lab("gsm8k-cot");
    finished_run(&mut s).await;
    for popup in [
        None,
        Some(Popup::Help(Help { scroll: 0 })),
        Some(Popup::PathDetail(PathDetail {
            path: 0,
            scroll: 0,
            back: None,
        })),
    ] {
        s.popup = popup;
        for focus in Focus::ORDER {
            s.focus = focus;
            for zoom in [false, true] {
                s.zoom = zoom;
                // Zoom changes only the wide layout.
                let widths = if zoom { 120..=160 } else { 0..=160 };
                for w in widths.step_by(7) {
                    for h in (0..=50).step_by(5) {
                        draw(&s, w, h);
                        // No two panes share a cell, and none leaves the screen.
                        let area = ratatui::layout::Rect::new(0, 0, w, h);
                        let l = promptlab::tui::layout::layout(area, &s);
                        let rects: Vec<_> = l.panes.iter().map(|(_, r)| *r).collect();
                        for (i, a) in rects.iter().enumerate() {
                            assert!(area.contains(a.as_position()) || a.area() == 0, "{w}x{h}");
                            for b in &rects[i + 1..] {
                                assert!(
                                    a.intersection(*b).area() == 0,
                                    "{w}x{h}: {a:?} overlaps {b:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
        s.zoom = false;
    }
}

#[test]
fn typing_goes_to_the_focused_editor_and_updates_the_preview() {
    let mut s = lab("zero-shot-cot");
    s.focus = Focus::Instruction;
    type_text(&mut s, "Answer with care?");
    assert!(
        s.preview.starts_with("Answer with care?\n\nQ: "),
        "{}",
        s.preview
    );
    assert!(s.popup.is_none(), "'?' typed, not help");
    press(&mut s, KeyCode::F(2));
    assert_eq!(s.lab.strategy.as_str(), "direct");
    press_mod(&mut s, KeyCode::Up, KeyModifiers::ALT);
    assert_eq!(s.lab.sampling.n, 6);
}

#[tokio::test]
async fn runs_are_recorded_autosaved_browsed_and_compared() {
    let mut s = lab("gsm8k-cot");
    s.clock = || "2026-11-28T12:00:00Z".to_string();
    finished_run(&mut s).await;
    assert_eq!(s.session.runs.len(), 1);
    // The second run: N 5 -> 6 and chain of thought off.
    press_mod(&mut s, KeyCode::Up, KeyModifiers::ALT);
    press(&mut s, KeyCode::F(2));
    let effects = press(&mut s, KeyCode::F(5));
    let (run, events) = events_of(effects).await;
    let mut saved = vec![];
    for event in events {
        saved.extend(update(&mut s, Msg::Engine { run, event }));
    }
    assert!(
        matches!(saved.as_slice(), [Effect::SaveSession { session, .. }] if session.runs.len() == 2),
        "autosave after the run"
    );
    assert_eq!(s.history, Some(1));
    press_mod(&mut s, KeyCode::Left, KeyModifiers::ALT);
    assert_eq!(s.history, Some(0));
    assert_eq!(s.run.as_ref().unwrap().len(), 5, "run 1 exactly as it was");
    press_mod(&mut s, KeyCode::Right, KeyModifiers::ALT);
    press_mod(&mut s, KeyCode::Char('c'), KeyModifiers::ALT);
    assert!(matches!(
        s.popup,
        Some(Popup::Compare(CompareRuns { a: 0, b: 1, .. }))
    ));
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
    // Ctrl-S on an unnamed session asks a name, then saves there.
    press(&mut s, KeyCode::Esc);
    press_mod(&mut s, KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert!(matches!(s.popup, Some(Popup::SaveAs(SaveAs { .. }))));
    // The suggestion is selected: End keeps it, then typing adds to it.
    press(&mut s, KeyCode::End);
    press(&mut s, KeyCode::Char('2'));
    let e = press(&mut s, KeyCode::Enter);
    let Some(Effect::SaveSession { path, how, .. }) = e.first() else {
        panic!("{e:?}")
    };
    assert!(path.ends_with("gsm8k-cot2.yaml"));
    assert_eq!(*how, promptlab::store::writer::Write::Create);
    // The session moves to its name once the file is written (never over another file).
    assert!(!s.session.named);
    let landed = promptlab::store::writer::Landed::Written {
        path: path.clone(),
        merged: vec![],
    };
    update(&mut s, Msg::SessionSaved(Ok(landed)));
    assert!(s.session.named);
}

/// Enter in a setup form asks for the plan; the executor computes it on the scripted backend
/// (at half a second a path) and the lab shows it.
async fn planned(s: &mut AppState) {
    let effects = press(s, KeyCode::Enter);
    let Some(Effect::Plan {
        job,
        fields,
        template,
    }) = effects.into_iter().next()
    else {
        panic!("no plan asked")
    };
    let backend: Arc<dyn promptlab::backend::Backend> = demo_backend();
    let plan =
        promptlab::tui::plan::plan_line(job, fields.clone(), &template, backend, Some(0.5)).await;
    update(s, Msg::Planned { fields, plan });
}

/// Enter plans, Enter again starts: the effects of the second Enter.
async fn plan_then_start(s: &mut AppState) -> Vec<Effect> {
    planned(s).await;
    press(s, KeyCode::Enter)
}

#[tokio::test]
async fn the_eval_form_shows_the_plan_before_f7_starts_the_job() {
    let mut s = lab("gsm8k-cot");
    press(&mut s, KeyCode::F(7));
    planned(&mut s).await;
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(
        screen.contains("12 items × 2 variants × 5 samples = 120 paths"),
        "{screen}"
    );
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
    // A dataset that is not there: the executor's error shows instead, and nothing starts.
    let mut s = lab("gsm8k-cot");
    press(&mut s, KeyCode::F(7));
    press_mod(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut s, "no-such-dataset.jsonl");
    planned(&mut s).await;
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(screen.contains("no-such-dataset.jsonl"), "{screen}");
    assert!(!screen.contains("Enter starts"), "{screen}");
    assert!(
        press(&mut s, KeyCode::Enter)
            .iter()
            .all(|e| matches!(e, Effect::Plan { .. }))
    );
}

#[tokio::test]
async fn the_search_form_shows_the_search_plan() {
    let mut s = lab("gsm8k-direct");
    press(&mut s, KeyCode::F(8));
    planned(&mut s).await;
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(screen.contains("plan: 4 candidates × 2 rounds"), "{screen}");
    assert!(screen.contains("Enter starts"), "{screen}");
}

#[tokio::test]
async fn evaluation_view_with_table_chart_and_drill_down() {
    let mut s = lab("gsm8k-cot");
    press(&mut s, KeyCode::F(7));
    assert!(matches!(
        s.popup,
        Some(Popup::Setup(Setup {
            job: promptlab::tui::msg::JobForm::Eval,
            ..
        }))
    ));
    let effects = plan_then_start(&mut s).await;
    let Some(Effect::StartEval {
        dataset,
        vary,
        template,
        ..
    }) = effects.into_iter().next()
    else {
        panic!("no eval started")
    };
    assert_eq!(vary, vec!["strategy=direct,cot".to_string()]);
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dataset);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cache_dir = tempfile::tempdir().unwrap();
    // Its own cache: nothing shared with other tests through the environment.
    let cache = Some(Arc::new(Cache::open(cache_dir.path()).unwrap()));
    let ctx = promptlab::tui::JobContext {
        embedder: None,
        backends: None,
        backend: demo_backend(),
        concurrency: 4,
        cache,
        cancel: CancellationToken::new(),
        tx,
    };
    promptlab::tui::run_eval(dataset, vary, *template, ctx).await;
    while let Ok(m) = rx.try_recv() {
        let m = match m {
            Msg::Job(JobEvent::EvalStarted {
                items,
                variants,
                skipped,
                ..
            }) => Msg::Job(JobEvent::EvalStarted {
                dataset: "assets/arith-mini.jsonl".into(),
                items,
                variants,
                skipped,
            }),
            Msg::Job(JobEvent::VariantDone(mut r)) => {
                r.elapsed_ms = 1000;
                r.cost.seconds_per_item = 1.0 / r.per_item.len() as f64;
                Msg::Job(JobEvent::VariantDone(r))
            }
            other => other,
        };
        update(&mut s, m);
    }
    let ev = s.eval.as_ref().unwrap();
    assert!(!ev.running);
    assert_eq!(ev.results.len(), 2);
    assert_eq!(ev.results[0].per_item.len(), 12);
    // The verdict goes by the paired comparison, not by the higher figure.
    assert!(
        s.status.starts_with("evaluation done: ")
            && s.status.contains("than the baseline strategy=direct"),
        "{}",
        s.status
    );
    let versus = ev.results[1].stats.versus_baseline.as_ref().unwrap();
    assert_eq!(versus.against, "strategy=direct");
    insta::assert_snapshot!("eval_view", draw(&s, 140, 40).backend());
    // The chart takes the room a tall terminal gives: 0% and 100% far apart.
    let screen = format!("{:?}", draw(&s, 200, 50).backend());
    let rows: Vec<&str> = screen.lines().collect();
    let at = |label: &str| rows.iter().position(|r| r.contains(label)).unwrap();
    assert!(at("│0%  │") >= at("│100%│") + 15, "{screen}");
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.popup,
        Some(Popup::Eval(EvalBoard {
            detail: Some(1),
            ..
        }))
    ));
    insta::assert_snapshot!("eval_item_paths", draw(&s, 140, 40).backend());
}

#[tokio::test]
async fn least_to_most_path_shows_its_chain_as_a_tree() {
    let mut s = lab("least-to-most-math");
    finished_run(&mut s).await;
    s.focus = Focus::Paths;
    press(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.popup,
        Some(Popup::PathDetail(PathDetail { path: 0, .. }))
    ));
    insta::assert_snapshot!(draw(&s, 140, 30).backend());
}

/// Runs the lab's prompt search (what `StartOptimize` asks for) over `dataset` with `options`
/// on the scripted backend `script`, and feeds its events to the lab (the plan shown as
/// `shown` names its dataset).
async fn search_in_lab(
    s: &mut AppState,
    template: promptlab::core::template::Template,
    (dataset, options, shown): (std::path::PathBuf, String, &str),
    script: Script,
    dirs: &tempfile::TempDir,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = promptlab::tui::JobContext {
        embedder: None,
        backends: None,
        backend: Arc::new(ScriptedBackend::new(script)),
        concurrency: 4,
        cache: Some(Arc::new(Cache::open(dirs.path()).unwrap())),
        cancel: CancellationToken::new(),
        tx,
    };
    promptlab::tui::run_optimize(dataset, options, template, ctx).await;
    while let Ok(m) = rx.try_recv() {
        let m = match m {
            Msg::Job(JobEvent::SearchStarted(mut plan)) => {
                plan.dataset = shown.into();
                Msg::Job(JobEvent::SearchStarted(plan))
            }
            other => other,
        };
        update(s, m);
    }
}

#[tokio::test]
async fn prompt_search_leaderboard_fills_in_and_copies_into_the_editor() {
    let mut s = lab("gsm8k-direct");
    // The search scores with the lab's own N and temperature: one greedy sample here.
    s.lab.sampling.n = 1;
    s.lab.sampling.temperature = 0.0;
    press(&mut s, KeyCode::F(8));
    assert!(matches!(
        s.popup,
        Some(Popup::Setup(Setup {
            job: promptlab::tui::msg::JobForm::Optimize,
            ..
        }))
    ));
    let effects = plan_then_start(&mut s).await;
    let Some(Effect::StartOptimize {
        dataset,
        options,
        template,
        ..
    }) = effects.into_iter().next()
    else {
        panic!("no search started")
    };
    let dirs = tempfile::tempdir().unwrap();
    let script: Script = serde_saphyr::from_str(
        "responses:\n  - when: \"The instruction was to\"\n    text: \" add the numbers\"\n  - when: \"The instruction was to\"\n    text: \" compute the total\"\n  - when: \"Generate a variation\"\n    text: \" Sum up the numbers.\"\n  - text: \" The answer is 18.\"\n",
    )
    .unwrap();
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dataset);
    let shown = (dataset, options, "assets/arith-mini.jsonl");
    search_in_lab(&mut s, *template, shown, script, &dirs).await;
    let o = s.optimize.as_ref().unwrap();
    assert!(!o.running);
    assert!(
        o.standings
            .iter()
            .any(|c| c.instruction == "Sum up the numbers."),
        "{:?}",
        o.standings
    );
    assert!(
        o.standings.iter().any(|c| c.seed),
        "your instruction races too"
    );
    assert!(o.held.is_some());
    insta::assert_snapshot!(draw(&s, 140, 30).backend());
    // Every instruction scores alike here, so yours ranks first; the next row is a candidate.
    assert!(o.standings[0].seed);
    let first = o.standings[1].instruction.clone();
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Enter);
    assert!(s.popup.is_none());
    assert_eq!(
        s.lab.template().instruction.as_deref(),
        Some(first.as_str())
    );
    assert!(s.preview.starts_with(&first));
}

#[tokio::test]
async fn the_search_leaderboard_shows_intervals_dropped_candidates_and_the_verdict() {
    let mut s = lab("gsm8k-direct");
    // The search scores with the lab's own N and temperature: one greedy sample here.
    s.lab.sampling.n = 1;
    s.lab.sampling.temperature = 0.0;
    press(&mut s, KeyCode::F(8));
    let Some(Effect::StartOptimize { template, .. }) =
        plan_then_start(&mut s).await.into_iter().next()
    else {
        panic!("no search started")
    };
    let dirs = tempfile::tempdir().unwrap();
    // "Add the two numbers." makes the model right; "double it" and your template do not.
    let (script, data) = common::race_fixture(&dirs);
    let script: Script = serde_saphyr::from_str(&std::fs::read_to_string(script).unwrap()).unwrap();
    let options = "candidates=2 rounds=1 dev=16 batch=4 held=24".to_string();
    search_in_lab(
        &mut s,
        *template,
        (data, options, "fours.jsonl"),
        script,
        &dirs,
    )
    .await;
    let o = s.optimize.as_ref().unwrap();
    assert!(o.held.as_ref().is_some_and(|h| h.better));
    assert!(o.standings.iter().any(|c| c.dropped.is_some()));
    insta::assert_snapshot!(draw(&s, 140, 16).backend());
}

#[tokio::test]
async fn browsing_an_earlier_run_shows_its_own_prompt_and_settings() {
    let mut s = lab("gsm8k-cot");
    s.clock = || "2026-11-28T12:00:00Z".to_string();
    finished_run(&mut s).await;
    // Today's edits differ: direct, N 9, an instruction.
    press(&mut s, KeyCode::F(2));
    for _ in 0..4 {
        press_mod(&mut s, KeyCode::Up, KeyModifiers::ALT);
    }
    s.focus = Focus::Instruction;
    type_text(&mut s, "Today's instruction.");
    press_mod(&mut s, KeyCode::Left, KeyModifiers::ALT);
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(screen.contains("Prompt of run 1"), "{screen}");
    assert!(screen.contains("run 1 (read-only)"), "{screen}");
    assert!(screen.contains("N 5"), "the run's N, not today's 9");
    assert!(!screen.contains("Today's instruction.\\n\\nQ:"));
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
    press(&mut s, KeyCode::Esc);
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(screen.contains("N 9"), "back to the edits");
}

#[test]
fn the_settings_bar_scrolls_to_the_selected_setting_at_100_columns() {
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Settings;
    for _ in 0..promptlab::tui::state::bar_index(promptlab::core::settings::Key::Answer) {
        press(&mut s, KeyCode::Right);
    }
    let t = draw(&s, 100, 30);
    let bar = (0..100)
        .map(|x| t.backend().buffer()[(x, 27)].symbol().to_string())
        .collect::<String>();
    assert!(bar.contains("answer number"), "{bar}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn the_footer_at_80x24_always_shows_help_and_quit() {
    for focus in [Focus::Settings, Focus::Examples, Focus::Query, Focus::Paths] {
        let mut s = lab("gsm8k-cot");
        s.focus = focus;
        let t = draw(&s, 80, 24);
        let footer = (0..80)
            .map(|x| t.backend().buffer()[(x, 23)].symbol().to_string())
            .collect::<String>();
        assert!(
            footer.contains("F1 help") && footer.contains("quit"),
            "{focus:?}: {footer}"
        );
    }
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Examples;
    insta::assert_snapshot!(draw(&s, 80, 24).backend());
}

/// A reasoning model's path: the list says how long it thought, the path view shows the
/// thinking dimmed above the answer it voted with.
#[tokio::test]
async fn a_reasoning_path_shows_its_thinking_above_its_answer() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/reasoning-script.yaml"
    ))
    .unwrap();
    let script: Script = serde_saphyr::from_str(&yaml).unwrap();
    let backend = Arc::new(ScriptedBackend::new(script));
    let mut s = lab("gsm8k-direct");
    s.lab.query = promptlab::tui::state::editor("Sara had 10 pens and gave away 4.", "");
    s.lab.sampling.n = 3;
    let effects = press(&mut s, KeyCode::F(5));
    let Some(Effect::StartRun { id, plan }) = effects.into_iter().next() else {
        panic!("no run")
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    engine::run(backend, plan, Some(tx), CancellationToken::new()).await;
    while let Ok(mut event) = rx.try_recv() {
        // Timings fixed (under load a path's latency read "0.0s" or "0.1s").
        fixed_timings(&mut event);
        update(&mut s, Msg::Engine { run: id, event });
    }
    let run = s.run.as_ref().unwrap();
    assert_eq!(
        run.tally().winner.as_deref(),
        Some("6"),
        "never the thinking's decoy 14"
    );
    assert!(run.path(0).unwrap().thinking.contains("The answer is 14?"));
    s.focus = Focus::Paths;
    press(&mut s, KeyCode::Enter);
    let screen = format!("{:?}", draw(&s, 120, 30).backend());
    assert!(screen.contains("thinking"), "{screen}");
    insta::assert_snapshot!(draw(&s, 120, 30).backend());
}

/// `c` in the Paths pane: the winner beside one path of each other answer, their departures
/// from the winner highlighted, at the three widths the view adapts to.
#[tokio::test]
async fn paths_side_by_side_at_every_width() {
    let mut s = lab("gsm8k-cot");
    finished_run(&mut s).await;
    s.focus = Focus::Paths;
    press(&mut s, KeyCode::Char('c'));
    let Some(Popup::ComparePaths(c)) = &s.popup else {
        panic!("no compare view")
    };
    let winner = s.run.as_ref().unwrap().tally().winner.clone();
    let first = s.run.as_ref().unwrap().path(c.columns[0]).unwrap();
    assert_eq!(
        first.result.as_ref().unwrap().answer,
        winner,
        "the winner first"
    );
    assert!(
        c.columns.len() >= 3,
        "18, 22 and the unparsed path: {:?}",
        c.columns
    );
    assert!(
        c.texts[1].parts[0].1.iter().any(|w| w.differs),
        "another answer's words depart somewhere"
    );
    assert!(
        c.texts[0].parts[0].1.iter().all(|w| !w.differs),
        "the winner against itself: nothing marked"
    );
    let t = draw(&s, 160, 45);
    let marked = t
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.bg == ratatui::style::Color::Yellow)
        .count();
    assert!(marked > 0, "departures from the winner are highlighted");
    insta::assert_snapshot!("compare_160x45", t.backend());
    insta::assert_snapshot!("compare_100x30", draw(&s, 100, 30).backend());
    insta::assert_snapshot!("compare_60x20", draw(&s, 60, 20).backend());
    // Tab selects the next column, → steps through the paths of its answer (22 has one),
    // Enter opens that path.
    press(&mut s, KeyCode::Tab);
    let before = match &s.popup {
        Some(Popup::ComparePaths(c)) => c.columns[1],
        _ => panic!(),
    };
    press(&mut s, KeyCode::Right);
    let Some(Popup::ComparePaths(c)) = &s.popup else {
        panic!()
    };
    assert_eq!(c.selected, 1);
    assert_eq!(c.columns[1], before, "the only path that answered 22");
    let now = c.columns[1];
    press(&mut s, KeyCode::Enter);
    assert!(matches!(s.popup, Some(Popup::PathDetail(PathDetail { path, .. })) if path == now));
}

#[tokio::test]
async fn least_to_most_chains_side_by_side_step_by_step() {
    let mut s = lab("least-to-most-math");
    finished_run(&mut s).await;
    s.focus = Focus::Tally;
    press(&mut s, KeyCode::Char('c'));
    let Some(Popup::ComparePaths(c)) = &s.popup else {
        panic!("no compare view")
    };
    assert!(
        c.texts.iter().all(|t| t.parts.len() >= 2),
        "one part per step"
    );
    assert!(
        c.texts[0].parts[0]
            .0
            .as_deref()
            .unwrap()
            .starts_with("Q1: ")
    );
    insta::assert_snapshot!(draw(&s, 160, 45).backend());
}

#[tokio::test]
async fn early_stop_from_the_settings_bar_samples_fewer_paths_and_says_where_it_settled() {
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Settings;
    s.sel.setting = promptlab::tui::state::bar_index(promptlab::core::settings::Key::EarlyStop);
    press(&mut s, KeyCode::Enter);
    press_mod(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut s, "beta:0.9");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.lab.sampling.early_stop.to_string(), "beta:0.9");
    s.lab.sampling.n = 20;
    finished_run(&mut s).await;
    let run = s.run.as_ref().unwrap();
    let e = run.result().unwrap().early_stop.clone().unwrap();
    assert!(e.settled, "{e:?}");
    // Paths never sampled are not listed (neither as waiting nor as failed).
    assert_eq!(run.len(), e.samples_used);
    assert!(e.samples_used < 20);
    let shown = run.early_stop().unwrap();
    assert!(
        shown.contains(&format!("settled after {} of 20", e.samples_used)),
        "{shown}"
    );
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(screen.contains("early stop beta:0.9: settled"), "{screen}");
    // The setting travels with the session's record of the run.
    let record = s.session.runs.last().unwrap();
    assert_eq!(
        record.template.sampling.early_stop,
        s.lab.sampling.early_stop
    );
    assert_eq!(record.result.early_stop.as_ref(), Some(&e));
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
}

#[tokio::test]
async fn free_form_answers_show_as_clusters_with_their_wordings_and_dispersion() {
    let mut s = lab("trivia");
    assert_eq!(s.lab.answer.short(), "free:overlap:0.7");
    finished_run(&mut s).await;
    let run = s.run.as_ref().unwrap();
    let first = &run.tally().entries[0];
    assert_eq!(first.votes, 5, "{:?}", run.tally());
    assert_eq!(first.members.len(), 3);
    let screen = format!("{:?}", draw(&s, 140, 40).backend());
    assert!(screen.contains("3 wordings"), "{screen}");
    assert!(screen.contains("dispersion"), "{screen}");
    assert!(screen.contains("free-form: 3"), "{screen}");
    // Enter on the cluster filters its paths, every wording of it.
    s.focus = Focus::Tally;
    press(&mut s, KeyCode::Enter);
    let shown = s.run.as_ref().unwrap().visible(&s.sel.filter);
    assert_eq!(shown.len(), 5);
    insta::assert_snapshot!(draw(&s, 140, 40).backend());
}

#[test]
fn the_answer_setting_takes_a_free_form_rule_and_similarity() {
    let mut s = lab("gsm8k-cot");
    s.focus = Focus::Settings;
    s.sel.setting = promptlab::tui::state::bar_index(promptlab::core::settings::Key::Answer);
    press(&mut s, KeyCode::Enter);
    press_mod(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut s, "free:usc:0.6");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.lab.answer.short(), "free:usc:0.6");
    press(&mut s, KeyCode::Enter);
    press_mod(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    type_text(&mut s, "free:2");
    press(&mut s, KeyCode::Enter);
    assert!(
        s.status.contains("at most 1")
            || matches!(&s.popup, Some(Popup::Error(ErrorBox(e))) if e.contains("at most 1")),
        "{} {:?}",
        s.status,
        s.popup
    );
    assert_eq!(
        s.lab.answer.short(),
        "free:usc:0.6",
        "a bad value changes nothing"
    );
    // ↑/↓ walk the kinds; leaving free drops its rule and similarity.
    press(&mut s, KeyCode::Esc);
    press(&mut s, KeyCode::Up);
    assert_eq!(s.lab.answer.short(), "number");
    assert_eq!(s.lab.answer.similarity, None);
}

#[test]
fn the_model_picker_shows_each_models_source_size_and_file() {
    let mut s = lab("gsm8k-cot");
    let m = |name: &str, source: &str, size: u64, path: Option<&str>| promptlab::tui::ModelChoice {
        name: name.into(),
        source: source.into(),
        path: path.map(Into::into),
        size_bytes: size,
    };
    update(
        &mut s,
        Msg::Models(Ok(vec![
            m(
                "gemma-3-270m-q4_k_m.gguf",
                "promptlab",
                253_113_024,
                Some("/home/u/.cache/promptlab/models/gemma-3-270m-q4_k_m.gguf"),
            ),
            // An adapter under its base: the whole name, and its few MB to a tenth.
            m(
                "gemma-3-270m-q4_k_m.gguf + tickets-mlp",
                "adapter",
                4_718_592,
                Some("/home/u/.cache/promptlab/models/adapters/tickets-mlp.gguf"),
            ),
            m(
                "llama3.2:1b",
                "ollama",
                1_321_082_688,
                Some("/home/u/.ollama/models/blobs/sha256-74701a8c35f6"),
            ),
            m("Qwen/Qwen2.5-1.5B-Instruct", "server", 0, None),
        ])),
    );
    insta::assert_snapshot!(draw(&s, 140, 20).backend());
}
