//! What is wrong with a template or a setting as written, in the words users read.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpecError {
    /// A word that names none of a setting's choices: "unknown strategy `x` (expected …)".
    #[error("unknown {what} `{value}` (expected {expected})")]
    Unknown {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A number out of its range: "top_p must be in (0, 1], got 2".
    #[error("{name} must be {range}, got {got}")]
    Range {
        name: &'static str,
        range: String,
        got: String,
    },
    #[error("sampling: {0}")]
    Sampling(Box<SpecError>),
    #[error("`{0}`: k must be a whole number of at least 1")]
    SelectK(String),
    #[error("select: k must be at least 1")]
    ZeroK,
    #[error(
        "answer similarity {0} is out of range: give a number above 0 and at most 1 (e.g. 0.6)"
    )]
    Similarity(f64),
    #[error("answer kind `regex` needs a `pattern`")]
    NoPattern,
    #[error("answer pattern does not compile: {0}")]
    Pattern(regex::Error),
    #[error("answer pattern `{0}` has no group: put the answer in ( ), e.g. `ANSWER: (\\w+)`")]
    NoGroup(String),
    #[error("answer `similarity` and `cluster` apply to kind `free`, not `{0}`")]
    NotFree(&'static str),
    #[error("`{0}` takes no settings after `:`")]
    NoSettings(&'static str),
    #[error(
        "early-stop rule `{rule}`: {why} (expected none, beta[:CONF] with 0.5 < CONF < 1, or esc[:W] with W from 2 to 64)"
    )]
    Rule { rule: String, why: &'static str },
    #[error(
        "template version {found} is newer than this promptlab reads ({reads}); upgrade promptlab"
    )]
    Version { found: u32, reads: u32 },
    #[error("`name` must not be empty")]
    NoName,
    #[error(
        "strategy `least-to-most` needs `decomposition` exemplars (problems and their sub-questions)"
    )]
    NoDecomposition,
    #[error(
        "calibrate: {calibrate} scores the options of a `choice` answer; this template's answer is `{kind}`"
    )]
    CalibrateKind {
        calibrate: &'static str,
        kind: &'static str,
    },
    #[error(
        "calibrate: {calibrate} scores the answer right after the question: it needs strategy `direct`, not `{strategy}`"
    )]
    CalibrateStrategy {
        calibrate: &'static str,
        strategy: &'static str,
    },
    #[error("strategy `cot` needs a rationale on every active example; example {0} has none")]
    NoRationale(usize),
    /// A setting typed in (`settings::Key::set`) that is not a whole number.
    #[error(transparent)]
    Whole(#[from] std::num::ParseIntError),
    /// A setting typed in that is not a number.
    #[error(transparent)]
    Number(#[from] std::num::ParseFloatError),
    #[error("regex needs a pattern in the template")]
    RegexWithoutPattern,
    #[error("on or off, got `{0}`")]
    OnOrOff(String),
    #[error("the template has {0} examples")]
    Shots(usize),
}

impl SpecError {
    pub(crate) fn unknown(what: &'static str, value: &str, expected: &'static str) -> SpecError {
        SpecError::Unknown {
            what,
            value: value.to_string(),
            expected,
        }
    }

    pub(crate) fn range(name: &'static str, range: String, got: impl ToString) -> SpecError {
        SpecError::Range {
            name,
            range,
            got: got.to_string(),
        }
    }
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<SpecError> for String {
    fn from(e: SpecError) -> String {
        e.to_string()
    }
}
