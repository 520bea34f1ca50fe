//! `tune --curve`: the learning curve as one job. For each size of nested training subsets
//! (`core::curve::nested`), the few-shot prompt with those rows as its examples on the base,
//! and an adapter trained on the same rows (by the `Trainer` the composition root hands in:
//! the engine never trains) prompted without examples; both scored with one greedy sample on
//! the same held-out items. The figures are `core::curve`'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::eval::{EvalOptions, Variant, VariantResult};
use super::jobs::{EvalJob, Report};
use crate::backend::Backend;
use crate::core::curve::{self, Curve, Scores};
use crate::core::render::Mode;
use crate::core::template::{Example, Template};
use crate::store::dataset::{Dataset, Item};

/// Why one arm at one size has no accuracy: that point is missing, the curve goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurveError {
    /// The trainer failed, in the words of the composition root that trains (the engine
    /// never trains).
    #[error("{0}")]
    Training(String),
    /// Training stopped before the adapter was complete.
    #[error("stopped before the adapter was complete")]
    Incomplete,
    /// The backend with the adapter applied could not be built, in the root's words.
    #[error("{0}")]
    Backend(String),
    #[error("cancelled")]
    Cancelled,
    #[error("the evaluation gave no result")]
    NoResult,
    /// A held-out item (its id) the evaluation did not score.
    #[error("item {0} was not scored")]
    Unscored(String),
}

/// Trains an adapter on the rows given and says where it was written; a failure is that
/// size's adapter missing, not the end of the curve.
pub trait Trainer: Send + Sync {
    fn train(&self, rows: Vec<Item>) -> BoxFuture<'static, Result<PathBuf, CurveError>>;
}

/// Builds the embedded backend with an adapter file applied.
pub type WithAdapter =
    Arc<dyn Fn(PathBuf) -> BoxFuture<'static, Result<Arc<dyn Backend>, CurveError>> + Send + Sync>;

/// What the curve reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum CurveEvent {
    /// The few-shot prompt with `rows` examples is being scored.
    Prompting { rows: usize },
    /// An adapter on `rows` rows is training.
    Training { rows: usize },
    /// An adapter on `rows` rows is being scored.
    Scoring { rows: usize },
    /// One arm at one size is done: its accuracy, or why it is missing.
    Done {
        rows: usize,
        adapter: bool,
        accuracy: Result<f64, CurveError>,
    },
}

pub struct CurveJob {
    /// The template whose instruction and format both arms share (its examples are replaced).
    pub template: Template,
    pub mode: Mode,
    pub train: Vec<Item>,
    pub held_out: Vec<Item>,
    pub sizes: Vec<usize>,
    pub seed: u64,
    pub base: Arc<dyn Backend>,
    pub with_adapter: WithAdapter,
    pub cancel: CancellationToken,
}

impl CurveJob {
    /// What `tune --curve` writes and prints of `curve`, this job's result.
    pub fn record<'a>(&'a self, curve: &'a Curve) -> crate::store::exports::CurveRecord<'a> {
        crate::store::exports::CurveRecord {
            base: self.base.info(),
            template: &self.template.name,
            held_out: self.held_out.iter().map(|i| i.id.as_str()).collect(),
            seed: self.seed,
            curve,
        }
    }

    pub async fn run(&self, trainer: &dyn Trainer, on: &(dyn Fn(CurveEvent) + Sync)) -> Curve {
        let subsets = curve::nested(&self.train, &self.sizes, self.seed);
        let mut scores = Vec::new();
        for (rows, subset) in self.sizes.iter().copied().zip(subsets) {
            if self.cancel.is_cancelled() {
                break;
            }
            on(CurveEvent::Prompting { rows });
            let prompt = self
                .score(
                    self.prompted(&subset),
                    self.base.clone(),
                    &format!("prompt, {rows} examples"),
                )
                .await;
            report(on, rows, false, &prompt);
            on(CurveEvent::Training { rows });
            let adapter = match trainer.train(subset).await {
                Ok(path) if !self.cancel.is_cancelled() => {
                    on(CurveEvent::Scoring { rows });
                    match (self.with_adapter)(path).await {
                        Ok(b) => {
                            self.score(self.bare(), b, &format!("adapter, {rows} rows"))
                                .await
                        }
                        Err(e) => Err(e),
                    }
                }
                Ok(_) => Err(CurveError::Cancelled),
                Err(e) => Err(e),
            };
            report(on, rows, true, &adapter);
            scores.push(Scores {
                rows,
                adapter: adapter.ok(),
                prompt: prompt.ok(),
            });
        }
        curve::curve(self.held_out.len(), &scores)
    }

