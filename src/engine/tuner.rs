//! A tune started from the lab: what it asks (`TuneOptions`, the tune form's fields), its
//! plan before it starts, what it reports while it trains and what it gives. The engine never
//! trains: the composition root hands the lab a `Tuner` (`app::lab_tune`: `train` on a
//! blocking thread), and a build without the `train` feature one that says so.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::curve::{CurveError, CurveEvent};
use crate::core::curve::Curve;
use crate::core::render::Mode;
use crate::core::template::Template;
use crate::store::adapters::Record;

/// Why a tune cannot be planned or run.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error("{key}={value:?}: {what}")]
    Option {
        key: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("unknown tune option `{0}` (name= rank= epochs= lr= seed= curve=)")]
    UnknownOption(String),
    #[error(transparent)]
    Sizes(#[from] crate::core::curve::SizesError),
    #[error(transparent)]
    Name(#[from] crate::core::name::NameError),
    /// This build has no trainer: how to get one.
    #[error("{0}")]
    Unavailable(String),
    /// The trainer's refusal or failure, in the words of the composition root that runs it.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

impl From<String> for TuneError {
    fn from(e: String) -> TuneError {
        TuneError::Failed(e.into())
    }
}

impl From<TuneError> for String {
    fn from(e: TuneError) -> String {
        e.to_string()
    }
}

/// What the tune form asks for (`name=… rank=… epochs=… lr=… seed=… curve=…`).
#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    /// The adapter's name: `adapters/NAME.gguf` (a curve: the folder `adapters/NAME-curve/`).
    pub name: String,
    pub rank: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// A learning curve's sizes (`None`: one adapter on every training row).
    pub curve: Option<Vec<usize>>,
}

impl Default for TuneOptions {
    /// `promptlab tune`'s defaults (`train::trainer::Settings`).
    fn default() -> TuneOptions {
        TuneOptions {
            name: String::new(),
            rank: 8,
            epochs: 3,
            learning_rate: 1e-3,
            seed: 1,
            curve: None,
        }
    }
}

impl std::str::FromStr for TuneOptions {
    type Err = TuneError;

    fn from_str(text: &str) -> Result<TuneOptions, TuneError> {
        let mut o = TuneOptions::default();
        for part in text.split_whitespace() {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let bad = |key, what| TuneError::Option {
                key,
                value: value.to_string(),
                what,
            };
            match key {
                "name" => {
                    crate::core::name::check("the adapter name", value)?;
                    o.name = value.to_string();
                }
                "rank" => {
                    o.rank = value
                        .parse()
                        .ok()
                        .filter(|r| *r > 0)
                        .ok_or_else(|| bad("rank", "a whole number from 1"))?;
                }
                "epochs" => {
                    o.epochs = value
                        .parse()
                        .ok()
                        .filter(|e| *e > 0)
                        .ok_or_else(|| bad("epochs", "a whole number from 1"))?;
                }
                "lr" => {
                    o.learning_rate = value
                        .parse()
                        .ok()
                        .filter(|l: &f64| *l > 0.0 && l.is_finite())
                        .ok_or_else(|| bad("lr", "a positive number, like 0.001"))?;
                }
                "seed" => {
                    o.seed = value.parse().map_err(|_| bad("seed", "a whole number"))?;
                }
                "curve" if value.is_empty() => o.curve = None,
                // The sizes' form here; their bounds once the data are read.
                "curve" => o.curve = Some(crate::core::curve::parse_sizes(value, 1, usize::MAX)?),
                other => return Err(TuneError::UnknownOption(other.to_string())),
            }
        }
        if o.name.is_empty() {
            crate::core::name::check("the adapter name", "")?;
        }
        Ok(o)
    }
}

/// A tune as the lab asks for it: the data, the lab's template (its instruction and format;
/// its examples are not trained on) and mode, and the form's options.
#[derive(Debug, Clone)]
pub struct TuneJob {
    pub dataset: PathBuf,
    pub template: Template,
    /// The lab's prompt mode (`None`: the base model's own).
    pub mode: Option<Mode>,
    pub options: TuneOptions,
}

/// What a tune will do, before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TunePlan {
    /// The base model's file name.
    pub base: String,
    /// The adapter file (a curve: its folder).
    pub out: PathBuf,
    pub train_rows: usize,
    pub held_out: usize,
    /// Tokens of one epoch over the training rows, and the answer tokens the loss is on.
    pub tokens: usize,
    pub answer_tokens: usize,
    pub epochs: usize,
    /// Training tokens a second of the last tune on this base here (none measured yet: `None`).
    pub pace: Option<f64>,
    pub curve: Option<Vec<usize>>,
}

