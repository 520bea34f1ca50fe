//! Popups: help, errors, the template picker, save-as, the example editor, one path in full.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, List, ListItem, ListState, Paragraph, Wrap};

use super::{block, centered};
use crate::core::display::side_by_side;
use crate::core::template::diff;
use crate::tui::keymap::Action;
use crate::tui::state::{AppState, Popup, SaveWhat, SetupPlan, editor_text};

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    match p {
        Popup::ComparePaths(c) => super::compare::draw(f, area, s, c),
        Popup::Confirm { .. } => draw_confirm(f, area, s, p),
        Popup::SettingInput { .. } => draw_setting_input(f, area, s, p),
        Popup::Help { .. } => draw_help(f, area, s, p),
        Popup::Error(_) => draw_error(f, area, s, p),
        Popup::Picker { .. } => draw_picker(f, area, s, p),
        Popup::Models { .. } => draw_models(f, area, s, p),
        Popup::SaveAs { .. } => draw_save_as(f, area, s, p),
        Popup::RenameSession { from, name } => draw_rename(f, area, from, name),
        Popup::Example { .. } => draw_example(f, area, s, p),
        Popup::Sessions { .. } => draw_sessions(f, area, s, p),
        Popup::Compare { a, b, scroll } => compare_runs(f, area, s, (*a, *b), *scroll),
        Popup::EvalSetup {
            editors,
            field,
            plan,
            analyse: false,
        } => setup(
            f,
            area,
            s,
            "Evaluate the current prompt",
            ["Dataset", "Variants (KEY=V1,V2 …)"],
            (&**editors, *field, plan),
        ),
        Popup::EvalSetup {
            editors,
            field,
            plan,
            analyse: true,
        } => setup(
            f,
            area,
            s,
            "Analyse the examples (leave-one-out, label controls, orders)",
            ["Dataset", "Orders (orders=K)"],
            (&**editors, *field, plan),
        ),
        Popup::OptimizeSetup {
            editors,
            field,
            plan,
        } => setup(
            f,
            area,
            s,
            "Search for a better instruction (APE)",
            [
                "Dataset",
                "Search (candidates= rounds= keep= dev= held= budget= batch=)",
            ],
            (&**editors, *field, plan),
        ),
        Popup::Optimize { .. } => draw_optimize(f, area, s, p),
        Popup::Eval { .. } => draw_eval(f, area, s, p),
        Popup::PathDetail { .. } => super::path::draw(f, area, s, p),
    }
}

fn draw_confirm(f: &mut Frame, area: Rect, _s: &AppState, p: &Popup) {
    let Popup::Confirm { question, .. } = p else {
        return;
    };
    let w = area.width.saturating_sub(4).min(72);
    let r = centered(area, w, 7);
    let b = block(" Confirm ".into(), true).border_style(Style::default().fg(Color::Yellow));
    let text = Text::from(vec![
        Line::raw(question.clone()),
        Line::raw(""),
        Line::styled(
            "y / Enter: yes    n / Esc: no",
            Style::default().fg(Color::Cyan),
        ),
    ]);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(b), r);
}

fn draw_setting_input(f: &mut Frame, area: Rect, _s: &AppState, p: &Popup) {
    let Popup::SettingInput { field, editor } = p else {
        return;
    };
    let name = field.label();
    let title = format!(" {name} (Enter sets it, Esc leaves it) ");
    let r = centered(area, (title.chars().count() as u16 + 4).max(40), 3);
    let b = block(title, true);
    let inner = b.inner(r);
    f.render_widget(Clear, r);
    f.render_widget(b, r);
    f.render_widget(editor.as_ref(), inner);
}

fn draw_help(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::Help { scroll } = p else {
        return;
    };
    let r = centered(area, 90, area.height.saturating_sub(4));
    let mut lines = vec![
        Line::styled(
            "Keys (change them under `keys:` in the config file)",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
    ];
    for (a, keys) in s.keymap.all() {
        let scope = if a.is_global() { "" } else { " (in lists)" };
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:>22}  "), Style::default().fg(Color::Cyan)),
            Span::raw(format!("{}{scope}", a.describe())),
        ]));
    }
    let hidden = (lines.len() as u16).saturating_sub(*scroll) > r.height.saturating_sub(2);
    let more = if hidden { " ↓ more " } else { "" };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((*scroll, 0))
            .block(block(" Help ".into(), true).title_bottom(more)),
        r,
    );
}

