//! Issue 26's lab polish: each test drives `update` with keys and looks at the state.

use crate::tui::popups::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tests::{key, lab};
use super::update;
use crate::core::settings::Key;
use crate::tui::msg::{Effect, Msg};
use crate::tui::state::{Focus, bar_index};

fn ctrl(s: &mut crate::tui::state::AppState, c: char) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn typed(s: &mut crate::tui::state::AppState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

#[test]
fn a_typed_setting_replaces_the_value_it_opened_with() {
    let mut s = lab();
    s.focus = Focus::Settings;
    s.lab.sampling.n = 5;
    s.sel.setting = bar_index(Key::N);
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "8");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.lab.sampling.n, 8, "{}", s.status);
    s.lab.sampling.temperature = 0.8;
    s.sel.setting = bar_index(Key::Temperature);
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "0.9");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.lab.sampling.temperature, 0.9, "{}", s.status);
    // → keeps the value and types after it.
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Right);
    typed(&mut s, "5");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.lab.sampling.temperature, 0.95, "{}", s.status);
}

#[test]
fn esc_in_an_editor_leaves_it_and_the_run_goes_on() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    s.focus = Focus::Instruction;
    typed(&mut s, " x");
    let e = key(&mut s, KeyCode::Esc);
    assert!(e.is_empty(), "{e:?}");
    assert!(s.is_running() && !s.run.as_ref().unwrap().cancelling);
    assert!(!s.focus.is_editor());
    assert!(s.status.contains("goes on"), "{}", s.status);
    // Where no field has focus, Esc cancels.
    let e = key(&mut s, KeyCode::Esc);
    assert!(matches!(e.as_slice(), [Effect::CancelRun]), "{e:?}");
}

#[test]
fn typing_is_undone_a_word_at_a_time() {
    let mut s = lab();
    s.focus = Focus::Instruction;
    let before = s.lab.template().instruction.unwrap_or_default();
    typed(&mut s, " Solve carefully.");
    let undos = (1..=16)
        .find(|_| {
            ctrl(&mut s, 'z');
            s.lab.template().instruction.unwrap_or_default() == before
        })
        .expect("the typing is undone");
    assert!(undos <= 3, "{undos} Ctrl-Z for two words");
}

/// A finished run of five paths: 18, 22, 18, 22, 18.
fn voted() -> crate::tui::state::AppState {
    let mut s = lab();
    s.lab.sampling.n = 5;
    key(&mut s, KeyCode::F(5));
    for (i, a) in ["18", "22", "18", "22", "18"].iter().enumerate() {
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: crate::engine::EngineEvent::PathDone(super::tests::done(i, Some(a))),
            },
        );
    }
    super::tests::run_done(&mut s, 1, false);
    s
}

fn compare(s: &crate::tui::state::AppState) -> &ComparePaths {
    match &s.popup {
        Some(crate::tui::state::Popup::ComparePaths(c)) => c,
        other => panic!("not the compare view: {other:?}"),
    }
}

fn answer_of(s: &crate::tui::state::AppState, path: usize) -> Option<String> {
    s.run.as_ref().unwrap().paths[path]
        .result
        .as_ref()
        .and_then(|r| r.answer.clone())
}

#[test]
fn arrows_in_a_compare_column_step_through_that_answers_paths() {
    let mut s = voted();
    s.focus = Focus::Paths;
    key(&mut s, KeyCode::Char('c'));
    key(&mut s, KeyCode::Tab);
    let c = compare(&s);
    assert_eq!(answer_of(&s, c.columns[c.selected]).as_deref(), Some("22"));
    let mut seen = vec![];
    for _ in 0..4 {
        key(&mut s, KeyCode::Right);
        let c = compare(&s);
        seen.push(c.columns[c.selected]);
    }
    assert_eq!(seen, vec![3, 1, 3, 1], "only the paths that answered 22");
    key(&mut s, KeyCode::Left);
    let c = compare(&s);
    assert_eq!(c.columns[c.selected], 3);
}

