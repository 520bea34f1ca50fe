//! `promptlab run`: one query, N paths, a vote.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use super::output::Report;
use super::{PromptArgs, RunArgs};
use crate::core::record::{Asked, RunRecord};
use crate::core::settings::Key;
use crate::core::template::Template;
use crate::engine::backends::Backends;
use crate::engine::{self, EngineEvent, RunPlan};
use crate::store::config::Config;
use crate::store::session::{append_run, now_rfc3339};

/// Applies the prompt flags to a template, each through the settings table (so within the
/// bounds every face keeps).
pub fn apply_overrides(t: &mut Template, a: &PromptArgs) -> Result<(), String> {
    let given = [
        (Key::Strategy, a.strategy.map(|s| s.to_string())),
        (Key::Instruction, a.instruction.clone()),
        (Key::Shots, a.shots.map(|k| k.to_string())),
        (Key::Mode, a.mode.map(|m| m.as_str().to_string())),
        (Key::N, a.votes.map(|v| v.to_string())),
        (Key::Temperature, a.temperature.map(|v| v.to_string())),
        (Key::TopP, a.top_p.map(|v| v.to_string())),
        (Key::TopK, a.top_k.map(|v| v.to_string())),
        (Key::MaxTokens, a.max_tokens.map(|v| v.to_string())),
        (Key::Seed, a.seed.map(|v| v.to_string())),
        (Key::Thinking, a.thinking.map(|v| v.as_str().to_string())),
        (
            Key::Effort,
            a.reasoning_effort.map(|v| v.as_str().to_string()),
        ),
        (Key::EarlyStop, a.early_stop.map(|r| r.to_string())),
        (Key::Strict, a.strict.strict_answers.map(|b| b.to_string())),
    ];
    for (key, value) in given {
        if let Some(v) = value {
            key.set(t, &v)?;
        }
    }
    Ok(())
}

/// Runs and prints; `Ok(false)` when no path succeeded (the caller exits non-zero).
pub async fn run(args: RunArgs, backends: &dyn Backends) -> Result<bool, String> {
    let config = Config::load()?;
    let (mut template, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut template, &args.prompt)
        .and_then(|()| Ok(template.validate()?))
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let query = args
        .prompt
        .query
        .clone()
        .or_else(|| template.query.clone())
        .ok_or("no query: give one with --query (the template has none)")?;
    if let Some(path) = &args.save {
        if args.force {
            crate::store::atomic::force_replace();
        }
        check_save_target(path)?;
    }
    let backend = backends.build("", "").await?;
    let info = backend.info();
    let mode = template.mode.unwrap_or(info.default_mode);
    let knn = crate::core::template::Select::knn(template.select).is_some();
    let embedder = backends.embedder(&template.answer)?;
    // A `knn` template's examples for this query, by embeddings with --embed-model.
    let knn = match (&embedder, knn) {
        (Some(e), true) => Some(e.clone()),
        (None, true) => backends.knn_embedder()?,
        (_, false) => None,
    };
    let chosen = engine::select::by_embeddings(template.clone(), &query, knn.as_deref()).await;
    let mut plan = RunPlan::new(&chosen, &query, mode)?;
    plan.concurrency = config.concurrency(args.prompt.concurrency);
    plan.embedder = embedder;
    plan.fresh = args.fresh;
    if args.show_prompt {
        crate::say!("{}", plan.first.prompt)?;
        if !plan.first.stop.is_empty() {
            crate::tell!("(stop sequences: {:?})", plan.first.stop);
        }
        return Ok(true);
    }
    plan.cache = if args.no_cache { None } else { open_cache() };
    let plan = Arc::new(plan);

    let cancel = super::cancel_on_ctrl_c("cancelling…");

    let (tx, rx) = mpsc::unbounded_channel();
    let progress = tokio::spawn(show_progress(rx, plan.sampling.n as u64));
    let result = engine::run(backend, plan.clone(), Some(tx), cancel).await;
    let _ = progress.await;
    say_cache_failure(plan.cache.as_deref());

    // A cancelled run shows what arrived (and exits 130); a run where every path failed says
    // why.
    if result.succeeded() == 0 && !result.cancelled {
        let why = result
            .paths
            .iter()
            .find_map(|p| p.error.clone())
            .unwrap_or_else(|| "no path ran".into());
        return Err(
            if result.paths.iter().all(|p| p.error.as_ref() == Some(&why)) {
                why
            } else {
                format!("every path failed, the first with: {why}")
            },
        );
    }
    let report = Report::live(&template, &plan, &info, &result);
    if args.json {
        super::out::raw(&format!("{}\n", report.json()))?;
    } else {
        super::out::show(&report.table(args.full))?;
    }
    if let Some(path) = &args.save {
        let mut lab = template.clone();
        lab.query = Some(plan.query.clone());
        let asked = Asked {
            timestamp: now_rfc3339(),
            template: lab.clone(),
            query: plan.query.clone(),
            prompt: plan.first.prompt.clone(),
            stop: plan.first.stop.clone(),
        };
        let record = RunRecord::new(asked, info.clone(), result);
        let runs = append_run(path, &lab, record).map_err(|e| e.to_string())?;
        crate::tell!("saved run {runs} to {}", path.display());
    }
    Ok(true)
}

