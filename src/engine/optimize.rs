//! Automatic prompt search driven over the engine: proposals and variations as plain
//! completions, the race's batches as evaluations of dev items, the winner and the template's
//! own instruction scored again on the same held-out items. The CLI and the lab both run it
//! (set up by `jobs::search`), showing its `JobEvent`s.

use std::sync::Arc;

use futures::future::join_all;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

use super::error::JobError;
use super::eval::{EvalOptions, Variant, eval_variant};
use super::report::JobEvent;
pub use super::report::{RaceStep, SearchPlan, SearchResult};
use super::{CompleteRequest, complete};
use crate::backend::Backend;
use crate::core::ape::{
    Ape, ApeConfig, ApeEffect, ApeEvent, HeldOut, RACE_LEVEL, SearchOptions, default_batch,
    planned_calls,
};
use crate::core::template::Template;
use crate::store::dataset::{Dataset, Item};

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
    /// This backend's last measured seconds per sampled path, for the plan's expected time.
    pub speed: Option<f64>,
}

/// A search for a better instruction than `base`'s on `dataset`: candidates scored by `votes`
/// samples at `temperature` (one greedy sample unless given), dev and held-out items drawn
/// with the template's seed.
pub fn search(
    backend: Arc<dyn Backend>,
    base: &Template,
    dataset: Dataset,
    o: &SearchOptions,
    votes: Option<u32>,
    temperature: Option<f32>,
    opts: EvalOptions,
) -> Result<Search, JobError> {
    let mut base = base.clone();
    base.sampling.n = votes.unwrap_or(1);
    base.sampling.temperature = temperature.unwrap_or(0.0);
    base.validate().map_err(|source| JobError::Template {
        name: base.name.clone(),
        source,
    })?;
    let (dev, held) = split(dataset.items, o.dev, o.held, base.sampling.seed)?;
    Ok(Search {
        backend,
        cfg: ApeConfig {
            candidates: o.candidates.max(1),
            rounds: o.rounds.max(1),
            keep: o.keep.max(1),
            demos: 5,
            seed: base.sampling.seed,
            batch: o.batch.unwrap_or_else(|| default_batch(dev.len())),
            level: RACE_LEVEL,
        },
        budget: o.budget,
        opts,
        base,
        dataset: dataset.name,
        dev,
        held,
        speed: None,
    })
}

impl Search {
    pub fn plan(&self) -> SearchPlan {
        let samples = self.base.sampling.n as usize;
        let planned_calls = self.planned_calls();
        let held_calls = 2 * self.held.len() * samples;
        let calls = self.budget.unwrap_or(usize::MAX);
        SearchPlan {
            dataset: self.dataset.clone(),
            candidates: self.cfg.candidates,
            rounds: self.cfg.rounds,
            keep: self.cfg.keep,
            dev: self.dev.len(),
            held: self.held.len(),
            samples,
            batch: self.cfg.batch,
            planned_calls,
            held_calls,
            max_tokens: planned_calls * self.base.sampling.max_tokens.max(PROPOSAL_TOKENS) as usize,
            prompt_tokens: super::plan::search_prompt_tokens(
                &self.base,
                self.base.mode.unwrap_or(self.backend.info().default_mode),
                self.dev.iter().chain(&self.held),
                planned_calls + held_calls,
            ),
            seconds: self
                .speed
                .map(|s| s * (calls.min(planned_calls) + held_calls) as f64),
            detectable_dev: super::plan::detectable(self.dev.len(), self.cfg.candidates),
            detectable_held: super::plan::detectable(self.held.len(), 1),
            budget: self.budget,
        }
    }
}

impl Search {
    pub fn planned_calls(&self) -> usize {
        planned_calls(&self.cfg, self.dev.len(), self.base.sampling.n as usize)
    }

    /// Whether each of `items` is right by majority under `instruction` (`None`: the
    /// template's own), in order, and the samples spent.
    async fn score(&self, instruction: Option<&str>, items: &[Item]) -> (Vec<bool>, usize) {
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
        (
            r.per_item.iter().map(|i| i.correct).collect(),
            r.samples.succeeded + r.samples.failed,
        )
    }

