//! Keys map to actions. Defaults below; the config file's `keys:` section replaces the keys of
//! any action, e.g. `keys: { run: [f5, ctrl-g], toggle-cot: [f2] }`.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    // Anywhere (also inside editors, so these use keys editors leave alone).
    Run,
    Resample,
    Cancel,
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    ToggleCot,
    CycleStrategy,
    CycleMode,
    MoreVotes,
    FewerVotes,
    NextQuery,
    OpenTemplate,
    SaveTemplate,
    SaveSession,
    SaveSessionAs,
    OpenSession,
    PrevRun,
    NextRun,
    Compare,
    Eval,
    Undo,
    Redo,
    Interrupt,
    Zoom,
    EditSideNarrower,
    EditSideWider,
    PickModel,
    Optimize,
    Tune,
    // In lists (examples, paths, tally, settings, pickers) when they have focus.
    Up,
    Down,
    Left,
    Right,
    Select,
    Back,
    Add,
    Duplicate,
    Delete,
    MoveUp,
    MoveDown,
    ToggleExample,
    Increase,
    Decrease,
    ComparePaths,
    AnalyseExamples,
}

impl Action {
    /// Actions that work everywhere, editors included.
    pub fn is_global(self) -> bool {
        self <= Action::Tune
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Run => "run: sample N paths and vote",
            Action::Resample => "run, sampling every path anew (not from the sample cache)",
            Action::Cancel => "cancel the run / close a popup",
            Action::Quit => "quit",
            Action::Help => "show every key",
            Action::FocusNext => "next pane",
            Action::FocusPrev => "previous pane",
            Action::ToggleCot => "chain of thought on/off (direct <-> cot)",
            Action::CycleStrategy => "cycle strategy: direct, cot, zero-shot-cot, least-to-most",
            Action::CycleMode => "cycle prompt mode: backend default, chat, completion",
            Action::MoreVotes => "N + 1",
            Action::FewerVotes => "N - 1",
            Action::NextQuery => "next query from the template",
            Action::OpenTemplate => "load a template",
            Action::SaveTemplate => "export the edits as a new template",
            Action::SaveSession => "save the session (asks a name the first time)",
            Action::SaveSessionAs => "save the session under a new name",
            Action::OpenSession => "open a session",
            Action::PrevRun => "show the previous run of the session",
            Action::NextRun => "show the next run of the session",
            Action::Compare => "compare the shown run with the one before it",
            Action::Eval => "evaluate the current prompt on a dataset (variants side by side)",
            Action::Optimize => "search for a better instruction (APE) on a dataset",
            Action::Tune => "tune: train a LoRA adapter or a learning curve on a dataset",
            Action::PickModel => "switch the model (a GGUF here, or one of the server's)",
            Action::Undo => "undo (typing in an editor; else examples, settings, loads)",
            Action::Redo => "redo",
            Action::Interrupt => "cancel the run; with none running, quit (the session is saved)",
            Action::Zoom => "the run side (paths, tally, prompt) over the whole width, and back",
            Action::EditSideNarrower => "narrower edit side (remembered in the config file)",
            Action::EditSideWider => "wider edit side (remembered in the config file)",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "previous setting",
            Action::Right => "next setting",
            Action::Select => "edit example / open path / filter by answer",
            Action::Back => "clear the answer filter",
            Action::Add => "add an example",
            Action::Duplicate => "duplicate the example",
            Action::Delete => "delete the example",
            Action::MoveUp => "move the example up",
            Action::MoveDown => "move the example down",
            Action::ToggleExample => "switch the example on/off",
            Action::Increase => "increase the setting",
            Action::Decrease => "decrease the setting",
            Action::ComparePaths => "read paths side by side, one per answer (Paths or Tally pane)",
            Action::AnalyseExamples => {
                "analyse the examples on a dataset: each one's contribution, label controls, orders"
            }
        }
    }
}

