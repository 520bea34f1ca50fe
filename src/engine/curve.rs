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

/// Trains an adapter on the rows given and says where it was written; a failure is that
/// size's adapter missing, not the end of the curve.
pub trait Trainer: Send + Sync {
    fn train(&self, rows: Vec<Item>) -> BoxFuture<'static, Result<PathBuf, String>>;
}

/// Builds the embedded backend with an adapter file applied.
pub type WithAdapter =
    Arc<dyn Fn(PathBuf) -> BoxFuture<'static, Result<Arc<dyn Backend>, String>> + Send + Sync>;

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
        accuracy: Result<f64, String>,
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
                Ok(_) => Err("cancelled".into()),
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
    ) -> Result<Vec<bool>, String> {
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
        let r: &VariantResult = results.first().ok_or("the evaluation gave no result")?;
        if r.cancelled {
            return Err("cancelled".into());
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
                    .ok_or_else(|| format!("item {} was not scored", i.id))
            })
            .collect()
    }
}

fn report(
    on: &(dyn Fn(CurveEvent) + Sync),
    rows: usize,
    adapter: bool,
    scores: &Result<Vec<bool>, String>,
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