#[test]
fn esc_from_a_path_opened_in_compare_returns_to_the_view() {
    let mut s = voted();
    s.focus = Focus::Paths;
    key(&mut s, KeyCode::Char('c'));
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.popup,
        Some(crate::tui::state::Popup::PathDetail(PathDetail {
            path: 3,
            ..
        }))
    ));
    key(&mut s, KeyCode::Esc);
    let c = compare(&s);
    assert_eq!((c.selected, c.columns[c.selected]), (1, 3), "choices kept");
    key(&mut s, KeyCode::Esc);
    assert!(s.popup.is_none());
}

#[test]
fn c_from_the_tally_selects_that_answers_column() {
    let mut s = voted();
    s.focus = Focus::Tally;
    let run = s.run.as_ref().unwrap();
    s.sel.tally = run
        .tally
        .entries
        .iter()
        .position(|e| e.answer.as_deref() == Some("22"))
        .unwrap();
    key(&mut s, KeyCode::Char('c'));
    let c = compare(&s);
    assert_eq!(answer_of(&s, c.columns[c.selected]).as_deref(), Some("22"));
}

/// The screen as lines of text.
fn screen(s: &crate::tui::state::AppState, w: u16, h: u16) -> Vec<String> {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| crate::tui::view::view(s, f)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

#[test]
fn the_compare_view_covers_the_panes_beneath_it() {
    let mut s = voted();
    s.focus = Focus::Paths;
    key(&mut s, KeyCode::Char('c'));
    for (w, h) in [(120, 40), (80, 24)] {
        let rows = screen(&s, w, h);
        for row in &rows[1..rows.len() - 3] {
            let left: String = row.chars().take(2).collect();
            let right: String = row.chars().skip(w as usize - 2).collect();
            for edge in [left, right] {
                let borders = edge.chars().filter(|c| "│╭╮╰╯".contains(*c)).count();
                assert!(borders < 2, "a border beneath shows at {w}x{h}: {row}");
            }
        }
    }
}

fn with_text(i: usize, answer: &str, text: &str) -> crate::core::record::PathRecord {
    let mut p = super::tests::done(i, Some(answer));
    p.stages[0].text = text.into();
    p
}

#[test]
fn path_rows_give_the_text_most_of_the_width() {
    let mut s = lab();
    s.lab.sampling.n = 2;
    key(&mut s, KeyCode::F(5));
    let texts = [
        "Janet sells eggs. The answer is 18.",
        "Janet sells eggs. She keeps none of them for muffins today, so the answer is 22.",
    ];
    for (i, (a, t)) in [("18", texts[0]), ("22", texts[1])].into_iter().enumerate() {
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: crate::engine::EngineEvent::PathDone(with_text(i, a, t)),
            },
        );
    }
    s.focus = Focus::Paths;
    let rows = screen(&s, 120, 40);
    assert!(
        rows.iter()
            .any(|r| r.contains("She keeps none of them for")),
        "{}",
        rows.join("\n")
    );
}

#[test]
fn a_streaming_row_shows_its_latest_words() {
    let mut s = lab();
    s.lab.sampling.n = 1;
    key(&mut s, KeyCode::F(5));
    let text: String = (1..40).map(|i| format!("word{i} ")).collect::<String>() + "LATEST";
    for event in [
        crate::engine::EngineEvent::PathStarted { path: 0 },
        crate::engine::EngineEvent::Chunk { path: 0, text },
    ] {
        update(&mut s, Msg::Engine { run: 1, event });
    }
    s.focus = Focus::Paths;
    for (w, h) in [(120, 40), (160, 45), (80, 24)] {
        let rows = screen(&s, w, h);
        assert!(
            rows.iter().any(|r| r.contains("word39 LATEST")),
            "{w}x{h}: {}",
            rows.join("\n")
        );
    }
}

#[test]
fn an_answer_read_by_the_last_number_fallback_is_highlighted() {
    use ratatui::style::Color;
    let text = "Tom had $5 and spent $3. How much is left? He has $2";
    let t = crate::tui::panes::path::highlighted(text, 0, Some("2"));
    let hits: Vec<String> = t
        .lines
        .iter()
        .flat_map(|l| l.spans.iter())
        .filter(|s| s.style.bg == Some(Color::Green))
        .map(|s| s.content.to_string())
        .collect();
    assert_eq!(hits, vec!["2"]);
    let line: String = t.lines[0]
        .spans
        .iter()
        .map(|s| s.content.as_ref())
        .collect();
    assert!(line.ends_with("He has $2"), "{line}");
}

