//! The plan the setup forms show before a job starts (what `Effect::Plan` does): the dataset
//! loaded and the variants or the search built exactly as the job will build them, then
//! `engine::plan`'s line at this backend's last measured speed.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::msg::{JobForm, Msg};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::backend::{Backend, Embedder};
use crate::core::ape::SearchOptions;
use crate::core::extract::AnswerSpec;
use crate::core::template::Template;
use crate::core::variants::parse_vary;
use crate::engine::backends::{Backends, BackendsError, Built, Grid, Server, grid};
use crate::engine::eval::{EvalOptions, Variant, variants};
use crate::engine::jobs;
use crate::engine::optimize::Search;
use crate::store::dataset::Dataset;

/// The dataset and variants of a lab evaluation: `vary` over `template`, on the lab's
/// `backend`, and on one built by `backends` for each model and adapter varied (without
/// `backends` the lab varies neither).
pub async fn eval_setup(
    dataset: PathBuf,
    vary: &[String],
    template: &Template,
    backend: &Arc<dyn Backend>,
    backends: Option<&dyn Backends>,
) -> Result<(Dataset, Vec<Variant>), String> {
    let vary = parse_vary(vary)?;
    let data = jobs::load(dataset, false, None).await?;
    let grid = match backends {
        Some(b) => grid(b, &vary, Some(backend)).await?,
        None => Grid::from([((String::new(), String::new()), backend.clone())]),
    };
    let variants = variants(template, &vary, |model, lora| {
        grid.get(&(model.to_string(), lora.to_string())).cloned()
    })
    .map_err(|e| {
        format!(
            "{e} (compare models and adapters with `promptlab eval --vary model=…` or `lora=…`)"
        )
    })?;
    Ok((data, variants))
}

/// The dataset and example sets of a lab analysis, each set a variant on the lab's backend
/// (for the plan line).
pub async fn examples_setup(
    dataset: PathBuf,
    orders: usize,
    sampled: bool,
    template: &Template,
    backend: &Arc<dyn Backend>,
) -> Result<(Dataset, Vec<Variant>), String> {
    let mode = template.mode.unwrap_or(backend.info().default_mode);
    let settings = crate::core::demos::Settings {
        orders,
        seed: template.sampling.seed,
        sampled,
    };
    let variants = crate::engine::examples::variants(template, &settings, mode, backend)?;
    let data = jobs::load(dataset, false, None).await?;
    Ok((data, variants))
}

/// The grid of a plan line: every model and adapter counted on the lab's backend, none
/// loaded (a plan never waits for a model file), the factory's own checks kept.
struct Planning<'a> {
    backends: &'a dyn Backends,
    backend: Arc<dyn Backend>,
}

impl Backends for Planning<'_> {
    fn build(&self, _: &str, _: &str) -> BoxFuture<'static, Built> {
        let backend = self.backend.clone();
        async move { Ok(backend) }.boxed()
    }
    fn has_models(&self) -> Result<bool, BackendsError> {
        self.backends.has_models()
    }
    fn embedder(&self, spec: &AnswerSpec) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        self.backends.embedder(spec)
    }
    fn knn_embedder(&self) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        self.backends.knn_embedder()
    }
    fn server(&self) -> Result<Server, BackendsError> {
        self.backends.server()
    }
}

/// The prompt search of the lab over `template`, set up as `promptlab optimize` sets it up,
/// candidates scored with the lab's own N and temperature (as `optimize -n N --temperature T`).
pub async fn search_setup(
    dataset: PathBuf,
    options: &str,
    template: &Template,
    backend: Arc<dyn Backend>,
    opts: EvalOptions,
) -> Result<Search, String> {
    let o: SearchOptions = options.parse()?;
    let data = jobs::load(dataset, false, None).await?;
    let s = &template.sampling;
    Ok(jobs::search(
        backend,
        template,
        data,
        &o,
        Some(s.n),
        Some(s.temperature),
        opts,
    )?)
}

/// The plan line of the job the form `job` describes (`fields`: dataset and options), at
/// `speed` seconds a path; or why it cannot run. A lab that varies no model.
pub async fn plan_line(
    job: JobForm,
    fields: (String, String),
    template: &Template,
    backend: Arc<dyn Backend>,
    speed: Option<f64>,
) -> Result<String, String> {
    plan_of(job, fields, template, (backend, None), speed).await
}

/// `plan_line` with the factory of the models and adapters an evaluation varies.
pub async fn plan_of(
    job: JobForm,
    (dataset, options): (String, String),
    template: &Template,
    (backend, backends): (Arc<dyn Backend>, Option<Arc<dyn Backends>>),
    speed: Option<f64>,
) -> Result<String, String> {
    let path = PathBuf::from(dataset);
    match job {
        // The executor asks the lab's trainer (`jobs::plan_tune`).
        JobForm::Tune => Err("a tune's plan is its trainer's".into()),
        JobForm::Eval => {
            let vary: Vec<String> = options.split_whitespace().map(String::from).collect();
            let planning = backends.as_deref().map(|backends| Planning {
                backends,
                backend: backend.clone(),
            });
            let planning = planning.as_ref().map(|p| p as &dyn Backends);
            let (data, variants) = eval_setup(path, &vary, template, &backend, planning).await?;
            Ok(crate::engine::plan::eval_plan(&variants, &data.items, false, speed).to_string())
        }
        JobForm::Examples => {
            let orders = crate::core::demos::orders_option(&options)?;
            let sampled = crate::core::demos::sampled_option(&options);
            let (data, variants) =
                examples_setup(path, orders, sampled, template, &backend).await?;
            let plan = crate::engine::plan::eval_plan(&variants, &data.items, false, speed);
            let how = if variants.iter().any(|v| v.template.calibrate.is_none()) {
                "answers sampled"
            } else {
                "answers by scored options (`sampled` samples them)"
            };
            Ok(format!("{} example sets: {how} · {plan}", variants.len()))
        }
        JobForm::Optimize => {
            let opts = EvalOptions::new(1, None, CancellationToken::new());
            let mut search = search_setup(path, &options, template, backend, opts).await?;
            search.speed = speed;
            Ok(search.plan().to_string())
        }
    }
}

/// Computes the plan off the event loop (the speed file read on a blocking thread) and sends
/// it back as `Msg::Planned` for the fields it was asked for.
pub fn spawn(
    backend: Option<Arc<dyn Backend>>,
    backends: Option<Arc<dyn Backends>>,
    tx: mpsc::UnboundedSender<Msg>,
    job: JobForm,
    fields: (String, String),
    template: Template,
) {
    tokio::spawn(async move {
        let plan = match backend {
            None => Err("the backend is not ready yet: no plan".to_string()),
            Some(backend) => {
                let label = backend.info().label();
                let speed = tokio::task::spawn_blocking(move || crate::store::speed::last(&label))
                    .await
                    .ok()
                    .flatten();
                plan_of(job, fields.clone(), &template, (backend, backends), speed).await
            }
        };
        let _ = tx.send(Msg::Planned { fields, plan });
    });
}