impl TunePlan {
    /// Tokens run forward and backward in all: every epoch, and for a curve each size's
    /// share of the rows.
    pub fn tokens_trained(&self) -> usize {
        let rows = self.train_rows.max(1);
        let per_epoch = match &self.curve {
            None => self.tokens,
            Some(sizes) => sizes
                .iter()
                .map(|n| self.tokens * n.min(&rows) / rows)
                .sum(),
        };
        per_epoch * self.epochs
    }

    /// The training time at the pace measured, when there is one.
    pub fn time(&self) -> Option<Duration> {
        let pace = self.pace.filter(|p| *p > 0.0)?;
        Some(Duration::from_secs_f64(self.tokens_trained() as f64 / pace))
    }
}

impl std::fmt::Display for TunePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} training rows ({} tokens, {} of them answers), {} held out · ",
            self.train_rows, self.tokens, self.answer_tokens, self.held_out
        )?;
        if let Some(sizes) = &self.curve {
            let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
            write!(
                f,
                "a curve of {} adapters on {} rows, each beside the few-shot prompt on the held-out rows · ",
                sizes.len(),
                sizes.join(", ")
            )?;
        }
        write!(
            f,
            "{} epoch(s), {} tokens trained on {}",
            self.epochs,
            self.tokens_trained(),
            self.base
        )?;
        match (self.time(), self.pace) {
            (Some(t), Some(p)) => write!(
                f,
                " · about {} at {p:.0} tok/s (the last tune here)",
                clock(t)
            )?,
            _ => write!(
                f,
                " · time: shown after the first steps (no tune measured here yet)"
            )?,
        }
        write!(
            f,
            " → {}",
            crate::core::display::visible(&self.out.display().to_string())
        )
    }
}

/// `1h05m`, `4m10s`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A curve's arm scored, in words: "16 rows, adapter: 62%", or why it is missing.
pub fn arm_line(rows: usize, adapter: bool, accuracy: Result<f64, &CurveError>) -> String {
    format!(
        "{rows} rows, {}: {}",
        if adapter {
            "adapter"
        } else {
            "few-shot prompt"
        },
        match accuracy {
            Ok(a) => format!("{:.0}%", 100.0 * a),
            Err(e) => format!(
                "missing ({})",
                crate::core::display::visible(&e.to_string())
            ),
        }
    )
}

/// A curve as the rows of a table: the header, then each size's two accuracies with their
/// intervals and the paired difference (`tune --curve` prints them, the lab draws them).
pub fn curve_rows(c: &Curve) -> Vec<String> {
    use crate::core::stats::{Estimate, points};
    let acc = |e: &Option<Estimate>| match e {
        Some(e) => format!(
            "{:>3.0}% [{:.0}, {:.0}]",
            100.0 * e.value,
            100.0 * e.low,
            100.0 * e.high
        ),
        None => "—".into(),
    };
    let mut rows = vec![format!(
        "{:>5}  {:<16}  {:<16}  {}",
        "rows", "adapter", "few-shot prompt", "adapter − prompt (points, paired)"
    )];
    rows.extend(c.points.iter().map(|p| {
        let versus = p.versus.map_or("—".into(), |v| {
            format!(
                "{} [{}, {}] p {:.2}",
                points(v.diff),
                points(v.low),
                points(v.high),
                v.p
            )
        });
        format!(
            "{:>5}  {:<16}  {:<16}  {versus}",
            p.rows,
            acc(&p.adapter),
            acc(&p.prompt)
        )
    }));
    rows
}

