//! `promptlab eval`: a template (and a grid of variants) over a labelled dataset.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::EvalArgs;
use super::eval_report;
use super::run::apply_overrides;
use crate::core::evaluation::baseline_index;
use crate::core::variants::parse_vary;
use crate::engine::backends::{Backends, Grid};
use crate::engine::cache::Cache;
use crate::engine::eval::{EvalOptions, VariantResult, variants};
use crate::engine::jobs::{self, EvalJob, JobEvent, Report};
use crate::store::config::Config;

/// What the progress display knows: items per variant, variant names, the current bar.
#[derive(Default)]
struct Bars {
    items: u64,
    names: Vec<String>,
    current: Option<(usize, ProgressBar)>,
}

impl Bars {
    fn show(&mut self, e: JobEvent) {
        match e {
            JobEvent::EvalStarted {
                items, variants, ..
            } => {
                self.items = items as u64;
                self.names = variants;
            }
            JobEvent::ItemDone {
                variant,
                done,
                correct,
            } => {
                let bar = match self.current.take() {
                    Some((v, b)) if v == variant => b,
                    _ => self.bar(variant),
                };
                bar.set_position(done as u64);
                bar.set_message(format!(
                    "accuracy {:.1}%",
                    100.0 * correct as f64 / done.max(1) as f64
                ));
                self.current = Some((variant, bar));
            }
            JobEvent::VariantDone(_) => {
                if let Some((_, b)) = self.current.take() {
                    b.finish_and_clear();
                }
            }
            JobEvent::EvalFinished {
                lowered: Some((limit, of)),
            } => crate::tell!(
                "promptlab: the server seemed overloaded (streams cut, 429/503 or timeouts); concurrency was lowered to {limit} (of {of})"
            ),
            _ => {}
        }
    }

    /// A bar for a variant on stderr when it is a terminal.
    fn bar(&self, variant: usize) -> ProgressBar {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(self.items)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {wide_bar} {pos}/{len} items · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(
            crate::core::display::visible(self.names.get(variant).map_or("", |s| s)).into_owned(),
        );
        bar
    }
}

/// Shows an evaluation's events on stderr: a progress bar per variant, and a note when the
/// server was found overloaded.
pub(super) fn progress() -> Report {
    let bars = Mutex::new(Bars::default());
    Arc::new(move |e| bars.lock().unwrap_or_else(|e| e.into_inner()).show(e))
}

pub async fn eval(args: EvalArgs, backends: &dyn Backends) -> Result<bool, String> {
    let config = Config::load()?;
    let (mut base, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut base, &args.prompt)
        .and_then(|()| Ok(base.validate()?))
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let dataset = jobs::load(args.dataset.clone(), args.strict, args.limit).await?;
    for p in &dataset.problems {
        crate::tell!("skipped {p}");
    }
    let vary = parse_vary(&args.vary)?;
    let knn = crate::core::template::Select::knn(base.select).is_some()
        || vary.iter().any(|(k, _)| k == "select");
    let embedder = backends.embedder_or_knn(&base.answer, knn)?;
    let grid = crate::engine::backends::grid(backends, &vary, None).await?;
    let variants = variants(&base, &vary, |model, lora| {
        grid.get(&(model.to_string(), lora.to_string())).cloned()
    })?;

    // The plan, before anything is sampled.
    let speed = variants
        .first()
        .and_then(|v| crate::store::speed::last(&v.backend.info().label()));
    let plan = crate::engine::plan::eval_plan(&variants, &dataset.items, args.greedy, speed);
    crate::tell!("{plan}");
    if args.plan {
        return Ok(true);
    }
    let cache = open_cache(args.no_cache)?;
    if let Some(out) = &args.batch_out {
        write_batch_requests(out, &variants, &dataset.items, cache.as_deref())?;
        return Ok(true);
    }
    // A batch output, from a file or from the server's Batches API, goes into the cache.
    let batch_output =
        batch_output(&args, backends, &variants, &dataset.items, cache.as_deref()).await?;
    if let Some((text, source)) = &batch_output {
        let c = cache.as_deref().ok_or("batches need the sample cache")?;
        let got = crate::engine::batch::absorb(text, &variants, &dataset.items, c)?;
        for p in &got.problems {
            crate::tell!("{source}: {p}");
        }
        crate::tell!(
            "read {} samples from {source} into the sample cache ({} lines not used); scoring from the cache alone",
            got.stored,
            got.problems.len()
        );
    }
    let cancel =
        super::cancel_on_ctrl_c("stopping: what is sampled is cached, so the same command resumes");
    let concurrency = config.concurrency(args.prompt.concurrency);
    let names: Vec<String> = variants.iter().map(|v| v.name.clone()).collect();
    let baseline = baseline_index(&names, args.baseline.as_deref())?;
    let job = EvalJob {
        dataset,
        variants,
        opts: EvalOptions {
            greedy: args.greedy,
            what_if: args.simulate_early_stop.map(|r| (r, args.orders)),
            embedder,
            cache_only: args.batch_in.is_some() || args.batch,
            ..EvalOptions::new(concurrency, cache.clone(), cancel.clone())
        },
        baseline,
    };
    let results = job.run(&progress()).await;
    let (dataset, variants) = (&job.dataset, &job.variants);
    super::run::say_cache_failure(cache.as_deref());
    // This backend's speed, for the next plan.
    for r in results
        .iter()
        .filter(|r| r.samples.fresh > 0 && !r.cancelled)
    {
        let seconds = r.elapsed_ms as f64 / 1000.0 / r.samples.fresh as f64;
        crate::store::speed::record(&r.backend.label(), seconds);
    }

    let requests = request_figures(&grid, &results);
    let provenance = crate::core::results::provenance(&results);
    let partial = results.iter().any(|r| r.cancelled) || results.len() < variants.len();
    let report = json!({
        "partial": partial,
        "provenance": provenance,
        "dataset": dataset.name,
        "items": dataset.items.len(),
        "skipped_lines": dataset.problems,
        "variants": results,
        "requests": requests,
    });
    if let Some(dir) = &args.out {
        crate::store::exports::evaluation(dir, &dataset.name, &results, &provenance, partial)?;
        crate::tell!(
            "wrote {}/items.jsonl, variants.csv, report.md, accuracy.svg",
            dir.display()
        );
    }
    if args.json {
        super::out::raw(&format!("{report}\n"))?;
    } else {
        super::out::show(&eval_report::table(
            &dataset.name,
            dataset.items.len(),
            &results,
        ))?;
    }
    no_sample_succeeded(&results)?;
    Ok(true)
}

