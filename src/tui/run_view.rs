//! A run on screen: streaming in, or recorded. It is the run's `RunRecord` being filled in
//! (each path taken in as it finishes, the tally the record's own) plus a live buffer for each
//! path still to finish, dropped when it does. Once over, the record is the session's own: one
//! `Arc` shared by the session's runs and the screen.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::BackendInfo;
use crate::core::record::{Asked, PathRecord, RunRecord, RunResult, Voting};
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

/// A path still to finish: whether it streams yet, and its text and thinking as they arrive.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub streaming: bool,
    pub text: String,
    /// A reasoning model's thinking so far (shown dimmed, never voted on).
    pub thinking: String,
}

/// One path as the lab shows it: a finished one read from the record, one still to finish
/// from its live buffer.
#[derive(Debug, Clone)]
pub struct PathView<'a> {
    pub state: PathState,
    pub text: Cow<'a, str>,
    pub thinking: Cow<'a, str>,
    pub chunks: u32,
    pub result: Option<&'a PathRecord>,
}

impl PathView<'_> {
    /// Tokens this path produced: the backend's count for a path that finished, the chunks
    /// seen for one still streaming, and whichever is more for one cut short (its last stage
    /// may have no count).
    pub fn tokens(&self) -> u64 {
        match self.result {
            Some(r) if r.succeeded() => u64::from(r.completion_tokens()),
            Some(r) => u64::from(r.completion_tokens()).max(u64::from(self.chunks)),
            None => u64::from(self.chunks),
        }
    }
}

/// A run as it streams in, or a recorded one.
#[derive(Debug, Clone)]
pub struct RunView {
    pub id: u64,
    /// The run's record: what it asked, and its result as far as it got (whole once over, and
    /// then the very record the session holds).
    pub record: Arc<RunRecord>,
    /// Per path: the buffer of a path still to finish (`None` once it has).
    live: Vec<Option<Live>>,
    /// Per path: the chunks that arrived (what a path cut short produced, when its record
    /// has no count).
    chunks: Vec<u32>,
    finished: bool,
    pub started: Instant,
    pub cancelling: bool,
}

impl RunView {
    pub fn new(
        id: u64,
        plan: &RunPlan,
        template: Template,
        timestamp: String,
        started: Instant,
        backend: BackendInfo,
    ) -> RunView {
        let asked = Asked {
            timestamp,
            template,
            query: plan.query.clone(),
            prompt: plan.first.prompt.clone(),
            stop: plan.first.stop.clone(),
        };
        RunView {
            id,
            record: Arc::new(RunRecord::new(asked, backend, RunResult::empty())),
            live: vec![Some(Live::default()); plan.sampling.n as usize],
            chunks: vec![0; plan.sampling.n as usize],
            finished: false,
            started,
            cancelling: false,
        }
    }

    /// A recorded run, exactly as it ended (the session's record, not a copy).
    pub fn from_record(id: u64, r: &Arc<RunRecord>, now: Instant) -> RunView {
        RunView {
            id,
            record: r.clone(),
            live: vec![None; r.result.paths.len()],
            chunks: r
                .result
                .paths
                .iter()
                .map(PathRecord::completion_tokens)
                .collect(),
            finished: true,
            started: now,
            cancelling: false,
        }
    }

    /// Path `i` started streaming.
    pub fn started_path(&mut self, i: usize) {
        if let Some(Some(l)) = self.live.get_mut(i) {
            l.streaming = true;
        }
    }

    /// Text (or, `thinking`, a reasoning model's thinking) arrived for path `i`.
    pub fn chunk(&mut self, i: usize, text: &str, thinking: bool) {
        if let Some(Some(l)) = self.live.get_mut(i) {
            if thinking {
                l.thinking.push_str(text);
            } else {
                l.text.push_str(text);
            }
            self.chunks[i] += 1;
        }
    }

    /// Path `i` was sampled again after a broken stream: its text so far is `text`.
    pub fn restarted(&mut self, i: usize, text: String) {
        if let Some(Some(l)) = self.live.get_mut(i) {
            l.text = text;
            // The broken call's thinking is gone; the record has every stage's at the end.
            l.thinking.clear();
        }
    }

    /// A path finished: the record takes it in (and tallies), its buffer goes.
    pub fn finish(&mut self, p: PathRecord) {
        if let Some(l) = self.live.get_mut(p.index) {
            *l = None;
        }
        // Live, the record is the view's alone: no copy is made.
        let record = Arc::make_mut(&mut self.record);
        let voting = Voting::of(&record.template.answer);
        record.result.add_path(p, &voting);
    }

