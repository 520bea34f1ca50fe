//! Typing in an editor, undone a word at a time as editors do: a word and the spaces after it,
//! a line break, a run of deletions, whatever came before a pause, or one paste is one step.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

/// A pause this long ends an undo step.
pub const PAUSE: Duration = Duration::from_secs(1);
/// Steps kept per editor.
const KEEP: usize = 100;

/// What a key does to the text, for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Space,
    Delete,
    /// A line break, a paste, a cut: always a step of its own.
    Alone,
}

#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    text: String,
    cursor: (usize, usize),
}

/// One editor's undo steps: the text before each step, and the steps undone.
#[derive(Debug, Clone, Default)]
pub struct Typing {
    undo: Vec<Snapshot>,
    redo: Vec<Snapshot>,
    /// The kind and time of the last edit, while a step is still open.
    last: Option<(Kind, Instant)>,
}

fn snapshot(ed: &TextArea<'_>) -> Snapshot {
    let c = ed.cursor();
    Snapshot {
        text: editor_text(ed),
        cursor: (c.0, c.1),
    }
}

fn restore(ed: &mut TextArea<'static>, s: Snapshot) {
    let mut fresh = editor(&s.text, ed.placeholder_text());
    let (row, col) = s.cursor;
    fresh.move_cursor(CursorMove::Jump(
        u16::try_from(row).unwrap_or(u16::MAX),
        u16::try_from(col).unwrap_or(u16::MAX),
    ));
    *ed = fresh;
}

fn kind(k: &KeyEvent) -> Kind {
    let plain = !k
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match k.code {
        KeyCode::Char(c) if plain && c.is_whitespace() => Kind::Space,
        KeyCode::Char(_) if plain => Kind::Word,
        KeyCode::Tab => Kind::Space,
        KeyCode::Backspace | KeyCode::Delete => Kind::Delete,
        _ => Kind::Alone,
    }
}

impl Typing {
    /// Applies key `k` to `ed`; returns whether the text changed.
    pub fn input(&mut self, ed: &mut TextArea<'static>, k: KeyEvent, now: Instant) -> bool {
        let before = snapshot(ed);
        if !ed.input(k) {
            // A cursor move ends the step: typing elsewhere is another one.
            if snapshot(ed).cursor != before.cursor {
                self.last = None;
            }
            return false;
        }
        let kind = kind(&k);
        let continues = match self.last {
            Some((last, at)) if now.saturating_duration_since(at) < PAUSE => matches!(
                (last, kind),
                (Kind::Word, Kind::Word)
                    | (Kind::Word | Kind::Space, Kind::Space)
                    | (Kind::Delete, Kind::Delete)
            ),
            _ => false,
        };
        if !continues {
            self.push(before);
        }
        self.last = (kind != Kind::Alone).then_some((kind, now));
        true
    }

    /// Inserts `text` as one step; returns whether anything was inserted.
    pub fn insert(&mut self, ed: &mut TextArea<'static>, text: String) -> bool {
        let before = snapshot(ed);
        if !ed.insert_str(text) {
            return false;
        }
        self.push(before);
        self.last = None;
        true
    }

    fn push(&mut self, s: Snapshot) {
        self.undo.push(s);
        if self.undo.len() > KEEP {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Undoes (or redoes) one step of `ed`; false when there is none.
    pub fn step(&mut self, ed: &mut TextArea<'static>, back: bool) -> bool {
        let (from, to) = if back {
            (&mut self.undo, &mut self.redo)
        } else {
            (&mut self.redo, &mut self.undo)
        };
        let Some(s) = from.pop() else {
            return false;
        };
        to.push(snapshot(ed));
        restore(ed, s);
        self.last = None;
        true
    }

    /// Forgets every step (the editor's text was replaced from outside).
    pub fn clear(&mut self) {
        *self = Typing::default();
    }
}

pub fn editor(text: &str, placeholder: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(String::from).collect()
    };
    let mut t = TextArea::new(lines);
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.set_placeholder_text(placeholder);
    t.set_cursor_line_style(ratatui::style::Style::default());
    // Typing continues the text: the cursor starts at its end.
    t.move_cursor(ratatui_textarea::CursorMove::Bottom);
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

pub fn editor_text(t: &TextArea<'_>) -> String {
    t.lines().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(t: &mut Typing, ed: &mut TextArea<'static>, text: &str, now: Instant) {
        for c in text.chars() {
            t.input(ed, KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), now);
        }
    }

    #[test]
    fn words_are_undone_a_word_at_a_time() {
        let now = Instant::now();
        let mut ed = editor("", "");
        let mut t = Typing::default();
        typed(&mut t, &mut ed, "Solve carefully.", now);
        assert!(t.step(&mut ed, true));
        assert_eq!(editor_text(&ed), "Solve ");
        assert!(t.step(&mut ed, true));
        assert_eq!(editor_text(&ed), "");
        assert!(!t.step(&mut ed, true));
        assert!(t.step(&mut ed, false));
        assert!(t.step(&mut ed, false));
        assert_eq!(editor_text(&ed), "Solve carefully.");
    }

    #[test]
    fn a_pause_or_a_cursor_move_ends_a_step() {
        let now = Instant::now();
        let mut ed = editor("", "");
        let mut t = Typing::default();
        typed(&mut t, &mut ed, "ab", now);
        typed(&mut t, &mut ed, "cd", now + PAUSE);
        t.step(&mut ed, true);
        assert_eq!(editor_text(&ed), "ab");
        t.input(
            &mut ed,
            KeyEvent::new(KeyCode::Left, KeyModifiers::NONE),
            now,
        );
        typed(&mut t, &mut ed, "x", now + PAUSE);
        typed(&mut t, &mut ed, "y", now + PAUSE);
        assert_eq!(editor_text(&ed), "axyb");
        t.step(&mut ed, true);
        assert_eq!(editor_text(&ed), "ab");
    }
}
