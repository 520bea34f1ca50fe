//! The learning curve of `tune --curve 8,16,32,64`: how many labelled rows a specialist needs
//! before it beats the prompted generalist. Both arms spend the same rows: the adapter is
//! trained on the first N rows of one seeded shuffle (so each subset holds the smaller ones),
//! and the few-shot prompt shows the first N of the same rows as its examples. Both are scored
//! on the same held-out items, so each size's comparison is paired (McNemar, Newcombe's
//! interval); the crossover is the size from which the adapter stays ahead.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::chart::Series;
use super::stats::{self, Estimate, LEVEL, Paired, paired_binary, proportion};

/// Why a `--curve` list of sizes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizesError {
    #[error("--curve: {0:?} is not a number of rows")]
    NotANumber(String),
    #[error("--curve: {n} rows is too few to train on (at least {min})")]
    TooFew { n: usize, min: usize },
    #[error("--curve: {n} rows asked, but only {available} rows are left to train on")]
    TooMany { n: usize, available: usize },
    #[error("--curve: give the sizes once each, ascending (8,16,32,64)")]
    NotAscending,
    #[error("--curve: give at least one size")]
    Empty,
}

impl From<SizesError> for String {
    fn from(e: SizesError) -> String {
        e.to_string()
    }
}

/// Reads `8,16,32,64`: distinct sizes, ascending, each at least `min` and at most `available`
/// (the training rows there are).
pub fn parse_sizes(text: &str, min: usize, available: usize) -> Result<Vec<usize>, SizesError> {
    let mut sizes = Vec::new();
    for part in text.split(',').map(str::trim) {
        let n: usize = part
            .parse()
            .map_err(|_| SizesError::NotANumber(part.to_string()))?;
        if n < min {
            return Err(SizesError::TooFew { n, min });
        }
        if n > available {
            return Err(SizesError::TooMany { n, available });
        }
        if sizes.last().is_some_and(|&last| n <= last) {
            return Err(SizesError::NotAscending);
        }
        sizes.push(n);
    }
    if sizes.is_empty() {
        return Err(SizesError::Empty);
    }
    Ok(sizes)
}

/// The nested subsets: one shuffle of `rows` with `seed`, and its first `n` rows for each `n`
/// of `sizes` (each subset contains every smaller one).
pub fn nested<T: Clone>(rows: &[T], sizes: &[usize], seed: u64) -> Vec<Vec<T>> {
    let mut order: Vec<T> = rows.to_vec();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    sizes
        .iter()
        .map(|&n| order[..n.min(order.len())].to_vec())
        .collect()
}

/// One size's scores on the held-out items, in item order (`None`: that arm was not run,
/// or failed, at this size).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub rows: usize,
    pub adapter: Option<Vec<bool>>,
    pub prompt: Option<Vec<bool>>,
}

/// One size as reported: each arm's accuracy with its Wilson interval, and the adapter
/// against the prompt on the same items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub rows: usize,
    pub adapter: Option<Estimate>,
    pub prompt: Option<Estimate>,
    /// Adapter minus prompt, paired.
    pub versus: Option<Paired>,
}

/// Where the adapter overtakes the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "rows", rename_all = "snake_case")]
pub enum Crossover {
    /// Ahead at every size measured.
    Throughout,
    /// Behind or level before this size, ahead from it on.
    At(usize),
    /// Not ahead at the largest size.
    Never,
    /// No size has both arms.
    Unknown,
}

/// The whole curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub items: usize,
    pub points: Vec<Point>,
    pub crossover: Crossover,
    /// The crossover in words, with the largest size's paired comparison.
    pub verdict: String,
}

fn accuracy(scores: &[bool]) -> Option<Estimate> {
    let right = scores.iter().filter(|&&s| s).count() as u64;
    proportion(right, scores.len() as u64, LEVEL)
}