#[test]
fn an_unfocused_query_shows_its_start_and_hints_are_cut_with_an_ellipsis() {
    let mut s = lab();
    let question = format!(
        "START How many eggs? {}END?",
        "Janet counts every egg twice. ".repeat(12)
    );
    s.lab.query = crate::tui::state::editor(&question, "type a question");
    s.lab.instruction = crate::tui::state::editor(
        "",
        "(no instruction: type one, or leave it to the examples)",
    );
    s.focus = Focus::Settings;
    for (w, h) in [(80, 24), (120, 40)] {
        let rows = screen(&s, w, h);
        assert!(
            rows.iter().any(|r| r.contains("START How many eggs?")),
            "{w}x{h}: {}",
            rows.join("\n")
        );
    }
    let rows = screen(&s, 120, 40);
    let hint = rows
        .iter()
        .find(|r| r.contains("(no instruction"))
        .expect("the hint shows");
    let cell: String = hint
        .split("(no instruction")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| *c != '│')
        .collect();
    assert!(cell.trim_end().ends_with('…'), "{hint}");
}

#[test]
fn help_scrolls_to_its_end_and_no_further_and_page_keys_never_close_it() {
    let mut s = lab();
    s.size = (120, 30);
    key(&mut s, KeyCode::F(1));
    let (_, max) = crate::tui::popups::keys::help_extent(&s);
    assert!(max > 0);
    for code in [
        KeyCode::PageDown,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
    ] {
        key(&mut s, code);
        assert!(s.popup.is_some(), "{code:?} closed Help");
    }
    key(&mut s, KeyCode::End);
    for _ in 0..5 {
        key(&mut s, KeyCode::Down);
    }
    key(&mut s, KeyCode::Up);
    assert!(
        matches!(s.popup, Some(crate::tui::state::Popup::Help(Help { scroll })) if scroll == max - 1),
        "one Up back from the end"
    );
}

#[test]
fn a_cancel_with_no_answers_says_so() {
    let mut s = lab();
    s.lab.sampling.n = 8;
    key(&mut s, KeyCode::F(5));
    let paths: Vec<_> = (0..8)
        .map(|i| {
            let mut p = crate::core::record::PathRecord::new(i);
            p.error = Some("cancelled".into());
            p
        })
        .collect();
    for p in &paths {
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: crate::engine::EngineEvent::PathDone(p.clone()),
            },
        );
    }
    let result = crate::engine::RunResult::from_paths(
        paths,
        10,
        true,
        &crate::core::record::Voting::exact(),
    );
    update(
        &mut s,
        Msg::Engine {
            run: 1,
            event: crate::engine::EngineEvent::RunDone(result),
        },
    );
    let rows = screen(&s, 120, 40).join("\n");
    assert!(!rows.contains("waiting for the first path"), "{rows}");
    assert!(rows.contains("cancelled before any path"), "{rows}");
    assert!(rows.contains("0/8 paths · cancelled"), "{rows}");
}

#[test]
fn footers_follow_the_popup_and_name_compare() {
    let mut s = voted();
    s.focus = Focus::Paths;
    let footer = |s: &crate::tui::state::AppState| screen(s, 160, 45).last().cloned().unwrap();
    assert!(footer(&s).contains("c compare"), "{}", footer(&s));
    s.focus = Focus::Tally;
    assert!(footer(&s).contains("c compare"), "{}", footer(&s));
    key(&mut s, KeyCode::Char('c'));
    assert!(s.popup.is_some(), "{}", s.status);
    let f = footer(&s);
    assert!(f.contains("Tab column") && !f.contains("F5"), "{f}");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::F(5));
    ctrl(&mut s, 'q');
    let f = footer(&s);
    assert!(f.contains("Esc no") && !f.contains("Esc cancel"), "{f}");
    assert!(
        crate::tui::keymap::Action::CycleStrategy
            .describe()
            .contains("least-to-most")
    );
}

