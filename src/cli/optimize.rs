//! `promptlab optimize`: automatic prompt search (APE) from the command line, printing the
//! plan first, progress on stderr, then the leaderboard and the held-out check.

use std::path::PathBuf;

use serde_json::json;

use super::OptimizeArgs;
use super::run::apply_overrides;
use crate::core::ape::{COLUMNS, SearchOptions};
use crate::core::display::{shorten, visible};
use crate::core::template::Template;
use crate::engine::backends::Backends;
use crate::engine::cache::Cache;
use crate::engine::eval::EvalOptions;
use crate::engine::jobs::{self, JobEvent};
use crate::engine::optimize::SearchResult;
use crate::store::config::Config;
use crate::store::template::save_template;

/// The template with the winning instruction, its description saying where its figures came
/// from (`produced_by`: the backend and promptlab that searched) and what the held-out check
/// found, "not shown better" included.
pub fn winner(
    base: &Template,
    original: &Template,
    r: &SearchResult,
    produced_by: &str,
) -> Option<Template> {
    let best = r.winner.as_ref()?;
    let mut t = base.clone();
    t.name = format!("{}-ape", base.name);
    t.instruction = Some(best.instruction.clone());
    t.sampling = original.sampling.clone();
    let held = r.held.as_ref().map_or_else(
        || "no held-out check (stopped before it)".into(),
        |h| h.describe(),
    );
    t.description = format!(
        "{} (instruction found by APE on {produced_by}: dev {}; {held})",
        base.description,
        best.cells()[0],
    );
    Some(t)
}

/// `NAME.yaml` where templates are exported (`./templates` in a project, else the data dir's).
/// A template's name comes from a file anyone may share: one that could leave that folder
/// (`../../x`) is refused (`store::name`).
pub fn template_path(name: &str) -> Result<PathBuf, String> {
    crate::store::name::file_in(
        &crate::store::template::export_dir(),
        "the template name",
        name,
        ".yaml",
    )
    .map_err(|e| format!("{e}; give --out FILE.yaml"))
}

/// Shows a search's events on stderr: its plan, then each round and race step.
fn show(e: JobEvent) {
    match e {
        JobEvent::SearchStarted(p) => crate::tell!(
            "APE: {} proposals, {} round(s), keeping {}; racing on {} dev items in batches of {} x {} sample(s), your instruction included\n{p}",
            p.candidates,
            p.rounds,
            p.keep,
            p.dev,
            p.batch,
            p.samples,
        ),
        JobEvent::Round { round, proposals } => {
            crate::tell!("round {round}: {proposals} proposal(s)…")
        }
        JobEvent::ProposalFailed(error) => crate::tell!("  a proposal failed: {error}"),
        JobEvent::Raced(step) => {
            if let Some(lead) = step.standings.first() {
                crate::tell!(
                    "  race at {} of {} items: leader {} {}",
                    step.items,
                    step.pool,
                    lead.cells()[0],
                    shorten(&lead.instruction, 60)
                );
            }
            for d in &step.dropped {
                crate::tell!(
                    "  {}: {} {}",
                    d.fate().unwrap_or_default(),
                    d.cells()[0],
                    shorten(&d.instruction, 60)
                );
            }
        }
        _ => {}
    }
}

/// The leaderboard for people: each instruction's dev accuracy and difference from yours with
/// their intervals, how far it raced, and the held-out verdict.
fn table(r: &SearchResult, produced_by: &str) -> String {
    use std::fmt::Write as _;
    let mut out = format!("prompt search · {produced_by}\n");
    let _ = writeln!(
        out,
        "{:>3}  {:<14}  {:<21}  {:>5}  {:>5}  instruction",
        "#", COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3]
    );
    for (i, s) in r.leaderboard.iter().enumerate() {
        let [dev, delta, items, round] = s.cells();
        let instruction = match (s.seed, s.instruction.is_empty()) {
            (true, true) => "(your template: no instruction)".to_string(),
            (true, false) => format!("{} (yours)", visible(&s.instruction)),
            (false, _) => visible(&s.instruction).into_owned(),
        };
        let _ = writeln!(
            out,
            "{:>3}  {dev:<14}  {delta:<21}  {items:>5}  {round:>5}  {instruction}{}",
            i + 1,
            s.fate().map(|f| format!("  ({f})")).unwrap_or_default()
        );
    }
    let _ = writeln!(out, "\n{}", r.verdict());
    out
}