    /// The run is over: its result, as the engine settled and tallied it, and the backend
    /// that ran it.
    pub fn end(&mut self, result: RunResult, backend: BackendInfo) {
        // Paths the vote never needed were never sampled: they leave the list.
        let sampled = result.paths.last().map_or(0, |p| p.index + 1);
        self.live = vec![None; sampled];
        self.chunks.resize(sampled, 0);
        let record = Arc::make_mut(&mut self.record);
        record.result = result;
        record.backend = backend;
        self.finished = true;
    }

    /// The session record of a finished run (shared, not copied).
    pub fn record(&self) -> Option<Arc<RunRecord>> {
        self.finished.then(|| self.record.clone())
    }

    /// The run's result once it is over.
    pub fn result(&self) -> Option<&RunResult> {
        self.finished.then_some(&self.record.result)
    }

    /// The tally of the paths finished so far (the whole run's once it is over).
    pub fn tally(&self) -> &Tally {
        &self.record.result.tally
    }

    /// How many paths the run has (sampled, for a run that is over).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Path `i` as shown.
    pub fn path(&self, i: usize) -> Option<PathView<'_>> {
        let chunks = self.chunks.get(i).copied().unwrap_or(0);
        match self.live.get(i)? {
            Some(l) => Some(PathView {
                state: if l.streaming {
                    PathState::Streaming
                } else {
                    PathState::Waiting
                },
                text: Cow::Borrowed(&l.text),
                thinking: Cow::Borrowed(&l.thinking),
                chunks,
                result: None,
            }),
            None => Some(match self.record.result.path(i) {
                Some(p) => PathView {
                    state: PathState::of(p),
                    text: Cow::Owned(p.text()),
                    thinking: Cow::Owned(p.thinking()),
                    chunks,
                    result: Some(p),
                },
                None => PathView {
                    state: PathState::Waiting,
                    text: Cow::Borrowed(""),
                    thinking: Cow::Borrowed(""),
                    chunks: 0,
                    result: None,
                },
            }),
        }
    }

    /// Every path, in index order.
    pub fn paths(&self) -> impl Iterator<Item = PathView<'_>> {
        (0..self.len()).filter_map(|i| self.path(i))
    }

    pub fn is_running(&self) -> bool {
        !self.finished
    }

    /// Paths that have finished.
    pub fn done(&self) -> usize {
        self.live.iter().filter(|l| l.is_none()).count()
    }

    /// Completion tokens so far: exact for finished paths, streamed chunks for the others
    /// (a cancelled path's count is what arrived before it stopped).
    pub fn tokens(&self) -> u64 {
        self.paths().map(|p| p.tokens()).sum()
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        match self.result() {
            Some(r) => Duration::from_millis(r.elapsed_ms),
            None => now.saturating_duration_since(self.started),
        }
    }

    /// Where the early-stop rule stands: settled (or not) once the run is over; live, what it
    /// reads from the finished paths in index order. `None` without a rule.
    pub fn early_stop(&self) -> Option<String> {
        if let Some(e) = self.result().and_then(|r| r.early_stop.as_ref()) {
            return Some(e.describe());
        }
        let rule = self.record.template.sampling.early_stop;
        if rule.is_none() {
            return None;
        }
        let read: Vec<&PathRecord> = (0..self.len())
            .map_while(|i| {
                self.live[i]
                    .is_none()
                    .then(|| self.record.result.path(i))
                    .flatten()
            })
            .collect();
        let labels = Voting::of(&self.record.template.answer).labels(&read);
        let answers: Vec<Option<&str>> = labels.iter().map(Option::as_deref).collect();
        let p = rule
            .check(&answers)
            .probability
            .map(|p| format!(", {} {p:.2}", rule.measure()))
            .unwrap_or_default();
        Some(format!(
            "early stop {rule}: {} of at most {} read{p}",
            answers.len(),
            self.len()
        ))
    }

    /// Indices of the paths shown, given an answer filter (`Some(None)`: the no-answer bucket).
    pub fn visible(&self, filter: &Option<Option<String>>) -> Vec<usize> {
        match filter {
            None => (0..self.len()).collect(),
            Some(answer) => self
                .tally()
                .entry(answer.as_deref())
                .map(|e| e.paths.clone())
                .unwrap_or_default(),
        }
    }
}
