//! What a path asks for: the stage a model call belongs to, the call itself, and the next step.
//! Plain data; the machines that produce them are in `core::strategy` and
//! `core::least_to_most`.

use serde::{Deserialize, Serialize};

use super::prompt::Prompt;

/// Which stage a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The only stage of direct and few-shot CoT prompts.
    Answer,
    /// Zero-shot CoT, stage 1: generate the reasoning.
    Reason,
    /// Zero-shot CoT, stage 2: extract the answer from the reasoning.
    Extract,
    /// Least-to-most: list the sub-questions.
    Decompose,
    /// Least-to-most: answer sub-question k.
    Solve(usize),
}

/// One model call a path needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    pub stage: Stage,
    pub prompt: Prompt,
    pub stop: Vec<String>,
    pub max_tokens: u32,
    /// Text that joins the path's visible text before this sample's output (the extraction
    /// phrase of zero-shot CoT), so the path reads as one piece.
    pub preface: String,
    /// Least-to-most: the sub-question this sample answers.
    pub question: Option<String>,
}

/// What a path wants next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Sample(SampleSpec),
    /// The path is complete: its record is the list of samples it took (see
    /// `record::PathRecord`), and its answer is read from the last one.
    Done,
}
