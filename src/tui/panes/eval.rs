//! The evaluation view: variants side by side, their maj@k curves as a chart, and the items of
//! one variant with a drill-down into an item's paths.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Chart, Dataset, GraphType, List, ListItem, ListState, Paragraph, Wrap,
};

use super::block;
use crate::core::chart::{Series, max_x};
use crate::engine::eval::{chart_series, pct};
use crate::engine::grid::{columns, comparison_lines};
use crate::tui::keymap::Action;
use crate::tui::state::{AppState, EvalView};

const COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Yellow,
    Color::Green,
    Color::Blue,
    Color::Red,
];

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, detail: Option<usize>, scroll: u16) {
    let k = |a: Action| s.keymap.first_key(a);
    let Some(ev) = &s.eval else {
        let b = block(" Evaluation ".into(), true);
        f.render_widget(Paragraph::new("loading the dataset…").block(b), area);
        return;
    };
    if let Some(curve) = &ev.curve {
        let title = format!(
            " Learning curve · {} · {} items, one greedy answer each ({} new evaluation, {} close) ",
            ev.dataset,
            ev.items,
            k(Action::Add),
            k(Action::Cancel)
        );
        let b = block(title, true);
        let inner = b.inner(area);
        f.render_widget(b, area);
        return super::curve_chart::view(f, inner, curve);
    }
    let state = if ev.running { "running" } else { "done" };
    let title = format!(
        " Evaluation · {} · {} items · {state} ({}/{} variant, {}/{} item, {} paths, {} stop, {} new, {} close) ",
        ev.dataset,
        ev.items,
        k(Action::Left),
        k(Action::Right),
        k(Action::Up),
        k(Action::Down),
        k(Action::Select),
        k(Action::Delete),
        k(Action::Add),
        k(Action::Cancel)
    );
    let b = block(title, true);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let compared = comparison_lines(&ev.results);
    // A comparison may take two lines of a narrow pane.
    let rows = ev.variants.len() as u16 + 1 + 2 * compared.len() as u16;
    // A demonstrations analysis's chart keeps its lines; its many sets' table scrolls off.
    let analysis = super::demos_chart::is_analysis(ev).then(|| super::demos_chart::height(ev));
    let rows = analysis.map_or(rows, |h| rows.min(inner.height.saturating_sub(h + 6)));
    let [table_area, chart_area, items_area] = Layout::vertical([
        Constraint::Length(rows),
        // The chart grows with the terminal (at most half the view), the items keep 6 rows.
        Constraint::Length(
            analysis.unwrap_or(
                inner
                    .height
                    .saturating_sub(rows + 6)
                    .min(inner.height / 2)
                    .max(6),
            ),
        ),
        Constraint::Min(0),
    ])
    .areas(inner);
    table(f, table_area, ev, &compared);
    // A demonstrations analysis: its label controls and order spread instead of maj@k curves.
    if analysis.is_some() {
        super::demos_chart::draw(f, chart_area, ev);
    } else {
        chart(f, chart_area, ev);
    }
    match detail {
        Some(i) => item_paths(f, items_area, ev, i, scroll),
        None => items(f, items_area, ev),
    }
}

/// The variants' figures (accuracies with their intervals), then each against the baseline.
fn table(f: &mut Frame, area: Rect, ev: &EvalView, compared: &[(String, String)]) {
    let w = ev
        .variants
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let columns = columns(&ev.results);
    let row = |name: &str, cells: &[String]| {
        let mut line = format!("{name:<w$}");
        for (c, cw) in cells.iter().zip(&columns.widths) {
            line.push_str(&format!("  {c:>cw$}"));
        }
        line
    };
    let head: Vec<String> = columns.head.iter().map(|s| s.to_string()).collect();
    let mut lines = vec![Line::styled(
        format!("  {}", row("variant", &head)),
        Style::default().fg(Color::DarkGray),
    )];
    for (i, name) in ev.variants.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let marker = if i == ev.variant { "▶ " } else { "  " };
        let text = match ev.results.get(i) {
            Some(r) => {
                let mut text = row(name, &columns.rows[i]);
                // DeepConf's votes, where every path had a confidence.
                if let (Some(c), Some(f)) = (r.accuracy_confidence, r.accuracy_filtered) {
                    text.push_str(&format!(
                        "  confidence-weighted {} · top half {}",
                        pct(c),
                        pct(f)
                    ));
                }
                text
            }
            None => {
                let (done, correct) = ev.progress.get(i).copied().unwrap_or_default();
                let running = if done > 0 {
                    format!("{:.1}% so far", 100.0 * correct as f64 / done as f64)
                } else {
                    "waiting".into()
                };
                format!("{name:<w$}  {done}/{} items · {running}", ev.items)
            }
        };
        lines.push(Line::from(vec![
            Span::raw(marker),
            Span::styled(text, Style::default().fg(color)),
        ]));
    }
    for (name, line) in compared {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {name:<w$}  "),
                Style::default().fg(Color::DarkGray),
            ),
            Span::raw(line.clone()),
        ]));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// Accuracy against samples per item: maj@k curves with their 95% bands, early-stop variants as