/// The figures of `scores` (ascending sizes) on `items` held-out items.
pub fn curve(items: usize, scores: &[Scores]) -> Curve {
    let points: Vec<Point> = scores
        .iter()
        .map(|s| Point {
            rows: s.rows,
            adapter: s.adapter.as_deref().and_then(accuracy),
            prompt: s.prompt.as_deref().and_then(accuracy),
            versus: match (&s.prompt, &s.adapter) {
                (Some(p), Some(a)) => paired_binary(p, a, LEVEL),
                _ => None,
            },
        })
        .collect();
    let crossover = crossover(&points);
    let verdict = verdict(&points, crossover);
    Curve {
        items,
        points,
        crossover,
        verdict,
    }
}

/// The smallest size from which the adapter is ahead at every size with both arms.
pub fn crossover(points: &[Point]) -> Crossover {
    let both: Vec<(usize, f64)> = points
        .iter()
        .filter_map(|p| p.versus.map(|v| (p.rows, v.diff)))
        .collect();
    let Some(&(_, last)) = both.last() else {
        return Crossover::Unknown;
    };
    if last <= 0.0 {
        return Crossover::Never;
    }
    let from = both
        .iter()
        .rposition(|&(_, d)| d <= 0.0)
        .map_or(0, |i| i + 1);
    if from == 0 {
        Crossover::Throughout
    } else {
        Crossover::At(both[from].0)
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn verdict(points: &[Point], crossover: Crossover) -> String {
    let Some((rows, v)) = points
        .iter()
        .rev()
        .find_map(|p| p.versus.map(|v| (p.rows, v)))
    else {
        return "no size has both the adapter and the prompt scored: nothing to compare".into();
    };
    let lead = match crossover {
        Crossover::Throughout => {
            format!(
                "the adapter is ahead of the few-shot prompt at every size, from {} rows",
                points[0].rows
            )
        }
        Crossover::At(n) => {
            format!(
                "the adapter overtakes the few-shot prompt at {n} labelled rows and stays ahead"
            )
        }
        Crossover::Never | Crossover::Unknown => {
            format!("no crossover: the few-shot prompt is not behind at {rows} rows")
        }
    };
    let significant = v.p < 1.0 - LEVEL;
    format!(
        "{lead}; at {rows} rows adapter {} against prompt {} ({} points [{}, {}], p {:.2}{})",
        pct(v.b),
        pct(v.a),
        stats::points(v.diff),
        stats::points(v.low),
        stats::points(v.high),
        v.p,
        if significant {
            ""
        } else {
            ": within the noise of these items"
        }
    )
}

impl Curve {
    /// The two arms as chart series against labelled rows, each with its 95% band.
    pub fn series(&self) -> Vec<Series> {
        let arm = |name: &str, get: fn(&Point) -> Option<Estimate>| {
            let measured: Vec<(usize, Estimate)> = self
                .points
                .iter()
                .filter_map(|p| get(p).map(|e| (p.rows, e)))
                .collect();
            Series::Curve {
                name: name.to_string(),
                points: measured.iter().map(|(n, e)| (*n as f64, e.value)).collect(),
                band: measured.iter().map(|(_, e)| (e.low, e.high)).collect(),
            }
        };
        vec![
            arm("LoRA adapter, N rows", |p| p.adapter),
            arm("few-shot prompt, N examples", |p| p.prompt),
        ]
    }

    /// The chart as a self-contained SVG.
    pub fn svg(&self, title: &str) -> String {
        super::chart::svg_axes(
            title,
            ("labelled rows", "accuracy on held-out items"),
            &self.series(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(rows: usize, adapter: &[u8], prompt: &[u8]) -> Scores {
        let b = |v: &[u8]| Some(v.iter().map(|&x| x == 1).collect());
        Scores {
            rows,
            adapter: b(adapter),
            prompt: b(prompt),
        }
    }

    #[test]
    fn sizes_are_read_and_checked() {
        assert_eq!(parse_sizes("8, 16,32,64", 8, 200).unwrap(), [8, 16, 32, 64]);
        assert!(
            parse_sizes("4,16", 8, 200)
                .unwrap_err()
                .to_string()
                .contains("too few")
        );
        assert!(
            parse_sizes("8,300", 8, 200)
                .unwrap_err()
                .to_string()
                .contains("only 200")
        );
        assert!(
            parse_sizes("16,8", 8, 200)
                .unwrap_err()
                .to_string()
                .contains("ascending")
        );
        assert!(parse_sizes("8,8", 8, 200).is_err());
        assert!(
            parse_sizes("8,x", 8, 200)
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
    }

    #[test]
    fn subsets_are_nested_and_seeded() {
        let rows: Vec<u32> = (0..50).collect();
        let s = nested(&rows, &[8, 16, 32], 3);
        assert_eq!(s.iter().map(Vec::len).collect::<Vec<_>>(), [8, 16, 32]);
        assert_eq!(s[1][..8], s[0][..]);
        assert_eq!(s[2][..16], s[1][..]);
        assert_eq!(nested(&rows, &[8, 16, 32], 3), s);
        assert_ne!(
            nested(&rows, &[8], 4)[0],
            s[0],
            "another seed, another shuffle"
        );
        assert_ne!(s[0], rows[..8], "shuffled");
    }

    #[test]
    fn the_crossover_is_where_the_adapter_stays_ahead() {
        let c = curve(
            4,
            &[
                scores(8, &[1, 0, 0, 0], &[1, 1, 0, 0]),
                scores(16, &[1, 1, 1, 0], &[1, 1, 0, 0]),
                scores(32, &[1, 1, 0, 0], &[1, 1, 0, 0]),
                scores(64, &[1, 1, 1, 1], &[1, 1, 0, 0]),
            ],
        );
        // Ahead at 16, level at 32, ahead again at 64: it stays ahead from 64.
        assert_eq!(c.crossover, Crossover::At(64));
        assert!(
            c.verdict
                .starts_with("the adapter overtakes the few-shot prompt at 64"),
            "{}",
            c.verdict
        );
        assert!(
            c.verdict.contains("adapter 100% against prompt 50%"),
            "{}",
            c.verdict
        );
        assert!(c.verdict.contains("within the noise"), "{}", c.verdict);
        assert_eq!(c.points[0].adapter.unwrap().value, 0.25);
        assert_eq!(c.points[0].versus.unwrap().diff, -0.25);

        let ahead = curve(
            2,
            &[scores(8, &[1, 1], &[0, 1]), scores(16, &[1, 1], &[1, 0])],
        );
        assert_eq!(ahead.crossover, Crossover::Throughout);
        let behind = curve(
            2,
            &[scores(8, &[1, 1], &[0, 1]), scores(16, &[0, 1], &[1, 1])],
        );
        assert_eq!(behind.crossover, Crossover::Never);
        assert!(
            behind.verdict.starts_with("no crossover"),
            "{}",
            behind.verdict
        );
        let none = curve(
            2,
            &[Scores {
                rows: 8,
                adapter: None,
                prompt: Some(vec![true, false]),
            }],
        );
        assert_eq!(none.crossover, Crossover::Unknown);
        assert_eq!(none.points[0].prompt.unwrap().value, 0.5);
    }

    #[test]
    fn a_clear_difference_is_called_one() {
        let n = 60;
        let c = curve(n, &[scores(32, &vec![1; n], &vec![0; n])]);
        assert_eq!(c.crossover, Crossover::Throughout);
        assert!(!c.verdict.contains("noise"), "{}", c.verdict);
        assert!(c.verdict.contains("p 0.00"), "{}", c.verdict);
    }

    #[test]
    fn the_chart_has_both_arms_against_rows() {
        let c = curve(
            4,
            &[
                scores(8, &[1, 0, 0, 0], &[1, 1, 0, 0]),
                scores(32, &[1, 1, 1, 0], &[1, 1, 0, 0]),
            ],
        );
        let s = c.series();
        assert_eq!(s[0].points(), [(8.0, 0.25), (32.0, 0.75)]);
        assert_eq!(s[1].points(), [(8.0, 0.5), (32.0, 0.5)]);
        let svg = c.svg("tickets");
        assert!(svg.contains("labelled rows") && svg.contains("few-shot prompt, N examples"));
        assert!(!svg.contains("samples per item"));
    }
}
