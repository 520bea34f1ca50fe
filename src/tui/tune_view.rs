//! A tune started from the lab, as it reports (`engine::tuner`): the data it prepared, each
//! step's loss, pace and time left, the checkpoints written, a curve's arms as they finish,
//! and how it ended. Folded from the tune's progress like a run's events; drawn by
//! `panes::tune`.

use std::path::{Path, PathBuf};

use crate::engine::curve::CurveEvent;
use crate::engine::tuner::{TuneOptions, TuneProgress, Tuned, arm_line, clock};

/// The last step's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFigures {
    pub step: usize,
    pub steps: usize,
    pub epoch: usize,
    pub loss: f32,
    pub tokens_per_second: f64,
    pub left: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct TuneView {
    /// What was asked: the adapter's name (a curve's folder), the dataset, a curve's sizes.
    pub name: String,
    pub dataset: String,
    pub curve: Option<Vec<usize>>,
    /// Rows training and held out, tokens of an epoch and the answers among them.
    pub prepared: Option<[usize; 4]>,
    pub step: Option<StepFigures>,
    /// The losses of the adapter training now, step by step.
    pub losses: Vec<f32>,
    /// What happened, a line each: checkpoints written, a curve's arms scored.
    pub log: Vec<String>,
    /// What it does now ("loading the model and the data", "training", …).
    pub phase: String,
    /// Asked to stop: it does after the current step.
    pub stopping: bool,
    /// How it ended (`None`: still going).
    pub outcome: Option<Result<Tuned, String>>,
    /// The adapter the model picker is asked to select when its list comes.
    pub offered: Option<PathBuf>,
}

impl TuneView {
    pub fn new(options: &TuneOptions, dataset: &str) -> TuneView {
        TuneView {
            name: options.name.clone(),
            dataset: dataset.to_string(),
            curve: options.curve.clone(),
            prepared: None,
            step: None,
            losses: Vec::new(),
            log: Vec::new(),
            phase: "loading the model and the data".into(),
            stopping: false,
            outcome: None,
            offered: None,
        }
    }

    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// Takes in one report.
    pub fn apply(&mut self, p: TuneProgress) {
        match p {
            TuneProgress::Prepared {
                train_rows,
                held_out,
                tokens,
                answer_tokens,
            } => {
                self.prepared = Some([train_rows, held_out, tokens, answer_tokens]);
                self.losses.clear();
                self.step = None;
                if self.curve.is_none() {
                    self.phase = "training".into();
                }
            }
            TuneProgress::Step {
                step,
                steps,
                epoch,
                loss,
                tokens_per_second,
                left,
            } => {
                self.losses.push(loss);
                self.step = Some(StepFigures {
                    step,
                    steps,
                    epoch,
                    loss,
                    tokens_per_second,
                    left,
                });
            }
            TuneProgress::Checkpoint { epoch, path } => self.log.push(format!(
                "epoch {epoch}: adapter written to {}",
                crate::core::display::visible(&path.display().to_string())
            )),
            TuneProgress::Checking => {
                self.phase = "checking the adapter with llama.cpp".into();
            }
            TuneProgress::Curve(e) => self.curve_event(e),
        }
    }

    fn curve_event(&mut self, e: CurveEvent) {
        match e {
            CurveEvent::Prompting { rows } => {
                self.phase = format!("scoring the few-shot prompt with {rows} examples");
            }
            CurveEvent::Training { rows } => {
                self.phase = format!("training the adapter on {rows} rows");
            }
            CurveEvent::Scoring { rows } => {
                self.phase = format!("scoring the {rows}-row adapter");
            }
            CurveEvent::Done {
                rows,
                adapter,
                accuracy,
            } => self
                .log
                .push(arm_line(rows, adapter, accuracy.as_ref().copied())),
        }
    }

    /// The tune ended.
    pub fn end(&mut self, r: Result<Tuned, String>) {
        self.phase = match &r {
            Ok(Tuned::Adapter { record, .. }) if record.complete => "trained".into(),
            Ok(Tuned::Adapter { .. }) => {
                "stopped: the last finished epoch's adapter is kept".into()
            }
            Ok(Tuned::Curve { .. }) if self.stopping => {
                "stopped: the curve as far as it got".into()
            }
            Ok(Tuned::Curve { .. }) => "the curve is done".into(),
            Err(_) if self.stopping => "stopped".into(),
            Err(_) => "failed".into(),
        };
        self.outcome = Some(r);
    }