#[test]
fn ctrl_q_during_a_run_asks_first() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    assert!(ctrl(&mut s, 'q').is_empty());
    assert!(!s.quit && s.is_running() && !s.run.as_ref().unwrap().cancelling);
    assert!(matches!(
        s.popup,
        Some(crate::tui::state::Popup::Confirm(Confirm { .. }))
    ));
    key(&mut s, KeyCode::Char('n'));
    assert!(s.popup.is_none() && s.is_running() && !s.quit);
}

#[test]
fn the_model_picker_marks_the_model_in_use_and_zoom_says_so() {
    let mut s = lab();
    let choice = |name: &str| crate::tui::state::ModelChoice {
        name: name.into(),
        source: "server".into(),
        path: None,
        size_bytes: 0,
    };
    update(&mut s, Msg::Models(Ok(vec![choice("other"), choice("m")])));
    let rows = screen(&s, 120, 40);
    let line = rows
        .iter()
        .find(|r| r.contains("● ") && r.contains("server"))
        .expect("a mark");
    assert!(line.contains("● m "), "{line}");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::F(9));
    assert!(screen(&s, 160, 45)[0].contains("zoomed"));
}

#[test]
fn esc_from_the_history_shows_the_latest_run_and_alt_c_compares_it() {
    let mut s = lab();
    super::tests::open(&mut s, "three", 3);
    key(&mut s, KeyCode::Char('['));
    key(&mut s, KeyCode::Char('['));
    assert_eq!(s.history, Some(0));
    key(&mut s, KeyCode::Esc);
    assert!(!s.viewing);
    assert_eq!(s.history, Some(2), "beside the edits: the latest run");
    super::tests::alt(&mut s, KeyCode::Char('c'));
    assert!(
        matches!(
            s.popup,
            Some(crate::tui::state::Popup::Compare(CompareRuns {
                a: 1,
                b: 2,
                ..
            }))
        ),
        "{}",
        s.status
    );
}

fn click(s: &mut crate::tui::state::AppState, column: u16, row: u16) {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    update(
        s,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    );
}

#[test]
fn the_page_tabs_can_be_clicked_and_a_double_click_opens_a_path() {
    let mut s = lab();
    s.size = (80, 24);
    let rows = screen(&s, 80, 24);
    let x = rows[1].find(" Run ").expect("the tabs") as u16;
    click(&mut s, x + 1, 1);
    assert_eq!(s.focus, Focus::Paths);
    let mut s = voted();
    s.size = (120, 40);
    let area = ratatui::layout::Rect::new(0, 0, 120, 40);
    let paths = crate::tui::layout::layout(area, &s)
        .panes
        .iter()
        .find(|(f, _)| *f == Focus::Paths)
        .unwrap()
        .1;
    let row = paths.y + 1 + 2;
    click(&mut s, paths.x + 5, row);
    assert!(s.popup.is_none(), "one click selects");
    assert_eq!(s.sel.path, 2);
    click(&mut s, paths.x + 5, row);
    assert!(matches!(
        s.popup,
        Some(crate::tui::state::Popup::PathDetail(PathDetail {
            path: 2,
            ..
        }))
    ));
}

#[test]
fn the_status_line_says_what_f4_f6_a_setting_and_an_undo_did() {
    let mut s = lab();
    key(&mut s, KeyCode::F(4));
    assert!(s.status.starts_with("mode: "), "{}", s.status);
    key(&mut s, KeyCode::F(6));
    assert!(s.status.starts_with("query 2 of"), "{}", s.status);
    s.focus = Focus::Settings;
    s.sel.setting = bar_index(Key::Effort);
    key(&mut s, KeyCode::Up);
    assert!(s.status.starts_with("effort: "), "{}", s.status);
    s.focus = Focus::Examples;
    key(&mut s, KeyCode::Char('x'));
    ctrl(&mut s, 'z');
    assert_eq!(s.status, "undone: the examples");
}