fn draw_error(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::Error(e) = p else {
        return;
    };
    let r = centered(area, 70, 9);
    let b = block(" Error ".into(), true).border_style(Style::default().fg(Color::Red));
    let text = Text::from(vec![
        Line::raw(e.clone()),
        Line::raw(""),
        Line::styled(
            format!("{} closes", s.keymap.first_key(Action::Cancel)),
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(b), r);
}

fn draw_picker(f: &mut Frame, area: Rect, _s: &AppState, p: &Popup) {
    let Popup::Picker { items, selected } = p else {
        return;
    };
    let r = centered(area, 90, (items.len() as u16 + 2).max(5));
    let rows: Vec<ListItem> = items
        .iter()
        .map(|i| {
            let (summary, style) = match &i.template {
                Ok(_) => (i.summary.clone(), Style::default()),
                Err(e) => (e.clone(), Style::default().fg(Color::Red)),
            };
            ListItem::new(Line::from(vec![
                Span::styled(
                    format!("{} ", super::cell(&i.name, 22, false)),
                    Style::default().fg(Color::Cyan),
                ),
                Span::styled(summary, style),
            ]))
        })
        .collect();
    pick_list(f, r, rows, " Load a template (Enter) ".into(), *selected);
}

fn draw_models(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::Models { items, selected } = p else {
        return;
    };
    let r = centered(area, 100, (items.len() as u16 + 2).max(5));
    let now = s.backend.as_ref().map_or("", |b| b.model.as_str());
    let rows: Vec<ListItem> = items
        .iter()
        .map(|m| {
            // The model the lab runs now is marked.
            let mark = if m.is(now) { "● " } else { "  " };
            let size = if m.size_bytes > 0 {
                format!("{:>7.0} MB  ", m.size_bytes as f64 / 1e6)
            } else {
                " ".repeat(12)
            };
            let place = m
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            ListItem::new(Line::from(vec![
                Span::styled(mark, Style::default().fg(Color::Green)),
                Span::styled(
                    format!(
                        "{} ",
                        super::cell(&crate::core::display::visible(&m.name), 36, false)
                    ),
                    Style::default().fg(Color::Cyan),
                ),
                Span::raw(format!("{:<10}{size}", m.source)),
                Span::styled(place, Style::default().fg(Color::DarkGray)),
            ]))
        })
        .collect();
    pick_list(
        f,
        r,
        rows,
        " Switch the model (Enter; ● runs now) ".into(),
        *selected,
    );
}

fn draw_save_as(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::SaveAs { name, what } = p else {
        return;
    };
    let title = match what {
        SaveWhat::Template => format!(
            " Save as template (Enter saves {}/NAME.yaml) ",
            s.templates_dir.display()
        ),
        SaveWhat::Session => format!(
            " Save session as (Enter saves {}/NAME.yaml) ",
            s.session.dir.display()
        ),
    };
    let r = centered(area, (title.chars().count() as u16 + 4).max(60), 3);
    let b = block(title, true);
    let inner = b.inner(r);
    f.render_widget(Clear, r);
    f.render_widget(b, r);
    f.render_widget(name.as_ref(), inner);
}

fn draw_rename(
    f: &mut Frame,
    area: Rect,
    from: &std::path::Path,
    name: &ratatui_textarea::TextArea<'static>,
) {
    let title = format!(
        " Rename {} (Enter renames it in its folder) ",
        from.display()
    );
    let r = centered(area, (title.chars().count() as u16 + 4).max(60), 3);
    let b = block(title, true);
    let inner = b.inner(r);
    f.render_widget(Clear, r);
    f.render_widget(b, r);
    f.render_widget(name, inner);
}

fn draw_example(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::Example {
        index,
        field,
        editors,
        ..
    } = p
    else {
        return;
    };
    let r = centered(
        area,
        area.width.saturating_sub(8).min(100),
        area.height.saturating_sub(4).min(22),
    );
    f.render_widget(Clear, r);
    let outer = block(
        format!(
            " Example {} ({} next field, {} done) ",
            index + 1,
            s.keymap.first_key(Action::FocusNext),
            s.keymap.first_key(Action::Cancel)
        ),
        true,
    );
    let inner = outer.inner(r);
    f.render_widget(outer, r);
    let rows = Layout::vertical([
        Constraint::Percentage(35),
        Constraint::Percentage(45),
        Constraint::Percentage(20),
    ])
    .split(inner);
    for (i, name) in ["Input", "Rationale", "Answer"].iter().enumerate() {
        let b = block(format!(" {name} "), i == *field);
        let ir = b.inner(rows[i]);
        f.render_widget(b, rows[i]);
        super::editor::text(f, ir, &editors[i], i == *field);
    }
}

fn draw_sessions(f: &mut Frame, area: Rect, _s: &AppState, p: &Popup) {
    let Popup::Sessions { items, selected } = p else {
        return;
    };
    let r = centered(
        area,
        100,
        (items.len() as u16 + 2).clamp(5, area.height.saturating_sub(4)),
    );
    let rows: Vec<ListItem> = items
        .iter()
        .map(|i| {
            let name = i.path.display().to_string();
            let line = match &i.error {
                None => Line::from(vec![
                    Span::styled(
                        format!("{} ", super::cell(&name, 44, true)),
                        Style::default().fg(Color::Cyan),
                    ),
                    Span::raw(format!(
                        "{} {} {:>3} run{}",
                        super::cell(&i.created, 21, false),
                        super::cell(&i.template, 18, false),
                        i.runs,
                        if i.runs == 1 { "" } else { "s" }
                    )),
                ]),
                Some(e) => Line::from(vec![
                    Span::styled(
                        format!("{} ", super::cell(&name, 44, true)),
                        Style::default().fg(Color::Cyan),
                    ),
                    Span::styled(e.clone(), Style::default().fg(Color::Red)),
                ]),
            };
            ListItem::new(line)
        })
        .collect();
    pick_list(
        f,
        r,
        rows,
        " Open a session (Enter, d delete, r rename) · created · template · runs ".into(),
        *selected,
    );
}

fn draw_optimize(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::Optimize { selected } = p else {
        return;
    };
    // Two rows free at each end: the status line and the footer stay visible.
    let r = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(4),
    );
    f.render_widget(Clear, r);
    super::optimize::draw(f, r, s, *selected);
}

fn draw_eval(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    let Popup::Eval { detail, scroll } = p else {
        return;
    };
    // Two rows free at each end: the status line and the footer stay visible.
    let r = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(4),
    );
    f.render_widget(Clear, r);
    super::eval::draw(f, r, s, *detail, *scroll);
}

