//! The tune's board: what it trains on, the last step's loss, pace and time left with a
//! progress bar and the losses so far, the checkpoints written (or a curve's arms scored), and
//! how it ended.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Gauge, Paragraph, Sparkline, Wrap};

use super::block;
use crate::core::display::visible;
use crate::engine::tuner::{Tuned, clock};
use crate::tui::keymap::Action;
use crate::tui::state::AppState;
use crate::tui::tune_view::TuneView;

pub fn draw(f: &mut Frame, area: Rect, s: &AppState) {
    let Some(t) = &s.tune else {
        return;
    };
    let k = |a: Action| s.keymap.first_key(a);
    let keys = if t.running() {
        format!("{} stop, q hide: it goes on", k(Action::Cancel))
    } else {
        format!("{} new tune, {} close", k(Action::Add), k(Action::Cancel))
    };
    let what = match &t.curve {
        Some(sizes) => format!(
            "learning curve {}",
            sizes
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        None => "adapter".into(),
    };
    let b = block(
        format!(
            " Tune · {what} {} on {} · {} ({keys}) ",
            visible(&t.name),
            visible(&t.dataset),
            t.phase
        ),
        true,
    );
    let inner = b.inner(area);
    f.render_widget(b, area);
    let [head, gauge, spark, log] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(head_lines(t)).wrap(Wrap { trim: true }),
        head,
    );
    if let Some(st) = &t.step {
        let ratio = st.step as f64 / st.steps.max(1) as f64;
        f.render_widget(
            Gauge::default()
                .gauge_style(Style::default().fg(Color::Green))
                .ratio(ratio.clamp(0.0, 1.0))
                .label(format!(
                    "step {}/{} · epoch {}",
                    st.step, st.steps, st.epoch
                )),
            gauge,
        );
    }
    // The losses, scaled to the highest (a falling line is a model learning).
    let top = t.losses.iter().copied().fold(0.0f32, f32::max).max(1e-6);
    let bars: Vec<u64> = t
        .losses
        .iter()
        .map(|l| (100.0 * l / top).round() as u64)
        .collect();
    let shown = &bars[bars.len().saturating_sub(spark.width as usize)..];
    f.render_widget(
        Sparkline::default()
            .data(shown)
            .max(100)
            .style(Style::default().fg(Color::Magenta)),
        spark,
    );
    f.render_widget(
        Paragraph::new(log_lines(t, s)).wrap(Wrap { trim: false }),
        log,
    );
}

/// The data and the last step.
fn head_lines(t: &TuneView) -> Vec<Line<'static>> {
    let data = match t.prepared {
        Some([train, held, tokens, answers]) => format!(
            "{train} training rows ({tokens} tokens, {answers} of them answers), {held} held out"
        ),
        None => "reading the data…".into(),
    };
    let step = match &t.step {
        Some(st) => format!(
            "loss {:.3} · {:.0} tok/s · {} left",
            st.loss,
            st.tokens_per_second,
            clock(st.left)
        ),
        None => String::new(),
    };
    vec![Line::raw(data), Line::raw(step)]
}

/// What happened, then how it ended and what Enter does.
fn log_lines(t: &TuneView, s: &AppState) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = t.log.iter().map(|l| Line::raw(l.clone())).collect();
    let enter = s.keymap.first_key(Action::Select);
    let hint = Style::default().fg(Color::Cyan);
    let bold = Style::default().add_modifier(Modifier::BOLD);
    match &t.outcome {
        None => {}
        Some(Ok(Tuned::Adapter { path, record })) => {
            let first = record.losses.first().copied().unwrap_or(f32::NAN);
            let last = record.losses.last().copied().unwrap_or(f32::NAN);
            lines.push(Line::styled(
                format!(
                    "{} adapter: {} ({}) · loss {first:.3} → {last:.3} over {} steps · {} epoch(s) in {}",
                    if record.complete { "trained" } else { "the last finished epoch's" },
                    visible(&path.display().to_string()),
                    crate::core::display::megabytes(record.size_bytes),
                    record.losses.len(),
                    record.epochs_done,
                    clock(std::time::Duration::from_secs_f64(record.training_seconds.max(0.0)))
                ),
                bold,
            ));
            lines.push(Line::styled(
                format!(
                    "{enter}: pick it in the model picker, under its base {}",
                    record.base.file
                ),
                hint,
            ));
        }
        Some(Ok(Tuned::Curve { dir, curve })) => {
            lines.push(Line::styled(visible(&curve.verdict).into_owned(), bold));
            lines.push(Line::styled(
                format!(
                    "{enter}: the curve in the evaluation view · its adapters, curve.svg and curve.json are in {}",
                    visible(&dir.display().to_string())
                ),
                hint,
            ));
        }
        Some(Err(e)) => lines.push(Line::styled(
            visible(e).into_owned(),
            Style::default().fg(Color::Red),
        )),
    }
    lines
}