    /// Searches (until done, cancelled or over budget), reporting `SearchStarted`, each round,
    /// failed proposal and race step, then `SearchFinished`.
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
        let samples = self.base.sampling.n as usize;
        let cancel = &self.opts.cancel;
        let seed = self.base.instruction.as_deref().unwrap_or_default();
        let mut ape = Ape::new(self.cfg.clone(), pairs, seed);
        let mut queue = ape.start();
        let (mut calls, mut budget_reached) = (0usize, false);
        let over = |calls: usize, more: usize| self.budget.is_some_and(|b| calls + more > b);
        'search: while !queue.is_empty() && !cancel.is_cancelled() {
            let batch = std::mem::take(&mut queue);
            // What the last step found is told before the next round starts.
            for e in &batch {
                if let ApeEffect::Raced {
                    round,
                    items,
                    dropped,
                } = e
                {
                    on(JobEvent::Raced(Box::new(
                        self.race_step(&ape, *round, *items, dropped),
                    )));
                }
            }
            let gens: Vec<&ApeEffect> = batch
                .iter()
                .filter(|e| matches!(e, ApeEffect::Generate { .. }))
                .collect();
            if !gens.is_empty() {
                if over(calls, gens.len()) {
                    budget_reached = true;
                    break;
                }
                calls += gens.len();
                queue.extend(self.generate(&mut ape, &gens, on).await);
            }
            for e in batch {
                let ApeEffect::Score {
                    id,
                    instruction,
                    items,
                } = e
                else {
                    continue;
                };
                if over(calls, items.len() * samples) || cancel.is_cancelled() {
                    budget_reached |= !cancel.is_cancelled();
                    break 'search;
                }
                let (correct, spent) = self.score(instruction.as_deref(), &self.dev[items]).await;
                calls += spent;
                queue.extend(ape.handle(ApeEvent::Scored {
                    id,
                    correct,
                    samples: spent,
                }));
            }
        }
        let winner = ape.winner();
        // The honest check: the winner and the template's own instruction on the same items,
        // which played no part in choosing the winner.
        let held = match &winner {
            // A cancelled search has no honest check to make.
            Some(w) if !cancel.is_cancelled() => {
                let (best, _) = self.score(Some(&w.instruction), &self.held).await;
                let (own, _) = self.score(None, &self.held).await;
                HeldOut::of(&best, &own)
            }
            _ => None,
        };
        let result = SearchResult {
            leaderboard: ape.standings(),
            winner,
            calls,
            planned: self.planned_calls(),
            budget_reached,
            held,
        };
        on(JobEvent::SearchFinished(Box::new(result.clone())));
        result
    }

    /// The leaderboard after a race step, with the instructions it dropped.
    fn race_step(&self, ape: &Ape, round: usize, items: usize, dropped: &[usize]) -> RaceStep {
        let standings = ape.standings();
        RaceStep {
            round,
            items,
            pool: self.dev.len(),
            dropped: standings
                .iter()
                .filter(|s| dropped.contains(&s.id))
                .cloned()
                .collect(),
            standings,
        }
    }

    /// One round's proposals or variations, sampled at once; returns what the machine asks next.
    async fn generate(
        &self,
        ape: &mut Ape,
        gens: &[&ApeEffect],
        on: &(dyn Fn(JobEvent) + Send + Sync),
    ) -> Vec<ApeEffect> {
        on(JobEvent::Round {
            round: ape.round(),
            proposals: gens.len(),
        });
        let mode = self.base.mode.unwrap_or(self.backend.info().default_mode);
        let round = ape.round() as u64;
        let outs = join_all(
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
                    async move { (id, complete(self.backend.as_ref(), prompt, mode, req).await) }
                }),
        )
        .await;
        let mut next = Vec::new();
        for (id, text) in outs {
            if let Err(e) = &text {
                on(JobEvent::ProposalFailed(e.to_string()));
            }
            next.extend(ape.handle(ApeEvent::Generated {
                id,
                text: text.ok(),
            }));
        }
        next
    }
}

/// Dev and held-out items: the dataset shuffled with `seed`, dev first.
pub fn split(
    mut items: Vec<Item>,
    dev: usize,
    held: Option<usize>,
    seed: u64,
) -> Result<(Vec<Item>, Vec<Item>), JobError> {
    if items.len() < 2 {
        return Err(JobError::TooFewItems);
    }
    items.shuffle(&mut StdRng::seed_from_u64(seed));
    let dev_n = dev.clamp(1, items.len() - 1);
    let held_n = held.unwrap_or(50).min(items.len() - dev_n).max(1);
    let held_items = items[dev_n..dev_n + held_n].to_vec();
    items.truncate(dev_n);
    Ok((items, held_items))
}
