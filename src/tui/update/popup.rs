//! Keys while a popup is open.

use crossterm::event::KeyEvent;

use super::{open_eval_setup, open_optimize_setup, save_session};
use crate::tui::keymap::Action;
use crate::tui::msg::Effect;
use crate::tui::state::{AppState, Lab, Popup, SaveWhat, editor_text};

/// Submits the evaluation or prompt-search form on screen: checks the dataset, the options
/// (`KEY=V1,V2` variants, or `candidates=… rounds=…`) and the current edits, then starts it.
fn start_job(s: &mut AppState, dataset: String, options: String) -> Vec<Effect> {
    let eval = matches!(s.popup, Some(Popup::EvalSetup { .. }));
    let vary: Vec<String> = options.split_whitespace().map(String::from).collect();
    let checked = if dataset.is_empty() {
        Err("give a dataset file".to_string())
    } else if eval {
        crate::core::variants::parse_vary(&vary).map(|_| ())
    } else {
        options
            .parse::<crate::core::ape::SearchOptions>()
            .map(|_| ())
    };
    if let Err(e) = checked {
        s.status = e;
        return vec![];
    }
    let template = Box::new(s.lab.template());
    if let Err(e) = template.validate() {
        s.popup = Some(Popup::Error(e));
        return vec![];
    }
    let (dataset, concurrency) = (dataset.into(), s.concurrency);
    if eval {
        s.eval = None;
        s.popup = Some(Popup::Eval {
            detail: None,
            scroll: 0,
        });
        vec![Effect::StartEval {
            dataset,
            vary,
            template,
            concurrency,
        }]
    } else {
        s.optimize = None;
        s.popup = Some(Popup::Optimize { selected: 0 });
        vec![Effect::StartOptimize {
            dataset,
            options,
            template,
            concurrency,
        }]
    }
}

