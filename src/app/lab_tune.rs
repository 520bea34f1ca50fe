//! The lab's trainer (`engine::tuner::Tuner`): a tune form's job set up as `promptlab tune`
//! sets one up (the embedded model or `--model-path` as the base, the adapter into the models
//! folder's `adapters/`, a fifth of the rows held out), trained by `app::training` on a
//! blocking thread, or a learning curve by `engine::curve` with `app::tune`'s subsets. A
//! build without the `train` feature says so, with how to get one that can.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::engine::tuner::{Progress, TuneError, TuneJob, TunePlan, Tuned, Tuner};

/// The GGUF the lab's embedded backend runs (`None`: the embedded model, or the lab talks
/// to a server): the one it started on, then each one the model picker opened (an adapter's
/// base for an adapter). A tune trains on it.
#[derive(Debug, Clone, Default)]
pub struct LabBase(Arc<Mutex<Option<PathBuf>>>);

impl LabBase {
    pub fn new(model: Option<PathBuf>) -> LabBase {
        LabBase(Arc::new(Mutex::new(model)))
    }

    pub fn get(&self) -> Option<PathBuf> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn set(&self, model: Option<PathBuf>) {
        if let Ok(mut m) = self.0.lock() {
            *m = model;
        }
    }
}

/// Trains on the lab's base.
pub struct LabTuner {
    pub base: LabBase,
}

impl Tuner for LabTuner {
    fn available(&self) -> Result<(), TuneError> {
        trained::available()
    }

    fn plan(&self, job: TuneJob) -> BoxFuture<'static, Result<TunePlan, TuneError>> {
        let model = self.base.get();
        async move { Ok(trained::plan(model, job).await?) }.boxed()
    }

    fn tune(
        &self,
        job: TuneJob,
        cancel: CancellationToken,
        on: Progress,
    ) -> BoxFuture<'static, Result<Tuned, TuneError>> {
        let model = self.base.get();
        async move { Ok(trained::tune(model, job, cancel, on).await?) }.boxed()
    }
}

/// A build without the trainer: every tune is refused, saying how to get a build that trains.
#[cfg(not(feature = "train"))]
mod trained {
    use super::*;

    const WHY: &str = "this promptlab was built without the `train` feature: rebuild it with `cargo build --release --features train` (scripts/lab does), then start the lab again";

    pub fn available() -> Result<(), TuneError> {
        Err(TuneError::Unavailable(WHY.into()))
    }

    pub async fn plan(_: Option<PathBuf>, _: TuneJob) -> Result<TunePlan, String> {
        Err(WHY.into())
    }

    pub async fn tune(
        _: Option<PathBuf>,
        _: TuneJob,
        _: CancellationToken,
        _: Progress,
    ) -> Result<Tuned, String> {
        Err(WHY.into())
    }
}

#[cfg(feature = "train")]
mod trained {
    use std::path::Path;

    use super::*;
    use crate::app::training::Llama;
    use crate::app::tune::curve::{self, Subsets};
    use crate::backend::local::model::{check_gguf, looks_instruction_tuned};
    use crate::core::render::Mode;
    use crate::engine::tuner::TuneProgress;
    use crate::store::adapters::{adapters_dir, free_name};
    use crate::store::models::{default_model_path, is_default_model};
    use crate::train::Reference;
    use crate::train::data::{self, MIN_TRAIN_ROWS, Sequence};
    use crate::train::job::{TuneEvent, TuneSpec};
    use crate::train::trainer::Settings;

    pub fn available() -> Result<(), TuneError> {
        Ok(())
    }

    /// The tune `job` asks for, as `promptlab tune` would run it.
    async fn spec(model: Option<PathBuf>, job: TuneJob) -> Result<TuneSpec, String> {
        let model_path = model
            .or_else(default_model_path)
            .ok_or("cannot find the embedded model (scripts/fetch-model.sh fetches it)")?;
        check_gguf(&model_path, is_default_model(&model_path))?;
        let mode = job.mode.unwrap_or(if looks_instruction_tuned(&model_path) {
            Mode::Chat
        } else {
            Mode::Completion
        });
        let o = &job.options;
        let dir = adapters_dir().ok_or("cannot find a cache directory for adapters")?;
        let out_of = |name: &str| match o.curve {
            Some(_) => dir.join(format!("{name}-curve")),
            None => dir.join(format!("{name}.gguf")),
        };
        let out = out_of(&o.name);
        if out.exists() {
            let free = free_name(&o.name, |n| out_of(n).exists());
            return Err(format!(
                "{} exists: choose another adapter name ({free} is free)",
                out.display()
            ));
        }
        let dataset_path = crate::store::dataset::locate(&job.dataset);
        let dataset = crate::engine::jobs::load(job.dataset.clone(), false, None).await?;
        let held_out = (dataset.items.len() / 5).min(100);
        Ok(TuneSpec {
            model_path,
            template: job.template,
            mode,
            dataset,
            dataset_path,
            held_out,
            settings: Settings {
                rank: o.rank,
                alpha: 2.0 * o.rank as f64,
                epochs: o.epochs,
                learning_rate: o.learning_rate,
                seed: o.seed,
                ..Settings::default()
            },
            out,
        })
    }