/// Refuses a budget that cannot pay for a search's proposals and the start of its first race
/// step (your instruction and one proposal on one step of dev items): such a search would end
/// with nothing to show.
fn check_budget(p: &jobs::SearchPlan) -> Result<(), String> {
    let Some(budget) = p.budget else {
        return Ok(());
    };
    let items = p.batch.min(p.dev);
    let least = p
        .candidates
        .saturating_add(items.saturating_mul(p.samples).saturating_mul(2));
    if budget >= least {
        return Ok(());
    }
    Err(format!(
        "--budget {budget} is too small for this search: its {} proposal(s), then your \
         instruction and one proposal on a race step of {items} dev item(s) x {} sample(s), take \
         {least} model calls; give --budget {least} or more, or fewer --candidates or a smaller \
         --race-batch",
        p.candidates, p.samples
    ))
}

pub async fn optimize(args: OptimizeArgs, backends: &dyn Backends) -> Result<bool, String> {
    if args.held_out == Some(0) {
        return Err(
            "--held-out 0: the held-out check needs at least 1 item (it is what tells \
             a better instruction from a lucky one)"
                .into(),
        );
    }
    let config = Config::load()?;
    let (original, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    let mut base = original.clone();
    apply_overrides(&mut base, &args.prompt)
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let dataset = jobs::load(args.dataset.clone(), false, None).await?;
    // Where the winner goes, checked before anything is sampled: an existing file (the source
    // template included) is replaced only with --force.
    let out = match args.out.clone() {
        Some(o) => o,
        None => template_path(&format!("{}-ape", base.name))?,
    };
    if out.exists() && !args.force {
        return Err(format!(
            "{} exists; give another --out, or --force to replace it",
            out.display()
        ));
    }
    let backend = backends.build("", "").await?;
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
        batch: args.race_batch,
    };
    let opts = EvalOptions::new(
        config.concurrency(args.prompt.concurrency),
        Cache::open_default().ok(),
        cancel,
    );
    let mut search = jobs::search(
        backend,
        &base,
        dataset,
        &options,
        args.prompt.votes,
        args.prompt.temperature,
        opts,
    )?;
    check_budget(&search.plan())?;
    search.speed = crate::store::speed::last(&info.label());
    if args.plan {
        crate::tell!("{}", search.plan());
        return Ok(true);
    }
    let base = &search.base;
    let r = search.run(&show).await;
    if !r.leaderboard.iter().any(|s| !s.seed) {
        return Err("no usable instruction was proposed (is the model answering at all?)".into());
    }
    // A winner not shown better than your instruction on the held-out items is written only
    // with --force, and says so in its description.
    let better = r.held.as_ref().is_some_and(|h| h.better);
    let written = match winner(base, &original, &r, &produced_by) {
        Some(t) if better || args.force => {
            save_template(&out, &t).map_err(|e| e.to_string())?;
            Some(t)
        }
        _ => None,
    };
    if args.json {
        crate::cli::out::raw(&format!(
            "{}\n",
            json!({
                "provenance": {"promptlab": crate::core::record::version(), "backend": info},
                "leaderboard": r.leaderboard,
                "best": r.winner.as_ref().map(|w| &w.instruction),
                "winner": r.winner,
                "dev_items": search.dev.len(),
                "held_out": r.held,
                "verdict": r.held.as_ref().map(|h| h.describe()),
                "better": better,
                "calls": r.calls,
                "planned_calls": r.planned,
                "budget_reached": r.budget_reached,
                "template": written.as_ref().map(|_| &out),
            })
        ))?;
    } else {
        crate::cli::out::show(&table(&r, &produced_by))?;
        crate::say!(
            "{} model calls{} · {}",
            r.calls,
            if r.budget_reached {
                " (budget reached)"
            } else {
                ""
            },
            match (&written, better) {
                (Some(_), true) => format!("wrote {}", out.display()),
                (Some(_), false) => format!(
                    "wrote {} as you asked (--force), marked as not shown better",
                    out.display()
                ),
                (None, _) if r.winner.is_some() => format!(
                    "{} was not written: it is not shown better than your instruction (--force writes it anyway, marked as such)",
                    out.display()
                ),
                (None, _) => "nothing was written".into(),
            }
        )?;
    }
    Ok(true)
}
