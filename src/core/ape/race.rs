//! Racing instructions on the dev items (F-race, Birattari et al. 2002, with paired exact
//! tests in place of Friedman's): every candidate still in the race is scored on the same next
//! batch of items, and after each batch a candidate whose paired difference from the leader is
//! significantly negative (McNemar's exact test, two-sided, at [`RACE_LEVEL`]) drops out and
//! receives no more samples. The items it would have used go to the candidates still racing,
//! so a budget separates the leaders better than scoring everyone on every item.
//!
//! The template's own instruction (the seed) races too, as entrant 0: it is never dropped, and
//! every candidate's difference from it is shown with its interval. A candidate may drop
//! because the seed leads: an instruction clearly worse than yours needs no more samples.
//! The tests repeat after every batch, so the chance of dropping a candidate that is in truth
//! as good as the leader is higher than the level of one test; racing spends the budget, the
//! held-out check (`HeldOut`) judges the winner.

use std::ops::Range;

use serde::Serialize;

use crate::core::stats::{self, Estimate, Paired};

/// The level of the paired test that drops a candidate (two-sided).
pub const RACE_LEVEL: f64 = 0.05;

/// A candidate instruction in the race, with its results item by item.
#[derive(Debug, Clone)]
struct Entrant {
    instruction: String,
    /// The template's own instruction.
    seed: bool,
    round: usize,
    /// Right or not, for the dev items from the first on.
    results: Vec<bool>,
    samples: usize,
    dropped: Option<Dropped>,
    /// Items sent to be scored and not back yet.
    pending: Option<Range<usize>>,
}

impl Entrant {
    fn correct(&self) -> usize {
        self.results.iter().filter(|r| **r).count()
    }

    fn mean(&self) -> f64 {
        match self.results.len() {
            0 => 0.0,
            n => self.correct() as f64 / n as f64,
        }
    }
}

/// When and why a candidate left the race.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dropped {
    pub round: usize,
    /// Items it had been scored on.
    pub items: usize,
    /// The paired test's p-value against the leader on those items.
    pub p: f64,
}

/// One row of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    /// Its place in the race (the seed is 0).
    pub id: usize,
    /// The instruction ("" for a seed template without one).
    pub instruction: String,
    /// The template's own instruction, which every candidate is compared with.
    pub seed: bool,
    /// The search round that proposed it (0: the seed).
    pub round: usize,
    /// Dev items scored, and right.
    pub items: usize,
    pub correct: usize,
    /// Dev accuracy with its Wilson interval (`None` before any item is scored).
    pub accuracy: Option<Estimate>,
    /// Its difference from the seed on the items both were scored on (the seed's row: none).
    pub vs_seed: Option<Paired>,
    pub dropped: Option<Dropped>,
    /// Samples spent scoring it.
    pub samples: usize,
}

/// Column names of [`Standing::cells`].
pub const COLUMNS: [&str; 4] = ["dev", "Δ vs yours", "items", "round"];

impl Standing {
    /// The figures of its leaderboard row, as `COLUMNS`: "80% [66, 90]", "+0.30 [+0.10, +0.47]"
    /// ("yours" on the seed's row), "40", "1" ("1 ✗" when it dropped out).
    pub fn cells(&self) -> [String; 4] {
        let dev = self.accuracy.map_or("-".into(), |a| {
            format!(
                "{:.0}% [{:.0}, {:.0}]",
                a.value * 100.0,
                a.low * 100.0,
                a.high * 100.0
            )
        });
        let delta = match (&self.vs_seed, self.seed) {
            (_, true) => "yours".into(),
            (Some(d), false) => {
                format!("{} [{}, {}]", signed(d.diff), signed(d.low), signed(d.high))
            }
            (None, false) => "-".into(),
        };
        let round = match (self.seed, self.dropped) {
            (true, _) => "-".into(),
            (false, Some(_)) => format!("{} ✗", self.round),
            (false, None) => self.round.to_string(),
        };
        [dev, delta, self.items.to_string(), round]
    }

    /// "dropped in round 1 after 10 items, p 0.008 against the leader", when it did.
    pub fn fate(&self) -> Option<String> {
        self.dropped.map(|d| {
            format!(
                "dropped in round {} after {} items, p {} against the leader",
                d.round,
                d.items,
                p_value(d.p)
            )
        })
    }
}