    /// The template greedy, one sample, no examples.
    fn bare(&self) -> Template {
        let mut t = self.template.clone();
        t.examples.clear();
        t.sampling.n = 1;
        t.sampling.temperature = 0.0;
        t.sampling.early_stop = crate::core::spec::rule::Rule::None;
        t
    }

    /// The same with `rows` as its examples, in subset order.
    fn prompted(&self, rows: &[Item]) -> Template {
        let mut t = self.bare();
        t.examples = rows
            .iter()
            .map(|i| Example {
                input: i.input.clone(),
                rationale: None,
                answer: i.targets.first().cloned().unwrap_or_default(),
                enabled: true,
                steps: Vec::new(),
            })
            .collect();
        t
    }

    /// Each held-out item right or not, in item order.
    async fn score(
        &self,
        template: Template,
        backend: Arc<dyn Backend>,
        name: &str,
    ) -> Result<Vec<bool>, CurveError> {
        let job = EvalJob {
            dataset: Dataset {
                name: "held out".into(),
                items: self.held_out.clone(),
                problems: Vec::new(),
            },
            variants: vec![Variant {
                name: name.into(),
                settings: serde_json::Value::Null,
                template,
                mode: self.mode,
                backend,
            }],
            opts: EvalOptions::new(16, None, self.cancel.child_token()),
            baseline: 0,
        };
        let results = job.run(&(Arc::new(|_| {}) as Report)).await;
        let r: &VariantResult = results.first().ok_or(CurveError::NoResult)?;
        if r.cancelled {
            return Err(CurveError::Cancelled);
        }
        let by_id: HashMap<&str, bool> = r
            .per_item
            .iter()
            .map(|i| (i.id.as_str(), i.correct))
            .collect();
        self.held_out
            .iter()
            .map(|i| {
                by_id
                    .get(i.id.as_str())
                    .copied()
                    .ok_or_else(|| CurveError::Unscored(i.id.clone()))
            })
            .collect()
    }
}

fn report(
    on: &(dyn Fn(CurveEvent) + Sync),
    rows: usize,
    adapter: bool,
    scores: &Result<Vec<bool>, CurveError>,
) {
    on(CurveEvent::Done {
        rows,
        adapter,
        accuracy: scores
            .as_ref()
            .map(|s| s.iter().filter(|&&x| x).count() as f64 / s.len().max(1) as f64)
            .map_err(Clone::clone),
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::FutureExt;

    use super::*;
    use crate::backend::scripted::ScriptedBackend;
    use crate::core::template::Strategy;

    /// Fails on one row, trains on more.
    struct Flaky;

    impl Trainer for Flaky {
        fn train(&self, rows: Vec<Item>) -> BoxFuture<'static, Result<PathBuf, CurveError>> {
            let out = match rows.len() {
                1 => Err(CurveError::Training("out of memory".into())),
                n => Ok(PathBuf::from(format!("rows-{n}.gguf"))),
            };
            async move { out }.boxed()
        }
    }

    fn item(id: &str) -> Item {
        Item {
            id: id.into(),
            input: "1+1?".into(),
            targets: vec!["2".into()],
        }
    }

    #[tokio::test]
    async fn a_failed_arm_is_a_missing_point_with_its_reason_and_the_curve_goes_on() {
        let answers =
            || -> Arc<dyn Backend> { Arc::new(ScriptedBackend::from_texts(["The answer is 2."])) };
        let job = CurveJob {
            template: crate::engine::tests::template(Strategy::Direct, 1),
            mode: Mode::Completion,
            train: vec![item("t1"), item("t2")],
            held_out: vec![item("h1"), item("h2")],
            sizes: vec![1, 2],
            seed: 1,
            base: answers(),
            with_adapter: Arc::new(move |_| async move { Ok(answers()) }.boxed()),
            cancel: CancellationToken::new(),
        };
        let seen = Mutex::new(Vec::new());
        let curve = job.run(&Flaky, &|e| seen.lock().unwrap().push(e)).await;
        let done: Vec<_> = seen
            .into_inner()
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e, CurveEvent::Done { .. }))
            .collect();
        let arm = |rows, adapter, accuracy| CurveEvent::Done {
            rows,
            adapter,
            accuracy,
        };
        assert_eq!(
            done,
            [
                arm(1, false, Ok(1.0)),
                arm(1, true, Err(CurveError::Training("out of memory".into()))),
                arm(2, false, Ok(1.0)),
                arm(2, true, Ok(1.0)),
            ]
        );
        assert_eq!(
            CurveError::Training("out of memory".into()).to_string(),
            "out of memory"
        );
        assert!(curve.points[0].adapter.is_none() && curve.points[0].prompt.is_some());
        assert!(curve.points[1].adapter.is_some());
    }
}
