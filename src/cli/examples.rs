//! `promptlab examples`: which examples earn their place, whether the model reads their
//! labels, whether their order matters (`engine::examples` over `core::demos`).

use std::path::PathBuf;

use clap::Args;

use super::run::apply_overrides;
use super::{BackendArgs, PromptArgs};
use crate::core::demos::Settings;
use crate::core::results::examples::ExamplesRecord;
use crate::engine::backends::Backends;
use crate::engine::eval::EvalOptions;
use crate::engine::examples::ExamplesJob;
use crate::store::config::Config;

#[derive(Debug, Clone, Args)]
pub struct ExamplesArgs {
    #[command(flatten)]
    pub prompt: PromptArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// JSONL, CSV (with a header) or BIG-bench task.json
    #[arg(long, short = 'd')]
    pub dataset: PathBuf,
    /// Only the first K items
    #[arg(long, value_name = "K")]
    pub limit: Option<usize>,
    /// Random orders of the examples to try (0: no order analysis)
    #[arg(long, value_name = "K", default_value_t = crate::core::demos::DEFAULT_ORDERS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100))]
    pub orders: usize,
    /// Sample afresh instead of using the sample cache
    #[arg(long)]
    pub no_cache: bool,
    /// Stop at the first broken dataset line instead of skipping it
    #[arg(long)]
    pub strict: bool,
    /// Print the plan (sets × items × N, calls, prompt tokens, expected time) and stop
    #[arg(long)]
    pub plan: bool,
    /// Write examples.json and examples.md here
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// One JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Sample every set's answers, even where a label template's options could be scored by
    /// their log-probabilities (the default on a backend that scores options)
    #[arg(long)]
    pub sampled: bool,
}

pub async fn examples(args: ExamplesArgs, backends: &dyn Backends) -> Result<bool, String> {
    let config = Config::load()?;
    let (mut template, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut template, &args.prompt)?;
    template
        .validate()
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    crate::core::demos::check(&template).map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let dataset = crate::engine::jobs::load(args.dataset.clone(), args.strict, args.limit).await?;
    for p in &dataset.problems {
        crate::tell!("skipped {p}");
    }
    let backend = backends.build("", "").await?;
    // kNN selection by embeddings when an embedding model is given, else by content words.
    let embedder = backends.embedder_or_knn(&template.answer, true)?;
    let mode = template.mode.unwrap_or(backend.info().default_mode);
    let settings = Settings {
        orders: args.orders,
        seed: template.sampling.seed,
        sampled: args.sampled,
    };
    let variants = crate::engine::examples::variants(&template, &settings, mode, &backend)
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let reading = crate::core::demos::reading(&template, &settings, backend.scores_options(mode));
    let speed = crate::store::speed::last(&backend.info().label());
    let plan = crate::engine::plan::eval_plan(&variants, &dataset.items, false, speed);
    crate::tell!(
        "{} example sets: {} · {plan}",
        variants.len(),
        reading.words()
    );
    if args.plan {
        return Ok(true);
    }
    let cache = if args.no_cache {
        None
    } else {
        let c = crate::engine::cache::Cache::open_default()?;
        if let Some(w) = c.warning() {
            crate::tell!("{w}");
        }
        Some(c)
    };
    let cancel =
        super::cancel_on_ctrl_c("stopping: what is sampled is cached, so the same command resumes");
    let concurrency = config.concurrency(args.prompt.concurrency);
    let job = ExamplesJob {
        dataset,
        template,
        mode,
        backend,
        opts: EvalOptions {
            embedder,
            ..EvalOptions::new(concurrency, cache.clone(), cancel)
        },
        settings,
    };
    let analysed = job.run(&super::eval::progress()).await?;
    super::run::say_cache_failure(cache.as_deref());
    let record = ExamplesRecord {
        analysed: &analysed,
        dataset: &job.dataset.name,
        items: job.dataset.items.len(),
        template: &job.template.name,
        orders: settings.orders,
        seed: settings.seed,
    };
    if let Some(dir) = &args.out {
        crate::store::exports::examples(dir, &record)?;
        crate::tell!("wrote {}/examples.json, examples.md", dir.display());
    }
    if args.json {
        super::out::raw(&format!("{}\n", record.json()))?;
    } else {
        super::out::show(&record.text(false))?;
    }
    if analysed.results.iter().all(|r| r.samples.succeeded == 0) {
        return Err("no sample succeeded".into());
    }
    Ok(true)
}