/// The race over a pool of dev items.
#[derive(Debug, Clone)]
pub struct Race {
    entrants: Vec<Entrant>,
    pool: usize,
    batch: usize,
    level: f64,
    /// How far the last step went into the pool.
    reached: usize,
}

impl Race {
    /// A race over `pool` items in batches of `batch`, dropping at `level` (0: never), with the
    /// template's own instruction (`seed`, "" when it has none) as entrant 0.
    pub fn new(seed: &str, pool: usize, batch: usize, level: f64) -> Race {
        let mut race = Race {
            entrants: Vec::new(),
            pool,
            batch: batch.max(1),
            level,
            reached: 0,
        };
        race.enter(seed.to_string(), 0);
        race.entrants[0].seed = true;
        race
    }

    /// Adds a candidate proposed in `round`; returns its id.
    pub fn enter(&mut self, instruction: String, round: usize) -> usize {
        self.entrants.push(Entrant {
            instruction,
            seed: false,
            round,
            results: Vec::new(),
            samples: 0,
            dropped: None,
            pending: None,
        });
        self.entrants.len() - 1
    }

    /// Whether `instruction` is already in the race (case aside), the seed's included.
    pub fn has(&self, instruction: &str) -> bool {
        self.entrants
            .iter()
            .any(|e| e.instruction.eq_ignore_ascii_case(instruction))
    }

    /// The instruction of entrant `id`: `None` for the seed (the template's own).
    pub fn instruction(&self, id: usize) -> Option<&str> {
        self.entrants
            .get(id)
            .filter(|e| !e.seed)
            .map(|e| e.instruction.as_str())
    }

    /// Whether any candidate (not the seed) is still racing.
    pub fn has_candidates(&self) -> bool {
        self.entrants.iter().any(|e| !e.seed && e.dropped.is_none())
    }

    /// The next batch for every entrant still racing with items left, as (id, items), and
    /// none while a batch is out. Empty when the race is run: nothing left to score.
    pub fn step(&mut self) -> Vec<(usize, Range<usize>)> {
        if self.entrants.iter().any(|e| e.pending.is_some()) || !self.has_candidates() {
            return Vec::new();
        }
        let (pool, batch) = (self.pool, self.batch);
        let step: Vec<(usize, Range<usize>)> = self
            .entrants
            .iter_mut()
            .enumerate()
            .filter(|(_, e)| e.dropped.is_none() && e.results.len() < pool)
            .map(|(id, e)| {
                let from = e.results.len();
                let items = from..(from + batch).min(pool);
                e.pending = Some(items.clone());
                (id, items)
            })
            .collect();
        self.reached = step
            .iter()
            .map(|(_, r)| r.end)
            .max()
            .unwrap_or(self.reached);
        step
    }

    /// How far into the pool the last step went, and the pool's size.
    pub fn reached(&self) -> (usize, usize) {
        (self.reached, self.pool)
    }

    /// Records entrant `id`'s results on its batch (fewer when scoring was cut short); returns
    /// whether the step is complete (no batch out).
    pub fn record(&mut self, id: usize, correct: Vec<bool>, samples: usize) -> bool {
        if let Some(e) = self.entrants.get_mut(id)
            && let Some(items) = e.pending.take()
        {
            e.results.extend(correct.into_iter().take(items.len()));
            e.samples += samples;
        }
        self.entrants.iter().all(|e| e.pending.is_none())
    }

    /// The entrant every other is tested against: the most accurate of those that went
    /// furthest (ties: the earlier, so the seed before a candidate that only equals it).
    fn leader(&self) -> Option<usize> {
        let racing = || {
            self.entrants
                .iter()
                .enumerate()
                .filter(|(_, e)| e.dropped.is_none())
        };
        let front = racing().map(|(_, e)| e.results.len()).max()?;
        racing()
            .filter(|(_, e)| e.results.len() == front)
            .fold(None, |best: Option<(usize, f64)>, (id, e)| match best {
                Some((_, m)) if m >= e.mean() => best,
                _ => Some((id, e.mean())),
            })
            .map(|(id, _)| id)
    }

