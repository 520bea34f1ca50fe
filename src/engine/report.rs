//! What evaluation and search jobs report, in order, and the figures a search reports: one
//! enum the faces only show (a progress bar and stderr lines, or `Msg::Job` in the lab).

use std::sync::Arc;

use super::eval::VariantResult;
use crate::core::ape::{HeldOut, Standing};
use crate::core::evaluation::VariantStats;

/// What an evaluation or a search reports, in order.
#[derive(Debug, Clone)]
pub enum JobEvent {
    /// An evaluation begins: its dataset, items, variant names and the dataset lines skipped.
    EvalStarted {
        dataset: String,
        items: usize,
        variants: Vec<String>,
        skipped: Vec<String>,
    },
    /// Variant `variant` has `done` items scored, `correct` of them by majority.
    ItemDone {
        variant: usize,
        done: usize,
        correct: usize,
    },
    VariantDone(Box<VariantResult>),
    /// The statistics of the variants scored so far (intervals, each against the baseline,
    /// Holm across them), after each variant: later variants change earlier adjustments.
    Statistics(Vec<VariantStats>),
    /// Every variant is scored, or the job was cancelled. `lowered`: the concurrency a server
    /// that seemed overloaded was brought down to, of the one asked for.
    EvalFinished {
        lowered: Option<(usize, usize)>,
    },
    /// A demonstrations analysis (`engine::examples`) is over: what its sets' scores say.
    /// Its sets were reported as an evaluation's variants before it.
    Analysed(Box<crate::core::demos::Report>),
    SearchStarted(Box<SearchPlan>),
    Round {
        round: usize,
        proposals: usize,
    },
    ProposalFailed(String),
    /// A step of the race is over.
    Raced(Box<RaceStep>),
    SearchFinished(Box<SearchResult>),
}

/// Where a job reports (a progress bar, stderr, the lab's message queue).
pub type Report = Arc<dyn Fn(JobEvent) + Send + Sync>;

/// What a search will do, shown before it starts.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    pub dataset: String,
    pub candidates: usize,
    pub rounds: usize,
    pub keep: usize,
    pub dev: usize,
    pub held: usize,
    /// Samples per item when scoring.
    pub samples: usize,
    /// Dev items per race step.
    pub batch: usize,
    /// Model calls of the search, and of the held-out check after it.
    pub planned_calls: usize,
    pub held_calls: usize,
    /// Generated tokens at most.
    pub max_tokens: usize,
    /// Prompt tokens of every call, estimated from the rendered prompts of the dev and
    /// held-out items at [`super::plan::CHARS_PER_TOKEN`].
    pub prompt_tokens: u64,
    /// Expected seconds from this backend's last measured speed (`None`: unknown).
    pub seconds: Option<f64>,
    /// The smallest difference the dev race (against every candidate at once) and the
    /// held-out check (one paired test) can detect at 80% power.
    pub detectable_dev: Option<f64>,
    pub detectable_held: Option<f64>,
    pub budget: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Every instruction scored, best first, the template's own included.
    pub leaderboard: Vec<Standing>,
    /// The best candidate still racing at the end.
    pub winner: Option<Standing>,
    pub calls: usize,
    pub planned: usize,
    pub budget_reached: bool,
    /// The winner against the template's own instruction on the held-out items.
    pub held: Option<HeldOut>,
}

impl SearchResult {
    /// What the search found, in one line: the held-out verdict on the best candidate, or why
    /// there is none.
    pub fn verdict(&self) -> String {
        match (&self.winner, &self.held) {
            (Some(_), Some(h)) => format!("the best candidate: {}", h.describe()),
            (Some(_), None) => "no held-out check: the search stopped before it".into(),
            (None, _) if self.leaderboard.iter().any(|s| !s.seed) => {
                "every proposed instruction was clearly worse than yours on the dev items".into()
            }
            (None, _) => "no usable instruction was proposed".into(),
        }
    }
}

/// A step of the race, as it ends: the leaderboard so far and who left the race in it.
#[derive(Debug, Clone)]
pub struct RaceStep {
    pub round: usize,
    /// How far into the dev items the step went, of how many.
    pub items: usize,
    pub pool: usize,
    pub dropped: Vec<Standing>,
    pub standings: Vec<Standing>,
}
