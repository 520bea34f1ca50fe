//! The evaluation view's chart for a demonstrations analysis (issue 27): in place of the maj@k
//! curves (one greedy sample per set says nothing there), each label control's accuracy and
//! the spread of the random orders (the given order, then the lowest, median and highest of
//! the orders), each with its 95% interval on one 0–100% scale, so a control that sits inside
//! gold's interval, or orders that spread wide, show at a glance.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::core::stats::{Estimate, LEVEL, proportion};
use crate::engine::eval::VariantResult;
use crate::tui::state::EvalView;

/// Whether the view holds an analysis's sets (the first is the given set).
pub fn is_analysis(ev: &EvalView) -> bool {
    ev.results
        .first()
        .is_some_and(|r| r.settings["set"] == "given")
}

/// One row of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub accuracy: Option<Estimate>,
    pub colour: Color,
}

/// A section: its heading and rows.
pub type Section = (String, Vec<Bar>);

fn accuracy(r: &VariantResult) -> Option<Estimate> {
    let right = r.per_item.iter().filter(|i| i.correct).count() as u64;
    proportion(right, r.per_item.len() as u64, LEVEL)
}

fn set(r: &VariantResult) -> &str {
    r.settings["set"].as_str().unwrap_or("")
}

/// The label controls (gold first) and the order spread of the sets scored so far.
pub fn sections(results: &[VariantResult]) -> Vec<Section> {
    let Some(given) = results.first().filter(|r| set(r) == "given") else {
        return Vec::new();
    };
    let bar = |label: &str, r: &VariantResult, colour| Bar {
        label: label.into(),
        accuracy: accuracy(r),
        colour,
    };
    let mut out = Vec::new();
    let controls: Vec<&VariantResult> = results.iter().filter(|r| set(r) == "labels").collect();
    if !controls.is_empty() {
        let mut rows = vec![bar("gold labels", given, Color::Cyan)];
        for r in controls {
            let colour = match r.settings["control"].as_str() {
                Some("none") => Color::DarkGray,
                _ => Color::Yellow,
            };
            rows.push(bar(&r.name, r, colour));
        }
        out.push(("label controls".to_string(), rows));
    }
    let mut orders: Vec<&VariantResult> = results.iter().filter(|r| set(r) == "order").collect();
    if !orders.is_empty() {
        // Lowest first; equals keep their order, as the report ranks them.
        orders.sort_by(|a, b| a.accuracy_majority.total_cmp(&b.accuracy_majority));
        let (min, max) = (orders[0], orders[orders.len() - 1]);
        let median = orders[(orders.len() - 1) / 2];
        let rows = vec![
            bar("given order", given, Color::Cyan),
            bar(&format!("min ({})", min.name), min, Color::Magenta),
            bar(&format!("median ({})", median.name), median, Color::Magenta),
            bar(&format!("max ({})", max.name), max, Color::Magenta),
        ];
        out.push((format!("order spread over {} orders", orders.len()), rows));
    }
    out
}

/// Columns before the scale: the label and the figure.
const LABEL: usize = 24;
const FIGURE: usize = 15;

/// `e` on a scale `width` cells wide: `├───●──┤` from the interval's low to its high.
fn track(e: &Estimate, width: usize) -> String {
    let at = |x: f64| ((x.clamp(0.0, 1.0) * (width - 1) as f64).round()) as usize;
    let (lo, v, hi) = (at(e.low), at(e.value), at(e.high));
    (0..width)
        .map(|c| match c {
            _ if c == v => '●',
            _ if c == lo => '├',
            _ if c == hi => '┤',
            _ if c > lo && c < hi => '─',
            _ if c == width / 2 => '┊',
            _ => ' ',
        })
        .collect()
}

/// The chart's lines for a pane `width` columns wide.
pub fn lines(results: &[VariantResult], width: u16) -> Vec<Line<'static>> {
    let scale = (width as usize).saturating_sub(LABEL + FIGURE + 2).max(11);
    let dim = Style::default().fg(Color::DarkGray);
    let mut axis = format!("{:<w$}", "0%", w = scale / 2);
    axis.push_str(&format!("50%{:>w$}", "100%", w = scale - scale / 2 - 3));
    // How the given set's answers were read: sampled or scored options (`demos::mode_of`).
    let mode = results.first().map_or("sampled", |r| {
        crate::core::demos::mode_of(r.answers_from.unwrap_or_default())
    });
    let head = format!("accuracy ({mode}), 95% intervals");
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{head:<w$} ", w = LABEL + FIGURE), dim),
        Span::styled(axis, dim),
    ])];
    let sections = sections(results);
    if sections.is_empty() {
        out.push(Line::styled(
            "the label controls and the orders appear as their sets finish",
            dim,
        ));
    }
    for (heading, bars) in sections {
        out.push(Line::styled(heading, dim.add_modifier(Modifier::BOLD)));
        for b in bars {
            let label = crate::core::display::shorten(&b.label, LABEL - 3);
            let (figure, bar) = match &b.accuracy {
                Some(e) => (crate::core::evaluation::cell(e), track(e, scale)),
                None => ("-".into(), String::new()),
            };
            out.push(Line::from(vec![
                Span::raw(format!("  {label:<w$}", w = LABEL - 2)),
                Span::styled(format!("{figure:<FIGURE$} "), Style::default().fg(b.colour)),
                Span::styled(bar, Style::default().fg(b.colour)),
            ]));
        }
    }
    out
}

/// The rows the chart takes: the axis, and each section's heading and rows (one line while
/// no set has finished).
pub fn height(ev: &EvalView) -> u16 {
    let s = sections(&ev.results);
    1 + s
        .iter()
        .map(|(_, b)| 1 + b.len() as u16)
        .sum::<u16>()
        .max(1)
}

/// Draws the chart in `area` (the evaluation view's chart area).
pub fn draw(f: &mut Frame, area: Rect, ev: &EvalView) {
    f.render_widget(Paragraph::new(lines(&ev.results, area.width)), area);
}
