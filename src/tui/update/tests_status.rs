//! The status line (issue 26 item 18): a message lasts until the next input that says
//! nothing, gets the width it needs beside the run's statistics, and shows under popups.

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
    s.popup = Some(Popup::Optimize { selected: 0 });
    s.status = "search done: no usable instruction was proposed".into();
    let line = row(&s, 100, 30, 28);
    assert!(
        line.contains("no usable instruction was proposed"),
        "{line:?}"
    );
}
