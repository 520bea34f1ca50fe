//! The status line (issue 26 item 18): a message lasts until the next input that says
//! nothing, gets the width it needs beside the run's statistics, and shows under popups.

use crate::tui::popups::*;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::tests::{key, lab, run_done};
use super::*;

/// The row `y` of the lab drawn at `w`x`h`.
fn row(s: &AppState, w: u16, h: u16, y: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| crate::tui::view::view(s, f)).unwrap();
    let b = t.backend().buffer();
    (0..w).map(|x| b[(x, y)].symbol().to_string()).collect()
}

#[test]
fn a_message_is_gone_at_the_next_key_that_says_nothing() {
    let mut s = lab();
    update(&mut s, Msg::Paste("x".into()));
    assert!(s.status.contains("pasted text"), "{}", s.status);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.status, "");
    // A key that says something replaces it.
    update(&mut s, Msg::Paste("x".into()));
    key(&mut s, KeyCode::F(5));
    assert!(!s.status.contains("pasted text"), "{}", s.status);
}

#[test]
fn a_long_message_is_not_cut_under_the_run_statistics() {
    let mut s = lab();
    key(&mut s, KeyCode::F(5));
    run_done(&mut s, 1, true);
    let message = "the session opens when the run has ended: wait now";
    s.status = message.into();
    let line = row(&s, 80, 24, 22);
    assert!(line.contains(message), "{line:?}");
    assert!(
        line.contains("run 1"),
        "the statistics shorten, not vanish: {line:?}"
    );
}

#[test]
fn a_popup_leaves_the_status_line_visible() {
    let mut s = lab();
    s.popup = Some(Popup::Optimize(Leaderboard { selected: 0 }));
    s.status = "search done: no usable instruction was proposed".into();
    let line = row(&s, 100, 30, 28);
    assert!(
        line.contains("no usable instruction was proposed"),
        "{line:?}"
    );
}

/// The compare view scrolled to its end shows its last line on the last row, and stops there
/// (issue 26 item 14): its extent is the lines it draws, not an estimate.
#[test]
fn the_compare_view_stops_scrolling_at_its_last_line() {
    let mut s = lab();
    update(&mut s, Msg::Resize(100, 30));
    s.lab.sampling.n = 2;
    key(&mut s, KeyCode::F(5));
    let long: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    for (i, (a, t)) in [("18", long.join(" ")), ("22", "short. 22".into())]
        .into_iter()
        .enumerate()
    {
        let mut p = super::tests::done(i, Some(a));
        p.stages[0].text = t;
        update(
            &mut s,
            Msg::Engine {
                run: 1,
                event: crate::engine::EngineEvent::PathDone(p),
            },
        );
    }
    run_done(&mut s, 1, false);
    s.focus = crate::tui::state::Focus::Paths;
    key(&mut s, KeyCode::Char('c'));
    key(&mut s, KeyCode::End);
    let scroll = |s: &AppState| match &s.popup {
        Some(Popup::ComparePaths(c)) => c.scroll,
        other => panic!("not the compare view: {other:?}"),
    };
    let end = scroll(&s);
    assert!(end > 0, "the long column scrolls");
    let body = crate::tui::layout::layout(ratatui::layout::Rect::new(0, 0, 100, 30), &s).body;
    let last = row(&s, 100, 30, body.y + body.height - 2);
    assert!(
        last.contains("w299"),
        "the last word on the last row: {last:?}"
    );
    key(&mut s, KeyCode::Down);
    assert_eq!(scroll(&s), end);
    key(&mut s, KeyCode::Up);
    assert_eq!(scroll(&s), end - 1, "one Up moves back at once");
}

/// The path popup scrolled to its end shows its last word on its last row and stops there.
#[test]
fn the_path_popup_stops_scrolling_at_its_last_line() {
    let mut s = lab();
    update(&mut s, Msg::Resize(100, 30));
    s.lab.sampling.n = 1;
    key(&mut s, KeyCode::F(5));
    let long: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
    let mut p = super::tests::done(0, Some("18"));
    p.stages[0].text = format!("{}\n\nSo 18.", long.join(" "));
    update(
        &mut s,
        Msg::Engine {
            run: 1,
            event: crate::engine::EngineEvent::PathDone(p),
        },
    );
    run_done(&mut s, 1, false);
    s.focus = crate::tui::state::Focus::Paths;
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::End);
    let scroll = |s: &AppState| match &s.popup {
        Some(Popup::PathDetail(PathDetail { scroll, .. })) => *scroll,
        other => panic!("not the path popup: {other:?}"),
    };
    let end = scroll(&s);
    assert!(end > 0, "the long text scrolls");
    // The popup's last inner row: 2 rows above the screen's end, inside its border.
    let last = row(&s, 100, 30, 30 - 2 - 2);
    assert!(
        last.contains("So 18."),
        "the last line on the last row: {last:?}"
    );
    key(&mut s, KeyCode::Down);
    assert_eq!(scroll(&s), end);
    key(&mut s, KeyCode::Up);
    assert_eq!(scroll(&s), end - 1);
}

#[test]
fn a_paste_goes_into_the_open_rooms_field_one_line_where_the_field_is_one_line() {
    let mut s = lab();
    let editors = |texts: [&str; 3]| Box::new(texts.map(|t| crate::tui::state::editor(t, "")));
    let mut fields = crate::tui::popups::fields::Fields::new(editors(["", "", ""]));
    fields.at = 1;
    s.popup = Some(Popup::Example(ExampleForm {
        index: 0,
        fields,
        fresh: false,
    }));
    update(&mut s, Msg::Paste("first\r\nsecond".into()));
    let Some(Popup::Example(e)) = &s.popup else {
        panic!("{:?}", s.popup)
    };
    assert_eq!(e.fields.text(1), "first\nsecond");
    // The answer is one line.
    if let Some(Popup::Example(e)) = s.popup.as_mut() {
        e.fields.at = 2;
    }
    update(&mut s, Msg::Paste("4\n2".into()));
    let Some(Popup::Example(e)) = &s.popup else {
        panic!("{:?}", s.popup)
    };
    assert_eq!(e.fields.text(2), "4 2");
    // A room without a field takes nothing, and says nothing.
    s.popup = Some(Popup::Help(Help::default()));
    update(&mut s, Msg::Paste("x".into()));
    assert!(matches!(s.popup, Some(Popup::Help(_))));
    assert_eq!(s.status, "");
}
