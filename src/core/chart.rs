//! Accuracy against samples per item: full self-consistency's maj@k curves as lines, early-stop
//! rules as points on the same axes, so what stopping early costs shows at a glance. Each curve
//! carries its 95% band and each point its interval (`core::evaluation`), so a gap inside the
//! noise looks like one. One set of series feeds both the SVG of `eval --out` and the lab's
//! evaluation chart.

use std::fmt::Write as _;

/// One thing drawn: a curve (maj@k for k = 1..N) or a point (a rule's samples and accuracy).
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    Curve {
        name: String,
        points: Vec<(f64, f64)>,
        /// The interval (low, high) at each point; empty: none drawn.
        band: Vec<(f64, f64)>,
    },
    Point {
        name: String,
        x: f64,
        y: f64,
        interval: Option<(f64, f64)>,
    },
}

impl Series {
    pub fn name(&self) -> &str {
        match self {
            Series::Curve { name, .. } | Series::Point { name, .. } => name,
        }
    }

    /// Its points as (samples per item, accuracy in 0..=1).
    pub fn points(&self) -> Vec<(f64, f64)> {
        match self {
            Series::Curve { points, .. } => points.clone(),
            Series::Point { x, y, .. } => vec![(*x, *y)],
        }
    }

    /// The band's lower and upper edges as (samples per item, accuracy) lines (empty without
    /// a band); a point's interval is a vertical segment.
    pub fn band_edges(&self) -> [Vec<(f64, f64)>; 2] {
        match self {
            Series::Curve { points, band, .. } => {
                let edge = |f: fn(&(f64, f64)) -> f64| {
                    points
                        .iter()
                        .zip(band)
                        .map(|((x, _), b)| (*x, f(b)))
                        .collect()
                };
                [edge(|b| b.0), edge(|b| b.1)]
            }
            Series::Point {
                x,
                interval: Some((low, high)),
                ..
            } => [vec![(*x, *low), (*x, *high)], vec![]],
            Series::Point { .. } => [vec![], vec![]],
        }
    }
}

/// The largest samples-per-item value drawn (at least 2, so the axis has a span).
pub fn max_x(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(Series::points)
        .map(|(x, _)| x)
        .fold(2.0, f64::max)
        .ceil()
}

/// Line colours of the SVG, in series order.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// Text for an SVG's text and attribute values: markup characters as entities, and every
/// control character (most of which XML 1.0 cannot hold at all) and bidi override written
/// out visibly as `\x1b`, `\u{202e}`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A self-contained SVG of `series` under `title`.
pub fn svg(title: &str, series: &[Series]) -> String {
    svg_axes(title, ("samples per item", "accuracy (majority)"), series)
}

