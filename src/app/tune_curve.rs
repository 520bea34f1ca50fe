//! `promptlab tune --curve 8,16,32,64`: `engine::curve`'s job with adapters trained in
//! process (`app::training::tune` on each nested subset), the table with intervals and the
//! crossover in words, and `curve.svg` / `curve.json` beside the adapters in `--out`
//! (default: the models folder's `adapters/TEMPLATE-DATASET-curve/`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::backend::local::LocalBackend;
use crate::cli::TuneArgs;
use crate::core::curve::{self, Curve};
use crate::engine::curve::{CurveError, CurveEvent, CurveJob, Trainer};
use crate::store::dataset::Item;
use crate::train::data::MIN_TRAIN_ROWS;
use crate::train::job::TuneSpec;

/// Each subset's adapter, trained as `spec` says (its rows replaced, none held out) into `dir`,
/// its progress told to `on` (the bar here, the lab's board in `app::lab_tune`).
pub(crate) struct Subsets {
    pub spec: TuneSpec,
    pub dir: PathBuf,
    pub cancel: CancellationToken,
    pub on: Arc<dyn Fn(crate::train::job::TuneEvent) + Send + Sync>,
}

impl Trainer for Subsets {
    fn train(&self, rows: Vec<Item>) -> BoxFuture<'static, Result<PathBuf, CurveError>> {
        let mut spec = self.spec.clone();
        spec.out = self.dir.join(format!("rows-{}.gguf", rows.len()));
        spec.dataset.items = rows;
        spec.held_out = 0;
        let (cancel, on) = (self.cancel.clone(), self.on.clone());
        async move {
            let tuned = crate::app::training::tune(spec, cancel, move |e| on(e))
                .await
                .map_err(CurveError::Training)?;
            if tuned.record.complete {
                Ok(tuned.path)
            } else {
                Err(CurveError::Incomplete)
            }
        }
        .boxed()
    }
}

pub(crate) fn backend(model: &Path, lora: Option<PathBuf>) -> Result<Arc<dyn Backend>, String> {
    let settings = crate::app::backend::local_settings(model.to_path_buf(), lora)?;
    let b = LocalBackend::spawn(settings).map_err(|e| e.to_string())?;
    Ok(Arc::new(b))
}

/// The curve of `spec`'s template on its model: the base loaded, each adapter opened on it.
pub(crate) fn job(
    spec: &TuneSpec,
    split: crate::train::data::Split,
    sizes: Vec<usize>,
    cancel: CancellationToken,
) -> Result<CurveJob, String> {
    let model = spec.model_path.clone();
    Ok(CurveJob {
        template: spec.template.clone(),
        mode: spec.mode,
        train: split.train,
        held_out: split.held_out,
        sizes,
        seed: spec.settings.seed,
        base: backend(&model, None)?,
        with_adapter: Arc::new(move |path| {
            let model = model.clone();
            async move { backend(&model, Some(path)).map_err(CurveError::Backend) }.boxed()
        }),
        cancel,
    })
}

pub async fn run(args: &TuneArgs, sizes: &str, spec: TuneSpec) -> Result<bool, String> {
    let split = crate::train::data::split(
        spec.dataset.items.clone(),
        spec.held_out,
        spec.settings.seed,
    )
    .map_err(|e| e.to_string())?;
    if split.held_out.is_empty() {
        return Err("--curve needs held-out rows to score on: give --held-out K".into());
    }
    let sizes = curve::parse_sizes(sizes, MIN_TRAIN_ROWS, split.train.len())?;
    crate::train::data::specialist(&spec.template).map_err(|e| e.to_string())?;
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => crate::store::adapters::adapters_dir()
            .ok_or("cannot find a cache directory for adapters; give --out DIR")?
            .join(format!(
                "{}-{}-curve",
                spec.template.name,
                spec.dataset_path
                    .file_stem()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_default()
            )),
    };
    crate::store::exports::folder(&dir)?;
    let cancel = crate::cli::cancel_on_ctrl_c("stopping the curve after this step");
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] step {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let job = job(&spec, split, sizes, cancel.clone())?;
    let shown = bar.clone();
    let trainer = Subsets {
        spec,
        dir: dir.clone(),
        cancel,
        on: Arc::new(move |e| super::trained::show(&shown, e, true)),
    };
    let on = progress(bar.clone(), args.json);
    let result = job.run(&trainer, &on).await;
    bar.finish_and_clear();
    let record = job.record(&result);
    crate::store::exports::curve(&dir, &record)?;
    let record = record.json();
    if args.json {
        crate::cli::out::raw(&format!("{record}\n"))?;
    } else {
        crate::cli::out::show(&table(&result))?;
        crate::cli::out::show(&format!(
            "{}\nchart and figures: {}, {}\n",
            result.verdict,
            dir.join("curve.svg").display(),
            dir.join("curve.json").display()
        ))?;
    }
    Ok(result
        .points
        .iter()
        .all(|p| p.adapter.is_some() && p.prompt.is_some()))
}

/// The curve's steps on the bar, each arm's accuracy on a line of its own as it comes.
fn progress(shown: ProgressBar, json: bool) -> impl Fn(CurveEvent) + Sync {
    move |e: CurveEvent| {
        let line = match e {
            CurveEvent::Prompting { rows } => {
                shown.set_prefix(format!("prompt, {rows} examples"));
                return;
            }
            CurveEvent::Training { rows } => {
                shown.set_prefix(format!("adapter on {rows} rows"));
                return;
            }
            CurveEvent::Scoring { rows } => {
                shown.set_prefix(format!("scoring the {rows}-row adapter"));
                return;
            }
            CurveEvent::Done {
                rows,
                adapter,
                accuracy,
            } => crate::engine::tuner::arm_line(rows, adapter, accuracy.as_ref().copied()),
        };
        if !json {
            shown.println(line);
        }
    }
}

/// The curve as a table: each size's two accuracies with their intervals and the paired
/// difference.
pub fn table(c: &Curve) -> String {
    let mut out = format!("{} held-out items, one greedy answer each\n", c.items);
    for row in crate::engine::tuner::curve_rows(c) {
        out += &row;
        out.push('\n');
    }
    out
}
