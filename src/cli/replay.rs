//! `promptlab replay`: recorded runs exactly as they were, re-run against a backend, or
//! re-voted offline with another answer kind.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::json;

use super::ReplayArgs;
use super::output::Report;
use crate::backend::Embedder;
use crate::core::extract::{AnswerKind, AnswerSpec};
use crate::core::record::{RunRecord, tally};
use crate::core::share::shift;
use crate::core::vote::Tally;
use crate::engine::backends::Backends;
use crate::engine::{self, RunPlan};
use crate::store::session::{load_session_checked, save_merged};

pub async fn replay(args: ReplayArgs, backends: &dyn Backends) -> Result<bool, String> {
    let (mut session, inconsistent) =
        load_session_checked(&args.session).map_err(|e| e.to_string())?;
    for problem in &inconsistent {
        crate::tell!(
            "promptlab: {} was inconsistent: {problem}",
            args.session.display()
        );
    }
    let total = session.runs.len();
    let selected: Vec<usize> = match args.run {
        Some(k) if k >= 1 && k <= total => vec![k - 1],
        Some(k) => {
            return Err(format!(
                "{} has {total} runs; there is no run {k}",
                args.session.display()
            ));
        }
        None => (0..total).collect(),
    };
    if selected.is_empty() {
        return Err(format!("{} has no runs yet", args.session.display()));
    }
    if args.kind.is_some() || args.strict.strict_answers.is_some() {
        revote(&args, backends, &mut session.runs, &selected).await?;
        if args.write {
            if args.force {
                crate::store::atomic::force_replace();
            }
            // Runs another process added since the file was read are kept.
            let added = save_merged(&args.session, &mut session).map_err(|e| e.to_string())?;
            crate::tell!(
                "re-voted {} run(s) in {}{}",
                selected.len(),
                args.session.display(),
                match added.len() {
                    0 => String::new(),
                    n => format!(" (kept {n} run(s) added meanwhile)"),
                }
            );
        }
    }
    if args.rerun {
        return rerun(&args, backends, &session.runs, &selected).await;
    }
    let mut out = String::new();
    for &i in &selected {
        let r = &session.runs[i];
        let report = Report::recorded(r);
        if args.json {
            let mut v = report.json();
            v["run"] = json!(i + 1);
            v["timestamp"] = json!(r.timestamp);
            let _ = writeln!(out, "{v}");
        } else {
            let _ = writeln!(out, "── run {} of {total} · {} ──", i + 1, r.timestamp);
            out.push_str(&report.table(args.full));
            out.push('\n');
        }
    }
    if args.json {
        super::out::raw(&out)?;
    } else {
        super::out::show(&out)?;
    }
    Ok(true)
}

/// Re-votes the selected runs offline: with `--kind` under the answer spec the flags give,
/// else each under its own spec; `--strict-answers` sets whether fallback answers vote.
async fn revote(
    args: &ReplayArgs,
    backends: &dyn Backends,
    runs: &mut [RunRecord],
    selected: &[usize],
) -> Result<(), String> {
    let given = match &args.kind {
        Some(kind) => {
            let spec = AnswerSpec {
                kind: str::parse::<AnswerKind>(kind)?,
                pattern: args.pattern.clone(),
                choices: args.choices.clone(),
                similarity: args.similarity,
                cluster: args.cluster.as_deref().map(str::parse).transpose()?,
                strict: false,
            };
            // A choice without labels reads options from each query; when no query has any,
            // every answer would be lost: refuse before anything changes.
            if spec.kind == AnswerKind::Choice
                && spec.choices.is_empty()
                && selected
                    .iter()
                    .all(|&i| crate::core::extract::parse_options(&runs[i].query).is_empty())
            {
                return Err(
                    "--kind choice needs --choices a,b,… (the recorded queries list no \"(A) …\" options)"
                        .into(),
                );
            }
            spec.validate()?;
            Some(spec)
        }
        None => None,
    };
    let mut embedder: Option<Arc<dyn Embedder>> = None;
    for &i in selected {
        let mut spec = given
            .clone()
            .unwrap_or_else(|| runs[i].template.answer.clone());
        spec.strict = args.strict.strict_answers.unwrap_or(spec.strict);
        // Re-voting by `embed` reads every answer with the embedding model (on this machine),
        // loaded once.
        if spec.embeds() && embedder.is_none() {
            embedder = backends.embedder(&spec)?;
        }
        let embedder = embedder.as_ref().filter(|_| spec.embeds());
        let mut r = runs[i].revote(&spec)?;
        if let Some(e) = &embedder {
            engine::embed_answers(e.as_ref(), &mut r.result.paths).await;
            r.result.tally = tally(&r.result.paths, &r.result.voting(&spec, &r.query));
        }
        runs[i] = r;
    }
    Ok(())
}

