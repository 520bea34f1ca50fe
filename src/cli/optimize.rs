//! `promptlab optimize`: automatic prompt search (APE) from the command line, printing the
//! plan first, progress on stderr, then the leaderboard and the held-out check.

use std::path::PathBuf;

use serde_json::json;

use super::config::Config;
use super::run::apply_overrides;
use super::{OptimizeArgs, backend};
use crate::core::ape::SearchOptions;
use crate::core::template::Template;
use crate::engine::cache::Cache;
use crate::engine::eval::EvalOptions;
use crate::engine::jobs::{self, JobEvent};
use crate::engine::optimize::SearchResult;
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

/// `NAME.yaml` where templates are exported (`./templates` in a project, else the data dir's).
pub fn template_path(name: &str) -> PathBuf {
    crate::store::template::export_dir().join(format!("{name}.yaml"))
}

/// Shows a search's events on stderr: its plan, then each round and score.
fn show(e: JobEvent) {
    match e {
        JobEvent::SearchStarted(p) => eprintln!(
            "APE: {} proposals, {} round(s), keeping {}; scoring on {} dev items x {} sample(s); held-out check on {} items\n\
             plan: up to {} model calls for the search (+{} for the held-out check), up to ~{} generated tokens{}",
            p.candidates,
            p.rounds,
            p.keep,
            p.dev,
            p.samples,
            p.held,
            p.planned_calls,
            p.held_calls,
            p.max_tokens,
            p.budget
                .map(|b| format!("; stopping at the budget of {b} calls"))
                .unwrap_or_default()
        ),
        JobEvent::Round { round, proposals } => {
            eprintln!("round {round}: {proposals} proposal(s)…")
        }
        JobEvent::ProposalFailed(error) => eprintln!("  a proposal failed: {error}"),
        JobEvent::Scored(c) => eprintln!(
            "  {:>5.1}%  {}",
            c.accuracy.unwrap_or(0.0) * 100.0,
            c.instruction
        ),
        _ => {}
    }
}

pub async fn optimize(args: OptimizeArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let (original, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    let mut base = original.clone();
    apply_overrides(&mut base, &args.prompt);
    let dataset = jobs::load(args.dataset.clone(), false, None).await?;
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
    let options = SearchOptions {
        candidates: args.candidates,
        rounds: args.rounds,
        keep: args.keep,
        dev: args.dev,
        held: args.held_out,
        budget: args.budget,
    };
    let opts = EvalOptions::new(
        config.concurrency(args.prompt.concurrency),
        Cache::open_default().ok(),
        cancel,
    );
    let search = jobs::search(
        backend,
        &base,
        dataset,
        &options,
        args.prompt.votes,
        args.prompt.temperature,
        opts,
    )?;
    let base = &search.base;
    let r = search.run(&show).await;
    let Some(best_template) = winner(base, &original, &r, &produced_by) else {
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
