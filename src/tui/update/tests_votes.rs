//! How the lab reads and compares votes: strict answers from the settings bar, and Alt-C's
//! verdict on the winner's share.

use crossterm::event::KeyCode;

use super::tests::{done, key, lab, run_done};
use super::*;
use crate::core::settings::Key;
use crate::engine::EngineEvent;
use crate::tui::state::bar_index;

/// A run of the kind on screen: three paths restate the question (their last number,
/// 2, is read by the fallback), one states 9.
fn restating_run(s: &mut AppState) {
    key(s, KeyCode::F(5));
    let number = crate::core::extract::Extractor::new(&s.lab.answer).unwrap();
    let texts = [
        "She sells the rest daily for $2 per fresh duck egg.",
        "She sells 9 eggs. The answer is 9.",
        "She sells the rest daily for $2 per fresh duck egg.",
        "She sells the rest daily for $2 per fresh duck egg.",
        "She bakes muffins with 4.",
    ];
    for (i, t) in texts.iter().enumerate() {
        let mut p = done(i, None);
        p.stages[0].text = t.to_string();
        crate::core::record::settle(&mut p, &number, "");
        update(
            s,
            Msg::Engine {
                run: 1,
                event: EngineEvent::PathDone(p),
            },
        );
    }
    run_done(s, 1, false);
}

#[test]
fn strict_answers_from_the_settings_bar_set_fallback_votes_aside() {
    let mut s = lab();
    restating_run(&mut s);
    let t = &s.run.as_ref().unwrap().tally;
    assert_eq!(t.winner.as_deref(), Some("2"));
    assert_eq!(
        t.entries[0].fallback, 3,
        "the tally knows its fallback votes"
    );
    s.focus = Focus::Settings;
    s.sel.setting = bar_index(Key::Strict);
    key(&mut s, KeyCode::Up);
    assert!(s.lab.answer.strict);
    let t = &s.run.as_ref().unwrap().tally;
    assert_eq!(t.winner.as_deref(), Some("9"));
    assert_eq!(t.entry(None).map(|e| (e.votes, e.fallback)), Some((4, 4)));
    assert!(s.session.runs[0].template.answer.strict, "the run keeps it");
    assert!(s.status.contains("strict"), "{}", s.status);
    // Typed: off brings the fallback votes back.
    super::panes::set_typed(&mut s, Key::Strict, "off").unwrap();
    assert_eq!(s.run.as_ref().unwrap().tally.winner.as_deref(), Some("2"));
    assert!(super::panes::set_typed(&mut s, Key::Strict, "maybe").is_err());
}