    /// A curve's sizes within the rows there are to train on (refused when nothing is held
    /// out to score on).
    fn sizes(sizes: &[usize], train: usize, held_out: usize) -> Result<Vec<usize>, String> {
        if held_out == 0 {
            return Err("a curve needs held-out rows to score on: the dataset is too small".into());
        }
        let text: Vec<String> = sizes.iter().map(usize::to_string).collect();
        Ok(crate::core::curve::parse_sizes(
            &text.join(","),
            MIN_TRAIN_ROWS,
            train,
        )?)
    }

    pub async fn plan(model: Option<PathBuf>, job: TuneJob) -> Result<TunePlan, String> {
        let (curve, epochs) = (job.options.curve.clone(), job.options.epochs);
        let spec = spec(model, job).await?;
        tokio::task::spawn_blocking(move || {
            spec.settings.validate().map_err(|e| e.to_string())?;
            let split = data::split(
                spec.dataset.items.clone(),
                spec.held_out,
                spec.settings.seed,
            )
            .map_err(|e| e.to_string())?;
            let curve = match curve {
                Some(c) => Some(sizes(&c, split.train.len(), split.held_out.len())?),
                None => None,
            };
            let template = data::specialist(&spec.template).map_err(|e| e.to_string())?;
            let tokenizer = Llama
                .tokenizer(&spec.model_path)
                .map_err(|e| e.to_string())?;
            let rows = data::sequences(tokenizer.as_ref(), &template, &split.train, spec.mode)
                .map_err(|e| e.to_string())?;
            Ok(TunePlan {
                base: file_name(&spec.model_path),
                train_rows: rows.len(),
                held_out: split.held_out.len(),
                tokens: rows.iter().map(|r| r.tokens.len()).sum(),
                answer_tokens: rows.iter().map(Sequence::answer_tokens).sum(),
                epochs,
                pace: pace(&spec.model_path),
                curve,
                out: spec.out,
            })
        })
        .await
        .map_err(|e| format!("the plan's thread failed: {e}"))?
    }

    fn file_name(p: &Path) -> String {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Training tokens a second of the latest tune on `model` here, from its adapter's record.
    fn pace(model: &Path) -> Option<f64> {
        let size = std::fs::metadata(model).ok()?.len();
        let found = crate::store::adapters::find(&adapters_dir()?);
        found
            .into_iter()
            .filter(|a| a.fits(model, size))
            .filter_map(|a| {
                let r = a.record?;
                let when = std::fs::metadata(&a.path).ok()?.modified().ok()?;
                (r.training_seconds > 0.0).then(|| (when, r.tokens as f64 / r.training_seconds))
            })
            .max_by_key(|(when, _)| *when)
            .map(|(_, pace)| pace)
    }

    /// A tune's event as the lab's progress.
    fn progress(e: TuneEvent) -> TuneProgress {
        match e {
            TuneEvent::Prepared {
                train_rows,
                held_out,
                tokens,
                answer_tokens,
            } => TuneProgress::Prepared {
                train_rows,
                held_out,
                tokens,
                answer_tokens,
            },
            TuneEvent::Step(s) => TuneProgress::Step {
                tokens_per_second: s.tokens_per_second(),
                left: s.eta(),
                step: s.step,
                steps: s.steps,
                epoch: s.epoch,
                loss: s.loss,
            },
            TuneEvent::Checkpoint { epoch, path } => TuneProgress::Checkpoint { epoch, path },
            TuneEvent::Checking => TuneProgress::Checking,
        }
    }

    pub async fn tune(
        model: Option<PathBuf>,
        job: TuneJob,
        cancel: CancellationToken,
        on: Progress,
    ) -> Result<Tuned, String> {
        let curve = job.options.curve.clone();
        let spec = spec(model, job).await?;
        let Some(sizes) = curve else {
            let t = crate::app::training::tune(spec, cancel, move |e| on(progress(e))).await?;
            return Ok(Tuned::Adapter {
                path: t.path,
                record: Box::new(t.record),
            });
        };
        let split = data::split(
            spec.dataset.items.clone(),
            spec.held_out,
            spec.settings.seed,
        )
        .map_err(|e| e.to_string())?;
        let sizes = self::sizes(&sizes, split.train.len(), split.held_out.len())?;
        let dir = spec.out.clone();
        let job = curve::job(&spec, split, sizes, cancel.clone())?;
        let told = on.clone();
        let trainer = Subsets {
            spec,
            dir: dir.clone(),
            cancel,
            on: Arc::new(move |e| told(progress(e))),
        };
        let curve = job
            .run(&trainer, &move |e| on(TuneProgress::Curve(e)))
            .await;
        let record = job.record(&curve);
        crate::store::exports::curve(&dir, &record)?;
        Ok(Tuned::Curve { dir, curve })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_forms_defaults_are_promptlab_tunes() {
            let (form, cli) = (
                crate::engine::tuner::TuneOptions::default(),
                Settings::default(),
            );
            assert_eq!(
                (form.rank, form.epochs, form.learning_rate, form.seed),
                (cli.rank, cli.epochs, cli.learning_rate, cli.seed)
            );
        }
    }
}