/// Says once, at the end of a command, that samples could not be stored (a full disk).
pub(super) fn say_cache_failure(cache: Option<&crate::engine::cache::Cache>) {
    if let Some(w) = cache.and_then(|c| c.write_failure()) {
        crate::tell!("{w}");
    }
}

/// The sample cache a run reads its paths from and stores them in: path i of the same
/// prompt, settings and seed is the same sample whatever N (`--fresh` samples it anew). A
/// cache that cannot be opened is said on stderr and the run samples without it.
fn open_cache() -> Option<Arc<crate::engine::cache::Cache>> {
    match crate::engine::cache::Cache::open_default() {
        Ok(c) => {
            if let Some(w) = c.warning() {
                crate::tell!("{w}");
            }
            Some(c)
        }
        Err(e) => {
            crate::tell!("warning: sampling without the sample cache: {e}");
            None
        }
    }
}

/// Refuses a `--save` target before anything is sampled: a folder, something that is not a
/// session, or a place that cannot be written.
fn check_save_target(path: &std::path::Path) -> Result<(), String> {
    if path.exists() {
        crate::store::session::load_session(path)
            .map_err(|e| format!("--save: {e} (not a session this promptlab can add to)"))?;
    }
    crate::store::atomic::check_writable(path)
        .and_then(|()| crate::store::atomic::check_replace(path))
        .map_err(|e| format!("--save {}: cannot write there: {e}", path.display()))
}

/// A progress bar on stderr (only on a terminal): paths done, tokens streamed.
async fn show_progress(mut rx: mpsc::UnboundedReceiver<EngineEvent>, n: u64) {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(n)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} paths {wide_bar} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut chunks = 0u64;
    let mut throttled = false;
    while let Some(ev) = rx.recv().await {
        match ev {
            EngineEvent::Chunk { .. } | EngineEvent::Thinking { .. } => {
                chunks += 1;
                if chunks.is_multiple_of(8) {
                    bar.set_message(format!("{chunks} chunks"));
                }
            }
            EngineEvent::PathDone(_) => bar.inc(1),
            // Said once, above the progress bar.
            EngineEvent::Throttled { limit, reason } if !throttled => {
                throttled = true;
                bar.suspend(|| {
                    crate::tell!(
                        "promptlab: the server seems overloaded ({reason}); sampling at most {limit} at once from now on"
                    )
                });
            }
            EngineEvent::Throttled { .. } => {}
            EngineEvent::Settled { after, of } => {
                bar.set_length(after as u64);
                bar.set_message(format!("settled after {after} of {of}"));
            }
            EngineEvent::RunDone(_) => break,
            EngineEvent::PathStarted { .. } | EngineEvent::PathRestarted { .. } => {}
        }
    }
    bar.finish_and_clear();
}