/// A key with modifiers, written like `ctrl-g`, `alt-up`, `f5`, `shift-tab`, `a`, `space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        // Shift is part of the character itself ('A'), and BackTab implies it.
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(e.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        let code = match e.code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            c => c,
        };
        Key { code, mods }
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let lower = s.trim().to_string();
        let mut parts: Vec<&str> = lower.split('-').collect();
        // "-" alone or "alt--" mean the minus key.
        let mut last = parts.pop().unwrap_or_default().to_string();
        if last.is_empty() && !parts.is_empty() {
            parts.pop();
            last = "-".into();
        }
        for m in parts {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "c" => mods |= KeyModifiers::CONTROL,
                "alt" | "a" | "m" => mods |= KeyModifiers::ALT,
                "shift" | "s" => mods |= KeyModifiers::SHIFT,
                other => return Err(format!("unknown modifier `{other}` in key `{s}`")),
            }
        }
        let code = match last.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" => KeyCode::Insert,
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ if last.chars().count() == 1 => {
                let c = last.chars().next().unwrap_or(' ');
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => return Err(format!("unknown key `{s}`")),
        };
        if matches!(code, KeyCode::Char(_)) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Ok(Key { code, mods })
    }

    /// Keys an editor does not use itself.
    pub fn is_editor_safe(&self) -> bool {
        matches!(
            self.code,
            KeyCode::F(_) | KeyCode::Esc | KeyCode::Tab | KeyCode::BackTab
        ) || self
            .mods
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("Alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            s.push_str("Shift-");
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
            KeyCode::BackTab => s.push_str("Shift-Tab"),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::Left => s.push('←'),
            KeyCode::Right => s.push('→'),
            other => s.push_str(&format!("{other:?}")),
        }
        s
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<Key>>,
}

fn keys(list: &[&str]) -> Vec<Key> {
    list.iter().filter_map(|k| Key::parse(k).ok()).collect()
}

impl Default for Keymap {
    fn default() -> Self {
        use Action::*;
        let table: &[(Action, &[&str])] = &[
            (Run, &["f5", "ctrl-g"]),
            (Resample, &["shift-f5", "alt-r"]),
            (Cancel, &["esc"]),
            (Quit, &["ctrl-q"]),
            (Help, &["f1", "?"]),
            (FocusNext, &["tab"]),
            (FocusPrev, &["shift-tab"]),
            (ToggleCot, &["f2", "ctrl-t"]),
            (CycleStrategy, &["f3"]),
            (CycleMode, &["f4"]),
            (MoreVotes, &["alt-up", "alt-="]),
            (FewerVotes, &["alt-down", "alt--"]),
            (NextQuery, &["f6", "alt-q"]),
            (OpenTemplate, &["alt-t"]),
            (SaveTemplate, &["alt-e"]),
            (SaveSession, &["ctrl-s"]),
            (SaveSessionAs, &["alt-s"]),
            (OpenSession, &["ctrl-o"]),
            (PrevRun, &["alt-left", "["]),
            (NextRun, &["alt-right", "]"]),
            (Compare, &["alt-c"]),
            (Eval, &["f7", "alt-v"]),
            (Optimize, &["f8", "alt-o"]),
            (Tune, &["f10", "alt-a"]),
            (PickModel, &["alt-m"]),
            (Undo, &["ctrl-z"]),
            (Redo, &["ctrl-y"]),
            (Interrupt, &["ctrl-c"]),
            (Zoom, &["f9", "alt-z"]),
            (EditSideNarrower, &["alt-,"]),
            (EditSideWider, &["alt-."]),
            (Up, &["up", "k"]),
            (Down, &["down", "j"]),
            (Left, &["left", "h"]),
            (Right, &["right", "l"]),
            (Select, &["enter"]),
            (Back, &["backspace"]),
            (Add, &["a"]),
            (Duplicate, &["d"]),
            (Delete, &["x", "delete"]),
            (MoveUp, &["shift-up", "K"]),
            (MoveDown, &["shift-down", "J"]),
            (ToggleExample, &["space"]),
            (Increase, &["+", "="]),
            (Decrease, &["-"]),
            (ComparePaths, &["c"]),
            (AnalyseExamples, &["A"]),
        ];
        Keymap {
            bindings: table.iter().map(|(a, k)| (*a, keys(k))).collect(),
        }
    }
}

