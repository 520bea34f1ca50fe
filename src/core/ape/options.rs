//! The knobs of a prompt search and the calls it may make.

use super::ApeConfig;

/// The knobs of a search, as the lab asks for them: `candidates=6 rounds=2 keep=2 dev=20
/// held=50 budget=400 batch=5` (any subset; the rest default).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    pub candidates: usize,
    pub rounds: usize,
    pub keep: usize,
    pub dev: usize,
    pub held: Option<usize>,
    pub budget: Option<usize>,
    /// Dev items per race step (default: a quarter of the dev items, at least 2).
    pub batch: Option<usize>,
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
            batch: None,
        }
    }
}

/// What is wrong with a search's `KEY=NUMBER` options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("`{0}`: expected KEY=NUMBER")]
    Form(String),
    #[error("`{0}`: not a whole number")]
    NotWhole(String),
    #[error("`{0}`: must be at least 1")]
    Zero(String),
    #[error("`{0}`: one of candidates, rounds, keep, dev, held, budget, batch")]
    UnknownKey(String),
}

/// The faces carry it as text.
impl From<OptionsError> for String {
    fn from(e: OptionsError) -> String {
        e.to_string()
    }
}

impl std::str::FromStr for SearchOptions {
    type Err = OptionsError;
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        let mut o = SearchOptions::default();
        for part in s.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| OptionsError::Form(part.to_string()))?;
            let n: usize = v
                .parse()
                .map_err(|_| OptionsError::NotWhole(part.to_string()))?;
            if n == 0 {
                return Err(OptionsError::Zero(part.to_string()));
            }
            match k {
                "candidates" => o.candidates = n,
                "rounds" => o.rounds = n,
                "keep" => o.keep = n,
                "dev" => o.dev = n,
                "held" => o.held = Some(n),
                "budget" => o.budget = Some(n),
                "batch" => o.batch = Some(n),
                _ => return Err(OptionsError::UnknownKey(k.to_string())),
            }
        }
        Ok(o)
    }
}

/// Dev items per race step when none is given: a quarter of the dev items, at least 2.
pub fn default_batch(dev: usize) -> usize {
    dev.div_ceil(4).max(2)
}

/// Model calls a search makes at most, when no candidate drops out of the race: its
/// generations, and one call per dev sample for every candidate and the seed instruction.
pub fn planned_calls(cfg: &ApeConfig, dev: usize, samples_per_item: usize) -> usize {
    let score = dev * samples_per_item;
    let keep = cfg.keep.max(1).min(cfg.candidates);
    score + cfg.candidates * (1 + score) + cfg.rounds.saturating_sub(1) * keep * (1 + score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_options_parse() {
        let o: SearchOptions = "candidates=4 budget=100 batch=3".parse().unwrap();
        assert_eq!(
            (o.candidates, o.rounds, o.budget, o.batch),
            (4, 2, Some(100), Some(3))
        );
        assert!("rounds=0".parse::<SearchOptions>().is_err());
        assert!("colour=3".parse::<SearchOptions>().is_err());
        assert!("dev".parse::<SearchOptions>().is_err());
        assert_eq!((default_batch(20), default_batch(3)), (5, 2));
    }
}
