//! A run on screen: streaming in, or recorded. Its paths, the tally so far, what it was asked.

use std::time::{Duration, Instant};

use crate::backend::BackendInfo;
use crate::core::record::{PathRecord, RunRecord, RunResult, Voting, tally, version};
use crate::core::render::{Mode, Prompt};
use crate::core::template::Template;
use crate::core::vote::Tally;
use crate::engine::RunPlan;

#[derive(Debug, Clone, PartialEq)]
pub enum PathState {
    Waiting,
    Streaming,
    Done,
    /// Stopped by the user: what arrived is kept.
    Cancelled,
    /// Stopped because the vote was settled without it: what arrived is kept.
    Stopped,
    Failed(String),
}

impl PathState {
    /// How a recorded path ended.
    pub fn of(p: &PathRecord) -> PathState {
        match &p.error {
            _ if p.cancelled() => PathState::Cancelled,
            _ if p.stopped() => PathState::Stopped,
            Some(e) => PathState::Failed(e.clone()),
            None => PathState::Done,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PathView {
    pub state: PathState,
    pub text: String,
    /// A reasoning model's thinking so far (shown dimmed, never voted on).
    pub thinking: String,
    pub chunks: u32,
    pub result: Option<PathRecord>,
}

impl PathView {
    /// Tokens this path produced: the backend's count for a path that finished, the chunks
    /// seen for one still streaming, and whichever is more for one cut short (its last stage
    /// may have no count).
    pub fn tokens(&self) -> u64 {
        match &self.result {
            Some(r) if r.succeeded() => u64::from(r.completion_tokens()),
            Some(r) => u64::from(r.completion_tokens()).max(u64::from(self.chunks)),
            None => u64::from(self.chunks),
        }
    }
}

/// What a run was asked: the edits, the query and the exact first prompt.
#[derive(Debug, Clone)]
pub struct RunMeta {
    pub template: Template,
    pub query: String,
    pub mode: Mode,
    pub prompt: Prompt,
    pub stop: Vec<String>,
    pub timestamp: String,
}

/// A run as it streams in, or a recorded one.
#[derive(Debug, Clone)]
pub struct RunView {
    pub id: u64,
    pub meta: RunMeta,
    pub paths: Vec<PathView>,
    pub tally: Tally,
    pub started: Instant,
    pub result: Option<RunResult>,
    pub cancelling: bool,
}

impl RunView {
    pub fn new(
        id: u64,
        plan: &RunPlan,
        template: Template,
        timestamp: String,
        started: Instant,
    ) -> RunView {
        let n = plan.sampling.n as usize;
        let paths = (0..n)
            .map(|_| PathView {
                state: PathState::Waiting,
                text: String::new(),
                thinking: String::new(),
                chunks: 0,
                result: None,
            })
            .collect();
        let meta = RunMeta {
            template,
            query: plan.query.clone(),
            mode: plan.first.prompt.mode(),
            prompt: plan.first.prompt.clone(),
            stop: plan.first.stop.clone(),
            timestamp,
        };
        RunView {
            id,
            meta,
            paths,
            tally: Tally::default(),
            started,
            result: None,
            cancelling: false,
        }
    }

    /// A recorded run, exactly as it ended.
    pub fn from_record(id: u64, r: &RunRecord, now: Instant) -> RunView {
        let paths = r
            .result
            .paths
            .iter()
            .map(|p| PathView {
                state: PathState::of(p),
                text: p.text(),
                thinking: p.thinking(),
                chunks: p.completion_tokens(),
                result: Some(p.clone()),
            })
            .collect();
        let meta = RunMeta {
            template: r.template.clone(),
            query: r.query.clone(),
            mode: r.mode,
            prompt: r.prompt.clone(),
            stop: r.stop.clone(),
            timestamp: r.timestamp.clone(),
        };
        RunView {
            id,
            meta,
            paths,
            tally: r.result.tally.clone(),
            started: now,
            result: Some(r.result.clone()),
            cancelling: false,
        }
    }

    /// The session record of a finished run.
    pub fn record(&self, backend: BackendInfo) -> Option<RunRecord> {
        let m = &self.meta;
        Some(RunRecord {
            timestamp: m.timestamp.clone(),
            promptlab: Some(version()),
            template: m.template.clone(),
            query: m.query.clone(),
            mode: m.mode,
            prompt: m.prompt.clone(),
            stop: m.stop.clone(),
            backend,
            result: self.result.clone()?,
        })
    }

    pub fn is_running(&self) -> bool {
        self.result.is_none()
    }

    pub fn done(&self) -> usize {
        self.paths
            .iter()
            .filter(|p| {
                matches!(
                    p.state,
                    PathState::Done
                        | PathState::Cancelled
                        | PathState::Stopped
                        | PathState::Failed(_)
                )
            })
            .count()
    }

    /// Completion tokens so far: exact for finished paths, streamed chunks for the others
    /// (a cancelled path's count is what arrived before it stopped).
    pub fn tokens(&self) -> u64 {
        self.paths.iter().map(PathView::tokens).sum()
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        match &self.result {
            Some(r) => Duration::from_millis(r.elapsed_ms),
            None => now.saturating_duration_since(self.started),
        }
    }

    /// Where the early-stop rule stands: settled (or not) once the run is over; live, what it
    /// reads from the finished paths in index order. `None` without a rule.
    pub fn early_stop(&self) -> Option<String> {
        if let Some(e) = self.result.as_ref().and_then(|r| r.early_stop.as_ref()) {
            return Some(e.describe());
        }
        let rule = self.meta.template.sampling.early_stop;
        if rule.is_none() {
            return None;
        }
        let read: Vec<&PathRecord> = self.paths.iter().map_while(|p| p.result.as_ref()).collect();
        let labels = Voting::of(&self.meta.template.answer).labels(&read);
        let answers: Vec<Option<&str>> = labels.iter().map(Option::as_deref).collect();
        let p = rule
            .check(&answers)
            .probability
            .map(|p| format!(", {} {p:.2}", rule.measure()))
            .unwrap_or_default();
        Some(format!(
            "early stop {rule}: {} of at most {} read{p}",
            answers.len(),
            self.paths.len()
        ))
    }

    pub fn retally(&mut self) {
        let voting = Voting::of(&self.meta.template.answer)
            .with_selection(self.result.as_ref().and_then(|r| r.selection.as_deref()));
        self.tally = tally(self.paths.iter().filter_map(|p| p.result.as_ref()), &voting);
    }

    /// Indices of the paths shown, given an answer filter (`Some(None)`: the no-answer bucket).
    pub fn visible(&self, filter: &Option<Option<String>>) -> Vec<usize> {
        match filter {
            None => (0..self.paths.len()).collect(),
            Some(answer) => self
                .tally
                .entry(answer.as_deref())
                .map(|e| e.paths.clone())
                .unwrap_or_default(),
        }
    }
}
