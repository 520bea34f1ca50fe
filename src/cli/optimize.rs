//! `promptlab optimize`: automatic prompt search (APE) from the command line, printing the
//! plan first, progress on stderr, then the leaderboard and the held-out check.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::config::Config;
use super::run::apply_overrides;
use super::{OptimizeArgs, backend};
use crate::core::ape::ApeConfig;
use crate::core::template::Template;
use crate::engine::cache::Cache;
use crate::engine::eval::EvalOptions;
use crate::engine::optimize::{PROPOSAL_TOKENS, Progress, Search, SearchResult, split};
use crate::store::dataset::load_dataset;
use crate::store::template::save_template;

/// The template with the winning instruction.
/// `produced_by` names the backend and promptlab that searched and scored (kept in the
/// template's description, so the file says where its figures came from).
pub fn winner(
    base: &Template,
    original: &Template,
    r: &SearchResult,
    produced_by: &str,
) -> Option<Template> {
    let best = r.leaderboard.first()?;
    let mut t = base.clone();
    t.name = format!("{}-ape", base.name);
    t.instruction = Some(best.instruction.clone());
    t.sampling = original.sampling.clone();
    t.description = format!(
        "{} (instruction found by APE on {produced_by}: dev {:.0}%, held-out {:.0}% vs {:.0}% before)",
        base.description,
        best.accuracy.unwrap_or(0.0) * 100.0,
        r.held_best * 100.0,
        r.held_original * 100.0
    );
    Some(t)
}

/// `templates/NAME.yaml` when there is a ./templates, else the data dir's.
pub fn template_path(name: &str) -> PathBuf {
    let dir = if std::path::Path::new("templates").is_dir() {
        PathBuf::from("templates")
    } else {
        crate::store::data_dir().map_or_else(|| PathBuf::from("."), |d| d.join("templates"))
    };
    dir.join(format!("{name}.yaml"))
}

pub async fn optimize(args: OptimizeArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let (original, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    let mut base = original.clone();
    apply_overrides(&mut base, &args.prompt);
    // Scoring is one greedy sample per item unless the flags say otherwise.
    base.sampling.n = args.prompt.votes.unwrap_or(1);
    base.sampling.temperature = args.prompt.temperature.unwrap_or(0.0);
    base.validate()
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let items = load_dataset(&args.dataset, false)
        .map_err(|e| e.to_string())?
        .items;
    let (dev, held) = split(items, args.dev, args.held_out, base.sampling.seed)?;
    // Where the winner goes, checked before anything is sampled: an existing file (the source
    // template included) is replaced only with --force.
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| template_path(&format!("{}-ape", base.name)));
    if out.exists() && !args.force {
        return Err(format!(
            "{} exists; give another --out, or --force to replace it",
            out.display()
        ));
    }
    let backend = backend::build(&backend::resolve(&args.backend, &config)?).await?;
    let info = backend.info();
    let produced_by = format!("{} with {}", info.label(), crate::core::record::version());
    let cancel = super::cancel_on_ctrl_c("stopping the search: the leaderboard so far follows");
    let search = Search {
        backend,
        cfg: ApeConfig {
            candidates: args.candidates.max(1),
            rounds: args.rounds.max(1),
            keep: args.keep.max(1),
            demos: 5,
            seed: base.sampling.seed,
        },
        budget: args.budget,
        opts: EvalOptions {
            permits: Arc::new(crate::engine::limit::Limiter::new(
                config.concurrency(args.prompt.concurrency),
            )),
            greedy: false,
            cache: Cache::open_default().ok(),
            cancel,
        },
        base: base.clone(),
        dev,
        held,
    };
    let planned = search.planned_calls();
    eprintln!(
        "APE: {} proposals, {} round(s), keeping {}; scoring on {} dev items x {} sample(s); held-out check on {} items\n\
         plan: up to {planned} model calls for the search (+{} for the held-out check), up to ~{} generated tokens{}",
        search.cfg.candidates,
        search.cfg.rounds,
        search.cfg.keep,
        search.dev.len(),
        base.sampling.n,
        search.held.len(),
        2 * search.held.len() * base.sampling.n as usize,
        planned * base.sampling.max_tokens.max(PROPOSAL_TOKENS) as usize,
        args.budget
            .map(|b| format!("; stopping at the budget of {b} calls"))
            .unwrap_or_default()
    );
    let r = search
        .run(|p| match p {
            Progress::Round { round, proposals } => {
                eprintln!("round {round}: {proposals} proposal(s)…")
            }
            Progress::ProposalFailed { error } => eprintln!("  a proposal failed: {error}"),
            Progress::Scored(c) => eprintln!(
                "  {:>5.1}%  {}",
                c.accuracy.unwrap_or(0.0) * 100.0,
                c.instruction
            ),
        })
        .await;
    let Some(best_template) = winner(&base, &original, &r, &produced_by) else {
        return Err("no usable instruction was proposed (is the model answering at all?)".into());
    };
    save_template(&out, &best_template).map_err(|e| e.to_string())?;
    if args.json {
        println!(
            "{}",
            json!({
                "provenance": {"promptlab": crate::core::record::version(), "backend": info},
                "leaderboard": r.leaderboard,
                "best": best_template.instruction,
                "dev_items": search.dev.len(),
                "held_out": {"items": search.held.len(), "best": r.held_best, "original": r.held_original},
                "calls": r.calls,
                "planned_calls": r.planned,
                "budget_reached": r.budget_reached,
                "template": out,
            })
        );
    } else {
        println!("prompt search · {produced_by}");
        println!(
            "{:>3}  {:>7}  {:>7}  {:>5}  instruction",
            "#", "dev", "samples", "round"
        );
        for (i, c) in r.leaderboard.iter().enumerate() {
            println!(
                "{:>3}  {:>6.1}%  {:>7}  {:>5}  {}",
                i + 1,
                c.accuracy.unwrap_or(0.0) * 100.0,
                c.samples,
                c.round,
                c.instruction
            );
        }
        println!(
            "\nbest on {} held-out items: {:.1}% (the template's own instruction: {:.1}%)\n{} model calls{} · wrote {}",
            search.held.len(),
            r.held_best * 100.0,
            r.held_original * 100.0,
            r.calls,
            if r.budget_reached {
                " (budget reached)"
            } else {
                ""
            },
            out.display()
        );
    }
    Ok(true)
}
