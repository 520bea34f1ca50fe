//! The session picker's housekeeping (issue 26 item 23): `d` deletes a session file after a
//! yes that names it, `r` renames it; the files are touched by the executor only.

use crate::tui::popups::*;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use crossterm::event::KeyCode;

use super::tests::{key, lab};
use super::*;
use crate::store::session::ListedSession;

fn listed(path: &str) -> ListedSession {
    ListedSession {
        path: PathBuf::from(path),
        created: "2026-12-01T10:00:00Z".into(),
        template: "gsm8k-cot".into(),
        runs: 2,
        modified: UNIX_EPOCH,
        error: None,
    }
}

/// The picker open on two autosaves, the second selected.
fn picker() -> AppState {
    let mut s = lab();
    s.session.path = PathBuf::from("/s/autosave-open.yaml");
    update(
        &mut s,
        Msg::Sessions(vec![
            listed("/s/autosave-1.yaml"),
            listed("/s/autosave-2.yaml"),
        ]),
    );
    key(&mut s, KeyCode::Down);
    s
}

#[test]
fn d_asks_naming_the_file_and_deletes_it_on_yes() {
    let mut s = picker();
    assert!(key(&mut s, KeyCode::Char('d')).is_empty());
    let Some(Popup::Confirm(Confirm { question, .. })) = &s.popup else {
        panic!("no question: {:?}", s.popup);
    };
    assert!(question.contains("/s/autosave-2.yaml"), "{question}");
    let e = key(&mut s, KeyCode::Char('y'));
    assert!(
        matches!(&e[..], [Effect::DeleteSession(p)] if p == &PathBuf::from("/s/autosave-2.yaml")),
        "{e:?}"
    );
    // The executor reports; the picker comes back without it.
    let e = update(
        &mut s,
        Msg::SessionDeleted(Ok(PathBuf::from("/s/autosave-2.yaml"))),
    );
    assert!(
        s.status.contains("deleted") && s.status.contains("autosave-2"),
        "{}",
        s.status
    );
    assert!(matches!(&e[..], [Effect::ListSessions]), "{e:?}");
    // The last one gone, the message still says what was deleted.
    update(&mut s, Msg::Sessions(vec![]));
    assert!(
        s.status.starts_with("deleted") && s.status.contains("no sessions"),
        "{}",
        s.status
    );
}

#[test]
fn d_then_no_deletes_nothing_and_returns_to_the_picker() {
    let mut s = picker();
    key(&mut s, KeyCode::Char('d'));
    assert!(key(&mut s, KeyCode::Char('n')).is_empty());
    assert!(
        matches!(
            &s.popup,
            Some(Popup::Sessions(Sessions { selected: 1, .. }))
        ),
        "{:?}",
        s.popup
    );
}

#[test]
fn the_open_session_is_not_deleted_under_the_lab() {
    let mut s = lab();
    s.session.path = PathBuf::from("/s/autosave-open.yaml");
    update(&mut s, Msg::Sessions(vec![listed("/s/autosave-open.yaml")]));
    assert!(key(&mut s, KeyCode::Char('d')).is_empty());
    assert!(matches!(s.popup, Some(Popup::Sessions(Sessions { .. }))));
    assert!(s.status.contains("open"), "{}", s.status);
}

#[test]
fn r_renames_with_the_name_selected_and_refuses_invalid_names() {
    let mut s = picker();
    key(&mut s, KeyCode::Char('r'));
    let Some(Popup::RenameSession(RenameSession { from, name })) = &s.popup else {
        panic!("no rename editor: {:?}", s.popup);
    };
    assert_eq!(from, &PathBuf::from("/s/autosave-2.yaml"));
    assert_eq!(name.text(), "autosave-2");
    // The name is selected: typing replaces it.
    for c in "../x".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(s.status.contains("refused"), "{}", s.status);
    assert!(matches!(
        s.popup,
        Some(Popup::RenameSession(RenameSession { .. }))
    ));
    for _ in 0..4 {
        key(&mut s, KeyCode::Backspace);
    }
    for c in "fractions".chars() {
        key(&mut s, KeyCode::Char(c));
    }
    let e = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(&e[..], [Effect::RenameSession { from, to }]
            if from == &PathBuf::from("/s/autosave-2.yaml")
            && to == &PathBuf::from("/s/fractions.yaml")),
        "{e:?}"
    );
    // A name taken is refused by the executor; the editor stays to choose another.
    update(
        &mut s,
        Msg::SessionRenamed(Err("/s/fractions.yaml already exists".into())),
    );
    assert!(s.status.contains("already exists"), "{}", s.status);
    assert!(matches!(
        s.popup,
        Some(Popup::RenameSession(RenameSession { .. }))
    ));
    let e = update(
        &mut s,
        Msg::SessionRenamed(Ok((
            PathBuf::from("/s/autosave-2.yaml"),
            PathBuf::from("/s/fractions2.yaml"),
        ))),
    );
    assert!(s.status.contains("fractions2"), "{}", s.status);
    assert!(matches!(&e[..], [Effect::ListSessions]), "{e:?}");
}

#[test]
fn renaming_the_open_autosave_names_the_session() {
    let mut s = picker();
    update(
        &mut s,
        Msg::SessionRenamed(Ok((
            PathBuf::from("/s/autosave-open.yaml"),
            PathBuf::from("/s/kept.yaml"),
        ))),
    );
    assert_eq!(s.session.path, PathBuf::from("/s/kept.yaml"));
    assert!(s.session.named);
}
