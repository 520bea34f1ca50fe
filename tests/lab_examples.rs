//! The lab's demonstrations analysis (issue 27): `A` in the Examples pane opens the analysis
//! form, its plan line shows before Enter starts it, the job runs on the scripted backend and
//! the Examples pane then shows each example's contribution until the examples change.

use promptlab::tui::popups::*;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use promptlab::backend::scripted::{Script, ScriptedBackend, ScriptedResponse};
use promptlab::backend::{Backend, BackendInfo};
use promptlab::core::render::Mode;
use promptlab::store::template::resolve;
use promptlab::tui::JobContext;
use promptlab::tui::keymap::Keymap;
use promptlab::tui::msg::{Effect, JobForm, Msg};
use promptlab::tui::state::{AppState, Focus, Popup};
use promptlab::tui::update::update;
use promptlab::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio_util::sync::CancellationToken;

fn press(s: &mut AppState, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, mods)))
}

fn screen(s: &AppState) -> String {
    let mut t = Terminal::new(TestBackend::new(140, 40)).unwrap();
    t.draw(|f| view(s, f)).unwrap();
    format!("{}", t.backend())
}

#[tokio::test]
async fn a_analyses_the_examples_and_the_pane_shows_each_contribution_until_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sports.jsonl");
    // Right when the model says "plausible"; it does only with the Rashford example shown.
    let lines: String = (0..10)
        .map(|i| {
            let target = if i < 7 { "plausible" } else { "implausible" };
            format!("{{\"id\": {i}, \"input\": \"Is sentence {i} plausible?\", \"target\": \"{target}\"}}\n")
        })
        .collect();
    std::fs::write(&data, lines).unwrap();
    let backend: Arc<dyn Backend> = Arc::new(ScriptedBackend::new(Script {
        model: Some("sports-script".into()),
        responses: vec![
            ScriptedResponse {
                when: Some("Marcus Rashford".into()),
                ..ScriptedResponse::text(" plausible")
            },
            ScriptedResponse::text(" implausible"),
        ],
    }));
    let (t, _) = resolve("sports").unwrap();
    let mut s = AppState::new(&t, Keymap::default(), Instant::now());
    update(
        &mut s,
        Msg::Backend(Ok(BackendInfo::new(
            "scripted",
            "sports-script",
            Mode::Completion,
        ))),
    );
    update(&mut s, Msg::BackendState("ready".into()));
    s.focus = Focus::Examples;

    press(&mut s, KeyCode::Char('A'), KeyModifiers::SHIFT);
    assert!(
        matches!(
            s.popup,
            Some(Popup::Setup(Setup {
                job: promptlab::tui::msg::JobForm::Examples,
                ..
            }))
        ),
        "{:?}",
        s.popup
    );
    press(&mut s, KeyCode::Char('u'), KeyModifiers::CONTROL);
    for c in data.display().to_string().chars() {
        press(&mut s, KeyCode::Char(c), KeyModifiers::NONE);
    }
    let effects = press(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let [
        Effect::Plan {
            job,
            fields,
            template,
        },
    ] = effects.as_slice()
    else {
        panic!("no plan asked: {effects:?}");
    };
    assert_eq!(*job, JobForm::Examples);
    assert_eq!(fields.1, "orders=8");
    let plan =
        promptlab::tui::plan::plan_line(*job, fields.clone(), template, backend.clone(), None)
            .await;
    assert!(
        plan.as_ref().unwrap().starts_with("19 example sets: "),
        "{plan:?}"
    );
    update(
        &mut s,
        Msg::Planned {
            fields: fields.clone(),
            plan,
        },
    );
    assert!(screen(&s).contains("19 example sets"));
    let effects = press(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let [
        Effect::StartExamples {
            dataset,
            orders,
            sampled,
            template,
            ..
        },
    ] = effects.as_slice()
    else {
        panic!("not started: {effects:?}");
    };
    assert_eq!((*orders, *sampled), (8, false));
    assert!(
        matches!(s.popup, Some(Popup::Eval(EvalBoard { .. }))),
        "the sets show as an evaluation"
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = JobContext {
        backend,
        embedder: None,
        backends: None,
        concurrency: 4,
        cache: None,
        cancel: CancellationToken::new(),
        tx,
    };
    promptlab::tui::demos::run(dataset.clone(), (*orders, false), (**template).clone(), ctx).await;
    while let Ok(m) = rx.try_recv() {
        update(&mut s, m);
    }
    assert!(s.status.starts_with("examples analysed: "), "{}", s.status);
    assert!(
        s.status.contains("this model does not read your labels"),
        "{}",
        s.status
    );
    assert_eq!(s.eval.as_ref().unwrap().results.len(), 19);
    // The evaluation view charts the label controls and the order spread.
    let ev = s.eval.as_ref().unwrap();
    assert!(promptlab::tui::panes::demos_chart::is_analysis(ev));
    let sections = promptlab::tui::panes::demos_chart::sections(&ev.results);
    let names: Vec<&str> = sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(names, ["label controls", "order spread over 8 orders"]);
    let controls: Vec<&str> = sections[0].1.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        controls,
        [
            "gold labels",
            "random labels",
            "no examples",
            "flipped labels"
        ]
    );
    let view = screen(&s);
    assert!(view.contains("order spread over 8 orders"), "{view}");
    // The chart alone (the view's table has timings that vary from run to run).
    let ev = s.eval.as_ref().unwrap();
    let height = promptlab::tui::panes::demos_chart::height(ev);
    assert_eq!(height, 1 + 5 + 5);
    let mut t = Terminal::new(TestBackend::new(100, height)).unwrap();
    t.draw(|f| promptlab::tui::panes::demos_chart::draw(f, f.area(), ev))
        .unwrap();
    insta::assert_snapshot!("examples_eval_chart", format!("{}", t.backend()));
    press(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    let shown = promptlab::tui::panes::examples::contributions(&s).expect("contributions");
    let rashford = shown.iter().find(|c| c.example == 4).unwrap();
    assert!((rashford.paired.unwrap().diff - 0.4).abs() < 1e-9);
    // The pane says how the answers were read (a script cannot score options: sampled).
    assert!(
        screen(&s).contains("· leave-one-out, sampled"),
        "{}",
        screen(&s)
    );
    insta::assert_snapshot!("examples_with_contributions", screen(&s));

    // Switching an example off changes the examples: the contributions go.
    press(&mut s, KeyCode::Char(' '), KeyModifiers::NONE);
    assert!(promptlab::tui::panes::examples::contributions(&s).is_none());
    assert!(!screen(&s).contains("· leave-one-out"));
}
