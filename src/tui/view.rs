//! `view(&AppState, &mut Frame)`: draws the lab and changes nothing, in the areas `layout`
//! gives (the same ones `update` hit-tests the mouse against).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::keymap::Action;
use super::layout::{MIN_H, MIN_W, Page, layout, page};
use super::panes;
use super::popups::Room;
use super::state::{AppState, Focus};

pub fn view(s: &AppState, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_W || area.height < MIN_H {
        let msg = format!(
            "promptlab needs at least {MIN_W}x{MIN_H} (now {}x{})",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let l = layout(area, s);
    header(s, f, l.header);
    if let Some(t) = l.tabs {
        tabs(s, f, t);
    }
    for (pane, rect) in &l.panes {
        let focused = s.focus == *pane && s.popup.is_none();
        match pane {
            Focus::Instruction => {
                panes::editor::draw(f, *rect, "Instruction", &s.lab.instruction, focused)
            }
            Focus::Query => panes::query::draw(f, *rect, s, focused),
            Focus::Examples => panes::examples::draw(f, *rect, s, focused),
            Focus::Settings => panes::settings::draw(f, *rect, s, focused),
            Focus::Paths => panes::paths::draw(f, *rect, s, focused),
            Focus::Tally => panes::tally::draw(f, *rect, s, focused),
            Focus::Prompt => panes::prompt::draw(f, *rect, s, focused),
        }
    }
    status(s, f, l.status);
    footer(s, f, l.footer);
    if let Some(p) = &s.popup {
        p.draw(f, area, s);
    }
}

/// "session NAME · run 2/5 " when there is something to say.
fn session_label(s: &AppState) -> String {
    let runs = s.session.runs.len();
    if !s.session.named && runs == 0 {
        return String::new();
    }
    let name = if s.session.named {
        s.session.name()
    } else {
        "unsaved".into()
    };
    let plural = if runs == 1 { "" } else { "s" };
    match (s.history, s.viewing) {
        (Some(i), true) => format!("· session {name} · viewing run {}/{runs} ", i + 1),
        (Some(i), false) => format!("· session {name} · run {}/{runs} ", i + 1),
        (None, _) => format!("· session {name} · {runs} run{plural} "),
    }
}

fn header(s: &AppState, f: &mut Frame, area: Rect) {
    let backend = match &s.backend {
        Some(b) => format!("{} ({})", b.label(), s.backend_state),
        None => s.backend_state.clone(),
    };
    let line = Line::from(vec![
        Span::styled(
            " promptlab ",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" {} ", s.lab.name)),
        Span::styled(session_label(s), Style::default().fg(Color::Magenta)),
        Span::styled(
            match s.tune.as_ref().filter(|t| t.running()) {
                Some(t) => format!("· {} ", t.headline()),
                None => String::new(),
            },
            Style::default().fg(Color::Green),
        ),
        Span::styled(
            if s.zoom {
                format!(
                    "· zoomed ({}: both sides) ",
                    s.keymap.first_key(Action::Zoom)
                )
            } else {
                String::new()
            },
            Style::default().fg(Color::Cyan),
        ),
        Span::styled(
            format!("· {}", s.lab.description),
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    let right = format!(" {backend} ");
    // The backend label keeps its room; the left side is cut short before it, never under it.
    let width = (right.chars().count() as u16).min(area.width / 2);
    let line = crate::tui::panes::clip(line, area.width.saturating_sub(width) as usize);
    let [left_area, right_area] =
        Split::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    f.render_widget(Paragraph::new(line), left_area);
    f.render_widget(
        Paragraph::new(
            Line::from(Span::styled(right, Style::default().fg(Color::Yellow))).right_aligned(),
        ),
        right_area,
    );
}

fn tabs(s: &AppState, f: &mut Frame, area: Rect) {
    let current = page(s.focus);
    let mut spans = vec![];
    for (p, name) in [
        (Page::Edit, "Edit"),
        (Page::Run, "Run"),
        (Page::Prompt, "Prompt"),
    ] {
        let style = if p == current {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::default().fg(Color::DarkGray)
        };
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(
        format!("({} switches)", s.keymap.first_key(Action::FocusNext)),
        Style::default().fg(Color::DarkGray),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn status(s: &AppState, f: &mut Frame, area: Rect) {
    let message = format!(" {}", s.status);
    // The message gets the width it needs; the statistics shorten (or go) beside it.
    let room = (area.width as usize).saturating_sub(message.chars().count() + 1);
    let stats = run_stats(s)
        .into_iter()
        .find(|t| t.chars().count() <= room)
        .unwrap_or_default();
    let width = stats.chars().count() as u16;
    let [left, right] =
        Split::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    let message = Line::from(Span::styled(message, Style::default().fg(Color::Gray)));
    f.render_widget(
        Paragraph::new(crate::tui::panes::clip(message, left.width as usize)),
        left,
    );
    f.render_widget(Paragraph::new(Line::from(stats).right_aligned()), right);
}

/// The run on screen's statistics, longest first, each shorter one keeping what matters most
/// (which run, how many paths, cancelled) for a status line that is short of room.
fn run_stats(s: &AppState) -> Vec<String> {
    let Some(r) = &s.run else {
        return vec![];
    };
    let secs = r.elapsed(s.now).as_secs_f64();
    let tokens = r.tokens();
    let rate = if secs > 0.05 {
        format!(" · {:.0} tok/s", tokens as f64 / secs)
    } else {
        String::new()
    };
    let state = if r.cancelling && r.is_running() {
        " · cancelling"
    } else {
        ""
    };
    // Recorded runs are numbered in the session; a live run by its own id.
    let label = s.history.map_or(r.id, |i| i as u64 + 1);
    // A cancelled run counts the paths that finished, not those that stopped.
    let (done, cancelled) = match r.result() {
        Some(res) if res.cancelled => (
            r.paths()
                .filter(|p| p.state == crate::tui::state::PathState::Done)
                .count(),
            " · cancelled",
        ),
        _ => (r.done(), ""),
    };
    let n = r.len();
    vec![
        format!(
            "run {label} · {done}/{n} paths{cancelled} · {tokens} tok · {secs:.1}s{rate}{state} "
        ),
        format!("run {label} · {done}/{n} paths{cancelled} · {secs:.1}s{state} "),
        format!("run {label} · {done}/{n}{cancelled}{state} "),
        format!("{done}/{n} "),
    ]
}

/// The keys of the popup on screen (`None`: no popup).
fn popup_keys(s: &AppState) -> Option<Vec<(String, &'static str)>> {
    s.popup.as_ref().map(|p| p.keys(s))
}

fn footer(s: &AppState, f: &mut Frame, area: Rect) {
    let k = |a: Action| s.keymap.first_key(a);
    let ud = |a: Action, b: Action| format!("{}/{}", k(a), k(b));
    let local: Vec<(String, &str)> = match (popup_keys(s), s.focus) {
        (Some(keys), _) => keys,
        (_, Focus::Instruction | Focus::Query) => vec![
            (k(Action::NextQuery), "next query"),
            (ud(Action::Undo, Action::Redo), "undo/redo"),
        ],
        (_, Focus::Examples) => vec![
            (ud(Action::Up, Action::Down), "select"),
            (k(Action::Select), "edit"),
            (k(Action::Add), "add"),
            (k(Action::Duplicate), "dup"),
            (k(Action::Delete), "delete"),
            (ud(Action::MoveUp, Action::MoveDown), "move"),
            (k(Action::ToggleExample), "on/off"),
            (k(Action::AnalyseExamples), "analyse"),
            (k(Action::Undo), "undo"),
        ],
        (_, Focus::Settings) => vec![
            (ud(Action::Left, Action::Right), "setting"),
            (ud(Action::Up, Action::Down), "change"),
            (k(Action::Select), "type"),
        ],
        (_, Focus::Paths) => vec![
            (ud(Action::Up, Action::Down), "select"),
            (k(Action::Select), "open"),
            (k(Action::ComparePaths), "compare"),
        ],
        (_, Focus::Tally) => vec![
            (ud(Action::Up, Action::Down), "select"),
            (k(Action::Select), "filter paths"),
            (k(Action::Back), "clear"),
            (k(Action::ComparePaths), "compare"),
        ],
        (_, Focus::Prompt) => vec![(ud(Action::Up, Action::Down), "scroll")],
    };
    // F5 toggles (Esc in an editor only leaves it).
    let run = if s.is_running() {
        (k(Action::Run), "cancel")
    } else {
        (k(Action::Run), "run")
    };
    // Under a popup only its own keys work: the lab's are not offered.
    let global = if s.popup.is_some() {
        vec![]
    } else {
        vec![
            run,
            (k(Action::ToggleCot), "CoT"),
            (k(Action::CycleStrategy), "strategy"),
            (ud(Action::MoreVotes, Action::FewerVotes), "N"),
            (k(Action::FocusNext), "next pane"),
        ]
    };
    let spans = |items: &mut dyn Iterator<Item = (&str, &str)>| -> Vec<Span<'static>> {
        items
            .flat_map(|(key, what)| {
                [
                    Span::styled(format!(" {key}"), Style::default().fg(Color::Cyan)),
                    Span::raw(format!(" {what} ")),
                ]
            })
            .collect()
    };
    // Help and quit always show, at the right; the rest is cut to the room left.
    let essential = spans(
        &mut [(k(Action::Help), "help"), (k(Action::Quit), "quit")]
            .iter()
            .map(|(a, b)| (a.as_str(), *b)),
    );
    let right = Line::from(essential);
    let width = (right.width() as u16).min(area.width);
    let [left_area, right_area] =
        Split::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    let left = Line::from(spans(
        &mut local
            .iter()
            .map(|(a, b)| (a.as_str(), *b))
            .chain(global.iter().map(|(a, b)| (a.as_str(), *b))),
    ));
    f.render_widget(
        Paragraph::new(crate::tui::panes::clip(left, left_area.width as usize)),
        left_area,
    );
    f.render_widget(Paragraph::new(right), right_area);
}
