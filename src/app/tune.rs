//! `promptlab tune`: trains a LoRA adapter on the embedded model (or `--model-path`) from a
//! dataset's training split, with a progress bar (loss, tokens per second, time left); Ctrl-C
//! stops after the current step and keeps the last epoch's adapter. With `--base-url` (and
//! `tune status|resume|cancel ID`) a server fine-tunes instead: `cli::finetune`, no feature.

use std::path::{Path, PathBuf};

use crate::cli::TuneArgs;

/// A server's fine-tuning job, or a tune in process.
pub async fn tune(mut args: TuneArgs) -> Result<bool, String> {
    if let Some(action) = args.action.take() {
        return crate::cli::finetune::action(action).await;
    }
    if args.base_url.is_some() {
        return crate::cli::finetune::remote(&args).await;
    }
    local(args).await
}

#[cfg(not(feature = "train"))]
async fn local(_: TuneArgs) -> Result<bool, String> {
    Err("this promptlab was built without the `train` feature: rebuild with `cargo build --release --features train`".into())
}

/// Where the adapter goes: `--out`, else `adapters/NAME.gguf` in the models folder, NAME
/// being `--name` or TEMPLATE-DATASET.
pub fn adapter_path(args: &TuneArgs, template: &str) -> Result<PathBuf, String> {
    if let Some(out) = &args.out {
        return Ok(out.clone());
    }
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let name = match &args.name {
        Some(n) => n.clone(),
        None => format!("{}-{}", stem(Path::new(template)), stem(args.inputs()?.1)),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!("{name:?} is not a usable adapter name"));
    }
    crate::store::adapters::adapters_dir()
        .map(|d| d.join(format!("{name}.gguf")))
        .ok_or_else(|| "cannot find a cache directory for adapters; give --out".into())
}

#[cfg(feature = "train")]
use trained::tune as local;

#[cfg(feature = "train")]
#[path = "tune_curve.rs"]
pub(crate) mod curve;

#[cfg(feature = "train")]
mod trained {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use indicatif::{ProgressBar, ProgressStyle};

    use crate::backend::Backend;
    use crate::backend::local::LocalBackend;
    use crate::backend::local::model::looks_instruction_tuned;
    use crate::cli::TuneArgs;
    use crate::core::render::Mode;
    use crate::core::template::Template;
    use crate::engine::eval::{EvalOptions, Variant, VariantResult};
    use crate::engine::jobs::{self, EvalJob};
    use crate::store::dataset::Dataset;
    use crate::store::models::default_model_path;
    use crate::train::job::{TuneEvent, TuneSpec, Tuned};
    use crate::train::lora::parse_targets;
    use crate::train::trainer::Settings;