pub(super) fn popup_key(s: &mut AppState, k: KeyEvent) -> Vec<Effect> {
    let a = s.keymap.action(&k, false);
    let Some(popup) = s.popup.as_mut() else {
        return vec![];
    };
    match popup {
        Popup::Help { scroll } => match a {
            Some(Action::Up) => *scroll = scroll.saturating_sub(1),
            Some(Action::Down) => *scroll = scroll.saturating_add(1),
            _ => s.popup = None,
        },
        Popup::Error(_) => {
            if matches!(a, Some(Action::Cancel | Action::Select | Action::Back)) {
                s.popup = None;
            }
            if a == Some(Action::Quit) {
                // Quitting works through an error, as everywhere.
                s.popup = None;
                return super::action(s, Action::Quit);
            }
        }
        Popup::PathDetail { path, scroll } => match a {
            Some(Action::Up) => *scroll = scroll.saturating_sub(1),
            Some(Action::Down) => *scroll = scroll.saturating_add(1),
            Some(Action::Left) => {
                *path = path.saturating_sub(1);
                *scroll = 0;
            }
            Some(Action::Right) => {
                let n = s.run.as_ref().map_or(1, |r| r.paths.len());
                *path = (*path + 1).min(n.saturating_sub(1));
                *scroll = 0;
            }
            Some(Action::Cancel | Action::Select | Action::Back) => s.popup = None,
            _ => {}
        },
        Popup::Picker { items, selected } => match a {
            Some(Action::Up) => *selected = selected.saturating_sub(1),
            Some(Action::Down) => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
            Some(Action::Select) => match items.get(*selected).map(|i| i.template.clone()) {
                Some(Ok(t)) => {
                    s.lab = Lab::from_template(&t);
                    s.sel = Default::default();
                    s.status = format!("loaded template {}", t.name);
                    s.popup = None;
                    s.refresh_preview();
                }
                Some(Err(e)) => s.popup = Some(Popup::Error(e)),
                None => s.popup = None,
            },
            Some(Action::Cancel) => s.popup = None,
            _ => {}
        },
        Popup::SaveAs { name, what } => match a {
            Some(Action::Cancel) => s.popup = None,
            Some(Action::Select) => {
                let what = *what;
                let name = editor_text(name).trim().to_string();
                if !valid_name(&name) {
                    s.status = "a name uses letters, digits, '-' and '_'".into();
                    return vec![];
                }
                s.popup = None;
                if what == SaveWhat::Session {
                    s.session.path = s.session.dir.join(format!("{name}.yaml"));
                    s.session.named = true;
                    return vec![save_session(s)];
                }
                let mut template = s.lab.template();
                template.name.clone_from(&name);
                s.lab.name.clone_from(&name);
                return vec![Effect::SaveTemplate {
                    name,
                    template: Box::new(template),
                }];
            }
            _ => {
                name.input(k);
            }
        },
        Popup::Sessions { items, selected } => match a {
            Some(Action::Up) => *selected = selected.saturating_sub(1),
            Some(Action::Down) => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
            Some(Action::Select) => {
                let path = items.get(*selected).map(|i| i.path.clone());
                s.popup = None;
                if let Some(path) = path {
                    return vec![Effect::OpenSession(path)];
                }
            }
            Some(Action::Cancel) => s.popup = None,
            _ => {}
        },
        Popup::EvalSetup { editors, field } | Popup::OptimizeSetup { editors, field } => {
            match s.keymap.action(&k, true) {
                Some(Action::FocusNext | Action::FocusPrev) => *field = 1 - *field,
                Some(Action::Cancel) => s.popup = None,
                _ if a == Some(Action::Select) => {
                    let (dataset, options) = (
                        editor_text(&editors[0]).trim().to_string(),
                        editor_text(&editors[1]),
                    );
                    return start_job(s, dataset, options);
                }
                _ => {
                    editors[*field].input(k);
                }
            }
        }
        Popup::Eval { detail, scroll } => {
            let ev = s.eval.as_mut();
            match (a, ev) {
                (Some(Action::Cancel), _) if detail.is_some() => *detail = None,
                (Some(Action::Cancel), _) => s.popup = None,
                (Some(Action::Delete), Some(ev)) if ev.running => return vec![Effect::CancelEval],
                (Some(Action::Add), Some(ev)) if !ev.running => open_eval_setup(s),
                (Some(Action::Left), Some(ev)) => ev.variant = ev.variant.saturating_sub(1),
                (Some(Action::Right), Some(ev)) => {
                    ev.variant = (ev.variant + 1).min(ev.results.len().saturating_sub(1))
                }
                (Some(Action::Up), Some(_)) if detail.is_some() => {
                    *scroll = scroll.saturating_sub(1)
                }
                (Some(Action::Down), Some(_)) if detail.is_some() => {
                    *scroll = scroll.saturating_add(1)
                }
                (Some(Action::Up), Some(ev)) => ev.item = ev.item.saturating_sub(1),
                (Some(Action::Down), Some(ev)) => {
                    ev.item = (ev.item + 1).min(ev.items.saturating_sub(1))
                }
                (Some(Action::Select), Some(ev)) if ev.results.get(ev.variant).is_some() => {
                    *detail = if detail.is_some() {
                        None
                    } else {
                        Some(ev.item)
                    };
                    *scroll = 0;
                }
                _ => {}
            }
        }
        Popup::Optimize { selected } => {
            let running = s.optimize.as_ref().is_some_and(|o| o.running);
            let board: Vec<String> = s
                .optimize
                .as_ref()
                .map(|o| {
                    o.leaderboard()
                        .iter()
                        .map(|c| c.instruction.clone())
                        .collect()
                })
                .unwrap_or_default();
            match a {
                Some(Action::Cancel) => s.popup = None,
                Some(Action::Up) => *selected = selected.saturating_sub(1),
                Some(Action::Down) => {
                    *selected = (*selected + 1).min(board.len().saturating_sub(1))
                }
                Some(Action::Delete) if running => return vec![Effect::CancelOptimize],
                Some(Action::Add) if !running => open_optimize_setup(s),
                Some(Action::Select) => {
                    if let Some(instruction) = board.get(*selected) {
                        s.lab.instruction = crate::tui::state::editor(instruction, "");
                        s.status = "the instruction is in the editor: run it, or export the template (Alt-E)".into();
                        s.popup = None;
                        s.refresh_preview();
                    }
                }
                _ => {}
            }
        }
        Popup::Compare {
            a: first,
            b: second,
            scroll,
        } => match a {
            Some(Action::Up) => *scroll = scroll.saturating_sub(1),
            Some(Action::Down) => *scroll = scroll.saturating_add(1),
            Some(Action::Left) if *first > 0 => {
                *first -= 1;
                *scroll = 0;
            }
            Some(Action::Right) if *second + 1 < s.session.runs.len() => {
                *second += 1;
                *scroll = 0;
            }
            Some(Action::Cancel | Action::Select | Action::Back) => s.popup = None,
            _ => {}
        },
        Popup::Example {
            index,
            field,
            editors,
        } => {
            let tab = s.keymap.action(&k, true);
            match tab {
                Some(Action::FocusNext) => *field = (*field + 1) % 3,
                Some(Action::FocusPrev) => *field = (*field + 2) % 3,
                Some(Action::Cancel) => {
                    let index = *index;
                    let [input, rationale, answer] = editors.as_ref();
                    let rationale = editor_text(rationale);
                    if let Some(e) = s.lab.examples.get_mut(index) {
                        e.input = editor_text(input);
                        e.rationale = Some(rationale).filter(|r| !r.trim().is_empty());
                        e.answer = editor_text(answer);
                    }
                    s.popup = None;
                    s.refresh_preview();
                }
                _ => {
                    editors[*field].input(k);
                }
            }
        }
    }
    vec![]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