/// A two-field form (dataset and options) that starts a long job.
fn setup(
    f: &mut Frame,
    area: Rect,
    s: &AppState,
    title: &str,
    labels: [&str; 2],
    (editors, field, plan): (&[ratatui_textarea::TextArea<'static>; 2], usize, &SetupPlan),
) {
    let w = area.width.saturating_sub(4).min(90);
    let lines = plan_lines(s, editors, plan);
    // The plan wraps: its rows at this width (a word may push one more row).
    let text_w = w.saturating_sub(2).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(text_w).max(1) + usize::from(l.width() > text_w))
        .sum();
    let r = centered(area, w, 8 + rows as u16);
    f.render_widget(Clear, r);
    let k = |a: Action| s.keymap.first_key(a);
    let outer = block(
        format!(
            " {title} ({} next field, Enter plan and start, {} cancel) ",
            k(Action::FocusNext),
            k(Action::Cancel)
        ),
        true,
    );
    let inner = outer.inner(r);
    f.render_widget(outer, r);
    let parts = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .split(inner);
    for (i, name) in labels.iter().enumerate() {
        let b = block(format!(" {name} "), i == field);
        let ir = b.inner(parts[i]);
        f.render_widget(b, parts[i]);
        super::editor::text(f, ir, &editors[i], i == field);
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), parts[2]);
}

