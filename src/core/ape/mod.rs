//! Automatic prompt engineering (APE, Zhou et al. 2022) as a sans-IO machine: the model
//! proposes instructions from input/output pairs ("I gave a friend an instruction…"), the
//! candidates race on the dev items against the template's own instruction (`race`: those
//! clearly worse than the leader stop receiving samples), the best are varied ("Generate a
//! variation of the following instruction…") for more rounds. The driver turns effects into
//! model calls and evaluations and feeds the results back; this module never does I/O.

mod options;
mod race;

use std::ops::Range;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

pub use options::{SearchOptions, default_batch, planned_calls};
pub use race::{COLUMNS, Dropped, HeldOut, RACE_LEVEL, Race, Standing, p_value, signed};

#[derive(Debug, Clone)]
pub struct ApeConfig {
    /// Candidates proposed in the first round.
    pub candidates: usize,
    /// Rounds in all (the first proposes, the others vary the best).
    pub rounds: usize,
    /// Candidates kept and varied after each round.
    pub keep: usize,
    /// Input/output pairs shown per proposal.
    pub demos: usize,
    pub seed: u64,
    /// Dev items per race step.
    pub batch: usize,
    /// The level at which a candidate clearly worse than the leader drops out (0: never).
    pub level: f64,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum ApeEffect {
    /// Sample a completion of `prompt` (stop at the end of the line) and report it as `Generated`.
    Generate {
        id: usize,
        prompt: String,
    },
    /// Score an instruction (`None`: the template's own) on the dev items `items`, and report
    /// whether each was right as `Scored`.
    Score {
        id: usize,
        instruction: Option<String>,
        items: Range<usize>,
    },
    /// A step of the race is over: it went `items` dev items into the pool, and those in
    /// `dropped` left the race.
    Raced {
        round: usize,
        items: usize,
        dropped: Vec<usize>,
    },
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApeEvent {
    /// A generation finished (`None`: it failed).
    Generated { id: usize, text: Option<String> },
    /// Entrant `id`'s results on the items it was sent, in order (fewer when scoring stopped).
    Scored {
        id: usize,
        correct: Vec<bool>,
        samples: usize,
    },
}

pub struct Ape {
    cfg: ApeConfig,
    pairs: Vec<(String, String)>,
    round: usize,
    /// Generation requests of this round: id -> done.
    generating: Vec<bool>,
    race: Race,
    rng: StdRng,
    done: bool,
}

pub const FORWARD_HEAD: &str = "I gave a friend an instruction and five inputs. The friend read the instruction and wrote an output for every one of the inputs. Here are the input-output pairs:";
pub const FORWARD_TAIL: &str = "The instruction was to";
pub const VARIATION_HEAD: &str =
    "Generate a variation of the following instruction while keeping the semantic meaning.";

impl Ape {
    /// `pairs`: (input, output) of the dev items, in order: shown to the proposer, and the
    /// pool the candidates race on. `seed`: the template's own instruction ("" for none).
    pub fn new(cfg: ApeConfig, pairs: Vec<(String, String)>, seed: &str) -> Ape {
        let rng = StdRng::seed_from_u64(cfg.seed);
        let race = Race::new(seed, pairs.len(), cfg.batch, cfg.level);
        Ape {
            cfg,
            pairs,
            round: 0,
            generating: vec![],
            race,
            rng,
            done: false,
        }
    }

    pub fn start(&mut self) -> Vec<ApeEffect> {
        self.round = 1;
        let prompts: Vec<String> = (0..self.cfg.candidates)
            .map(|_| self.forward_prompt())
            .collect();
        self.generate(prompts)
    }

    pub fn handle(&mut self, event: ApeEvent) -> Vec<ApeEffect> {
        if self.done {
            return vec![];
        }
        match event {
            ApeEvent::Generated { id, text } => {
                if let Some(slot) = self.generating.get_mut(id) {
                    *slot = true;
                }
                if let Some(instruction) = text
                    .as_deref()
                    .and_then(clean)
                    .filter(|i| !self.race.has(i))
                {
                    self.race.enter(instruction, self.round);
                }
                if self.generating.iter().all(|g| *g) {
                    return self.race_on();
                }
                vec![]
            }
            ApeEvent::Scored {
                id,
                correct,
                samples,
            } => {
                if !self.race.record(id, correct, samples) {
                    return vec![];
                }
                let dropped = self.race.eliminate(self.round);
                let mut out = vec![ApeEffect::Raced {
                    round: self.round,
                    items: self.race.reached().0,
                    dropped,
                }];
                out.extend(self.race_on());
                out
            }
        }
    }

    /// The race's next step, or (when it is run) the next round.
    fn race_on(&mut self) -> Vec<ApeEffect> {
        let step = self.race.step();
        if step.is_empty() {
            return self.next_round();
        }
        step.into_iter()
            .map(|(id, items)| ApeEffect::Score {
                id,
                instruction: self.race.instruction(id).map(str::to_string),
                items,
            })
            .collect()
    }

    /// The next round's variations of the leaders, or the end.
    fn next_round(&mut self) -> Vec<ApeEffect> {
        if self.round >= self.cfg.rounds || !self.race.has_candidates() {
            self.done = true;
            return vec![ApeEffect::Done];
        }
        self.round += 1;
        let prompts: Vec<String> = self
            .race
            .leaders(self.cfg.keep.max(1))
            .into_iter()
            .filter_map(|id| self.race.instruction(id).map(variation_prompt))
            .collect();
        self.generate(prompts)
    }

    fn generate(&mut self, prompts: Vec<String>) -> Vec<ApeEffect> {
        self.generating = vec![false; prompts.len()];
        if prompts.is_empty() {
            self.done = true;
            return vec![ApeEffect::Done];
        }
        prompts
            .into_iter()
            .enumerate()
            .map(|(id, prompt)| ApeEffect::Generate { id, prompt })
            .collect()
    }

    fn forward_prompt(&mut self) -> String {
        let k = self.cfg.demos.min(self.pairs.len());
        let mut idx = sample(&mut self.rng, self.pairs.len(), k).into_vec();
        idx.sort_unstable();
        let demos: String = idx
            .iter()
            .map(|&i| {
                format!(
                    "Input: {}\nOutput: {}\n\n",
                    self.pairs[i].0.trim(),
                    self.pairs[i].1.trim()
                )
            })
            .collect();
        format!("{FORWARD_HEAD}\n\n{demos}{FORWARD_TAIL}")
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn round(&self) -> usize {
        self.round
    }

    /// The leaderboard: every instruction scored so far (the seed's included), best first.
    pub fn standings(&self) -> Vec<Standing> {
        self.race.standings()
    }

    /// The best candidate still racing (never the seed), if any.
    pub fn winner(&self) -> Option<Standing> {
        self.standings()
            .into_iter()
            .find(|s| !s.seed && s.dropped.is_none())
    }
}

pub fn variation_prompt(instruction: &str) -> String {
    format!(
        "{VARIATION_HEAD}\n\nInput: {}\n\nOutput:",
        instruction.trim()
    )
}

/// A proposed instruction as a sentence: first line, no quotes, capitalised, full stop.
pub fn clean(text: &str) -> Option<String> {
    let line = text
        .trim()
        .lines()
        .next()?
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .trim();
    let line = line.strip_prefix(':').unwrap_or(line).trim();
    if line.len() < 3 {
        return None;
    }
    let mut chars = line.chars();
    let first = chars.next()?.to_uppercase().collect::<String>();
    let mut s = format!(
        "{first}{}",
        chars.as_str().trim_end_matches([':', ';', ','])
    );
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    Some(s)
}

#[cfg(test)]
mod tests;