/// The same with other axis labels (x, y).
pub fn svg_axes(title: &str, (x_label, y_label): (&str, &str), series: &[Series]) -> String {
    let (w, h) = (760.0, 440.0);
    let (left, right, top, bottom) = (60.0, 230.0, 40.0, 50.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let xmax = max_x(series);
    let px = |x: f64| left + (x - 1.0) / (xmax - 1.0) * pw;
    let py = |y: f64| top + (1.0 - y.clamp(0.0, 1.0)) * ph;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"24\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    );
    for pct in [0, 25, 50, 75, 100] {
        let y = py(f64::from(pct) / 100.0);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{pct}%</text>",
            left + pw,
            left - 6.0,
            y + 4.0
        );
    }
    let step = (xmax / 10.0).ceil().max(1.0) as usize;
    for k in (1..=xmax as usize).step_by(step) {
        let x = px(k as f64);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{k}</text>",
            top + ph,
            top + ph + 4.0,
            top + ph + 18.0
        );
    }
    let _ = writeln!(
        out,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#333\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
         <text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">{}</text>",
        left + pw / 2.0,
        h - 10.0,
        escape(x_label),
        top + ph / 2.0,
        top + ph / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let [low, high] = s.band_edges();
        if !low.is_empty() && !high.is_empty() {
            // The band: along the upper edge, back along the lower one.
            let outline: Vec<String> = high
                .iter()
                .chain(low.iter().rev())
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = writeln!(
                out,
                "<polygon fill=\"{color}\" fill-opacity=\"0.15\" stroke=\"none\" points=\"{}\"/>",
                outline.join(" ")
            );
        } else if let [(x, y0), (_, y1)] = low[..] {
            let _ = writeln!(
                out,
                "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>",
                px(x),
                py(y0),
                py(y1)
            );
        }
        match s {
            Series::Curve { points, .. } => {
                let path: Vec<String> = points
                    .iter()
                    .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                    .collect();
                let _ = writeln!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                    path.join(" ")
                );
            }
            Series::Point { x, y, .. } => {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{color}\" stroke=\"black\"/>",
                    px(*x),
                    py(*y)
                );
            }
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let lx = left + pw + 16.0;
        let mark = match s {
            Series::Curve { .. } => format!(
                "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{:.1}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/>",
                lx + 18.0
            ),
            Series::Point { .. } => format!(
                "<circle cx=\"{:.1}\" cy=\"{ly}\" r=\"5\" fill=\"{color}\" stroke=\"black\"/>",
                lx + 9.0
            ),
        };
        let label = match s {
            Series::Curve { name, band, .. } if band.is_empty() => format!("{name} (maj@k)"),
            Series::Curve { name, .. } => format!("{name} (maj@k, 95% band)"),
            Series::Point { name, x, y, .. } => format!("{name}: {:.0}% at {x:.1}", y * 100.0),
        };
        let _ = writeln!(
            out,
            "{mark}<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 24.0,
            ly + 4.0,
            escape(&label)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_draws_curves_and_points_and_escapes_names() {
        let series = vec![
            Series::Curve {
                name: "n=20 <full>".into(),
                points: (1..=20)
                    .map(|k| (k as f64, 0.5 + k as f64 / 100.0))
                    .collect(),
                band: vec![],
            },
            Series::Point {
                name: "early_stop=beta".into(),
                x: 5.5,
                y: 0.68,
                interval: None,
            },
        ];
        let svg = svg("arith & sums", &series);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        // One point drawn, one legend mark.
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("arith &amp; sums"));
        assert!(svg.contains("n=20 &lt;full&gt; (maj@k)"));
        assert!(svg.contains("early_stop=beta: 68% at 5.5"));
        assert_eq!(max_x(&series), 20.0);
        // Every coordinate is a number (no NaN from a one-point axis).
        assert!(!svg.contains("NaN"));
        let lone = svg_points_only();
        assert!(!lone.contains("NaN"));
    }

    /// A small XML well-formedness check: characters XML 1.0 allows, entities it knows,
    /// quoted attributes, and tags that open and close in order. The reason when not.
    pub(crate) fn well_formed(xml: &str) -> Result<(), String> {
        if let Some(c) = xml
            .chars()
            .find(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\r') && (c as u32) < 0x20)
        {
            return Err(format!("{c:?} is no XML character"));
        }
        let mut open: Vec<String> = Vec::new();
        let mut rest = xml;
        while let Some(i) = rest.find(['<', '&', '>']) {
            let (c, after) = (rest.as_bytes()[i], &rest[i + 1..]);
            if c == b'>' {
                return Err(format!(
                    "a stray `>` before {:?}",
                    &after[..after.len().min(20)]
                ));
            }
            if c == b'&' {
                let end = after.find(';').ok_or("an `&` without `;`")?;
                let name = &after[..end];
                let known = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                    || name
                        .strip_prefix('#')
                        .is_some_and(|n| n.chars().all(|d| d.is_ascii_digit()));
                if !known {
                    return Err(format!("unknown entity &{name};"));
                }
                rest = &after[end + 1..];
                continue;
            }
            // A tag: up to its `>`, outside quoted attribute values.
            let mut quote = None;
            let end = after
                .char_indices()
                .find(|&(_, ch)| match (quote, ch) {
                    (None, '"' | '\'') => {
                        quote = Some(ch);
                        false
                    }
                    (Some(q), ch) if ch == q => {
                        quote = None;
                        false
                    }
                    (Some(_), '<') => true,
                    (None, '>') => true,
                    _ => false,
                })
                .map(|(k, _)| k)
                .ok_or("a tag that never ends")?;
            let tag = &after[..end];
            if tag.contains('<') {
                return Err(format!("`<` inside the tag {tag:?}"));
            }
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|ch| !ch.is_whitespace() && *ch != '/')
                .collect();
            if let Some(closing) = tag.strip_prefix('/') {
                if open.pop().as_deref() != Some(closing.trim()) {
                    return Err(format!("</{closing}> closes nothing open"));
                }
            } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
                open.push(name);
            }
            rest = &after[end + 1..];
        }
        match open.pop() {
            Some(tag) => Err(format!("<{tag}> never closed")),
            None => Ok(()),
        }
    }

    #[test]
    fn any_name_gives_well_formed_xml() {
        let nasty = "a\u{1b}]0;t\u{7}<b> & \"c\" 'd' \u{202e}\u{9b}1m\u{0}\r";
        let series = vec![Series::Point {
            name: nasty.into(),
            x: 1.0,
            y: 0.5,
            interval: Some((0.2, 0.8)),
        }];
        let svg = svg(nasty, &series);
        assert_eq!(well_formed(&svg), Ok(()), "{svg}");
        assert!(
            svg.contains("a\\x1b]0;t\\x07&lt;b&gt; &amp; &quot;c&quot;"),
            "{svg}"
        );
        assert!(well_formed("<a><b></a>").is_err());
        assert!(well_formed("<a>\u{1b}</a>").is_err());
        assert!(well_formed("<a>&nope;</a>").is_err());
    }

    fn svg_points_only() -> String {
        svg(
            "one",
            &[Series::Point {
                name: "x".into(),
                x: 1.0,
                y: 1.0,
                interval: None,
            }],
        )
    }

    #[test]
    fn bands_and_intervals_are_drawn() {
        let series = vec![
            Series::Curve {
                name: "full".into(),
                points: vec![(1.0, 0.4), (2.0, 0.5), (3.0, 0.55)],
                band: vec![(0.25, 0.55), (0.35, 0.65), (0.4, 0.7)],
            },
            Series::Point {
                name: "beta".into(),
                x: 2.2,
                y: 0.5,
                interval: Some((0.3, 0.7)),
            },
        ];
        let svg = svg("bands", &series);
        assert_eq!(svg.matches("<polygon").count(), 1, "one band");
        // The band goes out along the upper edge and back along the lower one: 6 vertices.
        let band = svg.split("<polygon").nth(1).expect("band");
        let points = band.split("points=\"").nth(1).expect("points");
        assert_eq!(
            points.split('"').next().expect("list").split(' ').count(),
            6
        );
        assert!(svg.contains("full (maj@k, 95% band)"));
        // The point's interval: a vertical line at its x.
        let [low, high] = series[1].band_edges();
        assert_eq!(low, vec![(2.2, 0.3), (2.2, 0.7)]);
        assert!(high.is_empty());
        assert!(!svg.contains("NaN"));
    }
}