/// What a tune reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum TuneProgress {
    /// The data are ready (for a curve: each size's).
    Prepared {
        train_rows: usize,
        held_out: usize,
        tokens: usize,
        answer_tokens: usize,
    },
    /// One optimiser step done: `step` of `steps`, the step's loss on answer tokens, the pace
    /// so far and the time left at it.
    Step {
        step: usize,
        steps: usize,
        epoch: usize,
        loss: f32,
        tokens_per_second: f64,
        left: Duration,
    },
    /// An epoch ended and its adapter was written (the checkpoint a stop keeps).
    Checkpoint { epoch: usize, path: PathBuf },
    /// llama.cpp loads the adapter and its logits are checked.
    Checking,
    /// A learning curve's step.
    Curve(CurveEvent),
}

/// What a tune gave.
#[derive(Debug, Clone)]
pub enum Tuned {
    /// An adapter (complete, or the last epoch's when stopped) and its record.
    Adapter { path: PathBuf, record: Box<Record> },
    /// A learning curve, its adapters, chart and figures in `dir`.
    Curve { dir: PathBuf, curve: Curve },
}

/// Where a tune's progress goes.
pub type Progress = Arc<dyn Fn(TuneProgress) + Send + Sync>;

/// Trains adapters for the lab.
pub trait Tuner: Send + Sync {
    /// Whether this build can train at all (the reason it cannot, and how to get one that can).
    fn available(&self) -> Result<(), TuneError>;
    /// The plan of `job`: the data read and tokenized, nothing trained.
    fn plan(&self, job: TuneJob) -> BoxFuture<'static, Result<TunePlan, TuneError>>;
    /// Trains as `job` says, reporting to `on`; `cancel` stops it after the current step, the
    /// last finished epoch's adapter kept.
    fn tune(
        &self,
        job: TuneJob,
        cancel: CancellationToken,
        on: Progress,
    ) -> BoxFuture<'static, Result<Tuned, TuneError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_options_are_read_with_their_defaults() {
        let o: TuneOptions = "name=tickets-2 rank=4 lr=0.0005".parse().unwrap();
        assert_eq!(
            o,
            TuneOptions {
                name: "tickets-2".into(),
                rank: 4,
                learning_rate: 0.0005,
                ..TuneOptions::default()
            }
        );
        let c: TuneOptions = "name=c curve=8,16,32".parse().unwrap();
        assert_eq!(c.curve, Some(vec![8, 16, 32]));
        for (bad, says) in [
            ("name=x rank=0", "rank"),
            ("name=x epochs=two", "epochs"),
            ("name=x lr=-1", "lr"),
            ("name=x curve=16,8", "ascending"),
            ("name=x speed=9", "unknown tune option `speed`"),
            ("name=../x", "adapter name"),
            ("rank=8", "adapter name"),
        ] {
            let e = bad.parse::<TuneOptions>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_plan_says_rows_tokens_and_time_at_the_pace_measured() {
        let mut p = TunePlan {
            base: "gemma.gguf".into(),
            out: "/m/adapters/t.gguf".into(),
            train_rows: 200,
            held_out: 50,
            tokens: 4000,
            answer_tokens: 600,
            epochs: 3,
            pace: Some(40.0),
            curve: None,
        };
        assert_eq!(p.tokens_trained(), 12_000);
        assert_eq!(p.time(), Some(Duration::from_secs(300)));
        let line = p.to_string();
        assert!(
            line.starts_with("200 training rows (4000 tokens, 600 of them answers), 50 held out"),
            "{line}"
        );
        assert!(line.contains("about 5m00s at 40 tok/s"), "{line}");
        p.curve = Some(vec![50, 100]);
        // A curve trains a quarter of the rows, then half of them.
        assert_eq!(p.tokens_trained(), 3 * (1000 + 2000));
        p.pace = None;
        assert!(p.to_string().contains("no tune measured here yet"));
    }
}