    /// The adapter it wrote, once over (complete, or the last epoch's).
    pub fn adapter(&self) -> Option<&Path> {
        match &self.outcome {
            Some(Ok(Tuned::Adapter { path, .. })) => Some(path),
            _ => None,
        }
    }

    /// One line for the header while it trains.
    pub fn headline(&self) -> String {
        let what = match &self.step {
            Some(st) => format!(
                "step {}/{} · loss {:.3} · {:.0} tok/s · {} left",
                st.step,
                st.steps,
                st.loss,
                st.tokens_per_second,
                clock(st.left)
            ),
            None => self.phase.clone(),
        };
        let name = crate::core::display::visible(&self.name);
        if self.stopping {
            format!("tune {name}: stopping after this step")
        } else {
            format!("tune {name}: {what}")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn step(step: usize, loss: f32) -> TuneProgress {
        TuneProgress::Step {
            step,
            steps: 4,
            epoch: 1 + (step - 1) / 2,
            loss,
            tokens_per_second: 40.0,
            left: Duration::from_secs(30 * (4 - step) as u64),
        }
    }

    fn options(curve: Option<Vec<usize>>) -> TuneOptions {
        TuneOptions {
            name: "t".into(),
            curve,
            ..TuneOptions::default()
        }
    }

    #[test]
    fn steps_and_checkpoints_fold_into_the_view_and_a_stop_keeps_the_last_epoch() {
        let mut t = TuneView::new(&options(None), "d.jsonl");
        assert!(t.running());
        t.apply(TuneProgress::Prepared {
            train_rows: 8,
            held_out: 2,
            tokens: 400,
            answer_tokens: 40,
        });
        assert_eq!(t.phase, "training");
        t.apply(step(1, 3.0));
        t.apply(step(2, 2.0));
        t.apply(TuneProgress::Checkpoint {
            epoch: 1,
            path: "/a/t.gguf".into(),
        });
        assert_eq!(t.losses, [3.0, 2.0]);
        assert_eq!(t.log, ["epoch 1: adapter written to /a/t.gguf"]);
        assert_eq!(
            t.headline(),
            "tune t: step 2/4 · loss 2.000 · 40 tok/s · 1m00s left"
        );
        t.stopping = true;
        assert_eq!(t.headline(), "tune t: stopping after this step");
        let mut record: crate::store::adapters::Record =
            serde_json::from_str(include_str!("../../tests/fixtures/adapter-record.json")).unwrap();
        record.complete = false;
        t.end(Ok(Tuned::Adapter {
            path: "/a/t.gguf".into(),
            record: Box::new(record),
        }));
        assert!(!t.running());
        assert_eq!(t.adapter(), Some(Path::new("/a/t.gguf")));
        assert!(
            t.phase.contains("last finished epoch's adapter is kept"),
            "{}",
            t.phase
        );
    }

    #[test]
    fn a_curve_logs_each_arm_and_a_failure_says_so() {
        let mut t = TuneView::new(&options(Some(vec![8, 16])), "d.jsonl");
        t.apply(TuneProgress::Curve(CurveEvent::Training { rows: 8 }));
        assert_eq!(t.phase, "training the adapter on 8 rows");
        t.apply(TuneProgress::Curve(CurveEvent::Done {
            rows: 8,
            adapter: false,
            accuracy: Ok(0.5),
        }));
        t.apply(TuneProgress::Curve(CurveEvent::Done {
            rows: 8,
            adapter: true,
            accuracy: Err(crate::engine::curve::CurveError::Cancelled),
        }));
        assert_eq!(
            t.log,
            [
                "8 rows, few-shot prompt: 50%",
                "8 rows, adapter: missing (cancelled)"
            ]
        );
        t.end(Err("the data are too few".into()));
        assert_eq!(t.phase, "failed");
        assert_eq!(t.adapter(), None);
    }
}