/// Under a setup form's fields: the plan of the fields as typed, why there is none, or how to
/// get it (a plan asked for other fields is not shown).
fn plan_lines(
    s: &AppState,
    editors: &[ratatui_textarea::TextArea<'static>; 2],
    plan: &SetupPlan,
) -> Vec<Line<'static>> {
    let fields = (
        editor_text(&editors[0]).trim().to_string(),
        editor_text(&editors[1]).trim().to_string(),
    );
    let cancel = s.keymap.first_key(Action::Cancel);
    let hint = |t: String| Line::styled(t, Style::default().fg(Color::Cyan));
    if plan.fields.as_ref() != Some(&fields) {
        return vec![hint(
            "Enter shows the plan: items × variants × N, calls, time, the differences it can show"
                .into(),
        )];
    }
    match &plan.line {
        None => vec![Line::styled(
            "planning…",
            Style::default().fg(Color::DarkGray),
        )],
        Some(Ok(line)) => vec![
            Line::raw(line.clone()),
            hint(format!("Enter starts · {cancel} cancels")),
        ],
        Some(Err(e)) => vec![
            Line::styled(e.clone(), Style::default().fg(Color::Red)),
            hint(format!(
                "fix the fields, then Enter plans again · {cancel} cancels"
            )),
        ],
    }
}

/// Alt-C: what changed from run `a` to run `b`, their tallies side by side, and whether the
/// winner's share moved beyond sampling noise.
fn compare_runs(f: &mut Frame, area: Rect, s: &AppState, (a, b): (usize, usize), scroll: u16) {
    let (Some(ra), Some(rb)) = (s.session.runs.get(a), s.session.runs.get(b)) else {
        return;
    };
    let r = centered(
        area,
        area.width.saturating_sub(8).min(110),
        area.height.saturating_sub(4),
    );
    let mut lines = vec![
        Line::styled(
            format!("What changed from run {} to run {}", a + 1, b + 1),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
    ];
    let changes = diff(&ra.template, &ra.query, &rb.template, &rb.query);
    if changes.is_empty() {
        lines.push(Line::raw(
            "  the same prompt and settings (only the samples differ)",
        ));
    }
    for c in changes {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<18}", c.what),
                Style::default().fg(Color::Cyan),
            ),
            Span::styled(
                crate::core::display::shorten(&c.before, 40),
                Style::default().fg(Color::Red),
            ),
            Span::raw("  →  "),
            Span::styled(
                crate::core::display::shorten(&c.after, 40),
                Style::default().fg(Color::Green),
            ),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Tallies (run {} | run {})", a + 1, b + 1),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let (la, lb) = (format!("run {}", a + 1), format!("run {}", b + 1));
    for l in side_by_side(&ra.result.tally, &rb.result.tally, [&la, &lb]).lines() {
        lines.push(Line::raw(l.to_string()));
    }
    let winners = |t: &crate::core::vote::Tally| t.winner.clone().unwrap_or_else(|| "none".into());
    lines.push(Line::raw(format!(
        "  answer {} ({:.0}%) → {} ({:.0}%)",
        winners(&ra.result.tally),
        ra.result.tally.agreement * 100.0,
        winners(&rb.result.tally),
        rb.result.tally.agreement * 100.0
    )));
    // Whether that move is more than the draw of N paths.
    if let Some(shift) = crate::core::share::shift(&ra.result.tally, &rb.result.tally) {
        let color = if shift.beyond_noise {
            Color::Yellow
        } else {
            Color::DarkGray
        };
        lines.push(Line::styled(
            format!("  {}", shift.describe()),
            Style::default().fg(color),
        ));
    }
    let title = format!(
        " Compare ({}/{} earlier/later pair, {} closes) ",
        s.keymap.first_key(Action::Left),
        s.keymap.first_key(Action::Right),
        s.keymap.first_key(Action::Cancel)
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(block(title, true)),
        r,
    );
}

/// A list to pick from, drawn over what is beneath it, `selected` highlighted.
fn pick_list(f: &mut Frame, r: Rect, rows: Vec<ListItem>, title: String, selected: usize) {
    let list = List::new(rows)
        .block(block(title, true))
        .highlight_style(Style::default().bg(Color::DarkGray));
    f.render_widget(Clear, r);
    f.render_stateful_widget(
        list,
        r,
        &mut ListState::default().with_selected(Some(selected)),
    );
}
