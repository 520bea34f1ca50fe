//! Reading older files: session format 1 kept a path's whole text, its last finish reason,
//! its token counts and least-to-most steps on the path itself.

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathWire {
    index: usize,
    #[serde(default)]
    stages: Option<Vec<StageRecord>>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    read: Option<Read>,
    #[serde(default)]
    latency_ms: u64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    resamples: u32,
    #[serde(default)]
    cached: bool,
    #[serde(default)]
    shared_request: bool,
    // Format 1.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    logprob: Option<LogProb>,
    #[serde(default)]
    steps: Vec<StepV1>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepV1 {
    question: String,
    text: String,
    #[serde(default)]
    answer: Option<String>,
}

impl From<PathWire> for PathRecord {
    fn from(w: PathWire) -> PathRecord {
        let stages = match w.stages {
            Some(s) => s,
            None => v1_stages(
                w.text.unwrap_or_default(),
                w.steps,
                StageRecord {
                    finish_reason: w.finish_reason,
                    prompt_tokens: w.prompt_tokens,
                    completion_tokens: w.completion_tokens,
                    logprob: w.logprob,
                    ..StageRecord::new(Stage::Answer, "")
                },
            ),
        };
        PathRecord {
            index: w.index,
            stages,
            answer: w.answer,
            read: w.read,
            latency_ms: w.latency_ms,
            error: w.error,
            resamples: w.resamples,
            cached: w.cached,
            shared_request: w.shared_request,
            embedding: None,
        }
    }
}

/// A format-1 path as stages: one stage holding the whole text and the path's figures,
/// or for a least-to-most chain its decomposition and one stage per recorded step.
fn v1_stages(text: String, steps: Vec<StepV1>, last: StageRecord) -> Vec<StageRecord> {
    let first_ask = steps
        .first()
        .and_then(|s| text.find(&format!("\n\nQ: {}\nA:", s.question)));
    let Some(split) = first_ask else {
        return vec![StageRecord { text, ..last }];
    };
    let mut stages = vec![StageRecord::new(Stage::Decompose, &text[..split])];
    let k = steps.len();
    for (i, s) in steps.into_iter().enumerate() {
        let base = if i + 1 == k {
            last.clone()
        } else {
            StageRecord::new(Stage::Answer, "")
        };
        stages.push(StageRecord {
            stage: Stage::Solve(i),
            preface: format!("\n\nQ: {}\nA:", s.question),
            question: Some(s.question),
            text: s.text,
            answer: s.answer,
            ..base
        });
    }
    stages
}