    /// Drops the candidates clearly worse than the leader on the items both were scored on;
    /// returns their ids.
    pub fn eliminate(&mut self, round: usize) -> Vec<usize> {
        let Some(leader) = self.leader() else {
            return Vec::new();
        };
        let best = self.entrants[leader].results.clone();
        let mut dropped = Vec::new();
        for (id, e) in self.entrants.iter_mut().enumerate() {
            if id == leader || e.seed || e.dropped.is_some() {
                continue;
            }
            let n = e.results.len().min(best.len());
            let Some(c) = stats::paired_binary(&best[..n], &e.results[..n], stats::LEVEL) else {
                continue;
            };
            if c.diff < 0.0 && c.p < self.level {
                e.dropped = Some(Dropped {
                    round,
                    items: n,
                    p: c.p,
                });
                dropped.push(id);
            }
        }
        dropped
    }

    /// Every entrant scored so far, best first: those still racing, then those dropped (the
    /// later first); each by dev accuracy, then by items scored.
    pub fn standings(&self) -> Vec<Standing> {
        let seed = &self.entrants[0].results;
        let mut rows: Vec<Standing> = self
            .entrants
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.results.is_empty())
            .map(|(id, e)| {
                let n = e.results.len().min(seed.len());
                Standing {
                    id,
                    instruction: e.instruction.clone(),
                    seed: e.seed,
                    round: e.round,
                    items: e.results.len(),
                    correct: e.correct(),
                    accuracy: stats::proportion(
                        e.correct() as u64,
                        e.results.len() as u64,
                        stats::LEVEL,
                    ),
                    vs_seed: (!e.seed)
                        .then(|| stats::paired_binary(&seed[..n], &e.results[..n], stats::LEVEL))
                        .flatten(),
                    dropped: e.dropped,
                    samples: e.samples,
                }
            })
            .collect();
        // Racing before dropped, the later dropped first; then by accuracy, items, id.
        let rank = |s: &Standing| {
            (
                s.dropped.is_some(),
                std::cmp::Reverse(s.dropped.map_or(0, |d| d.items)),
            )
        };
        let value = |s: &Standing| s.accuracy.map_or(0.0, |a| a.value);
        rows.sort_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then_with(|| value(b).total_cmp(&value(a)))
                .then_with(|| b.items.cmp(&a.items))
                .then_with(|| a.id.cmp(&b.id))
        });
        rows
    }

    /// The ids of the best `k` candidates still racing (not the seed).
    pub fn leaders(&self, k: usize) -> Vec<usize> {
        self.standings()
            .into_iter()
            .filter(|s| !s.seed && s.dropped.is_none())
            .take(k)
            .map(|s| s.id)
            .collect()
    }
}

/// The winner and the seed on the same held-out items: the honest check of a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldOut {
    pub items: usize,
    /// The winner's accuracy and the seed's.
    pub winner: f64,
    pub seed: f64,
    /// The winner against the seed, paired (McNemar's exact test, Newcombe's interval).
    pub paired: Paired,
    /// Significantly better at [`stats::ALPHA`].
    pub better: bool,
}

impl HeldOut {
    /// The comparison of the winner's and the seed's results on the same items (`None` without
    /// items).
    pub fn of(winner: &[bool], seed: &[bool]) -> Option<HeldOut> {
        let paired = stats::paired_binary(seed, winner, stats::LEVEL)?;
        Some(HeldOut {
            items: paired.items,
            winner: paired.b,
            seed: paired.a,
            better: paired.diff > 0.0 && paired.p < stats::ALPHA,
            paired,
        })
    }

    /// "better than your instruction on 40 held-out items: 70% vs 45% (Δ +0.25 [+0.06, +0.41],
    /// p 0.01)", or "no detectable improvement over your instruction …".
    pub fn describe(&self) -> String {
        format!(
            "{} on {} held-out items: {:.0}% vs {:.0}% (Δ {} [{}, {}], p {})",
            if self.better {
                "better than your instruction"
            } else {
                "no detectable improvement over your instruction"
            },
            self.items,
            self.winner * 100.0,
            self.seed * 100.0,
            signed(self.paired.diff),
            signed(self.paired.low),
            signed(self.paired.high),
            p_value(self.paired.p)
        )
    }
}

/// A p-value as people read it: "0.52", "0.008", "< 0.001".
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else if p < 0.01 {
        format!("{p:.3}")
    } else {
        format!("{p:.2}")
    }
}

/// "+0.04", "−0.08", "0.00".
pub fn signed(x: f64) -> String {
    if x.abs() < 0.005 {
        "0.00".into()
    } else if x > 0.0 {
        format!("+{x:.2}")
    } else {
        format!("−{:.2}", -x)
    }
}
