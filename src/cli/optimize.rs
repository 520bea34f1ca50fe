//! `promptlab optimize`: automatic prompt search (APE). Drives the sans-IO `core::ape`
//! machine: proposals and variations are plain completions, scores are evaluations on the dev
//! items (through the sample cache), and the winner is scored again on held-out items that did
//! not choose it.

use std::path::PathBuf;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;
use tokio::sync::Semaphore;

use super::config::Config;
use super::run::apply_overrides;
use super::{OptimizeArgs, backend};
use crate::backend::Backend;
use crate::core::ape::{Ape, ApeConfig, ApeEffect, ApeEvent, planned_calls};
use crate::core::template::Template;
use crate::engine::cache::Cache;
use crate::engine::eval::{EvalOptions, Variant, eval_variant};
use crate::engine::{CompleteRequest, complete};
use crate::store::dataset::{Item, load_dataset};
use crate::store::template::save_template;

/// Tokens of one proposal or variation.
const PROPOSAL_TOKENS: u32 = 48;

struct Scorer {
    backend: Arc<dyn Backend>,
    base: Template,
    opts: EvalOptions,
}

impl Scorer {
    /// Accuracy (majority vote) of `instruction` on `items`, and the samples it took.
    async fn score(&self, instruction: Option<&str>, items: &[Item]) -> (f64, usize) {
        let mut template = self.base.clone();
        if let Some(i) = instruction {
            template.instruction = Some(i.to_string());
        }
        let mode = template.mode.unwrap_or(self.backend.info().default_mode);
        let v = Variant {
            name: "candidate".into(),
            settings: json!({}),
            template,
            mode,
            backend: self.backend.clone(),
        };
        let r = eval_variant(&v, items, &self.opts, Arc::new(|_, _| {})).await;
        (r.accuracy_majority, r.samples.succeeded + r.samples.failed)
    }
}

