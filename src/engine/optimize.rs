//! Automatic prompt search driven over the engine: proposals and variations as plain
//! completions, scores as evaluations of the dev items, the winner scored again on held-out
//! items. The CLI and the lab both run it (set up by `jobs::search`), showing its `JobEvent`s.

use std::sync::Arc;

use futures::future::join_all;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

use super::eval::{EvalOptions, Variant, eval_variant};
use super::jobs::JobEvent;
use super::{CompleteRequest, complete};
use crate::backend::Backend;
use crate::core::ape::{Ape, ApeConfig, ApeEffect, ApeEvent, Candidate, planned_calls};
use crate::core::template::Template;
use crate::store::dataset::Item;

/// Tokens of one proposal or variation.
pub const PROPOSAL_TOKENS: u32 = 48;

pub struct Search {
    pub backend: Arc<dyn Backend>,
    /// The template whose instruction is searched; its sampling scores the candidates.
    pub base: Template,
    /// The dataset's name, for reports.
    pub dataset: String,
    pub dev: Vec<Item>,
    pub held: Vec<Item>,
    pub cfg: ApeConfig,
    /// Model calls not to exceed.
    pub budget: Option<usize>,
    pub opts: EvalOptions,
}

#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Best first.
    pub leaderboard: Vec<Candidate>,
    pub calls: usize,
    pub planned: usize,
    pub budget_reached: bool,
    /// Held-out accuracy of the winner, and of the template's own instruction.
    pub held_best: f64,
    pub held_original: f64,
}

impl Search {
    pub fn planned_calls(&self) -> usize {
        planned_calls(&self.cfg, self.dev.len(), self.base.sampling.n as usize)
    }

    /// Majority accuracy of `instruction` (or the template's own) on `items`, and samples spent.
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

    /// Searches (until done, cancelled or over budget), reporting `SearchStarted`, each round,
    /// failed proposal and scored candidate, then `SearchFinished`.
    pub async fn run(&self, on: &(dyn Fn(JobEvent) + Send + Sync)) -> SearchResult {
        on(JobEvent::SearchStarted(Box::new(self.plan())));
        let pairs: Vec<(String, String)> = self
            .dev
            .iter()
            .map(|i| {
                (
                    i.input.clone(),
                    i.targets.first().cloned().unwrap_or_default(),
                )
            })
            .collect();
        let mode = self.base.mode.unwrap_or(self.backend.info().default_mode);
        let samples = self.base.sampling.n as usize;
        let cancel = &self.opts.cancel;
        let mut ape = Ape::new(self.cfg.clone(), pairs);
        let mut queue = ape.start();
        let (mut calls, mut budget_reached) = (0usize, false);
        let over = |calls: usize, more: usize| self.budget.is_some_and(|b| calls + more > b);
        'search: while !queue.is_empty() && !cancel.is_cancelled() {
            let (gens, scores): (Vec<ApeEffect>, Vec<ApeEffect>) = std::mem::take(&mut queue)
                .into_iter()
                .partition(|e| matches!(e, ApeEffect::Generate { .. }));
            if !gens.is_empty() {
                if over(calls, gens.len()) {
                    budget_reached = true;
                    break;
                }
                calls += gens.len();
                on(JobEvent::Round {
                    round: ape.round(),
                    proposals: gens.len(),
                });
                let round = ape.round() as u64;
                let outs =
                    join_all(
                        gens.iter()
                            .filter_map(|g| match g {
                                ApeEffect::Generate { id, prompt } => Some((*id, prompt)),
                                _ => None,
                            })
                            .map(|(id, prompt)| {
                                let seed = self.base.sampling.seed + 1000 * round + id as u64;
                                let req = CompleteRequest {
                                    stop: vec!["\n".into()],
                                    max_tokens: PROPOSAL_TOKENS,
                                    temperature: 0.9,
                                    seed,
                                };
                                async move {
                                    (id, complete(self.backend.as_ref(), prompt, mode, req).await)
                                }
                            }),
                    )
                    .await;
                for (id, text) in outs {
                    if let Err(e) = &text {
                        on(JobEvent::ProposalFailed(e.to_string()));
                    }
                    queue.extend(ape.handle(ApeEvent::Generated {
                        id,
                        text: text.ok(),
                    }));
                }
            }
            for e in scores {
                if let ApeEffect::Score { id, instruction } = e {
                    if over(calls, self.dev.len() * samples) || cancel.is_cancelled() {
                        budget_reached |= !cancel.is_cancelled();
                        break 'search;
                    }
                    let (accuracy, spent) = self.score(Some(&instruction), &self.dev).await;
                    calls += spent;
                    queue.extend(ape.handle(ApeEvent::Scored {
                        id,
                        accuracy,
                        samples: spent,
                    }));
                    if let Some(c) = ape.candidates().get(id) {
                        on(JobEvent::Scored(c.clone()));
                    }
                }
            }
        }
        let leaderboard: Vec<Candidate> = ape.leaderboard().into_iter().cloned().collect();
        let (held_best, held_original) = match leaderboard.first() {
            // The honest score: items that played no part in choosing the winner.
            Some(best) => (
                self.score(Some(&best.instruction), &self.held).await.0,
                self.score(None, &self.held).await.0,
            ),
            None => (0.0, 0.0),
        };
        let result = SearchResult {
            leaderboard,
            calls,
            planned: self.planned_calls(),
            budget_reached,
            held_best,
            held_original,
        };
        on(JobEvent::SearchFinished(Box::new(result.clone())));
        result
    }
}

/// Dev and held-out items: the dataset shuffled with `seed`, dev first.
pub fn split(
    mut items: Vec<Item>,
    dev: usize,
    held: Option<usize>,
    seed: u64,
) -> Result<(Vec<Item>, Vec<Item>), String> {
    if items.len() < 2 {
        return Err("the dataset needs at least 2 items (dev and held-out)".into());
    }
    items.shuffle(&mut StdRng::seed_from_u64(seed));
    let dev_n = dev.clamp(1, items.len() - 1);
    let held_n = held.unwrap_or(50).min(items.len() - dev_n).max(1);
    let held_items = items[dev_n..dev_n + held_n].to_vec();
    items.truncate(dev_n);
    Ok((items, held_items))
}
