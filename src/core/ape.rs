//! Automatic prompt engineering (APE, Zhou et al. 2022) as a sans-IO machine: the model
//! proposes instructions from input/output pairs ("I gave a friend an instruction…"), each
//! candidate is scored on a dev set, the best are varied ("Generate a variation of the
//! following instruction…") for more rounds. The driver turns effects into model calls and
//! evaluations and feeds the results back; this module never does I/O.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use serde::Serialize;

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
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum ApeEffect {
    /// Sample a completion of `prompt` (stop at the end of the line) and report it as `Generated`.
    Generate {
        id: usize,
        prompt: String,
    },
    /// Evaluate `instruction` on the dev items and report it as `Scored`.
    Score {
        id: usize,
        instruction: String,
    },
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApeEvent {
    /// A generation finished (`None`: it failed).
    Generated { id: usize, text: Option<String> },
    Scored {
        id: usize,
        accuracy: f64,
        samples: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub instruction: String,
    pub round: usize,
    /// Dev accuracy, once scored.
    pub accuracy: Option<f64>,
    /// Samples spent scoring it.
    pub samples: usize,
}

pub struct Ape {
    cfg: ApeConfig,
    pairs: Vec<(String, String)>,
    round: usize,
    /// Generation requests of this round: id -> done.
    generating: Vec<bool>,
    scoring: usize,
    candidates: Vec<Candidate>,
    rng: StdRng,
    done: bool,
}

pub const FORWARD_HEAD: &str = "I gave a friend an instruction and five inputs. The friend read the instruction and wrote an output for every one of the inputs. Here are the input-output pairs:";
pub const FORWARD_TAIL: &str = "The instruction was to";
pub const VARIATION_HEAD: &str =
    "Generate a variation of the following instruction while keeping the semantic meaning.";

impl Ape {
    /// `pairs`: (input, output) examples from the dev set, shown to the proposer.
    pub fn new(cfg: ApeConfig, pairs: Vec<(String, String)>) -> Ape {
        let rng = StdRng::seed_from_u64(cfg.seed);
        Ape {
            cfg,
            pairs,
            round: 0,
            generating: vec![],
            scoring: 0,
            candidates: vec![],
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
        let mut out = Vec::new();
        match event {
            ApeEvent::Generated { id, text } => {
                if let Some(slot) = self.generating.get_mut(id) {
                    *slot = true;
                }
                let fresh = text.as_deref().and_then(clean).filter(|i| {
                    !self
                        .candidates
                        .iter()
                        .any(|c| c.instruction.eq_ignore_ascii_case(i))
                });
                if let Some(instruction) = fresh {
                    self.candidates.push(Candidate {
                        instruction: instruction.clone(),
                        round: self.round,
                        accuracy: None,
                        samples: 0,
                    });
                    self.scoring += 1;
                    out.push(ApeEffect::Score {
                        id: self.candidates.len() - 1,
                        instruction,
                    });
                }
            }
            ApeEvent::Scored {
                id,
                accuracy,
                samples,
            } => {
                if let Some(c) = self.candidates.get_mut(id) {
                    c.accuracy = Some(accuracy);
                    c.samples = samples;
                    self.scoring = self.scoring.saturating_sub(1);
                }
            }
        }
        if self.generating.iter().all(|g| *g) && self.scoring == 0 {
            out.extend(self.next_round());
        }
        out
    }

    /// The next round's variations, or the end.
    fn next_round(&mut self) -> Vec<ApeEffect> {
        if self.round >= self.cfg.rounds || self.candidates.is_empty() {
            self.done = true;
            return vec![ApeEffect::Done];
        }
        self.round += 1;
        let prompts: Vec<String> = self
            .leaderboard()
            .iter()
            .take(self.cfg.keep.max(1))
            .map(|c| variation_prompt(&c.instruction))
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

    /// Scored candidates, best first (ties: the earlier one).
    pub fn leaderboard(&self) -> Vec<&Candidate> {
        let mut v: Vec<&Candidate> = self
            .candidates
            .iter()
            .filter(|c| c.accuracy.is_some())
            .collect();
        v.sort_by(|a, b| {
            b.accuracy
                .unwrap_or(0.0)
                .total_cmp(&a.accuracy.unwrap_or(0.0))
        });
        v
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
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

/// The knobs of a search, as the lab asks for them: `candidates=6 rounds=2 keep=2 dev=20
/// held=50 budget=400` (any subset; the rest default).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub candidates: usize,
    pub rounds: usize,
    pub keep: usize,
    pub dev: usize,
    pub held: Option<usize>,
    pub budget: Option<usize>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            candidates: 6,
            rounds: 2,
            keep: 2,
            dev: 20,
            held: None,
            budget: None,
        }
    }
}

impl std::str::FromStr for SearchOptions {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut o = SearchOptions::default();
        for part in s.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected KEY=NUMBER"))?;
            let n: usize = v
                .parse()
                .map_err(|_| format!("`{part}`: not a whole number"))?;
            if n == 0 {
                return Err(format!("`{part}`: must be at least 1"));
            }
            match k {
                "candidates" => o.candidates = n,
                "rounds" => o.rounds = n,
                "keep" => o.keep = n,
                "dev" => o.dev = n,
                "held" => o.held = Some(n),
                "budget" => o.budget = Some(n),
                _ => {
                    return Err(format!(
                        "`{k}`: one of candidates, rounds, keep, dev, held, budget"
                    ));
                }
            }
        }
        Ok(o)
    }
}

/// Model calls an optimisation makes at most (generations, plus one per dev sample scored).
pub fn planned_calls(cfg: &ApeConfig, dev: usize, samples_per_item: usize) -> usize {
    let score = dev * samples_per_item;
    let keep = cfg.keep.max(1).min(cfg.candidates);
    cfg.candidates * (1 + score) + cfg.rounds.saturating_sub(1) * keep * (1 + score)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ApeConfig {
        ApeConfig {
            candidates: 3,
            rounds: 2,
            keep: 1,
            demos: 2,
            seed: 7,
        }
    }

    fn pairs() -> Vec<(String, String)> {
        (1..=4)
            .map(|i| (format!("{i} + {i}"), (2 * i).to_string()))
            .collect()
    }

    #[test]
    fn proposes_scores_varies_the_best_and_ends() {
        let mut a = Ape::new(cfg(), pairs());
        let gens = a.start();
        assert_eq!(gens.len(), 3);
        let ApeEffect::Generate { prompt, .. } = &gens[0] else {
            panic!()
        };
        assert!(prompt.starts_with(FORWARD_HEAD) && prompt.ends_with(FORWARD_TAIL));
        assert_eq!(prompt.matches("Input: ").count(), 2);
        // One proposal fails, one is a duplicate: two candidates get scored.
        let e = a.handle(ApeEvent::Generated {
            id: 0,
            text: Some(" add the two numbers.\nmore".into()),
        });
        assert_eq!(
            e,
            vec![ApeEffect::Score {
                id: 0,
                instruction: "Add the two numbers.".into()
            }]
        );
        assert!(
            a.handle(ApeEvent::Generated { id: 1, text: None })
                .is_empty()
        );
        let e = a.handle(ApeEvent::Generated {
            id: 2,
            text: Some("double the input".into()),
        });
        assert_eq!(e.len(), 1);
        assert!(
            a.handle(ApeEvent::Scored {
                id: 0,
                accuracy: 0.0,
                samples: 4
            })
            .is_empty(),
            "a zero score is kept"
        );
        let next = a.handle(ApeEvent::Scored {
            id: 1,
            accuracy: 0.75,
            samples: 4,
        });
        // Round 2: the best ("Double the input.") is varied.
        assert_eq!(
            next,
            vec![ApeEffect::Generate {
                id: 0,
                prompt: variation_prompt("Double the input.")
            }]
        );
        assert_eq!(a.round(), 2);
        let e = a.handle(ApeEvent::Generated {
            id: 0,
            text: Some("Multiply the input by two".into()),
        });
        let ApeEffect::Score { id, .. } = e[0].clone() else {
            panic!()
        };
        let end = a.handle(ApeEvent::Scored {
            id,
            accuracy: 1.0,
            samples: 4,
        });
        assert_eq!(end, vec![ApeEffect::Done]);
        let board: Vec<&str> = a
            .leaderboard()
            .iter()
            .map(|c| c.instruction.as_str())
            .collect();
        assert_eq!(
            board,
            [
                "Multiply the input by two.",
                "Double the input.",
                "Add the two numbers."
            ]
        );
        assert!(a.is_done());
    }

    #[test]
    fn nothing_usable_ends_at_once() {
        let mut a = Ape::new(cfg(), pairs());
        a.start();
        a.handle(ApeEvent::Generated {
            id: 0,
            text: Some("".into()),
        });
        a.handle(ApeEvent::Generated { id: 1, text: None });
        let e = a.handle(ApeEvent::Generated {
            id: 2,
            text: Some("x".into()),
        });
        assert_eq!(e, vec![ApeEffect::Done]);
        assert!(a.leaderboard().is_empty());
    }

    #[test]
    fn search_options_parse() {
        let o: SearchOptions = "candidates=4 budget=100".parse().unwrap();
        assert_eq!((o.candidates, o.rounds, o.budget), (4, 2, Some(100)));
        assert!("rounds=0".parse::<SearchOptions>().is_err());
        assert!("colour=3".parse::<SearchOptions>().is_err());
        assert!("dev".parse::<SearchOptions>().is_err());
    }

    #[test]
    fn budget_counts_every_call() {
        // 3 proposals and 1 variation, each 1 call plus 4 dev samples.
        assert_eq!(planned_calls(&cfg(), 4, 1), 4 * 5);
        assert_eq!(clean("\"sum them\""), Some("Sum them.".into()));
        assert_eq!(
            clean("follow this order:"),
            Some("Follow this order.".into())
        );
    }
}