impl Keymap {
    /// Defaults with the user's `keys:` overrides.
    pub fn with_overrides(overrides: &BTreeMap<Action, Vec<String>>) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        for (action, list) in overrides {
            let parsed = list
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<Vec<_>, _>>()?;
            map.bindings.insert(*action, parsed);
        }
        if map.bindings.get(&Action::Quit).is_none_or(Vec::is_empty) {
            return Err("keys: `quit` needs at least one key, or the lab has no way out".into());
        }
        Ok(map)
    }

    /// The action bound to `key`. Inside an editor only global actions on keys an editor
    /// does not need (function keys, Esc, Tab, Ctrl/Alt chords) count, so typing "?" or "a"
    /// types it.
    pub fn action(&self, key: &KeyEvent, in_editor: bool) -> Option<Action> {
        let k = Key::from_event(key);
        if in_editor && !k.is_editor_safe() {
            return None;
        }
        self.bindings
            .iter()
            .filter(|(a, _)| !in_editor || a.is_global())
            .find(|(_, ks)| ks.contains(&k))
            .map(|(a, _)| *a)
    }

    pub fn keys_of(&self, action: Action) -> String {
        self.bindings
            .get(&action)
            .map(|ks| ks.iter().map(Key::label).collect::<Vec<_>>().join("/"))
            .unwrap_or_default()
    }

    pub fn first_key(&self, action: Action) -> String {
        self.bindings
            .get(&action)
            .and_then(|ks| ks.first())
            .map(Key::label)
            .unwrap_or_default()
    }

    pub fn all(&self) -> impl Iterator<Item = (Action, String)> + '_ {
        self.bindings.keys().map(|a| (*a, self.keys_of(*a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn a_keymap_without_quit_is_refused() {
        let mut o = BTreeMap::new();
        o.insert(Action::Quit, vec![]);
        assert!(Keymap::with_overrides(&o).unwrap_err().contains("quit"));
        o.insert(Action::Quit, vec!["ctrl-x".to_string()]);
        assert!(Keymap::with_overrides(&o).is_ok());
    }

    #[test]
    fn parses_and_matches_keys() {
        let k = Keymap::default();
        assert_eq!(
            k.action(&ev(KeyCode::F(5), KeyModifiers::NONE), true),
            Some(Action::Run)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('g'), KeyModifiers::CONTROL), true),
            Some(Action::Run)
        );
        assert_eq!(
            k.action(&ev(KeyCode::BackTab, KeyModifiers::SHIFT), true),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('K'), KeyModifiers::SHIFT), false),
            Some(Action::MoveUp)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('a'), KeyModifiers::NONE), true),
            None,
            "typing is free in editors"
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('?'), KeyModifiers::NONE), true),
            None
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('?'), KeyModifiers::NONE), false),
            Some(Action::Help)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('-'), KeyModifiers::ALT), true),
            Some(Action::FewerVotes)
        );
    }

    #[test]
    fn overrides_replace_keys() {
        let mut o = BTreeMap::new();
        o.insert(Action::Run, vec!["ctrl-r".to_string()]);
        let k = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            k.action(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL), true),
            Some(Action::Run)
        );
        assert_eq!(k.action(&ev(KeyCode::F(5), KeyModifiers::NONE), true), None);
        o.insert(Action::Quit, vec!["hyper-x".to_string()]);
        assert!(Keymap::with_overrides(&o).is_err());
    }
}