/// The plan that re-sends a recorded run's prompts exactly.
fn plan_of(r: &RunRecord, embedder: &Option<Arc<dyn Embedder>>) -> Result<RunPlan, String> {
    let mut plan = RunPlan::new(&r.template, &r.query, r.mode)?;
    plan.embedder = embedder.clone();
    plan.first.prompt = r.prompt.clone();
    plan.first.stop = r.stop.clone();
    Ok(plan)
}

async fn rerun(
    args: &ReplayArgs,
    backends: &dyn Backends,
    runs: &[RunRecord],
    selected: &[usize],
) -> Result<bool, String> {
    let backend = backends.build("", "").await?;
    let info = backend.info();
    let cancel = super::cancel_on_ctrl_c("stopping after this run");
    let mut any_ok = false;
    let mut first_error: Option<String> = None;
    for &i in selected {
        let r = &runs[i];
        let embedder = backends.embedder(&r.template.answer)?;
        let plan = Arc::new(plan_of(r, &embedder)?);
        let new = engine::run(backend.clone(), plan, None, cancel.clone()).await;
        any_ok |= new.succeeded() > 0;
        if first_error.is_none() {
            first_error = new.paths.iter().find_map(|p| p.error.clone());
        }
        if args.json {
            let mut recorded = Report::recorded(r).json();
            recorded["run"] = json!(i + 1);
            let v = json!({
                "run": i + 1,
                "recorded": {"backend": r.backend, "tally": recorded["tally"], "answer": r.result.tally.winner, "agreement": r.result.tally.agreement},
                "rerun": {"backend": info, "promptlab": crate::core::record::version(), "tally": tally_rows(&new.tally), "answer": new.tally.winner, "agreement": new.tally.agreement, "paths": new.paths.iter().map(super::output::path_json).collect::<Vec<_>>()},
                "share_shift": shift(&r.result.tally, &new.tally),
            });
            super::out::raw(&format!("{v}\n"))?;
        } else {
            crate::say!(
                "── run {} · recorded {} vs now {} ──",
                i + 1,
                r.backend.label(),
                info.label()
            )?;
            crate::cli::out::show(&crate::core::display::side_by_side(
                &r.result.tally,
                &new.tally,
                ["recorded", "now"],
            ))?;
            if new.succeeded() == 0 {
                // A failure is not a change of answer.
                let why = new
                    .paths
                    .iter()
                    .find_map(|p| p.error.clone())
                    .unwrap_or_default();
                crate::say!("every re-run path failed ({why}): no answer to compare\n")?;
            } else {
                let verdict = if r.result.tally.winner == new.tally.winner {
                    "same answer"
                } else {
                    "the answer changed"
                };
                crate::say!(
                    "{verdict}: {} → {}",
                    show(&r.result.tally.winner),
                    show(&new.tally.winner)
                )?;
                if let Some(s) = shift(&r.result.tally, &new.tally) {
                    crate::say!("{}", s.describe())?;
                }
                crate::say!()?;
            }
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    if !any_ok {
        return Err(format!(
            "every re-run path failed{}",
            first_error
                .map(|e| format!(", the first with: {e}"))
                .unwrap_or_default()
        ));
    }
    Ok(true)
}

fn show(a: &Option<String>) -> String {
    a.as_deref().map_or_else(
        || "(none)".into(),
        |a| crate::core::display::visible(a).into_owned(),
    )
}

fn tally_rows(t: &Tally) -> serde_json::Value {
    json!(
        t.entries
            .iter()
            .map(|e| json!({"answer": e.answer, "votes": e.votes, "members": e.members, "fallback": e.fallback}))
            .collect::<Vec<_>>()
    )
}
