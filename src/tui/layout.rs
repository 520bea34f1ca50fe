//! Where each pane goes: a pure function of the terminal area and the state, used by `view`
//! to draw and by `update` to hit-test the mouse, so neither imports the other.

use ratatui::layout::{Constraint, Layout as Split, Rect};

use super::state::{AppState, Focus};

/// Wide terminals put editors and results side by side; narrower ones show one page at a time.
pub const WIDE: u16 = 120;
pub const MIN_W: u16 = 30;
pub const MIN_H: u16 = 10;

pub struct Layout {
    pub header: Rect,
    pub tabs: Option<Rect>,
    /// Everything between the header and the settings bar (tabs and panes).
    pub body: Rect,
    pub panes: Vec<(Focus, Rect)>,
    pub status: Rect,
    pub footer: Rect,
}

pub fn layout(area: Rect, s: &AppState) -> Layout {
    let rows = Split::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .split(area);
    let (header, mut body, settings, status, footer) =
        (rows[0], rows[1], rows[2], rows[3], rows[4]);
    let whole = body;
    let mut panes = vec![(Focus::Settings, settings)];
    let mut tabs = None;
    if area.width >= WIDE {
        // Zoomed, the run side has the whole width; else the edit side has `split` percent.
        let run_side = if s.zoom {
            body
        } else {
            let cols = Split::horizontal([
                Constraint::Percentage(s.split),
                Constraint::Percentage(100 - s.split),
            ])
            .split(body);
            panes.extend(editors(cols[0]));
            cols[1]
        };
        let right = Split::vertical([Constraint::Percentage(62), Constraint::Percentage(38)])
            .split(run_side);
        let results = Split::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
            .split(right[0]);
        panes.push((Focus::Paths, results[0]));
        panes.push((Focus::Tally, results[1]));
        panes.push((Focus::Prompt, right[1]));
    } else {
        let split = Split::vertical([Constraint::Length(1), Constraint::Min(0)]).split(body);
        tabs = Some(split[0]);
        body = split[1];
        match page(s.focus) {
            Page::Edit => panes.extend(editors(body)),
            Page::Run => {
                let r = Split::vertical([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .split(body);
                panes.push((Focus::Paths, r[0]));
                panes.push((Focus::Tally, r[1]));
            }
            Page::Prompt => panes.push((Focus::Prompt, body)),
        }
    }
    Layout {
        header,
        tabs,
        body: whole,
        panes,
        status,
        footer,
    }
}

fn editors(area: Rect) -> Vec<(Focus, Rect)> {
    let instr = if area.height >= 24 { 6 } else { 4 };
    let query = if area.height >= 30 { 7 } else { 5 };
    let r = Split::vertical([
        Constraint::Length(instr),
        Constraint::Min(3),
        Constraint::Length(query),
    ])
    .split(area);
    vec![
        (Focus::Instruction, r[0]),
        (Focus::Examples, r[1]),
        (Focus::Query, r[2]),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Edit,
    Run,
    Prompt,
}

pub fn page(f: Focus) -> Page {
    match f {
        Focus::Instruction | Focus::Examples | Focus::Query | Focus::Settings => Page::Edit,
        Focus::Paths | Focus::Tally => Page::Run,
        Focus::Prompt => Page::Prompt,
    }
}
