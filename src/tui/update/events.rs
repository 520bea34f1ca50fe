//! What the engine and the long jobs report, taken into the state: a run's paths and its end
//! (recorded and autosaved), an evaluation's and a search's progress.

use super::{autosave, perform};
use crate::backend::BackendInfo;
use crate::core::evaluation::{VariantStats, headline};
use crate::engine::EngineEvent;
use crate::engine::jobs::JobEvent;
use crate::engine::tuner::Tuned;
use crate::tui::msg::{Effect, Msg};
use crate::tui::state::{AppState, EvalView, OptimizeView};

pub(super) fn engine_event(s: &mut AppState, id: u64, e: EngineEvent) -> Vec<Effect> {
    let Some(run) = s.run.as_mut().filter(|r| r.id == id) else {
        return vec![];
    };
    match e {
        EngineEvent::PathStarted { path } => run.started_path(path),
        EngineEvent::Chunk { path, text } => run.chunk(path, &text, false),
        EngineEvent::Thinking { path, text } => run.chunk(path, &text, true),
        EngineEvent::Settled { after, of } => {
            s.status = format!("the vote settled after {after} of {of} paths; stopping the rest");
        }
        EngineEvent::Throttled { limit, reason } => {
            s.status =
                format!("the server seems overloaded ({reason}): sampling at most {limit} at once");
        }
        EngineEvent::PathRestarted { path, text, .. } => run.restarted(path, text),
        EngineEvent::PathDone(r) => run.finish(r),
        EngineEvent::RunDone(result) => {
            let failed = result.paths.iter().filter(|p| !p.succeeded()).count();
            s.status = match (&result.tally.winner, result.cancelled) {
                (_, true) => format!("run {id} cancelled: kept what arrived"),
                (Some(w), _) => format!(
                    "run {id}: answer {w} ({:.0}% agreement)",
                    result.tally.agreement * 100.0
                ),
                (None, _) if failed == result.paths.len() => {
                    let why = result
                        .paths
                        .iter()
                        .find_map(|p| p.error.clone())
                        .unwrap_or_default();
                    format!("run {id}: every path failed: {why}")
                }
                (None, _) => format!("run {id}: no path gave a parsable answer"),
            };
            let origin = result.origin();
            if origin.cached > 0 {
                s.status = format!(
                    "{} · {} cached, {} sampled",
                    s.status, origin.cached, origin.fresh
                );
            }
            // Record it and autosave: a crash from here on loses nothing.
            let backend = s
                .backend
                .clone()
                .unwrap_or_else(|| BackendInfo::new("unknown", "unknown", s.mode()));
            let mut effects = vec![];
            let run = s.run.as_mut().filter(|r| r.id == id);
            if let Some(record) = run.and_then(|run| {
                run.end(result, backend);
                run.record()
            }) {
                s.session.runs.push(record);
                s.history = Some(s.session.runs.len() - 1);
                effects.push(autosave(s));
            }
            if let Some(next) = s.after_run.take() {
                effects.extend(perform(s, next));
            }
            return effects;
        }
    }
    vec![]
}

/// An evaluation's or a search's progress, shown in its view and the status line.
pub(super) fn job_event(s: &mut AppState, e: JobEvent) {
    match e {
        JobEvent::EvalStarted {
            dataset,
            items,
            variants,
            skipped,
        } => {
            s.status = format!(
                "evaluating {dataset}: {items} items × {} variant(s){}",
                variants.len(),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(" ({} broken lines skipped)", skipped.len())
                }
            );
            s.eval = Some(EvalView {
                dataset,
                items,
                progress: vec![(0, 0); variants.len()],
                variants,
                results: vec![],
                running: true,
                variant: 0,
                item: 0,
                curve: None,
            });
        }
        JobEvent::ItemDone {
            variant,
            done,
            correct,
        } => {
            if let Some(p) = s.eval.as_mut().and_then(|e| e.progress.get_mut(variant)) {
                *p = (done, correct);
            }
        }
        JobEvent::VariantDone(r) => {
            if let Some(e) = s.eval.as_mut() {
                e.results.push(*r);
            }
        }
        JobEvent::Statistics(stats) => {
            if let Some(e) = s.eval.as_mut() {
                for (r, st) in e.results.iter_mut().zip(stats) {
                    r.stats = st;
                }
            }
        }
        JobEvent::EvalFinished { lowered } => {
            if let Some(e) = s.eval.as_mut() {
                e.running = false;
                let named: Vec<(&str, &VariantStats)> = e
                    .results
                    .iter()
                    .map(|r| (r.name.as_str(), &r.stats))
                    .collect();
                s.status = format!("evaluation done: {}", headline(&named));
                if let Some((limit, of)) = lowered {
                    s.status.push_str(&format!(
                        "; the server seemed overloaded, concurrency lowered to {limit} (of {of})"
                    ));
                }
            }
        }
        JobEvent::SearchStarted(plan) => {
            s.status = format!(
                "searching instructions on {}: up to {} model calls",
                plan.dataset, plan.planned_calls
            );
            s.optimize = Some(OptimizeView {
                dataset: plan.dataset,
                planned_calls: plan.planned_calls,
                running: true,
                ..Default::default()
            });
        }
        JobEvent::Round { round, .. } => {
            if let Some(o) = s.optimize.as_mut() {
                o.round = round;
            }
        }
        JobEvent::ProposalFailed(_) => {}
        JobEvent::Analysed(report) => super::examples::analysed(s, *report),
        JobEvent::Raced(step) => {
            if let Some(o) = s.optimize.as_mut() {
                o.round = step.round;
                o.items = step.items;
                o.standings = step.standings;
            }
        }
        JobEvent::SearchFinished(r) => {
            if let Some(o) = s.optimize.as_mut() {
                o.running = false;
                o.standings = r.leaderboard.clone();
                o.held = r.held.clone();
                o.verdict = Some(r.verdict());
                o.calls = r.calls;
                o.budget_reached = r.budget_reached;
            }
            s.status = format!("search done: {}", r.verdict());
        }
    }
}

/// A tune's report, taken into its board; its end (a curve goes to the evaluation view, which
/// `F7` shows).
pub(super) fn tune_msg(s: &mut AppState, msg: Msg) {
    let Some(t) = s.tune.as_mut() else {
        return;
    };
    let r = match msg {
        Msg::Tune(p) => return t.apply(p),
        Msg::Tuned(r) => r,
        _ => return,
    };
    if let Ok(Tuned::Curve { curve, .. }) = &r {
        s.eval = Some(EvalView::of_curve(
            format!("{} (held out)", t.dataset),
            curve.clone(),
        ));
    }
    t.end(r);
    let name = crate::core::display::visible(&t.name);
    s.status = match &t.outcome {
        Some(Ok(Tuned::Adapter { .. })) => format!(
            "tune {name}: {} ({}: pick it in the model picker)",
            t.phase,
            s.keymap.first_key(crate::tui::keymap::Action::Tune)
        ),
        Some(Ok(Tuned::Curve { curve, .. })) => format!(
            "tune {name}: {}",
            crate::core::display::visible(&curve.verdict)
        ),
        Some(Err(e)) => format!("tune {name}: {}", crate::core::display::visible(e)),
        None => String::new(),
    };
}