pub async fn optimize(args: OptimizeArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let (mut base, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut base, &args.prompt);
    // Scoring is one greedy sample per item unless the flags say otherwise.
    base.sampling.n = args.prompt.votes.unwrap_or(1);
    base.sampling.temperature = args.prompt.temperature.unwrap_or(0.0);
    base.validate()
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let mut items = load_dataset(&args.dataset, false)
        .map_err(|e| e.to_string())?
        .items;
    items.shuffle(&mut StdRng::seed_from_u64(base.sampling.seed));
    if items.len() < 2 {
        return Err("the dataset needs at least 2 items (dev and held-out)".into());
    }
    let dev_n = args.dev.clamp(1, items.len() - 1);
    let held_n = args.held_out.unwrap_or(50).min(items.len() - dev_n).max(1);
    let (dev, rest) = items.split_at(dev_n);
    let held = &rest[..held_n];

    let resolved = backend::resolve(&args.backend, &config)?;
    let backend = backend::build(&resolved).await?;
    let mode = base.mode.unwrap_or(backend.info().default_mode);
    let cfg = ApeConfig {
        candidates: args.candidates.max(1),
        rounds: args.rounds.max(1),
        keep: args.keep.max(1),
        demos: 5,
        seed: base.sampling.seed,
    };
    let samples = base.sampling.n as usize;
    let planned = planned_calls(&cfg, dev.len(), samples);
    let check = 2 * held.len() * samples;
    eprintln!(
        "APE: {} proposals, {} round(s), keeping {}; scoring on {} dev items x {samples} sample(s); held-out check on {} items\n\
         plan: up to {planned} model calls for the search (+{check} for the held-out check), up to ~{} generated tokens{}",
        cfg.candidates,
        cfg.rounds,
        cfg.keep,
        dev.len(),
        held.len(),
        planned * base.sampling.max_tokens.max(PROPOSAL_TOKENS) as usize,
        args.budget
            .map(|b| format!("; stopping at the budget of {b} calls"))
            .unwrap_or_default()
    );

    let pairs: Vec<(String, String)> = dev
        .iter()
        .map(|i| {
            (
                i.input.clone(),
                i.targets.first().cloned().unwrap_or_default(),
            )
        })
        .collect();
    let cancel = super::cancel_on_ctrl_c("stopping the search: the leaderboard so far follows");
    let opts = EvalOptions {
        permits: Arc::new(Semaphore::new(config.concurrency(args.prompt.concurrency))),
        greedy: false,
        cache: Cache::open_default().ok(),
        cancel: cancel.clone(),
    };
    let scorer = Scorer {
        backend: backend.clone(),
        base: base.clone(),
        opts,
    };
    let mut ape = Ape::new(cfg.clone(), pairs);
    let mut queue: Vec<ApeEffect> = ape.start();
    let mut calls = 0usize;
    let mut budget_reached = false;
    while !queue.is_empty() && !cancel.is_cancelled() {
        let effects = std::mem::take(&mut queue);
        // Proposals of a round run together; scores one after another (each is an evaluation
        // that is concurrent inside).
        let (gens, rest): (Vec<ApeEffect>, Vec<ApeEffect>) = effects
            .into_iter()
            .partition(|e| matches!(e, ApeEffect::Generate { .. }));
        if !gens.is_empty() {
            if args.budget.is_some_and(|b| calls + gens.len() > b) {
                budget_reached = true;
                break;
            }
            calls += gens.len();
            eprintln!("round {}: {} proposal(s)…", ape.round(), gens.len());
            let round = ape.round() as u64;
            let outs = futures::future::join_all(gens.iter().map(|g| {
                let ApeEffect::Generate { id, prompt } = g else {
                    unreachable!("partitioned")
                };
                let req = CompleteRequest {
                    stop: vec!["\n".into()],
                    max_tokens: PROPOSAL_TOKENS,
                    temperature: 0.9,
                    seed: base.sampling.seed + 1000 * round + *id as u64,
                };
                let backend = backend.clone();
                async move { (*id, complete(backend.as_ref(), prompt, mode, req).await) }
            }))
            .await;
            for (id, text) in outs {
                if let Err(e) = &text {
                    eprintln!("  proposal {id} failed: {e}");
                }
                queue.extend(ape.handle(ApeEvent::Generated {
                    id,
                    text: text.ok(),
                }));
            }
        }
        for e in rest {
            match e {
                ApeEffect::Score { id, instruction } => {
                    if args.budget.is_some_and(|b| calls + dev.len() * samples > b) {
                        budget_reached = true;
                        queue.clear();
                        break;
                    }
                    let (accuracy, spent) = scorer.score(Some(&instruction), dev).await;
                    calls += spent;
                    eprintln!("  {:>5.1}%  {instruction}", accuracy * 100.0);
                    queue.extend(ape.handle(ApeEvent::Scored {
                        id,
                        accuracy,
                        samples: spent,
                    }));
                }
                ApeEffect::Done | ApeEffect::Generate { .. } => {}
            }
        }
        if budget_reached {
            break;
        }
    }

    let board: Vec<_> = ape.leaderboard().into_iter().cloned().collect();
    let Some(best) = board.first().cloned() else {
        return Err("no usable instruction was proposed (is the model answering at all?)".into());
    };
    // The honest score: items that played no part in choosing the winner.
    let (held_best, _) = scorer.score(Some(&best.instruction), held).await;
    let (held_original, _) = scorer.score(None, held).await;
    let mut winner = base.clone();
    winner.name = format!("{}-ape", base.name);
    winner.instruction = Some(best.instruction.clone());
    winner.sampling = crate::store::template::resolve(&args.prompt.template)
        .map_err(|e| e.to_string())?
        .0
        .sampling;
    winner.description = format!(
        "{} (instruction found by APE: dev {:.0}%, held-out {:.0}% vs {:.0}% before)",
        base.description,
        best.accuracy.unwrap_or(0.0) * 100.0,
        held_best * 100.0,
        held_original * 100.0
    );
    let out = args.out.clone().unwrap_or_else(|| {
        let dir = if std::path::Path::new("templates").is_dir() {
            PathBuf::from("templates")
        } else {
            crate::store::data_dir().map_or_else(|| PathBuf::from("."), |d| d.join("templates"))
        };
        dir.join(format!("{}.yaml", winner.name))
    });
    save_template(&out, &winner).map_err(|e| e.to_string())?;
    if args.json {
        println!(
            "{}",
            json!({
                "leaderboard": board,
                "best": best.instruction,
                "dev_items": dev.len(),
                "held_out": {"items": held.len(), "best": held_best, "original": held_original},
                "calls": calls,
                "planned_calls": planned,
                "budget_reached": budget_reached,
                "template": out,
            })
        );
    } else {
        println!(
            "{:>3}  {:>7}  {:>7}  {:>5}  instruction",
            "#", "dev", "samples", "round"
        );
        for (i, c) in board.iter().enumerate() {
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
            "\nbest on {} held-out items: {:.1}% (the template's own instruction: {:.1}%)\n{calls} model calls{} · wrote {}",
            held.len(),
            held_best * 100.0,
            held_original * 100.0,
            if budget_reached {
                " (budget reached)"
            } else {
                ""
            },
            out.display()
        );
    }
    Ok(true)
}
