//! The lab's long jobs (an evaluation, a prompt search, a tune): what they run with and where
//! they report, as the executor starts them.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::msg::Msg;
use super::plan;
use crate::backend::{Backend, Embedder};
use crate::core::template::Template;
use crate::engine::backends::Backends;
use crate::engine::cache::Cache;
use crate::engine::eval::EvalOptions;
use crate::engine::jobs::{self, EvalJob};
use crate::engine::tuner::{Progress, TuneJob, TuneOptions, Tuner};

/// What a long job of the lab runs with, and where it reports.
pub struct JobContext {
    pub backend: Arc<dyn Backend>,
    /// Builds the backends of the models and adapters an evaluation varies.
    pub backends: Option<Arc<dyn Backends>>,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub concurrency: usize,
    /// The sample cache (the user's, in the lab; a test's own in tests).
    pub cache: Option<Arc<Cache>>,
    pub cancel: CancellationToken,
    pub tx: mpsc::UnboundedSender<Msg>,
}

/// The user's sample cache, opened off the async threads (none when it cannot be opened).
pub(super) async fn default_cache() -> Option<Arc<Cache>> {
    tokio::task::spawn_blocking(Cache::open_default)
        .await
        .ok()
        .and_then(Result::ok)
}

impl JobContext {
    /// The evaluation options of a lab job (no separate greedy sample).
    pub(super) fn options(&self) -> EvalOptions {
        EvalOptions {
            embedder: self.embedder.clone(),
            ..EvalOptions::new(self.concurrency, self.cache.clone(), self.cancel.clone())
        }
    }

    /// The job's events as lab messages.
    pub(super) fn report(&self) -> jobs::Report {
        let tx = self.tx.clone();
        Arc::new(move |e| {
            let _ = tx.send(Msg::Job(e));
        })
    }
}

/// A prompt search for the lab (what `Effect::StartOptimize` does): the engine's search over
/// the lab's current template, set up as `promptlab optimize` sets it up.
pub async fn run_optimize(
    dataset: std::path::PathBuf,
    options: String,
    template: Template,
    ctx: JobContext,
) {
    let opts = ctx.options();
    let search = plan::search_setup(dataset, &options, &template, ctx.backend.clone(), opts);
    match search.await {
        Ok(search) => {
            search.run(ctx.report().as_ref()).await;
        }
        Err(e) => {
            let _ = ctx.tx.send(Msg::OptimizeFailed(e));
        }
    }
}

/// An evaluation for the lab (what `Effect::StartEval` does): the same job as
/// `promptlab eval`, over the lab's backend (and one per model and adapter it varies).
pub async fn run_eval(
    dataset: std::path::PathBuf,
    vary: Vec<String>,
    template: Template,
    ctx: JobContext,
) {
    let job = async {
        let (dataset, variants) = plan::eval_setup(
            dataset,
            &vary,
            &template,
            &ctx.backend,
            ctx.backends.as_deref(),
        )
        .await?;
        Ok::<_, String>(EvalJob {
            dataset,
            variants,
            opts: ctx.options(),
            baseline: 0,
        })
    };
    match job.await {
        Ok(job) => {
            job.run(&ctx.report()).await;
        }
        Err(e) => {
            let _ = ctx.tx.send(Msg::EvalFailed(e));
        }
    }
}

/// The tune the lab asks for: the form's dataset and options over the lab's template, in
/// the template's mode, else the backend's (`None`: the base model's own).
fn tune_job(
    (dataset, options, template): (std::path::PathBuf, TuneOptions, Template),
    backend: Option<&Arc<dyn Backend>>,
) -> TuneJob {
    TuneJob {
        mode: template.mode.or(backend.map(|b| b.info().default_mode)),
        dataset,
        template,
        options,
    }
}

/// The plan of a tune form's fields, off the event loop, sent back as `Msg::Planned`.
pub(super) fn plan_tune(
    tuner: Option<Arc<dyn Tuner>>,
    backend: Option<&Arc<dyn Backend>>,
    tx: mpsc::UnboundedSender<Msg>,
    fields: (String, String),
    template: Template,
) {
    let job = fields
        .1
        .parse::<TuneOptions>()
        .map(|o| tune_job((fields.0.clone().into(), o, template), backend))
        .map_err(String::from);
    tokio::spawn(async move {
        let plan = match (tuner, job) {
            (None, _) => Err("this lab was started without a trainer".to_string()),
            (_, Err(e)) => Err(e),
            (Some(t), Ok(job)) => t
                .plan(job)
                .await
                .map(|p| p.to_string())
                .map_err(String::from),
        };
        let _ = tx.send(Msg::Planned { fields, plan });
    });
}

/// A tune for the lab (what `Effect::StartTune` does): `tuner` trains, each report a
/// `Msg::Tune`, the end `Msg::Tuned`; `cancel` stops it after the current step.
pub async fn run_tune(
    tuner: Arc<dyn Tuner>,
    job: TuneJob,
    cancel: CancellationToken,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let progress = tx.clone();
    let on: Progress = Arc::new(move |p| {
        let _ = progress.send(Msg::Tune(p));
    });
    let tuned = tuner.tune(job, cancel, on).await.map_err(String::from);
    let _ = tx.send(Msg::Tuned(tuned));
}

/// Starts `Effect::StartTune` on `tuner` (or says there is none); its task and cancel token.
pub(super) fn start_tune(
    tuner: Option<Arc<dyn Tuner>>,
    backend: Option<&Arc<dyn Backend>>,
    tx: mpsc::UnboundedSender<Msg>,
    asked: (std::path::PathBuf, TuneOptions, Template),
) -> Option<(tokio::task::JoinHandle<()>, CancellationToken)> {
    let Some(tuner) = tuner else {
        let _ = tx.send(Msg::Tuned(Err(
            "this lab was started without a trainer".into()
        )));
        return None;
    };
    let job = tune_job(asked, backend);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_tune(tuner, job, cancel.clone(), tx));
    Some((task, cancel))
}
