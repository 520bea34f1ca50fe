//! An early-stop rule as a template and the command line name it (`none`, `beta[:CONF]`,
//! `esc[:W]`). Plain data; what a rule says of answers is `core::early_stop`.

use serde::{Deserialize, Serialize};

use super::error::SpecError;

pub(crate) const DEFAULT_CONFIDENCE: f64 = 0.95;
pub(crate) const DEFAULT_WINDOW: usize = 5;

/// When to stop sampling a run's paths (`-n` stays the most it samples).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Rule {
    #[default]
    None,
    Beta {
        confidence: f64,
    },
    Esc {
        window: usize,
    },
}

impl Rule {
    /// The rules the lab's settings bar steps through.
    pub const PRESETS: [Rule; 7] = [
        Rule::None,
        Rule::Beta { confidence: 0.9 },
        Rule::Beta { confidence: 0.95 },
        Rule::Beta { confidence: 0.99 },
        Rule::Esc { window: 4 },
        Rule::Esc { window: 5 },
        Rule::Esc { window: 8 },
    ];

    pub fn is_none(&self) -> bool {
        matches!(self, Rule::None)
    }

    /// The rule's name without its parameter.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::None => "none",
            Rule::Beta { .. } => "beta",
            Rule::Esc { .. } => "esc",
        }
    }

    /// What `Check::probability` means under this rule, for people.
    pub fn measure(&self) -> &'static str {
        match self {
            Rule::Esc { .. } => "window agreement",
            _ => "P(leader stays)",
        }
    }

    /// Its parameter: the confidence of `beta`, the window of `esc`.
    pub fn threshold(&self) -> Option<f64> {
        match self {
            Rule::None => None,
            Rule::Beta { confidence } => Some(*confidence),
            Rule::Esc { window } => Some(*window as f64),
        }
    }
}

impl std::str::FromStr for Rule {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Rule, SpecError> {
        let bad = |why: &'static str| SpecError::Rule {
            rule: s.to_string(),
            why,
        };
        let (name, param) = match s.trim().split_once(':') {
            Some((n, p)) => (n, Some(p.trim())),
            None => (s.trim(), None),
        };
        match (name, param) {
            ("none", None) => Ok(Rule::None),
            ("beta", None) => Ok(Rule::Beta {
                confidence: DEFAULT_CONFIDENCE,
            }),
            ("beta", Some(p)) => match p.parse::<f64>() {
                Ok(c) if c > 0.5 && c < 1.0 => Ok(Rule::Beta { confidence: c }),
                _ => Err(bad("the confidence is not a number between 0.5 and 1")),
            },
            ("esc", None) => Ok(Rule::Esc {
                window: DEFAULT_WINDOW,
            }),
            ("esc", Some(p)) => match p.parse::<usize>() {
                Ok(w) if (2..=64).contains(&w) => Ok(Rule::Esc { window: w }),
                _ => Err(bad("the window is not a whole number from 2 to 64")),
            },
            ("none", Some(_)) => Err(bad("`none` takes no parameter")),
            _ => Err(bad("unknown rule")),
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::None => f.write_str("none"),
            Rule::Beta { confidence } => write!(f, "beta:{confidence}"),
            Rule::Esc { window } => write!(f, "esc:{window}"),
        }
    }
}

impl TryFrom<String> for Rule {
    type Error = SpecError;
    fn try_from(s: String) -> Result<Rule, SpecError> {
        s.parse()
    }
}

impl From<Rule> for String {
    fn from(r: Rule) -> String {
        r.to_string()
    }
}
