//! The learning curve in the evaluation view (`tune --curve`, `core::curve`): the adapter's
//! and the few-shot prompt's accuracy against labelled rows, each with its 95% band, and the
//! crossover in words under the chart; above it (`view`) each size's figures.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Wrap};

use crate::core::chart::Series;
use crate::core::curve::Curve;

const COLORS: [Color; 2] = [Color::Green, Color::Magenta];

/// Each size's accuracies with their intervals and the paired difference, then the chart.
pub fn view(f: &mut Frame, area: Rect, curve: &Curve) {
    let mut lines: Vec<Line> = crate::engine::tuner::curve_rows(curve)
        .into_iter()
        .map(Line::raw)
        .collect();
    lines[0] = lines[0].clone().style(Style::default().fg(Color::DarkGray));
    let [table, chart] = Layout::vertical([
        Constraint::Length(lines.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(lines), table);
    draw(f, chart, curve);
}

pub fn draw(f: &mut Frame, area: Rect, curve: &Curve) {
    let [chart_area, words] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(3)]).areas(area);
    let series = curve.series();
    let points: Vec<Vec<(f64, f64)>> = series.iter().map(Series::points).collect();
    let edges: Vec<[Vec<(f64, f64)>; 2]> = series.iter().map(Series::band_edges).collect();
    let max_x = curve.points.last().map_or(1.0, |p| p.rows as f64);
    let min_x = curve.points.first().map_or(0.0, |p| p.rows as f64);
    let mut datasets: Vec<Dataset> = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        for edge in e.iter().filter(|e| !e.is_empty()) {
            datasets.push(
                Dataset::default()
                    .style(Style::default().fg(COLORS[i]).add_modifier(Modifier::DIM))
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .data(edge),
            );
        }
    }
    for (i, (s, p)) in series.iter().zip(&points).enumerate() {
        datasets.push(
            Dataset::default()
                .name(s.name().to_string())
                .style(Style::default().fg(COLORS[i]))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .data(p),
        );
    }
    let chart = Chart::new(datasets)
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
        .x_axis(
            Axis::default()
                .title("labelled rows")
                .bounds([min_x, max_x.max(min_x + 1.0)])
                .labels([format!("{min_x}"), format!("{max_x}")]),
        )
        .y_axis(
            Axis::default()
                .title("accuracy")
                .bounds([0.0, 1.0])
                .labels(["0%", "50%", "100%"]),
        );
    f.render_widget(chart, chart_area);
    f.render_widget(
        Paragraph::new(crate::core::display::visible(&curve.verdict)).wrap(Wrap { trim: true }),
        words,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::core::curve::{Scores, curve};

    #[test]
    fn the_curve_and_its_crossover_are_drawn() {
        let s = |rows, a: &[u8], p: &[u8]| Scores {
            rows,
            adapter: Some(a.iter().map(|&x| x == 1).collect()),
            prompt: Some(p.iter().map(|&x| x == 1).collect()),
        };
        let c = curve(
            4,
            &[
                s(8, &[1, 0, 0, 0], &[1, 1, 0, 0]),
                s(32, &[1, 1, 1, 0], &[1, 1, 0, 0]),
                s(64, &[1, 1, 1, 1], &[1, 1, 0, 0]),
            ],
        );
        let mut t = Terminal::new(TestBackend::new(70, 16)).unwrap();
        t.draw(|f| draw(f, f.area(), &c)).unwrap();
        insta::assert_snapshot!(t.backend());
    }
}
