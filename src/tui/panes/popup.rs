//! Popups: help, errors, the template picker, save-as, the example editor, one path in full.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, List, ListItem, ListState, Paragraph, Wrap};

use super::block;
use crate::core::display::side_by_side;
use crate::core::display::visible;
use crate::core::extract::answer_sentence;
use crate::core::template::diff;
use crate::tui::keymap::Action;
use crate::tui::state::{AppState, Popup, SaveWhat};

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(r);
    r
}

pub fn draw(f: &mut Frame, area: Rect, s: &AppState, p: &Popup) {
    match p {
        Popup::ComparePaths(c) => super::compare::draw(f, area, s, c),
        Popup::Confirm { question, .. } => {
            let w = area.width.saturating_sub(4).min(72);
            let r = centered(area, w, 7);
            let b =
                block(" Confirm ".into(), true).border_style(Style::default().fg(Color::Yellow));
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
        Popup::SettingInput { field, editor } => {
            let name = field.label();
            let title = format!(" {name} (Enter sets it, Esc leaves it) ");
            let r = centered(area, (title.chars().count() as u16 + 4).max(40), 3);
            let b = block(title, true);
            let inner = b.inner(r);
            f.render_widget(Clear, r);
            f.render_widget(b, r);
            f.render_widget(editor.as_ref(), inner);
        }
        Popup::Help { scroll } => {
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
        Popup::Error(e) => {
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
        Popup::Picker { items, selected } => {
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
            let list = List::new(rows)
                .block(block(" Load a template (Enter) ".into(), true))
                .highlight_style(Style::default().bg(Color::DarkGray));
            f.render_widget(Clear, r);
            f.render_stateful_widget(
                list,
                r,
                &mut ListState::default().with_selected(Some(*selected)),
            );
        }
        Popup::Models { items, selected } => {
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
            let list = List::new(rows)
                .block(block(" Switch the model (Enter; ● runs now) ".into(), true))
                .highlight_style(Style::default().bg(Color::DarkGray));
            f.render_widget(Clear, r);
            f.render_stateful_widget(
                list,
                r,
                &mut ListState::default().with_selected(Some(*selected)),
            );
        }
        Popup::SaveAs { name, what } => {
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
        Popup::Example {
            index,
            field,
            editors,
            ..
        } => {
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
        Popup::Sessions { items, selected } => {
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
            let list = List::new(rows)
                .block(block(
                    " Open a session (Enter) · created · template · runs ".into(),
                    true,
                ))
                .highlight_style(Style::default().bg(Color::DarkGray));
            f.render_widget(Clear, r);
            f.render_stateful_widget(
                list,
                r,
                &mut ListState::default().with_selected(Some(*selected)),
            );
        }
        Popup::Compare { a, b, scroll } => compare_runs(f, area, s, (*a, *b), *scroll),
        Popup::EvalSetup { editors, field } => setup(
            f,
            area,
            s,
            "Evaluate the current prompt",
            ["Dataset", "Variants (KEY=V1,V2 …)"],
            editors,
            *field,
        ),
        Popup::OptimizeSetup { editors, field } => setup(
            f,
            area,
            s,
            "Search for a better instruction (APE)",
            [
                "Dataset",
                "Search (candidates= rounds= keep= dev= held= budget= batch=)",
            ],
            editors,
            *field,
        ),
        Popup::Optimize { selected } => {
            let r = centered(
                area,
                area.width.saturating_sub(4),
                area.height.saturating_sub(2),
            );
            f.render_widget(Clear, r);
            super::optimize::draw(f, r, s, *selected);
        }
        Popup::Eval { detail, scroll } => {
            let r = centered(
                area,
                area.width.saturating_sub(4),
                area.height.saturating_sub(2),
            );
            f.render_widget(Clear, r);
            super::eval::draw(f, r, s, *detail, *scroll);
        }
        Popup::PathDetail { path, scroll, .. } => {
            let Some(run) = &s.run else { return };
            let Some(p) = run.paths.get(*path) else {
                return;
            };
            let r = centered(
                area,
                area.width.saturating_sub(6),
                area.height.saturating_sub(4),
            );
            let result = p.result.as_ref();
            let answer = result.and_then(|r| r.answer.clone());
            let title = match result {
                Some(res) => format!(
                    " Path {path} · answer {} · {} · {} tokens{} · {:.1}s ({}/{} switch) ",
                    answer.clone().unwrap_or_else(|| "none".into()),
                    res.error.clone().unwrap_or_else(|| finish_label(res)),
                    res.completion_tokens(),
                    match res.reasoning_tokens() {
                        0 => String::new(),
                        n => format!(" ({n} thinking)"),
                    },
                    res.latency_ms as f64 / 1000.0,
                    s.keymap.first_key(Action::Left),
                    s.keymap.first_key(Action::Right),
                ),
                None => format!(" Path {path} · streaming "),
            };
            let mut text = match result {
                Some(r) if !r.steps().is_empty() => chain(&r.steps(), answer.as_deref()),
                Some(r) => highlighted(&p.text, r.answer_offset(), answer.as_deref()),
                None => Text::raw(visible(&p.text).into_owned()),
            };
            // A reasoning model's thinking, dimmed, above the answer text it led to.
            if !p.thinking.is_empty() {
                let dim = Style::default()
                    .fg(Color::DarkGray)
                    .add_modifier(Modifier::ITALIC);
                let mut lines = vec![Line::styled("thinking ┐", dim)];
                lines.extend(
                    visible(p.thinking.trim())
                        .lines()
                        .map(|l| Line::styled(format!("┆ {l}"), dim)),
                );
                lines.push(Line::styled("answer ┘", dim));
                lines.extend(text.lines);
                text = Text::from(lines);
            }
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0))
                    .block(block(title, true)),
                r,
            );
        }
    }
}

/// A two-field form (dataset and options) that starts a long job.
fn setup(
    f: &mut Frame,
    area: Rect,
    s: &AppState,
    title: &str,
    labels: [&str; 2],
    editors: &[ratatui_textarea::TextArea<'static>; 2],
    field: usize,
) {
    let r = centered(area, 80, 8);
    f.render_widget(Clear, r);
    let k = |a: Action| s.keymap.first_key(a);
    let outer = block(
        format!(
            " {title} ({} next field, Enter start, {} cancel) ",
            k(Action::FocusNext),
            k(Action::Cancel)
        ),
        true,
    );
    let inner = outer.inner(r);
    f.render_widget(outer, r);
    let rows = Layout::vertical([Constraint::Length(3), Constraint::Length(3)]).split(inner);
    for (i, name) in labels.iter().enumerate() {
        let b = block(format!(" {name} "), i == field);
        let ir = b.inner(rows[i]);
        f.render_widget(b, rows[i]);
        super::editor::text(f, ir, &editors[i], i == field);
    }
}

/// A least-to-most chain as a tree: each sub-question, its answer, what was read from it; the
/// last answer highlighted as above.
fn chain(steps: &[crate::core::record::StepView<'_>], answer: Option<&str>) -> Text<'static> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let (branch, stem) = if last {
            ("└─", "   ")
        } else {
            ("├─", "│  ")
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{branch} Q{}: ", i + 1),
                Style::default().fg(Color::Cyan),
            ),
            Span::styled(
                visible(s.question).into_owned(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]));
        let text = if last {
            highlighted(s.text.trim(), 0, answer)
        } else {
            Text::raw(visible(s.text.trim()).into_owned())
        };
        for (j, l) in text.lines.into_iter().enumerate() {
            let mut spans = vec![Span::styled(
                format!("{stem}{}", if j == 0 { "A: " } else { "   " }),
                Style::default().fg(Color::DarkGray),
            )];
            spans.extend(l.spans);
            lines.push(Line::from(spans));
        }
        if let Some(a) = s.answer.filter(|_| !last) {
            lines.push(Line::styled(
                format!("{stem}   → {a}"),
                Style::default().fg(Color::Yellow),
            ));
        }
    }
    Text::from(lines)
}

/// "stop", or every stage's finish reason when a stage was cut ("length, stop").
fn finish_label(p: &crate::core::record::PathRecord) -> String {
    if p.truncated() {
        let reasons: Vec<&str> = p
            .stages
            .iter()
            .map(|s| s.finish_reason.as_deref().unwrap_or("?"))
            .collect();
        format!("✂ cut at max tokens ({})", reasons.join(", "))
    } else {
        p.finish_reason().unwrap_or_default().to_string()
    }
}

/// The path's text with the final-answer sentence underlined and the answer in it highlighted;
/// the sentence is looked for from `from` on (where the stage the answer is read from starts).
pub fn highlighted(text: &str, from: usize, answer: Option<&str>) -> Text<'static> {
    let sentence = Style::default().add_modifier(Modifier::UNDERLINED);
    let hit = Style::default()
        .fg(Color::Black)
        .bg(Color::Green)
        .add_modifier(Modifier::BOLD);
    let from = if text.is_char_boundary(from) { from } else { 0 };
    let found = |hay: &str| {
        let ans = answer?;
        let lower = hay.to_lowercase();
        let i = lower.find(&ans.to_lowercase())?;
        let j = i + ans.len();
        (lower.len() == hay.len() && hay.is_char_boundary(i) && hay.is_char_boundary(j))
            .then_some((i, j))
    };
    let mut spans: Vec<Span<'static>> = vec![];
    match answer_sentence(&text[from..]).map(|(a, b)| (a + from, b + from)) {
        Some((a, b)) if found(&text[a..b]).is_some() || answer.is_none() => {
            spans.push(Span::raw(text[..a].to_string()));
            let sent = &text[a..b];
            match found(sent) {
                Some((i, j)) => {
                    spans.push(Span::styled(sent[..i].to_string(), sentence));
                    spans.push(Span::styled(sent[i..j].to_string(), hit));
                    spans.push(Span::styled(sent[j..].to_string(), sentence));
                }
                None => spans.push(Span::styled(sent.to_string(), sentence)),
            }
            spans.push(Span::raw(text[b..].to_string()));
        }
        // Read by a fallback (the last number, the last sentence): its last place in the text.
        _ => {
            let Some((i, j)) = answer.and_then(|ans| {
                let i = text[from..].rfind(ans)? + from;
                Some((i, i + ans.len()))
            }) else {
                return Text::raw(visible(text).into_owned());
            };
            spans.push(Span::raw(text[..i].to_string()));
            spans.push(Span::styled(text[i..j].to_string(), hit));
            spans.push(Span::raw(text[j..].to_string()));
        }
    }
    // Split into lines so wrapping and newlines render as in the text.
    let mut lines: Vec<Line<'static>> = vec![Line::default()];
    for span in spans {
        let style = span.style;
        let content = visible(&span.content).into_owned();
        let mut parts = content.split('\n').peekable();
        while let Some(part) = parts.next() {
            if let Some(l) = lines.last_mut().filter(|_| !part.is_empty()) {
                l.push_span(Span::styled(part.to_string(), style));
            }
            if parts.peek().is_some() {
                lines.push(Line::default());
            }
        }
    }
    Text::from(lines)
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