    pub async fn tune(args: TuneArgs) -> Result<bool, String> {
        let (template_name, dataset_name) = args.inputs()?;
        let (template_name, dataset_name) = (template_name.to_string(), dataset_name.to_path_buf());
        let (mut template, _) =
            crate::store::template::resolve(&template_name).map_err(|e| e.to_string())?;
        if let Some(s) = args.strategy {
            template.strategy = s;
        }
        let model_path = match &args.model_path {
            Some(p) => p.clone(),
            None => {
                default_model_path().ok_or("cannot find the embedded model; give --model-path")?
            }
        };
        crate::backend::local::model::check_gguf(
            &model_path,
            crate::store::models::is_default_model(&model_path),
        )?;
        let mode = args.mode.or(template.mode).unwrap_or_else(|| {
            if looks_instruction_tuned(&model_path) {
                Mode::Chat
            } else {
                Mode::Completion
            }
        });
        let out = match args.curve {
            // A curve writes into its own folder (`--out`, else one named after the data).
            Some(_) => args.out.clone().unwrap_or_default(),
            None => super::adapter_path(&args, &template_name)?,
        };
        if args.curve.is_none() && out.exists() && !args.force {
            return Err(format!(
                "{} exists; give --force to replace it, or another --name",
                out.display()
            ));
        }
        let dataset_path = crate::store::dataset::locate(&dataset_name);
        let dataset = jobs::load(dataset_name, false, None).await?;
        for p in &dataset.problems {
            crate::tell!("skipped {p}");
        }
        let defaults = Settings::default();
        let rank = args.rank.unwrap_or(defaults.rank);
        let settings = Settings {
            rank,
            alpha: args.alpha.unwrap_or(2.0 * rank as f64),
            targets: match &args.targets {
                Some(t) => parse_targets(t).map_err(|e| e.to_string())?,
                None => defaults.targets,
            },
            epochs: args.epochs.unwrap_or(defaults.epochs),
            learning_rate: args.learning_rate.unwrap_or(defaults.learning_rate),
            seed: args.seed.unwrap_or(defaults.seed),
            batch_tokens: args.batch_tokens.unwrap_or(defaults.batch_tokens),
        };
        let rows = dataset.items.len();
        let held_out = args.held_out.unwrap_or((rows / 5).min(100));
        let (template_for_eval, model_for_eval) = (template.clone(), model_path.clone());
        let spec = TuneSpec {
            model_path,
            template,
            mode,
            dataset,
            dataset_path,
            held_out,
            settings,
            out,
        };
        if let Some(sizes) = &args.curve {
            return super::curve::run(&args, sizes, spec).await;
        }
        let cancel = crate::cli::cancel_on_ctrl_c(
            "stopping after this step; the last finished epoch's adapter is kept",
        );
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] step {pos}/{len} {msg}")
                .map_err(|e| e.to_string())?
                .progress_chars("=> "),
        );
        bar.set_prefix("loading");
        let shown = bar.clone();
        let json = args.json;
        let tuned = crate::app::training::tune(spec, cancel, move |e| show(&shown, e, json)).await;
        bar.finish_and_clear();
        let tuned = tuned?;
        if !args.json {
            crate::cli::out::show(&summary(&tuned))?;
        }
        let held_out = if args.no_eval || tuned.held_out.is_empty() || !tuned.record.complete {
            None
        } else {
            Some(held_out_table(&args, &tuned, &template_for_eval, &model_for_eval).await?)
        };
        if args.json {
            crate::cli::out::raw(&format!(
                "{}\n",
                serde_json::json!({
                    "adapter": tuned.path,
                    "record": tuned.record,
                    "held_out": held_out.as_ref().map(|(_, r)| r),
                })
            ))?;
        } else if let Some((table, _)) = held_out {
            crate::cli::out::show(&table)?;
        }
        Ok(tuned.record.complete)
    }

    /// The adapter on the held-out rows beside the base: the template's own few-shot prompt,
    /// the specialist's prompt (no examples) on the base, and the same with the adapter; one
    /// greedy sample each.
    async fn held_out_table(
        args: &TuneArgs,
        tuned: &Tuned,
        template: &Template,
        model_path: &Path,
    ) -> Result<(String, Vec<VariantResult>), String> {
        let build = |lora: Option<&Path>| -> Result<Arc<dyn Backend>, String> {
            let settings = crate::app::backend::local_settings(
                model_path.to_path_buf(),
                lora.map(Path::to_path_buf),
            )?;
            let b = LocalBackend::spawn(settings).map_err(|e| e.to_string())?;
            Ok(Arc::new(b))
        };
        let (base, adapted) = (build(None)?, build(Some(&tuned.path))?);
        let mut prompted = template.clone();
        prompted.sampling.n = 1;
        prompted.sampling.temperature = 0.0;
        let specialist = crate::train::data::specialist(&prompted).map_err(|e| e.to_string())?;
        let shots = prompted.active_examples().count();
        let mode = tuned.record.prompt.mode;
        let variant = |name: String, template: &Template, backend: &Arc<dyn Backend>| Variant {
            name,
            settings: serde_json::Value::Null,
            template: template.clone(),
            mode,
            backend: backend.clone(),
        };
        let job = EvalJob {
            dataset: Dataset {
                name: format!("{} (held out)", tuned.record.data.dataset),
                items: tuned.held_out.clone(),
                problems: Vec::new(),
            },
            variants: vec![
                variant(format!("base, {shots} shots"), &prompted, &base),
                variant("base, 0 shots".into(), &specialist, &base),
                variant("adapter, 0 shots".into(), &specialist, &adapted),
            ],
            opts: EvalOptions::new(
                16,
                None,
                crate::cli::cancel_on_ctrl_c("stopping the evaluation"),
            ),
            // The base with its few-shot prompt is what the others are compared with.
            baseline: 0,
        };
        if !args.json {
            crate::tell!("evaluating on the {} held-out rows…", tuned.held_out.len());
        }
        let results = job.run(&(Arc::new(|_| {}) as jobs::Report)).await;
        let table =
            crate::cli::eval_report::table(&job.dataset.name, job.dataset.items.len(), &results);
        Ok((table, results))
    }

    pub(super) fn show(bar: &ProgressBar, e: TuneEvent, json: bool) {
        match e {
            TuneEvent::Prepared {
                train_rows,
                held_out,
                tokens,
                answer_tokens,
            } => {
                if !json {
                    bar.println(format!(
                        "{train_rows} training rows ({tokens} tokens, {answer_tokens} of them answers), {held_out} held out"
                    ));
                }
                bar.set_prefix("training");
            }
            TuneEvent::Step(s) => {
                bar.set_length(s.steps as u64);
                bar.set_position(s.step as u64);
                bar.set_message(format!(
                    "epoch {} · loss {:.3} · {:.0} tok/s · {} left",
                    s.epoch,
                    s.loss,
                    s.tokens_per_second(),
                    clock(s.eta())
                ));
            }
            TuneEvent::Checkpoint { epoch, path } => {
                if !json {
                    bar.println(format!(
                        "epoch {epoch}: adapter written to {}",
                        crate::core::display::visible(&path.display().to_string())
                    ));
                }
            }
            TuneEvent::Checking => bar.set_prefix("checking with llama.cpp"),
        }
    }

    fn clock(d: Duration) -> String {
        let s = d.as_secs();
        if s >= 3600 {
            format!("{}h{:02}m", s / 3600, s / 60 % 60)
        } else {
            format!("{}m{:02}s", s / 60, s % 60)
        }
    }

    fn summary(t: &Tuned) -> String {
        let r = &t.record;
        let first = r.losses.first().copied().unwrap_or(f32::NAN);
        let last = r.losses.last().copied().unwrap_or(f32::NAN);
        let mut out = format!(
            "{} adapter: {} ({}), record beside it\n",
            if r.complete {
                "trained"
            } else {
                "stopped early; last epoch's"
            },
            t.path.display(),
            crate::core::display::megabytes(r.size_bytes)
        );
        out += &format!(
            "base {} · rank {} · alpha {} · {} · {} epoch(s) · lr {}\n",
            r.base.file,
            r.settings.rank,
            r.settings.alpha,
            r.settings.targets.join(","),
            r.epochs_done,
            r.settings.learning_rate
        );
        out += &format!(
            "loss {first:.3} (first step) -> {last:.3} (last) over {} steps · {} tokens in {} ({:.0} tok/s)\n",
            r.losses.len(),
            r.tokens,
            clock(Duration::from_secs_f64(r.training_seconds)),
            r.tokens as f64 / r.training_seconds.max(1e-9)
        );
        if let Some(c) = &r.check {
            out += &format!(
                "llama.cpp loads it and it moves llama.cpp's logits as candle predicted: largest move {:.2} (predicted {:.2}), moves within {:.3}, correlation {:.3}, top token {}\n",
                c.shift,
                c.predicted_shift,
                c.max_abs_diff,
                c.correlation,
                if c.argmax_agrees { "agrees" } else { "differs" },
            );
        }
        out += &format!(
            "{} rows held out; try it as it was trained (no examples): promptlab run -t {} --strategy {} --shots 0 --lora {}\n",
            r.data.held_out.len(),
            r.prompt.template,
            r.prompt.strategy,
            t.path.display()
        );
        out
    }
}