/// points with their intervals (the chart `eval --out` writes as SVG).
fn chart(f: &mut Frame, area: Rect, ev: &EvalView) {
    let series = chart_series(&ev.results);
    let points: Vec<Vec<(f64, f64)>> = series.iter().map(Series::points).collect();
    let edges: Vec<[Vec<(f64, f64)>; 2]> = series.iter().map(Series::band_edges).collect();
    let max_x = max_x(&series);
    let mut datasets: Vec<Dataset> = Vec::new();
    // The 95% bands first, dim, so the curves draw over them.
    for (i, e) in edges.iter().enumerate() {
        for edge in e.iter().filter(|e| !e.is_empty()) {
            datasets.push(
                Dataset::default()
                    .style(
                        Style::default()
                            .fg(COLORS[i % COLORS.len()])
                            .add_modifier(Modifier::DIM),
                    )
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .data(edge),
            );
        }
    }
    datasets.extend(series.iter().zip(&points).enumerate().map(|(i, (s, p))| {
        let d = Dataset::default()
            .name(s.name().to_string())
            .style(Style::default().fg(COLORS[i % COLORS.len()]))
            .data(p);
        match s {
            Series::Curve { .. } => d.marker(Marker::Braille).graph_type(GraphType::Line),
            Series::Point { .. } => d.marker(Marker::Dot).graph_type(GraphType::Scatter),
        }
    }));
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .title("samples")
                .bounds([1.0, max_x])
                .labels(["1".to_string(), format!("{max_x}")]),
        )
        .y_axis(Axis::default().title("accuracy").bounds([0.0, 1.0]).labels(
            if area.height >= 16 {
                vec!["0%", "25%", "50%", "75%", "100%"]
            } else {
                vec!["0%", "50%", "100%"]
            },
        ));
    f.render_widget(chart, area);
}

fn items(f: &mut Frame, area: Rect, ev: &EvalView) {
    let Some(r) = ev.results.get(ev.variant) else {
        f.render_widget(
            Paragraph::new("items appear when the variant is done")
                .style(Style::default().fg(Color::DarkGray)),
            area,
        );
        return;
    };
    let rows: Vec<ListItem> = r
        .per_item
        .iter()
        .map(|it| {
            let (mark, color) = if it.correct {
                ("✓", Color::Green)
            } else {
                ("✗", Color::Red)
            };
            let answers: Vec<String> = it
                .answers
                .iter()
                .map(|a| a.clone().unwrap_or_else(|| "—".into()))
                .collect();
            ListItem::new(Line::from(vec![
                Span::styled(format!("{mark} "), Style::default().fg(color)),
                Span::raw(format!("{:<10} ", it.id)),
                Span::styled(
                    format!(
                        "{:<10}",
                        it.majority.clone().unwrap_or_else(|| "none".into())
                    ),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    format!(" target {:<10} ", it.target.join("|")),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::raw(format!("votes {}", answers.join(" "))),
            ]))
        })
        .collect();
    let list = List::new(rows)
        .block(block(format!(" Items of {} ", r.name), false))
        .highlight_style(Style::default().bg(Color::DarkGray));
    f.render_stateful_widget(
        list,
        area,
        &mut ListState::default().with_selected(Some(ev.item)),
    );
}

fn item_paths(f: &mut Frame, area: Rect, ev: &EvalView, item: usize, scroll: u16) {
    let Some(it) = ev
        .results
        .get(ev.variant)
        .and_then(|r| r.per_item.get(item))
    else {
        return;
    };
    let mut lines = vec![Line::styled(
        format!("item {} · target {}", it.id, it.target.join(" | ")),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for p in &it.paths {
        lines.push(Line::raw(""));
        let head = match (&p.error, &p.answer) {
            (Some(e), _) => format!("path {} · failed: {e}", p.index),
            (None, a) => format!(
                "path {} · answer {}{}",
                p.index,
                a.clone().unwrap_or_else(|| "none".into()),
                if p.truncated() {
                    " · ✂ cut at max tokens"
                } else {
                    ""
                }
            ),
        };
        lines.push(Line::styled(head, Style::default().fg(Color::Cyan)));
        let text = p.text();
        let text = crate::core::display::visible(text.trim());
        lines.extend(text.lines().map(|l| Line::raw(l.to_string())));
    }
    let b = block(format!(" Paths of item {} ", it.id), false);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(b),
        area,
    );
}