/// The batch output an eval reads instead of sampling: `--batch-in`'s file, or what the
/// server's Batches API returns for the requests not yet cached (`--batch`); with its source.
async fn batch_output(
    args: &EvalArgs,
    backends: &dyn Backends,
    variants: &[crate::engine::eval::Variant],
    items: &[crate::store::dataset::Item],
    cache: Option<&Cache>,
) -> Result<Option<(String, String)>, String> {
    Ok(match (&args.batch_in, args.batch) {
        (Some(input), _) => {
            let text =
                crate::store::read_text(input).map_err(|e| format!("{}: {e}", input.display()))?;
            if text.trim().is_empty() {
                return Err(format!(
                    "{}: the batch output is empty: no sample to read (is it the output file, \
                     not the input or the error file?)",
                    input.display()
                ));
            }
            Some((text, input.display().to_string()))
        }
        (None, true) => {
            let (text, lines, cached) = crate::engine::batch::requests(variants, items, cache)?;
            if lines == 0 {
                crate::tell!("all {cached} samples are cached: no batch to send");
                None
            } else {
                Some((
                    super::batch::round_trip(&backends.server()?, &text).await?,
                    "the batch".into(),
                ))
            }
        }
        (None, false) => None,
    })
}

/// Over HTTP, the requests sent and what became of each model call; `None` when nothing was
/// sent.
fn request_figures(backends: &Grid, results: &[VariantResult]) -> Option<serde_json::Value> {
    let (mut sent, mut http_retries) = (0, 0);
    for b in backends.values() {
        if let Some((s, r)) = b.request_stats() {
            sent += s;
            http_retries += r;
        }
    }
    let sum = |f: fn(&VariantResult) -> usize| results.iter().map(f).sum::<usize>();
    // Counted per model call (a zero-shot CoT path makes two, a least-to-most chain several);
    // cached paths make none.
    (sent > 0).then(|| {
        json!({
            "http_sent": sent,
            "calls_succeeded": sum(|r| r.samples.calls_succeeded),
            "calls_failed": sum(|r| r.samples.calls_failed),
            "calls_cancelled": sum(|r| r.samples.calls_cancelled),
            "http_retries": http_retries,
            "resamples": sum(|r| r.samples.resamples),
            "calls_shared": sum(|r| r.samples.calls_shared),
            "identity": "http_sent = calls_succeeded + calls_failed + calls_cancelled + http_retries + resamples - calls_shared",
        })
    })
}

/// The sample cache (`None` with `--no-cache`), its warning said.
fn open_cache(no_cache: bool) -> Result<Option<Arc<Cache>>, String> {
    Ok(if no_cache {
        None
    } else {
        let c = Cache::open_default()?;
        if let Some(w) = c.warning() {
            crate::tell!("{w}");
        }
        Some(c)
    })
}

/// `--batch-out`: the requests not yet cached, written for a batch runner; nothing is sent.
fn write_batch_requests(
    out: &std::path::Path,
    variants: &[crate::engine::eval::Variant],
    items: &[crate::store::dataset::Item],
    cache: Option<&Cache>,
) -> Result<(), String> {
    let (text, lines, cached) = crate::engine::batch::requests(variants, items, cache)?;
    crate::store::exports::batch_requests(out, &text)?;
    crate::tell!(
        "wrote {lines} batch requests to {} ({cached} samples were cached already); no request was sent",
        out.display()
    );
    crate::tell!(
        "run them through OpenAI's Batch API or vLLM's batch runner, then the same command with --batch-in RESULTS.jsonl instead of --batch-out"
    );
    Ok(())
}

/// An evaluation where no sample succeeded is an error, with the first error met.
fn no_sample_succeeded(results: &[VariantResult]) -> Result<(), String> {
    if results.iter().all(|r| r.samples.succeeded == 0) {
        let first = results.iter().flat_map(|r| &r.per_item).find_map(|i| {
            i.error
                .clone()
                .or_else(|| i.all_paths().find_map(|p| p.error.clone()))
        });
        return Err(match first {
            Some(e) => format!("no sample succeeded; the first error: {e}"),
            None => "no sample succeeded".into(),
        });
    }
    Ok(())
}
